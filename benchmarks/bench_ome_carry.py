"""What carrying the source's OME metadata costs a write (issue 9, item 12).

``python -m benchmarks.bench_ome_carry [--planes N] [--settings N] [--repeats N]`` writes
an OME-TIFF whose OME-XML has ``N`` Planes and a large vendor ``XMLAnnotation`` (as
Bio-Formats writes for CZI), then copies it with imgio three ways, round-robin: metadata
carried as imgio does it (ElementTree on 2016-06 documents), carried through ``ome_types``
(the path for older schemas), and not carried. Prints a markdown table of median wall
times and ratios.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from ._harness import say

NS = "http://www.openmicroscopy.org/Schemas/OME/2016-06"


def make_source(path: Path, planes: int, settings: int) -> None:
    import tifffile

    planes_xml = "".join(
        f'<Plane TheZ="{z}" TheC="0" TheT="0" PositionX="{z * 1.5}" ExposureTime="0.03"/>'
        for z in range(planes)
    )
    vendor = "".join(f"<Setting Key='k{i}'>value {i}</Setting>" for i in range(settings))
    xml = (
        f'<?xml version="1.0" encoding="UTF-8"?><OME xmlns="{NS}">'
        '<Instrument ID="Instrument:0"><Objective ID="Objective:0" LensNA="0.8"/></Instrument>'
        '<Image ID="Image:0" Name="stack"><AcquisitionDate>2020-01-01T00:00:00</AcquisitionDate>'
        '<InstrumentRef ID="Instrument:0"/><Pixels ID="Pixels:0" DimensionOrder="XYZCT" '
        f'Type="uint8" SizeX="64" SizeY="64" SizeZ="{planes}" SizeC="1" SizeT="1">'
        f'<Channel ID="Channel:0:0" EmissionWavelength="520"/><TiffData PlaneCount="{planes}"/>'
        f"{planes_xml}</Pixels></Image><StructuredAnnotations>"
        '<XMLAnnotation ID="Annotation:0" Namespace="vendor"><Value>'
        f'<Vendor xmlns="">{vendor}</Vendor></Value></XMLAnnotation>'
        "</StructuredAnnotations></OME>"
    )
    data = np.zeros((planes, 64, 64), np.uint8)
    tifffile.imwrite(path, data, description=xml, metadata=None)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--planes", type=int, default=50)
    parser.add_argument("--settings", type=int, default=20000, help="vendor annotation size")
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args(argv)

    import imgio
    from imgio.writers import _ome_carry

    real_parse = _ome_carry._parse

    def via_ome_types(xml: str) -> Any:
        import xml.etree.ElementTree as ET

        from ome_types import from_xml, to_xml

        return ET.fromstring(to_xml(from_xml(xml, validate=False)).encode("utf-8"))

    modes: dict[str, Callable[[str], Any]] = {
        "carried (ElementTree)": real_parse,
        "carried (ome_types)": via_ome_types,
        "not carried": lambda xml: None,
    }
    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp) / "src.ome.tif"
        make_source(src, args.planes, args.settings)
        xml_kb = len(imgio.Image(src).reader.ome_xml() or "") / 1024
        img = imgio.Image(src)
        imgio.write(img, Path(tmp) / "warm.ome.tif")  # imports and caches
        times: dict[str, list[float]] = {m: [] for m in modes}
        for _ in range(args.repeats):
            for mode, parse in modes.items():
                _ome_carry._parse = parse  # type: ignore[assignment]
                start = time.perf_counter()
                imgio.write(img, Path(tmp) / "out.ome.tif", overwrite=True)
                times[mode].append(time.perf_counter() - start)
        _ome_carry._parse = real_parse  # type: ignore[assignment]
    base = statistics.median(times["not carried"])
    say(f"source OME-XML {xml_kb:.0f} kB, {args.planes} planes, {args.repeats} repeats\n")
    say("| write | median s | vs not carried |")
    say("|---|---:|---:|")
    for mode, values in times.items():
        med = statistics.median(values)
        say(f"| {mode} | {med:.3f} | {med / base:.2f}x |")


if __name__ == "__main__":
    main()
