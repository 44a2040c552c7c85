"""Run imgio graphs on a dask.distributed cluster.

Every imgio array source pickles to its location and layout and reopens its file in
the worker, so any read graph (and every writer, which computes through dask) runs
on a cluster once a :class:`distributed.Client` is active:

>>> from imgio.dask_utils import cluster_and_client
>>> with cluster_and_client(n_workers=2, threads_per_worker=1) as client:  # doctest: +SKIP
...     img = imgio.Image("s3://bucket/slide.ome.tif", storage_options={"anon": True})
...     means = img.xarray_dask_data.mean(dim=["Y", "X"]).compute()
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from .errors import require

if TYPE_CHECKING:
    from distributed import Client

__all__ = ["cluster_and_client"]


@contextmanager
def cluster_and_client(address: str | None = None, **cluster_kwargs: Any) -> Iterator[Client]:
    """A :class:`distributed.Client`, closed on exit, as the default dask scheduler.

    Parameters
    ----------
    address
        Address of a running scheduler (``"tcp://host:8786"``). ``None`` starts a
        :class:`distributed.LocalCluster` for the duration of the block.
    **cluster_kwargs
        Options of the ``LocalCluster`` (``n_workers``, ``threads_per_worker``,
        ``processes``, ``memory_limit``, ...); only without ``address``.

    Raises
    ------
    MissingDependencyError
        ``distributed`` is not installed.
    TypeError
        Cluster options given together with an ``address``.
    """
    distributed: Any = require("distributed", extra="distributed")
    if address is not None:
        if cluster_kwargs:
            raise TypeError(
                f"cluster options {sorted(cluster_kwargs)} apply to a new LocalCluster; "
                f"they cannot change the existing scheduler at {address!r}"
            )
        client = distributed.Client(address)
        try:
            yield client
        finally:
            client.close()
        return
    cluster = distributed.LocalCluster(**cluster_kwargs)
    try:
        client = distributed.Client(cluster)
        try:
            yield client
        finally:
            client.close()
    finally:
        cluster.close()
