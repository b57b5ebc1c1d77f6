"""Safe unpacking of .zip and .tar(.gz/.bz2/.xz) archives: an MLflow model may arrive zipped.

Every member is checked before anything is written; one bad member refuses the whole archive.
Refused: absolute paths, ``..``, drive letters, colons and backslashes, every kind of link
(symbolic or hard: the simple rule, so no link can point out of the folder), devices and fifos,
duplicate or clashing names (compared as Windows and macOS would, ignoring case), names with
control, invisible-formatting or bidirectional-override characters, Windows device names, and
archives over the member-count or size limits. Extraction then counts the bytes actually written,
so an archive whose sizes lie is still stopped at the limit. Files land in a hidden staging
folder next to ``dest`` that is renamed to ``dest`` only when everything succeeded: after a
refusal ``dest`` is exactly as before (absent or empty). Nothing of the archive's metadata is
applied: no owners, permission bits or times.
"""

from __future__ import annotations

import lzma
import os
import shutil
import tarfile
import tempfile
import unicodedata
import zipfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from core.errors import InvalidInput, KnownError, NotFound, StorageUnavailable

CHUNK_BYTES = 1024 * 1024
_BIDI = set("\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
_WINDOWS_DEVICES = {"con", "prn", "aux", "nul", *(f"{p}{i}" for p in ("com", "lpt")
                                                   for i in range(1, 10))}
_READ_ERRORS = (tarfile.TarError, zipfile.BadZipFile, zlib.error, lzma.LZMAError, EOFError,
                OSError, NotImplementedError)
_ZIP_METHODS = {zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED}


class ArchiveRejected(KnownError):
    """An archive was refused: one member or the archive as a whole broke a safety rule."""

    code = "archive_rejected"


@dataclass(frozen=True)
class Extracted:
    """What :func:`safe_extract` wrote: the folder, its files (relative, '/'-separated), bytes."""

    root: Path
    files: tuple[str, ...]
    total_bytes: int


@dataclass(frozen=True)
class _Member:
    parts: tuple[str, ...]
    is_dir: bool
    size: int
    ref: zipfile.ZipInfo | tarfile.TarInfo


class _Refusal(Exception):
    """Internal: (member name or None, rule); turned into ArchiveRejected with the archive name."""


def safe_extract(archive: Path, dest: Path, *, max_total_bytes: int = 8 << 30,
                 max_members: int = 20_000, max_member_bytes: int = 4 << 30) -> Extracted:
    """Check every member of ``archive``, then extract it into the new folder ``dest``.

    ``dest`` must not exist or be an empty folder. Raises ArchiveRejected (naming the member and
    the rule broken, or the archive when it is truncated, corrupt or not a .zip/.tar), NotFound
    when ``archive`` is missing, InvalidInput when ``dest`` already holds files,
    StorageUnavailable when the destination's disk is full or not writable. On any error
    ``dest`` is left as it was and no partial files remain.
    """
    archive, dest = Path(archive), Path(dest)
    if not archive.is_file():
        raise NotFound(f"The archive {archive} does not exist.")
    if dest.exists() and not (dest.is_dir() and not any(dest.iterdir())):
        raise InvalidInput(f"{dest} already exists and is not an empty folder.",
                           hint="Choose a new folder to unpack the archive into.")
    limits = (max_total_bytes, max_members, max_member_bytes)
    staging: Path | None = None
    try:
        with _Reader(archive) as reader:
            members = _check_all(reader.members(max_members), limits)
            try:
                staging = Path(tempfile.mkdtemp(dir=dest.parent, prefix=f".{dest.name}.partial-"))
                written = _write_all(reader, members, staging, limits)
                os.chmod(staging, 0o755)
                if dest.exists():
                    dest.rmdir()
                os.rename(staging, dest)
            except OSError as exc:
                raise StorageUnavailable(
                    f"Unpacking {archive.name} into {dest.parent} failed: {exc.strerror or exc}; "
                    "nothing was kept.",
                    hint="Free space on that disk or ask IT for write access, then try again.",
                ) from None
    except _Refusal as refusal:
        member, rule = refusal.args
        what = f"member {_shown(member)} {rule}" if member is not None else f"it {rule}"
        raise ArchiveRejected(
            f"The archive {archive.name} was refused: {what}. Nothing was unpacked.",
            hint="Ask the model's author for a plain .zip or .tar.gz of the model folder, made "
                 "without links and within the size limits; if it was copied, copy it again."
        ) from None
    finally:
        if staging is not None and staging.exists():
            shutil.rmtree(staging, ignore_errors=True)
    files = tuple("/".join(m.parts) for m in members if not m.is_dir)
    return Extracted(dest, files, written)


def _shown(name: str) -> str:
    # repr() escapes control and bidi characters, so the message cannot be visually spoofed.
    return repr(name if len(name) <= 200 else name[:200] + "...")


class _Reader:
    """One interface over zip and tar: list members, then stream each member's bytes."""

    def __init__(self, archive: Path) -> None:
        self.zip: zipfile.ZipFile | None = None
        self.tar: tarfile.TarFile | None = None
        try:
            if zipfile.is_zipfile(archive):
                self.zip = zipfile.ZipFile(archive)
            else:
                self.tar = tarfile.open(archive, "r:*")
        except _READ_ERRORS:
            raise _Refusal(None, "is not a readable .zip or .tar(.gz/.bz2/.xz) archive (it may "
                                 "be truncated or corrupt)") from None

    def __enter__(self) -> _Reader:
        return self

    def __exit__(self, *_exc: object) -> None:
        (self.zip or self.tar).close()

    def members(self, max_members: int) -> list[_Member]:
        out: list[_Member] = []
        try:
            if self.zip is not None:
                infos = self.zip.infolist()
                if len(infos) > max_members:
                    raise _Refusal(None, f"has {len(infos)} members, more than the limit of "
                                         f"{max_members}")
                out = [_zip_member(info) for info in infos]
            else:
                while (info := self.tar.next()) is not None:
                    if len(out) >= max_members:
                        raise _Refusal(None, f"has more than the limit of {max_members} members")
                    out.append(_tar_member(info))
                self._check_tar_end()
        except _READ_ERRORS as exc:
            raise _Refusal(None, f"cannot be read to its end ({exc}); it is truncated or "
                                 "corrupt") from None
        return out

    def _check_tar_end(self) -> None:
        # tarfile stops quietly at a damaged or missing header after the first one; a sound
        # archive ends with a zero block, so anything else means it is truncated or corrupt.
        self.tar.fileobj.seek(self.tar.offset)
        if self.tar.fileobj.read(tarfile.BLOCKSIZE) != bytes(tarfile.BLOCKSIZE):
            raise _Refusal(None, "ends in a damaged or missing header; it is truncated or corrupt")

    def chunks(self, member: _Member) -> Iterator[bytes]:
        name = "/".join(member.parts)
        try:
            if self.zip is not None:
                stream = self.zip.open(member.ref)
            else:
                stream = self.tar.extractfile(member.ref)
            with stream:
                while chunk := stream.read(CHUNK_BYTES):
                    yield chunk
        except _READ_ERRORS as exc:
            raise _Refusal(name, f"cannot be read ({exc}); the archive is truncated or "
                                 "corrupt") from None


def _zip_member(info: zipfile.ZipInfo) -> _Member:
    name, mode = info.orig_filename, info.external_attr >> 16
    kind = mode & 0o170000
    if kind == 0o120000:
        raise _Refusal(name, "is a symbolic link; archives with links are not accepted")
    if kind not in (0, 0o100000, 0o040000):
        raise _Refusal(name, "is a device, fifo or socket, not a file or folder")
    if info.flag_bits & 0x1:
        raise _Refusal(name, "is encrypted; unpack it yourself and zip it without a password")
    if info.compress_type not in _ZIP_METHODS:
        raise _Refusal(name, f"uses compression method {info.compress_type}; only stored and "
                             "deflate (the usual .zip) are accepted")
    return _Member(_parts(name, info.is_dir()), info.is_dir(), info.file_size, info)


def _tar_member(info: tarfile.TarInfo) -> _Member:
    if info.issym() or info.islnk():
        kind = "symbolic" if info.issym() else "hard"
        raise _Refusal(info.name, f"is a {kind} link to {_shown(info.linkname)}; archives with "
                                  "links are not accepted")
    if not (info.isreg() or info.isdir()):
        raise _Refusal(info.name, "is a device, fifo or other special file, not a file or folder")
    return _Member(_parts(info.name, info.isdir()), info.isdir(), info.size, info)


def _parts(name: str, is_dir: bool) -> tuple[str, ...]:
    """The member's path as safe components, or _Refusal naming the rule it breaks."""
    for ch in name:
        category = unicodedata.category(ch)
        if ch in _BIDI:
            raise _Refusal(name, f"has the bidirectional-text control U+{ord(ch):04X} in its name")
        if category in ("Cc", "Cf", "Zl", "Zp"):
            raise _Refusal(name, f"has the control or invisible character U+{ord(ch):04X} in its "
                                 "name")
        if category == "Cs":
            raise _Refusal(name, "has a name that is not valid UTF-8")
    if "\\" in name:
        raise _Refusal(name, "has a backslash in its name (a Windows path separator)")
    if name.startswith("/"):
        raise _Refusal(name, "has an absolute path")
    if ":" in name:
        raise _Refusal(name, "has a colon in its name (a Windows drive letter or stream)")
    raw = name[:-1] if is_dir and name.endswith("/") else name
    parts = tuple(p for p in raw.split("/") if p != ".")
    if ".." in parts:
        raise _Refusal(name, "has a '..' component that would leave the destination folder")
    if "" in parts or (not parts and not is_dir):
        raise _Refusal(name, "has an empty path component")
    for part in parts:
        if len(part.encode("utf-8")) > 255:
            raise _Refusal(name, "has a name component longer than 255 bytes")
        if part.split(".")[0].rstrip(" ").casefold() in _WINDOWS_DEVICES:
            raise _Refusal(name, f"uses the Windows device name {part!r}")
    return parts


def _key(parts: tuple[str, ...]) -> tuple[str, ...]:
    # Windows ignores case and trailing dots and spaces; macOS ignores case: one file on them.
    return tuple(unicodedata.normalize("NFC", p).rstrip(". ").casefold() for p in parts)


def _check_all(members: list[_Member], limits: tuple[int, int, int]) -> list[_Member]:
    max_total, _max_members, max_member = limits
    files: set[tuple[str, ...]] = set()
    folders: set[tuple[str, ...]] = set()
    declared = 0
    for m in members:
        name, key = "/".join(m.parts), _key(m.parts)
        parents = {key[:i] for i in range(1, len(key))}
        if parents & files:
            raise _Refusal(name, "lies inside a path that the archive also holds as a file")
        if key in files or (not m.is_dir and key in folders):
            raise _Refusal(name, "appears twice in the archive (names are compared ignoring "
                                 "case, as Windows and macOS do)")
        folders |= parents
        if m.is_dir:
            if key:
                folders.add(key)
            continue
        files.add(key)
        if m.size > max_member:
            raise _Refusal(name, f"declares {m.size:,} bytes, over the limit of {max_member:,} "
                                 "bytes per file")
        declared += m.size
        if declared > max_total:
            raise _Refusal(name, f"brings the declared total to {declared:,} bytes, over the "
                                 f"limit of {max_total:,} bytes")
    return members


def _write_all(reader: _Reader, members: list[_Member], staging: Path,
               limits: tuple[int, int, int]) -> int:
    max_total, _max_members, max_member = limits
    total = 0
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0) \
        | getattr(os, "O_BINARY", 0)
    for m in members:
        target = staging.joinpath(*m.parts)
        if m.is_dir:
            target.mkdir(parents=True, exist_ok=True)
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        name, size = "/".join(m.parts), 0
        fd = os.open(target, flags, 0o644)
        try:
            for chunk in reader.chunks(m):
                size, total = size + len(chunk), total + len(chunk)
                # Counted on what is written, not on what the archive declares.
                if size > max_member:
                    raise _Refusal(name, f"expands beyond the limit of {max_member:,} bytes per "
                                         "file")
                if total > max_total:
                    raise _Refusal(name, f"expands the archive beyond the limit of "
                                         f"{max_total:,} bytes")
                view = memoryview(chunk)
                while view:
                    view = view[os.write(fd, view):]
        finally:
            os.close(fd)
        if size != m.size:
            raise _Refusal(name, f"holds {size:,} bytes but declares {m.size:,}; the archive is "
                                 "corrupt")
    return total
