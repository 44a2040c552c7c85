"""The array builders: array sources become dask arrays and DataArrays here, and only here.

- :mod:`._lazy`: one (scene, level) source -> dask array -> DataArray (chunking, coords);
- :mod:`._graph`: imgio's dask optimization (selections compose down to one source read);
- :mod:`._pieces`: read buffers handed to dask as views (a whole read holds one copy);
- :mod:`._datatree`: a whole file as an xarray ``DataTree`` / backend datasets.
"""

from ._file import HasImageFile, ImageFile, as_image_file

__all__ = ["HasImageFile", "ImageFile", "as_image_file"]
