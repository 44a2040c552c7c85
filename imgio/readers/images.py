"""Common image files: PNG, JPEG, GIF, WebP, BMP and JPEG XL, decoded by imagecodecs.

Opening parses the header only (``_image_headers``: PNG chunks, JPEG markers and EXIF
orientation, GIF blocks, WebP chunks; BMP through Pillow, ``imgio[images]``; JPEG XL
is decoded once at open, imagecodecs has no header-only call). Pixels are decoded by
imagecodecs, one whole frame per read (these codecs cannot decode a region).

- dims ``YX`` (grey), ``YXS`` (RGB, RGBA, grey + alpha), with ``T`` first for
  animated GIF/WebP/PNG (APNG) (each frame is decoded on its own read, composited as the
  animation shows it);
- palettes are expanded to RGB, or RGBA when the palette has transparency;
- JPEG EXIF orientation is applied (the array is as the photo is shown);
- 16-bit PNG stays ``uint16``.
"""

from __future__ import annotations

import io
import struct
from collections.abc import Sequence
from typing import Any

import numpy as np

from .._location import Location
from ..errors import (
    CorruptFileError,
    MissingDependencyError,
    SelectionError,
    UnsupportedFormatError,
    require,
)
from ._image_headers import (
    Info,
    apng_frames,
    gif_info,
    jpeg_info,
    png_header_complete,
    png_info,
    webp_info,
)
from .base import STATS, Reader, SceneInfo, SourceBase

__all__ = ["ImageFileReader", "ImageFileSource"]

PNG = b"\x89PNG\r\n\x1a\n"
SIGNATURES = {
    "PNG": (PNG,),
    "JPEG": (b"\xff\xd8\xff",),
    "GIF": (b"GIF87a", b"GIF89a"),
    "BMP": (b"BM",),
    "JPEGXL": (b"\xff\x0a", b"\x00\x00\x00\x0cJXL \r\n\x87\n"),
}
MAX_PIXELS = 1 << 32  # per frame; larger headers are taken as corrupt


def _kind(head: bytes) -> str | None:
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "WEBP"
    for kind, sigs in SIGNATURES.items():
        if any(head.startswith(s) for s in sigs):
            if kind == "BMP" and not _bmp_like(head):
                continue
            return kind
    return None


def _bmp_like(head: bytes) -> bool:
    """ "BM" is too short a signature: also ask for zero reserved bytes and a known DIB size."""
    return (
        len(head) >= 18 and head[6:10] == b"\0\0\0\0" and head[14] in (12, 40, 52, 56, 64, 108, 124)
    )


class ImageFileReader(Reader):
    """PNG, JPEG, GIF, WebP, BMP, JPEG XL: one scene, ``[T] Y X [S]``."""

    name = "images"
    extra = "images"
    suffixes = (".png", ".jpg", ".jpeg", ".jpe", ".jfif", ".gif", ".webp", ".bmp", ".jxl")

    @classmethod
    def sniff(cls, head: bytes) -> bool:
        return _kind(head) is not None

    def __init__(self, location: Location) -> None:
        super().__init__(location)
        head = location.head(64)
        kind = _kind(head)
        if kind is None:
            raise UnsupportedFormatError(
                location.url,
                {self.name: f"not a PNG/JPEG/GIF/WebP/BMP/JPEG XL file ({head[:8]!r})"},
            )
        self.kind = kind
        try:
            if kind == "JPEGXL":
                info = _jxl_info(location)
            else:
                info = _bmp_info(location) if kind == "BMP" else _header_info(location, kind)
        except (CorruptFileError, MissingDependencyError):
            raise
        except Exception as exc:  # noqa: BLE001 - headers of bad files raise many kinds
            raise CorruptFileError(f"{location.url}: unreadable {kind} header: {exc}") from exc
        self._info = info
        frames, height, width, samples, dtype, orientation, duration = info
        frame_bytes = height * width * samples * np.dtype(dtype).itemsize
        if kind == "PNG":  # an APNG decodes every frame at once
            frame_bytes *= frames
        # no codec here compresses by more than ~1:1000 on real images: a header that
        # claims far more pixels than its bytes can hold is corrupt (no huge allocation)
        budget = max(location.size * 4096, 1 << 28)
        if frame_bytes > budget or height * width > MAX_PIXELS or height < 1 or width < 1:
            raise CorruptFileError(
                f"{location.url}: {kind} header claims {frames} frames of {height} x {width} "
                f"x {samples} in a file of {location.size} bytes"
            )
        dims = ("T" if frames > 1 else "") + "YX" + ("S" if samples > 1 else "")
        shape = ((frames,) if frames > 1 else ()) + (height, width)
        shape += (samples,) if samples > 1 else ()
        self._scene = SceneInfo(
            name="Image:0",
            dims=dims,
            shapes=(shape,),
            dtype=np.dtype(dtype),
            time_interval=duration / 1000 if frames > 1 and duration else None,
        )
        head = location.head()  # read once at open; a small file is all there
        self._source = ImageFileSource(
            location, kind, dims, shape, np.dtype(dtype), orientation, location.token()
        )
        if len(head) == location.size:
            self._source.small = head

    def scenes(self) -> Sequence[SceneInfo]:
        return (self._scene,)

    def source(self, scene: int, level: int = 0) -> ImageFileSource:
        if scene != 0 or level != 0:
            raise SelectionError(f"scene {scene} level {level} out of range (0..0, 0..0)")
        return self._source

    @property
    def metadata(self) -> dict[str, Any]:
        frames, height, width, samples, dtype, orientation, duration = self._info
        return {
            "format": self.kind,
            "frames": frames,
            "orientation": orientation,
            "duration_ms": duration,
        }


HEADER_BYTES = 1 << 16  # PNG chunks before IDAT, JPEG markers (EXIF) before SOF


def _header_info(location: Location, kind: str) -> Info:
    """Size, samples, frames (GIF and WebP walk their blocks: the whole file is read)."""
    if kind in ("GIF", "WEBP"):
        data = location.read_range(0, location.size)
        return gif_info(data) if kind == "GIF" else webp_info(data)
    info = _png_or_jpeg_info(location, kind)
    if kind == "PNG" and b"acTL" in location.head(HEADER_BYTES):  # APNG: frames as T
        animation = apng_frames(location.read_range(0, location.size))
        if animation is not None:
            return info._replace(frames=animation[0], duration=animation[1])
    if info.orientation in (5, 6, 7, 8):
        return info._replace(height=info.width, width=info.height)
    return info


def _png_or_jpeg_info(location: Location, kind: str) -> Info:
    """From the first 4 KiB (already read to pick the reader) when the header fits there,
    else from the first 64 KiB (large EXIF or text chunks): the same answer either way."""
    head = location.head()
    if len(head) < HEADER_BYTES:
        try:
            if kind == "PNG" and png_header_complete(head):
                return png_info(head)
            if kind == "JPEG":
                return jpeg_info(head)  # a SOF found whole has every segment before it whole
        except (ValueError, IndexError, struct.error):
            pass  # cut by the 4 KiB: read further
    head = location.head(HEADER_BYTES)
    return png_info(head) if kind == "PNG" else jpeg_info(head)


def _bmp_info(location: Location) -> Info:
    """BMP headers come in many variants: Pillow reads them (``imgio[images]``)."""
    require("PIL", extra="images", package="pillow")
    from PIL import Image

    fh = location.open()
    try:
        with Image.open(fh) as im:
            mode, (width, height) = im.mode, im.size
            transparent = "transparency" in im.info
    finally:
        fh.close()
    samples = {"L": 1, "1": 1, "RGBA": 4}.get(mode, 4 if transparent else 3)
    return Info(1, height, width, samples, "u1")


def _jxl_info(location: Location) -> Info:
    """JPEG XL has no Pillow plugin here: its header is read by decoding (frames: one)."""
    import imagecodecs

    arr = np.asarray(imagecodecs.jpegxl_decode(location.read_range(0, location.size)))
    samples = arr.shape[2] if arr.ndim == 3 else 1
    return Info(1, arr.shape[0], arr.shape[1], samples, arr.dtype.str)


class ImageFileSource(SourceBase):
    """The frames of one image file; a read decodes the frames it covers, whole."""

    def __init__(
        self,
        location: Location,
        kind: str,
        dims: str,
        shape: tuple[int, ...],
        dtype: np.dtype[Any],
        orientation: int,
        token: str,
    ) -> None:
        self.location = location
        self.kind = kind
        self.dims = dims
        self.shape = shape
        self.dtype = dtype
        self.orientation = orientation
        self.token = f"{token}:images"
        # one native chunk per frame: these codecs decode whole frames only
        self.chunks = ((1,) if "T" in dims else ()) + shape[1 if "T" in dims else 0 :]
        # the bytes of a file of at most 4 KiB, read at open (icons, masks: no second read)
        self.small: bytes | None = None

    def _file_bytes(self) -> bytes:
        return (
            self.small
            if self.small is not None
            else self.location.read_range(0, self.location.size)
        )

    def __getitem__(self, key: tuple[slice, ...]) -> np.ndarray[Any, Any]:
        animated = "T" in self.dims
        frames = range(key[0].start, key[0].stop) if animated else range(1)
        space = key[1:] if animated else key
        if self.kind in ("GIF", "PNG") and len(frames) > 1:
            return self._gif_frames(frames)[(slice(None), *space)]
        out = [self.frame(t)[space] for t in frames]
        return np.stack(out) if animated else out[0]

    def read_into(self, key: tuple[slice, ...], out: np.ndarray[Any, Any]) -> bool:
        """A whole upright JPEG decodes straight into ``out`` (no second copy); anything
        else returns False and is read through ``__getitem__``."""
        whole = all(k.start == 0 and k.stop == n for k, n in zip(key, self.shape, strict=True))
        if not (
            self.kind == "JPEG"
            and "T" not in self.dims
            and self.orientation in (0, 1)
            and whole
            and out.flags.c_contiguous
            and out.dtype == np.uint8
            and out.shape[-1] in ((3,) if "S" in self.dims else (out.shape[-1],))
        ):
            return False
        import imagecodecs

        data = self._file_bytes()
        if data.rfind(b"\xff\xd9") < data.rfind(b"\xff\xda"):
            return False  # truncated: __getitem__ raises the error
        try:
            imagecodecs.jpeg8_decode(data, out=out)
        except Exception:  # noqa: BLE001 - another layout (CMYK, grey as RGB): the slow path
            return False
        STATS.add(1, len(data))
        return True

    def _stacked(self, every: np.ndarray[Any, Any]) -> bool:
        """Whether a whole-animation decode has a frame axis (grey APNG frames are 2-D)."""
        return every.ndim == 4 or (every.ndim == 3 and self.kind == "PNG" and "S" not in self.dims)

    def _gif_frames(self, frames: range) -> np.ndarray[Any, Any]:
        """Several GIF frames from one decode of the animation (each frame alone costs
        nearly as much: giflib reads the whole file)."""
        import imagecodecs

        data = self._file_bytes()
        try:
            decode = imagecodecs.gif_decode if self.kind == "GIF" else imagecodecs.apng_decode
            every = np.asarray(decode(data))
        except Exception as exc:  # noqa: BLE001 - codecs raise many kinds on bad bytes
            raise CorruptFileError(
                f"{self.location.url}: cannot decode {self.kind} frames {frames.start}-"
                f"{frames.stop - 1}: {type(exc).__name__}: {exc}"
            ) from exc
        if not self._stacked(every) or len(every) < frames.stop:
            raise CorruptFileError(
                f"{self.location.url}: the {self.kind} decoded to "
                f"{every.shape[0] if every.ndim == 4 else 1} frames, the blocks say {self.shape[0]}"
            )
        out = np.stack(
            [
                _conform(f, self.shape, self.dims, self.dtype)
                for f in every[frames.start : frames.stop]
            ]
        )
        STATS.add(len(frames), len(data))
        return out

    def frame(self, index: int) -> np.ndarray[Any, Any]:
        """One whole frame as ``Y X [S]``, oriented (nothing is cached: a mosaic of many
        files would hold every decoded frame)."""
        data = self._file_bytes()
        try:
            arr = self._decode(data, index)
        except Exception as exc:  # noqa: BLE001 - codecs raise many kinds on bad bytes
            raise CorruptFileError(
                f"{self.location.url}: cannot decode {self.kind} frame {index}: "
                f"{type(exc).__name__}: {exc}"
            ) from exc
        arr = _orient(_conform(arr, self.shape, self.dims, self.dtype), self.orientation)
        want = self.shape[1:] if "T" in self.dims else self.shape
        if arr.shape != want:
            raise CorruptFileError(
                f"{self.location.url}: {self.kind} frame {index} decoded to {arr.shape}, "
                f"the header says {want}"
            )
        STATS.add(1, len(data))
        return arr

    def _decode(self, data: bytes, index: int) -> np.ndarray[Any, Any]:
        import imagecodecs

        if self.kind == "GIF":
            return np.asarray(imagecodecs.gif_decode(data, index=index))
        if self.kind == "WEBP":
            return np.asarray(imagecodecs.webp_decode(data, index=index))
        if self.kind == "JPEG":
            if data.rfind(b"\xff\xd9") < data.rfind(b"\xff\xda"):
                raise ValueError("truncated: the last scan has no end-of-image marker")
            return np.asarray(imagecodecs.jpeg8_decode(data))
        if self.kind == "PNG" and "T" in self.dims:  # APNG: frames composited as shown
            every = np.asarray(imagecodecs.apng_decode(data))
            if not self._stacked(every) or len(every) != self.shape[0]:
                raise ValueError(f"decoded to {every.shape}, the chunks say {self.shape[0]} frames")
            frame: np.ndarray[Any, Any] = every[index]
            return frame
        if self.kind == "PNG":
            return np.asarray(imagecodecs.png_decode(data))
        if self.kind == "BMP":
            return _bmp_decode(data)
        return np.asarray(imagecodecs.jpegxl_decode(data))


def _bmp_decode(data: bytes) -> np.ndarray[Any, Any]:
    """BMP through Pillow (it handles every BMP variant; imagecodecs only some)."""
    from PIL import Image

    with Image.open(io.BytesIO(data)) as im:
        if im.mode in ("P", "1"):
            return np.asarray(im.convert("RGBA" if "transparency" in im.info else "RGB"))
        return np.asarray(im)


def _conform(
    arr: np.ndarray[Any, Any], shape: tuple[int, ...], dims: str, dtype: np.dtype[Any]
) -> np.ndarray[Any, Any]:
    """Bring a decoded frame to the declared samples (codecs differ on alpha and grey)."""
    samples = shape[-1] if "S" in dims else 1
    if arr.ndim == 3 and arr.shape[2] == 1:
        arr = arr[..., 0]
    have = arr.shape[2] if arr.ndim == 3 else 1
    if have != samples:
        if samples == 1:
            arr = arr[..., 0]
        elif have == 1:
            arr = np.repeat(arr[..., None], min(samples, 3), axis=2)
            have = arr.shape[2]
        if samples > have:
            alpha = np.full(arr.shape[:2] + (samples - have,), np.iinfo(arr.dtype).max, arr.dtype)
            arr = np.concatenate([arr, alpha], axis=2)
        elif samples < have:
            arr = arr[..., :samples]
    if arr.dtype != dtype:
        arr = arr.astype(dtype)
    return arr


def _orient(arr: np.ndarray[Any, Any], orientation: int) -> np.ndarray[Any, Any]:
    """Apply an EXIF orientation (1-8): the array as the image is meant to be shown."""
    if orientation in (5, 6, 7, 8):
        arr = arr.swapaxes(0, 1)
    flips = {2: (False, True), 3: (True, True), 4: (True, False), 6: (False, True)}
    flips.update({7: (True, True), 8: (True, False)})
    flip_y, flip_x = flips.get(orientation, (False, False))
    if flip_y:
        arr = arr[::-1]
    if flip_x:
        arr = arr[:, ::-1]
    if orientation in (5, 6, 7, 8):
        return _copy_blocked(arr)
    return np.ascontiguousarray(arr)


def _copy_blocked(view: np.ndarray[Any, Any], block: int = 128) -> np.ndarray[Any, Any]:
    """A contiguous copy of a transposed ``view``, made in ``block``² squares: a plain copy
    walks the source across rows and is 4-6x slower on a large frame (cache misses)."""
    out = np.empty(view.shape, view.dtype)
    for y in range(0, view.shape[0], block):
        for x in range(0, view.shape[1], block):
            out[y : y + block, x : x + block] = view[y : y + block, x : x + block]
    return out
