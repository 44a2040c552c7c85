"""A real S3 API on loopback for tests: moto's threaded server behind a counting proxy.

``with moto_s3() as (options, proxy): ...`` starts the server, sets dummy AWS
credentials in the environment for the duration, and yields the fsspec
``storage_options`` that reach it through :class:`imgio._loopback.CountingProxy`
(bytes each way counted) plus the proxy. ``s3_filesystem(options)`` is a fresh
``s3fs.S3FileSystem`` (no instance cache) for setting up and checking buckets.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest

from imgio._loopback import CountingProxy

__all__ = ["S3", "moto_s3", "s3_filesystem"]

S3 = tuple[dict[str, Any], CountingProxy]  # storage options, and the proxy in front of moto

_ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_EC2_METADATA_DISABLED": "true",
}


def s3_filesystem(options: dict[str, Any]) -> Any:
    """A new ``s3fs.S3FileSystem`` with ``options`` (skips fsspec's instance cache)."""
    import s3fs

    return s3fs.S3FileSystem(skip_instance_cache=True, **options)


@contextmanager
def moto_s3(buckets: tuple[str, ...] = ()) -> Iterator[S3]:
    """A moto S3 server on 127.0.0.1 (free port) behind a byte-counting proxy.

    moto's server and s3fs come with the ``test`` extra: a missing one fails the test.
    """
    import moto.server as moto_server
    import s3fs  # noqa: F401 - the filesystem the tests talk to S3 with

    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    with pytest.MonkeyPatch.context() as mp:
        for key, value in _ENV.items():
            mp.setenv(key, value)
        server = moto_server.ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
        server.start()
        try:
            with CountingProxy(server.get_host_and_port()) as proxy:
                options: dict[str, Any] = {
                    "endpoint_url": proxy.url,
                    "key": "testing",
                    "secret": "testing",
                    "client_kwargs": {"region_name": "us-east-1"},
                }
                fs = s3_filesystem(options)
                for bucket in buckets:
                    fs.call_s3("create_bucket", Bucket=bucket)
                yield options, proxy
        finally:
            server.stop()
