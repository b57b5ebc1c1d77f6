"""Unpacking archives: a clean model archive arrives exactly; a hostile one changes nothing."""

from __future__ import annotations

import errno
import io
import os
import struct
import tarfile
import warnings
import zipfile
from pathlib import Path

import pytest

from core.errors import InvalidInput, StorageUnavailable
from core.registry import archives
from core.registry.archives import ArchiveRejected, safe_extract

MIB = 1024 * 1024
MLMODEL = b"flavors:\n  sklearn:\n    pickled_model: model.skops\n"


def make_zip(path: Path, entries: list[tuple[str, bytes]], *, symlinks: tuple[str, ...] = ()):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # zipfile warns about the duplicate names some tests need
        with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as zf:
            for name, data in entries:
                info = zipfile.ZipInfo(name)
                info.compress_type = zipfile.ZIP_DEFLATED
                if name in symlinks:
                    info.external_attr = 0o120777 << 16
                zf.writestr(info, data)
    return path


def make_tar(path: Path, members: list[tarfile.TarInfo | tuple[str, bytes]], mode: str = "w"):
    with tarfile.open(path, mode) as tf:
        for member in members:
            if isinstance(member, tarfile.TarInfo):
                tf.addfile(member)
            else:
                info = tarfile.TarInfo(member[0])
                info.size = len(member[1])
                tf.addfile(info, io.BytesIO(member[1]))
    return path


def special(name: str, kind: bytes, linkname: str = "") -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type, info.linkname = kind, linkname
    return info


def assert_refused_cleanly(tmp_path: Path, archive: Path, *fragments: str, **limits) -> str:
    """Refused with a message holding each fragment; dest absent, no staging or stray files."""
    before = sorted(p.name for p in tmp_path.iterdir())
    with pytest.raises(ArchiveRejected) as caught:
        safe_extract(archive, tmp_path / "model", **limits)
    message = str(caught.value)
    assert caught.value.code == "archive_rejected"
    for fragment in fragments:
        assert fragment in message, message
    assert sorted(p.name for p in tmp_path.iterdir()) == before
    return message


def tree(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in root.rglob("*") if p.is_file()}


GOOD = {"MLmodel": MLMODEL, "model.skops": os.urandom(300_000), "code/train.py": b"print(1)\n",
        "data/empty.csv": b""}


def test_good_zip_extracts_exactly(tmp_path: Path):
    archive = make_zip(tmp_path / "model.zip", [("code/", b""), *GOOD.items()])
    result = safe_extract(archive, tmp_path / "model")

    assert tree(tmp_path / "model") == GOOD
    assert sorted(result.files) == sorted(GOOD)
    assert result.total_bytes == sum(map(len, GOOD.values()))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model", "model.zip"]


@pytest.mark.parametrize("mode", ["w", "w:gz", "w:bz2", "w:xz"])
def test_good_tar_extracts_exactly_with_any_compression(tmp_path: Path, mode: str):
    folder = special(".", tarfile.DIRTYPE)
    entries = [folder, *((f"./{name}", data) for name, data in GOOD.items())]
    archive = make_tar(tmp_path / "model.tar", entries, mode)

    safe_extract(archive, tmp_path / "model")
    assert tree(tmp_path / "model") == GOOD


def test_an_existing_empty_folder_is_filled_but_a_full_one_is_refused(tmp_path: Path):
    archive = make_zip(tmp_path / "model.zip", list(GOOD.items()))
    (tmp_path / "empty").mkdir()
    safe_extract(archive, tmp_path / "empty")
    assert tree(tmp_path / "empty") == GOOD

    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "keep.txt").write_text("mine")
    with pytest.raises(InvalidInput, match="not an empty folder"):
        safe_extract(archive, tmp_path / "full")
    assert tree(tmp_path / "full") == {"keep.txt": b"mine"}


@pytest.mark.parametrize(("name", "rule"), [
    ("../x", "'..'"),
    ("code/../../x", "'..'"),
    ("/etc/x", "absolute path"),
    ("C:/Windows/x", "drive letter"),
    ("..\\..\\x", "backslash"),
    ("evil\u202egnp.onnx", "U+202E"),
    ("bell\x07.txt", "U+0007"),
    ("a//b", "empty path component"),
    ("NUL.txt", "Windows device name"),
])
def test_zip_with_a_dangerous_name_is_refused_and_nothing_is_written(tmp_path, name, rule):
    # A good member comes first: the bad one must stop the archive before anything is written.
    archive = make_zip(tmp_path / "model.zip", [("MLmodel", MLMODEL), (name, b"payload")])
    message = assert_refused_cleanly(tmp_path, archive, repr(name), rule)
    assert "model.zip" in message
    assert not (tmp_path / "x").exists()


def test_tar_traversal_is_refused(tmp_path: Path):
    archive = make_tar(tmp_path / "model.tar.gz", [("MLmodel", MLMODEL), ("../x", b"p")], "w:gz")
    assert_refused_cleanly(tmp_path, archive, "'../x'", "'..'")
    assert not (tmp_path / "x").exists()


@pytest.mark.parametrize(("member", "rule"), [
    (special("passwd", tarfile.SYMTYPE, "/etc/passwd"), "symbolic link to '/etc/passwd'"),
    (special("local", tarfile.SYMTYPE, "MLmodel"), "symbolic link"),
    (special("shadow", tarfile.LNKTYPE, "../../etc/shadow"), "hard link"),
    (special("pipe", tarfile.FIFOTYPE), "fifo"),
    (special("tty", tarfile.CHRTYPE), "device"),
])
def test_tar_links_and_special_files_are_refused(tmp_path: Path, member, rule):
    archive = make_tar(tmp_path / "model.tar", [("MLmodel", MLMODEL), member])
    assert_refused_cleanly(tmp_path, archive, repr(member.name), rule)


def test_zip_symlink_is_refused(tmp_path: Path):
    archive = make_zip(tmp_path / "model.zip", [("MLmodel", MLMODEL), ("link", b"/etc/passwd")],
                       symlinks=("link",))
    assert_refused_cleanly(tmp_path, archive, "'link'", "symbolic link")


@pytest.mark.parametrize(("names", "rule"), [
    (("model.skops", "model.skops"), "'model.skops' appears twice"),
    (("Model.skops", "model.skops"), "'model.skops' appears twice"),
    (("data", "data/train.csv"), "'data/train.csv' lies inside a path"),
    (("data/train.csv", "data"), "'data' appears twice"),
])
def test_duplicate_or_clashing_names_are_refused(tmp_path: Path, names, rule):
    archive = make_zip(tmp_path / "model.zip", [(n, b"x") for n in names])
    assert_refused_cleanly(tmp_path, archive, rule)


@pytest.fixture(scope="module")
def zip_bomb(tmp_path_factory) -> Path:
    """200 MB of zeros deflated to about 200 KB."""
    path = tmp_path_factory.mktemp("bomb") / "bomb.zip"
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=9) as zf:
        zf.writestr("MLmodel", MLMODEL)
        with zf.open("zeros.bin", "w") as member:
            zero = bytes(MIB)
            for _ in range(200):
                member.write(zero)
    assert path.stat().st_size < MIB
    return path


def test_zip_bomb_is_refused_by_its_declared_size(tmp_path: Path, zip_bomb: Path):
    archive = tmp_path / "bomb.zip"
    archive.write_bytes(zip_bomb.read_bytes())
    assert_refused_cleanly(tmp_path, archive, "'zeros.bin'", "declares 209,715,200 bytes",
                           max_member_bytes=50 * MIB, max_total_bytes=50 * MIB)


def test_zip_bomb_lying_about_its_size_is_refused(tmp_path: Path, zip_bomb: Path):
    # Rewrite the sizes zeros.bin declares (local header and central directory) to 1,000 bytes.
    data = bytearray(zip_bomb.read_bytes())
    with zipfile.ZipFile(zip_bomb) as zf:
        info = zf.getinfo("zeros.bin")
    struct.pack_into("<I", data, info.header_offset + 22, 1000)
    central = data.index(b"PK\x01\x02")  # the name check below skips look-alikes
    while data[central + 46:central + 46 + len(b"zeros.bin")] != b"zeros.bin":
        central = data.index(b"PK\x01\x02", central + 4)
    struct.pack_into("<I", data, central + 24, 1000)
    archive = tmp_path / "liar.zip"
    archive.write_bytes(bytes(data))
    with zipfile.ZipFile(archive) as zf:
        assert zf.getinfo("zeros.bin").file_size == 1000  # the lie is what a reader sees

    assert_refused_cleanly(tmp_path, archive, "'zeros.bin'", "corrupt",
                           max_member_bytes=50 * MIB, max_total_bytes=50 * MIB)


def test_too_many_members_is_refused(tmp_path: Path):
    archive = make_tar(tmp_path / "many.tar", [(f"f{i}.txt", b"x") for i in range(10_000)])
    assert_refused_cleanly(tmp_path, archive, "more than the limit of 1000 members",
                           max_members=1000)


def test_declared_total_over_the_limit_is_refused_naming_the_member(tmp_path: Path):
    members = [(f"part{i}.bin", bytes(400_000)) for i in range(3)]
    archive = make_tar(tmp_path / "parts.tar.gz", members, "w:gz")
    assert_refused_cleanly(tmp_path, archive, "'part2.bin'", "over the limit of 1,000,000",
                           max_total_bytes=1_000_000)


def test_truncated_and_corrupt_archives_get_a_clear_message(tmp_path: Path):
    good_zip = make_zip(tmp_path / "good.zip", list(GOOD.items())).read_bytes()
    good_tgz = make_tar(tmp_path / "good.tgz", list(GOOD.items()), "w:gz").read_bytes()
    good_tar = make_tar(tmp_path / "good.tar", list(GOOD.items())).read_bytes()

    cases = {
        "cut.zip": good_zip[: len(good_zip) // 2],
        "cut.tar.gz": good_tgz[: len(good_tgz) // 2],
        "cut.tar": good_tar[:512],  # only the first header: the rest, and the end, are missing
        "noise.zip": os.urandom(4096),
    }
    # Cut exactly between two members, and a garbled header mid-archive: tarfile itself reads
    # both as a shorter, valid archive and says nothing.
    with tarfile.open(tmp_path / "good.tar") as tf:
        third = tf.getmembers()[2].offset
    cases["cut-at-member.tar"] = good_tar[:third]
    cases["garbled.tar"] = good_tar[:third] + os.urandom(512) + good_tar[third + 512:]
    flipped = bytearray(good_zip)
    offset = zipfile.ZipFile(io.BytesIO(good_zip)).getinfo("model.skops").header_offset + 200
    flipped[offset] ^= 0xFF
    cases["flipped.zip"] = bytes(flipped)

    for name, data in cases.items():
        (tmp_path / name).write_bytes(data)
        assert_refused_cleanly(tmp_path, tmp_path / name, name, "corrupt")


def test_disk_full_while_unpacking_names_the_folder_and_keeps_nothing(tmp_path, monkeypatch):
    archive = make_zip(tmp_path / "model.zip", list(GOOD.items()))

    def full(_fd, _data):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(archives.os, "write", full)
    with pytest.raises(StorageUnavailable, match=str(tmp_path)):
        safe_extract(archive, tmp_path / "model")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.zip"]
