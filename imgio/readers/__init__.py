"""Built-in readers, one line per format, resolved lazily (``"module:Class"``)."""

from __future__ import annotations

BUILTIN_READERS: dict[str, str] = {
    # before tiff: a .vsi is a TIFF whose pixels are in the ETS files beside it
    "vsi": "imgio.readers.vsi:VsiReader",
    "tiff": "imgio.readers.tiff:TiffReader",
    "ome-zarr": "imgio.readers.ome_zarr:OmeZarrReader",
    "ome-companion": "imgio.readers.tiff.companion:CompanionReader",
    "czi": "imgio.readers.czi:CziReader",
    "images": "imgio.readers.images:ImageFileReader",
    "lif": "imgio.readers.lif:LifReader",
    "nd2": "imgio.readers.nd2:Nd2Reader",
    "xlif": "imgio.readers.xlif:XlifReader",
    "oif": "imgio.readers.oif:OifReader",
    "dicom": "imgio.readers.dicom:DicomReader",
    "metamorph": "imgio.readers.metamorph:MetaMorphReader",
    # the fallback (opt-in extra, GPL): only reader="bioformats" or files no reader claims
    "bioformats": "imgio.readers.bioformats:BioFormatsReader",
}
