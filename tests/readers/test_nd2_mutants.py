"""ND2 byte-flip mutants found by ``benchmarks.fuzz`` (fixed after the fuzz run).

Each case is the sample with the recorded bytes changed. Before the fix, the first
declared 14 million channels per frame (opening took 0.3 s, then ``Image.data`` tried
to allocate 4.6 TiB), the others let ``zlib.error`` escape from nd2's metadata parser.
Opening and reading must now raise an imgio error, quickly, unless the damage lies
only in the metadata imgio does not decode (the per-channel device settings): those
open with the undamaged file's sizes, channels and pixel sizes.
"""

from __future__ import annotations

import struct
from pathlib import Path

import nd2
import numpy as np
import pytest
from fuzzing.exercise import address_space
from samples import DATA

import imgio

# (sample, what escaped before, [(offset, new byte), ...])
MUTANTS = [
    (
        "arcadia-example-multichannel.nd2",
        "unbound",
        [
            (9202, 15),
            (56628, 40),
            (97060, 96),
            (242803, 188),
            (326060, 23),
            (500169, 56),
            (656075, 195),
            (802470, 142),
        ],
    ),
    (
        "arcadia-example-zstack.nd2",
        "hang",
        [
            (73217, 152),
            (120820, 175),
            (150748, 26),
            (151301, 176),
            (199495, 233),
            (448237, 245),
            (449276, 2),
            (495952, 151),
            (563495, 148),
            (597584, 215),
        ],
    ),
]
# damage only inside the per-channel device settings (``sSampleSetting``), which imgio
# does not decode: these open with the undamaged file's structure
UNREAD_DAMAGE = [
    (
        "arcadia-example-zstack.nd2",
        "overflow",
        [
            (5131, 186),
            (39324, 183),
            (50458, 254),
            (54398, 193),
            (109389, 54),
            (125907, 95),
            (133594, 51),
            (171591, 55),
            (215289, 154),
            (225886, 68),
            (273056, 105),
            (367508, 217),
            (393229, 148),
            (418802, 194),
            (457754, 28),
        ],
    ),
    (
        "arcadia-example-multichannel.nd2",
        "zlib",
        [
            (68241, 176),
            (155220, 120),
            (331910, 110),
            (712454, 0),
        ],
    ),
    (
        "arcadia-example-timelapse.nd2",
        "zlib",
        [
            (40372, 12),
            (44487, 14),
            (114027, 159),
            (176724, 251),
            (192010, 133),
            (282130, 208),
            (387415, 239),
            (496969, 185),
            (590406, 86),
            (597387, 71),
            (765013, 78),
        ],
    ),
    (
        "arcadia-example-timelapse.nd2",
        "zlib",
        [
            (8435, 185),
            (17050, 62),
            (53137, 195),
            (92039, 198),
            (215804, 68),
            (240860, 113),
            (310942, 92),
            (436093, 128),
            (610051, 80),
            (695609, 136),
            (699241, 131),
            (714543, 156),
            (789659, 141),
            (816210, 197),
        ],
    ),
]


def _mutant(
    name: str, flips: list[tuple[int, int]], tmp_path: Path, request: pytest.FixtureRequest
) -> tuple[Path, Path]:
    """``name`` (from tests/data, else the shared samples) with ``flips`` applied: the
    source and the mutant."""
    src = DATA / name
    if not src.is_file():
        src = request.getfixturevalue("shared_samples") / "nd2" / name
    out = tmp_path / name
    data = bytearray(src.read_bytes())
    for offset, value in flips:
        data[offset] = value
    out.write_bytes(bytes(data))
    return src, out


@pytest.mark.parametrize(("name", "before", "flips"), MUTANTS, ids=lambda v: str(v)[:24])
def test_nd2_mutant_gives_an_imgio_error(
    name: str,
    before: str,
    flips: list[tuple[int, int]],
    tmp_path: Path,
    request: pytest.FixtureRequest,
) -> None:
    src, path = _mutant(name, flips, tmp_path, request)
    with pytest.raises(imgio.ImgioError, match="nd2|ND2|frame|chunk"):
        img = imgio.Image(path)
        assert img.metadata is not None
        assert img.data.size >= 0


@pytest.mark.parametrize(("name", "before", "flips"), UNREAD_DAMAGE, ids=lambda v: str(v)[:24])
def test_nd2_damage_in_unread_settings_opens_like_the_sample(
    name: str,
    before: str,
    flips: list[tuple[int, int]],
    tmp_path: Path,
    request: pytest.FixtureRequest,
) -> None:
    src, path = _mutant(name, flips, tmp_path, request)
    img = imgio.Image(path)
    with nd2.ND2File(src) as ref:
        sizes = dict(ref.sizes)
        names = [c.channel.name for c in ref.metadata.channels or []]
        x_um = ref.voxel_size().x
    mine = zip(img.dims.order, img.dims.shape, strict=True)
    assert {d: n for d, n in mine if n > 1} == {d: n for d, n in sizes.items() if n > 1}
    assert img.channel_names == names
    assert img.physical_pixel_sizes.X == pytest.approx(x_um)
    assert img.data.shape[-2:] == (sizes["Y"], sizes["X"])


# ---------------------------------------------------------------- chunk length fields
# (sample, chunk, header field, value, expected): a chunk header whose name or data
# length was flipped made nd2 call ``fh.read(length)`` while opening, which allocates the
# whole length first (the fuzz run's one "memory" outcome). Reads are now clamped to the
# bytes left in the file: nd2 then finds its data (same pixels) or fails on short data.
LENGTH_MUTANTS = [
    ("arcadia-example-zstack.nd2", b"ImageMetadataLV!", "data", 2**40, "pixels"),
    ("arcadia-example-zstack.nd2", b"ImageMetadataSeqLV|0!", "data", 2**40, "pixels"),
    ("arcadia-example-timelapse.nd2", b"ND2 FILEMAP SIGNATURE NAME 0001!", "data", 2**40, "pixels"),
    ("arcadia-example-multichannel.nd2", b"ImageAttributesLV!", "data", 2**40, "pixels"),
    ("arcadia-example-multichannel.nd2", b"ND2 FILEMAP SIGNATURE", "name", 2**32 - 1, "error"),
]
CHUNK_MAGIC = bytes.fromhex("dacebe0a")


def _length_mutant(src: Path, chunk: bytes, field: str, value: int, out: Path) -> Path:
    data = bytearray(src.read_bytes())
    pos = data.index(CHUNK_MAGIC)
    while not data[pos + 16 :].lstrip(b"\0").startswith(chunk):
        pos = data.index(CHUNK_MAGIC, pos + 4)
    if field == "data":
        struct.pack_into("<Q", data, pos + 8, value)
    else:
        struct.pack_into("<I", data, pos + 4, value)
    out.write_bytes(bytes(data))
    return out


@pytest.mark.parametrize(
    ("name", "chunk", "field", "value", "expected"), LENGTH_MUTANTS, ids=lambda v: str(v)[:28]
)
def test_nd2_chunk_length_mutant_reads_within_the_file(
    name: str,
    chunk: bytes,
    field: str,
    value: int,
    expected: str,
    tmp_path: Path,
    request: pytest.FixtureRequest,
) -> None:
    import nd2

    src = request.getfixturevalue("shared_samples") / "nd2" / name
    path = _length_mutant(src, chunk, field, value, tmp_path / name)
    # 1 GiB more than the process has: a read sized by the flipped length cannot pass
    with address_space(2**30):
        if expected == "error":
            with pytest.raises(imgio.CorruptFileError, match="corrupted ND2 structure"):
                imgio.Image(path)
            return
        with imgio.Image(path) as img:
            got = img.data
            assert img.metadata is not None
    np.testing.assert_array_equal(got.squeeze(), nd2.imread(src).squeeze())
