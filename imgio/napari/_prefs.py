"""napari's reader preference: make imgio the reader napari uses for imgio's suffixes.

napari itself decides which plugin opens a file: for several compatible readers (napari's
builtins claim ``*.tif``, ``*.png``, ``*.zarr``...) it uses the user's
``settings.plugins.extension2reader`` (fnmatch patterns -> plugin) and otherwise asks in
the "choose reader" dialog. A plugin cannot claim priority in its manifest; it can write
that setting, which is what :func:`set_default_reader` does (the same entries the
dialog's "remember this choice" box writes, saved to napari's settings file).
"""

from __future__ import annotations

from collections.abc import Iterable

__all__ = ["default_reader_patterns", "set_default_reader"]


def default_reader_patterns() -> list[str]:
    """fnmatch patterns of every suffix imgio reads, and Zarr folders (``*.zarr/``).

    napari matches folders with a trailing separator, so a folder pattern ends in ``/``.
    """
    import os

    from ..readers._registry import known_suffixes
    from ..writers import ZARR_SUFFIXES

    patterns = [f"*{s}" for s in known_suffixes()]
    patterns += [f"*{s}{os.sep}" for s in ZARR_SUFFIXES]
    return list(dict.fromkeys(patterns))


def set_default_reader(
    patterns: Iterable[str] | None = None, *, replace: bool = True
) -> dict[str, str]:
    """Make imgio napari's preferred reader for ``patterns`` (default: all imgio reads).

    Writes ``napari.settings.get_settings().plugins.extension2reader`` (saved to napari's
    settings file, as the reader dialog's "remember this choice" does). Then ``napari
    file.tif``, drag and drop, *File > Open* and ``viewer.open(path, plugin=None)`` use
    imgio without asking. (``viewer.open(path)`` in a script defaults to
    ``plugin="napari"``, napari's own reader, whatever the setting: pass
    ``plugin="imgio"`` or ``plugin=None`` there.)

    Parameters
    ----------
    patterns
        fnmatch patterns such as ``"*.tif"``; default :func:`default_reader_patterns`.
    replace
        Replace the user's own choice for a pattern (else keep it).

    Returns
    -------
    dict
        The preference after the change.
    """
    from napari.settings import get_settings

    settings = get_settings().plugins
    current = dict(settings.extension2reader)
    for pattern in default_reader_patterns() if patterns is None else patterns:
        if replace or pattern not in current:
            current[pattern] = "imgio"
    settings.extension2reader = current
    return dict(settings.extension2reader)
