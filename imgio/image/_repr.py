"""How an :class:`imgio.Image` prints: a text summary and a notebook table with a thumbnail."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, cast

if TYPE_CHECKING:
    from . import Image

__all__ = ["ReprMixin"]


def _image(obj: object) -> Image:
    return cast("Image", obj)


class ReprMixin:
    """``repr(img)`` and ``img._repr_html_()`` (Jupyter)."""

    def _summary(self) -> list[tuple[str, str]]:
        img = _image(self)
        file = img.file
        n_levels = file.n_levels(img.current_scene_index)
        sizes = img.physical_pixel_sizes
        rows = [
            ("file", file.location.name),
            ("reader", file.reader.name),
            ("scene", f"{img.current_scene!r} ({img._scene + 1} of {len(img.scenes)})"),
            (
                "dims",
                " ".join(f"{d}:{n}" for d, n in zip(img.dims.order, img.shape, strict=True)),
            ),
            ("dtype", str(img.dtype)),
            (
                "levels",
                ", ".join(
                    "x".join(str(v) for v in file.presented(img.current_scene_index, lvl)[1])
                    for lvl in range(n_levels)
                )
                + f" (current {img.current_resolution_level})",
            ),
            ("channels", ", ".join(img.channel_names or []) or "-"),
            ("pixel sizes", _pixel_sizes(sizes, dict(zip(img.dims.order, img.shape, strict=True)))),
        ]
        return rows

    def __repr__(self) -> str:
        body = "\n".join(f"  {k:<12}{v}" for k, v in self._summary())
        return f"<imgio.Image\n{body}>"

    def _repr_html_(self) -> str:
        import html

        rows = "".join(
            f"<tr><th style='text-align:left'>{html.escape(k)}</th><td style='text-align:left'>"
            f"{html.escape(v)}</td></tr>"
            for k, v in self._summary()
        )
        table = f"<table><caption>imgio.Image</caption>{rows}</table>"
        from ..tiles._html import thumbnail_html

        img = _image(self)
        picture = thumbnail_html(img.file, img.current_scene_index)
        if picture is None:
            return table
        return (
            "<div style='display:flex;gap:1em;align-items:flex-start'>"
            f"<div>{picture}</div><div>{table}</div></div>"
        )


def _pixel_sizes(sizes: Any, shape: dict[str, int]) -> str:
    """ "Z 2 Y 0.325 X 0.325 µm"; an unknown size reads "unknown", and a single plane's
    unknown Z step is left out (it has no meaning there)."""
    parts = [
        f"{dim} {value:.4g}" if value else f"{dim} unknown"
        for dim, value in zip("ZYX", sizes, strict=True)
        if value or not (dim == "Z" and shape.get("Z", 1) == 1)
    ]
    return " ".join(parts) + " µm" if any(sizes) else "unknown"
