"""The :class:`Image` object: the stateful, AICSImageIO-style face over an :class:`ImageFile`.

``Image`` keeps a current scene and level and the AICSImageIO names users know
(selections, stacks, ``standard_metadata``, a notebook repr); everything it knows of the
file it asks of its :class:`~imgio.arrays.ImageFile`, which the layers above (tiles,
slide, serve, writers, the xarray backend) use directly.
"""

from ._image import Image, PathLike

__all__ = ["Image", "PathLike"]
