"""DICOMweb: a series' structure from its metadata (WADO-RS), pixels from frame retrieval.

``open_series`` asks for ``{series}/metadata`` once; every VOLUME/THUMBNAIL/LABEL/
OVERVIEW instance in it becomes an :class:`Instance`. A region read then asks, per
instance it touches, for all the frames it needs in ONE multipart request
(``{series}/instances/{sop}/frames/1,5,6``), accepting any transfer syntax so that
the server sends frames as stored. ``storage_options`` carry ``headers`` (e.g.
``Authorization``), ``auth`` ((user, password)), ``timeout`` (s) and ``retries``.
Transient failures (connection errors, timeouts, 429, 5xx) are retried; every
failure names the request.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Mapping
from typing import Any

from ..._location import Location
from ...errors import CorruptFileError, ImgioError, MissingFileError, RemoteError, require
from ._codec import NATIVE
from ._header import Instance, instance_from_dataset
from ._values import HeaderError

__all__ = ["WebClient", "WebInstance", "open_series"]

_ACCEPT_FRAMES = 'multipart/related; type="application/octet-stream"; transfer-syntax=*'
_ACCEPT_NATIVE = 'multipart/related; type="application/octet-stream"'
_TRANSIENT = {408, 429, 500, 502, 503, 504}
_TS = re.compile(rb'transfer-syntax="?([0-9.]+)"?', re.IGNORECASE)
#: most bytes one metadata document may hold (a sparse level's per-frame groups are large)
MAX_METADATA = 1 << 30


class WebClient:
    """HTTP access to one DICOMweb series, with retries; pickles to its options."""

    def __init__(self, series_url: str, options: Mapping[str, Any]) -> None:
        self.series_url = series_url.rstrip("/")
        self.options = dict(options)
        self._local = threading.local()
        #: False once the server failed to send frames as stored (then: uncompressed)
        self._stored_ok = True

    def __getstate__(self) -> dict[str, Any]:
        return {"series_url": self.series_url, "options": self.options, "stored": self._stored_ok}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__(state["series_url"], state["options"])  # type: ignore[misc]
        self._stored_ok = state.get("stored", True)

    def _session(self) -> Any:
        session = getattr(self._local, "session", None)
        if session is None:
            requests: Any = require("requests", extra="dicom")
            session = requests.Session()
            session.headers.update(self.options.get("headers") or {})
            auth = self.options.get("auth")
            if auth is not None:
                session.auth = tuple(auth) if isinstance(auth, list) else auth
            self._local.session = session
        return session

    def get(self, path: str, accept: str) -> tuple[bytes, str]:
        """GET ``{series}{path}``: body and Content-Type; retried when transient.

        Raises
        ------
        MissingFileError
            404: the series, instance or frame is not on the server.
        RemoteError
            Any other error status, or no answer in time after the retries.
        """
        requests: Any = require("requests", extra="dicom")
        url = f"{self.series_url}{path}"
        retries = int(self.options.get("retries", 3))
        timeout = float(self.options.get("timeout", 30.0))
        why = ""
        for attempt in range(retries + 1):
            if attempt:
                time.sleep(min(2.0, 0.1 * 2**attempt))
            try:
                r = self._session().get(url, headers={"Accept": accept}, timeout=timeout)
            except requests.RequestException as exc:
                why = f"{type(exc).__name__}: {exc}"
                continue
            if r.status_code == 200:
                return r.content, r.headers.get("Content-Type", "")
            why = f"HTTP {r.status_code} {r.reason}"
            if r.status_code == 404:
                raise MissingFileError(f"DICOMweb GET {url}: {why}")
            if r.status_code not in _TRANSIENT:
                break
        raise RemoteError(f"DICOMweb GET {url} failed after {attempt + 1} attempt(s): {why}")

    def instances(self) -> list[dict[str, Any]]:
        """The series metadata: one DICOM JSON dataset per instance."""
        import json

        body, ctype = self.get("/metadata", "application/dicom+json")
        try:
            data = json.loads(body)
        except ValueError as exc:
            raise CorruptFileError(
                f"DICOMweb GET {self.series_url}/metadata: not JSON ({ctype}): {exc}"
            ) from exc
        if not isinstance(data, list) or not all(isinstance(d, dict) for d in data):
            raise CorruptFileError(
                f"DICOMweb GET {self.series_url}/metadata: expected a list of datasets, "
                f"found {type(data).__name__}"
            )
        return data

    def frames(self, sop: str, numbers: list[int]) -> list[tuple[bytes, str]]:
        """Frames (1-based ``numbers``) of one instance in one request: bytes and syntax.

        Frames are asked for as stored (``transfer-syntax=*``). A server that refuses
        (406, 400) or fails on that (5xx after the retries: Debian's Orthanc 1.10 answers
        500 for HTJ2K, whose UID its DCMTK does not know) is asked for uncompressed frames
        instead, for this read and every later one of this client.
        """
        path = f"/instances/{sop}/frames/{','.join(str(n) for n in numbers)}"
        if self._stored_ok:
            try:
                body, ctype = self.get(path, _ACCEPT_FRAMES)
            except RemoteError as exc:
                if not re.search(r"HTTP (406|400|5\d\d)", str(exc)):
                    raise
                self._stored_ok = False
        if not self._stored_ok:
            body, ctype = self.get(path, _ACCEPT_NATIVE)
        where = f"DICOMweb GET {self.series_url}{path}"
        parts = split_multipart(body, ctype, where)
        if len(parts) != len(numbers):
            raise CorruptFileError(
                f"{where}: expected {len(numbers)} frames, the answer holds {len(parts)}"
            )
        return parts


def split_multipart(body: bytes, ctype: str, where: str) -> list[tuple[bytes, str]]:
    """The parts of a ``multipart/related`` answer: payload and transfer syntax of each."""
    found = re.search(r'boundary="?([^";]+)"?', ctype)
    if not ctype.lower().startswith("multipart/") or found is None:
        raise CorruptFileError(f"{where}: expected a multipart answer, found {ctype!r}")
    outer = _TS.search(ctype.encode("latin-1", "replace"))
    default = outer.group(1).decode() if outer else ""
    delimiter = b"--" + found.group(1).encode("latin-1")
    out = []
    for chunk in body.split(delimiter)[1:]:
        if chunk.startswith(b"--"):
            break
        head, sep, payload = chunk.partition(b"\r\n\r\n")
        if not sep:
            raise CorruptFileError(f"{where}: a part has no header end")
        if payload.endswith(b"\r\n"):
            payload = payload[:-2]
        ts = _TS.search(head)
        out.append((payload, ts.group(1).decode() if ts else default))
    return out


class WebInstance:
    """The frame store of one instance on a DICOMweb server."""

    def __init__(self, client: WebClient, inst: Instance) -> None:
        self.client = client
        self.inst = inst

    def read(self, frames: list[int]) -> list[tuple[bytes, str]]:
        """Frames as the server sends them. A part labelled uncompressed that is not one
        frame's size is the stored codestream mislabelled (Orthanc 1.10 sends HTJ2K frames
        so when asked for uncompressed ones): its syntax is left to its first bytes."""
        parts = self.client.frames(self.inst.sop_uid, [f + 1 for f in frames])
        size = self.inst.frame_bytes
        return [
            (data, "" if ts in NATIVE and len(data) != size and _coded(data) else ts)
            for data, ts in parts
        ]

    def properties(self) -> dict[str, str]:
        """OpenSlide's ``dicom.*`` properties of the instance's metadata (one request)."""
        import json

        from ._props import elements_of, flatten

        path = f"/instances/{self.inst.sop_uid}/metadata"
        where = f"DICOMweb GET {self.client.series_url}{path}"
        body, _ = self.client.get(path, "application/dicom+json")
        out: dict[str, str] = {}
        try:
            items = json.loads(body)
            item = items[0] if isinstance(items, list) else items
            flatten(elements_of(_dataset(item, where)), "dicom", out)
        except ImgioError:
            raise
        except Exception as exc:  # noqa: BLE001 - pydicom converts values as they are listed
            raise CorruptFileError(f"{where}: not DICOM JSON: {type(exc).__name__}: {exc}") from exc
        return out


def _coded(data: bytes) -> bool:
    """The bytes open like a JPEG, JPEG 2000 or JPEG XL codestream."""
    return data.startswith((b"\xff\xd8", b"\xff\x4f\xff\x51", b"\x00\x00\x00\x0cjP", b"\xff\x0a"))


def _dataset(item: dict[str, Any], where: str) -> Any:
    pydicom: Any = require("pydicom", extra="dicom")
    try:
        return pydicom.Dataset.from_json(item, bulk_data_uri_handler=lambda *a: None)
    except Exception as exc:  # noqa: BLE001 - pydicom raises anything on bad JSON
        raise CorruptFileError(f"{where}: an instance's metadata is not DICOM JSON: {exc}") from exc


def open_series(location: Location, parts: re.Match[str]) -> tuple[list[Instance], list[Any]]:
    """The whole-slide instances of a DICOMweb series and one frame store per instance.

    Raises
    ------
    UnsupportedFormatError
        The series holds no VL Whole Slide Microscopy instance.
    """
    from ...errors import UnsupportedFormatError

    client = WebClient(location.url, location.storage_options)
    where = f"DICOMweb series {client.series_url}"
    instances, stores = [], []
    skipped = []
    for item in client.instances():
        ds = _dataset(item, where)
        sop = str(getattr(ds, "SOPInstanceUID", "") or "")
        try:
            inst = instance_from_dataset(ds, f"{client.series_url}/instances/{sop}", -1)
        except HeaderError as exc:
            if "SOP class" not in str(exc):
                raise CorruptFileError(f"{where}: instance {sop}: {exc}") from exc
            skipped.append(f"{sop}: {exc}")
            continue
        except ImgioError:
            raise
        except Exception as exc:  # noqa: BLE001 - pydicom value conversions on bad metadata
            raise CorruptFileError(f"{where}: instance {sop}: {exc}") from exc
        instances.append(inst)
        stores.append(WebInstance(client, inst))
    if not instances:
        raise UnsupportedFormatError(
            location.url, {"dicom": f"no whole-slide instance in the series ({'; '.join(skipped)})"}
        )
    return instances, stores
