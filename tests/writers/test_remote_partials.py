"""Abandoned partials of remote writes are removed by the next write to the same target,
and partials of writers that may still run are kept (a real moto S3 server on loopback).

The rule (``imgio/writers/_remote_partials.py``): same host (and process namespace) and
the process is gone -> removed; another host -> removed only when it started over a day
ago and nothing under it was written for a day.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest
from s3_server import S3, moto_s3, s3_filesystem

import imgio
from imgio._location import as_location
from imgio.writers._remote_partials import HOST, STALE_AFTER, remove_stale_partials

BUCKET = "partials"
DAY = 24 * 3600


@pytest.fixture(scope="module")
def s3() -> Iterator[S3]:
    with moto_s3(buckets=(BUCKET,)) as server:
        yield server


def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def _partial(fs: Any, target: str, host: str, pid: int, start: float) -> str:
    """A partial prefix of ``target`` holding one object; returns its name."""
    name = f".{target}.{host}-{pid}-{int(start)}-0123456789ab.partial"
    fs.pipe(f"{BUCKET}/{name}/0/0.0", b"x" * 10)
    return name


def _names(options: dict[str, Any]) -> set[str]:
    return {p.rpartition("/")[2] for p in s3_filesystem(options).ls(BUCKET, refresh=True)}


@pytest.mark.parametrize(("target", "overwrite"), [("a.ome.zarr", False), ("b.ome.tif", False)])
def test_next_write_removes_partials_of_dead_writers_only(
    s3: S3, target: str, overwrite: bool
) -> None:
    options = s3[0]
    fs = s3_filesystem(options)
    now = time.time()
    dead = _partial(fs, target, HOST, _dead_pid(), now)
    live = _partial(fs, target, HOST, os.getppid(), now)  # our parent runs
    elsewhere = _partial(fs, target, "otherhost_1", 12, now - 3600)  # recent, other host
    old_busy = _partial(fs, target, "otherhost_2", 13, now - 3 * DAY)  # written just now
    other_target = _partial(fs, "c.ome.zarr", HOST, _dead_pid(), now)
    url = f"s3://{BUCKET}/{target}"
    data = np.arange(2 * 32 * 48, dtype="u2").reshape(2, 32, 48)
    imgio.write(data, url, dims="CYX", storage_options=options, overwrite=overwrite)
    names = _names(options)
    assert dead not in names
    assert {live, elsewhere, old_busy, other_target} <= names
    with imgio.Image(url, storage_options=options) as img:
        np.testing.assert_array_equal(img.get_image_data("CYX"), data)


def test_replacing_a_store_removes_dead_partials_and_leaves_none(s3: S3) -> None:
    options = s3[0]
    fs = s3_filesystem(options)
    url = f"s3://{BUCKET}/r.ome.zarr"
    first = np.zeros((16, 16), "u1")
    imgio.write(first, url, dims="YX", storage_options=options)
    dead = _partial(fs, "r.ome.zarr", HOST, _dead_pid(), time.time())
    imgio.write(first + 7, url, dims="YX", storage_options=options, overwrite=True)
    assert not any(n.startswith(".r.ome.zarr.") for n in _names(options)), dead
    with imgio.Image(url, storage_options=options) as img:
        assert int(img.get_image_data("YX").max()) == 7


def test_other_hosts_partials_go_only_when_old_and_idle(s3: S3) -> None:
    options = s3[0]
    fs = s3_filesystem(options)
    now = time.time()
    old = _partial(fs, "d.ome.zarr", "otherhost_3", 14, now - 2 * DAY)
    young = _partial(fs, "d.ome.zarr", "otherhost_4", 15, now - 3600)
    loc = as_location(f"s3://{BUCKET}/d.ome.zarr", options)
    # today: the young one's writer may run; the old one's objects were written seconds
    # ago, so its writer may be busy too: both kept
    assert remove_stale_partials(loc) == []
    assert {old, young} <= _names(options)
    # two days on with nothing written since: both are abandoned
    removed = remove_stale_partials(loc, now=now + 2 * DAY)
    assert sorted(p.rpartition("/")[2] for p in removed) == sorted([old, young])
    assert not {old, young} & _names(options)
    assert STALE_AFTER == DAY  # the documented age
