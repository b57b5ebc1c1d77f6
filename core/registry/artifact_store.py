"""A content-addressed store of files in one folder, local or on a shared path.

Every blob lives at ``root/sha256/ab/cd/<64 hex digits>``, named by the SHA-256 of its content.
Writes stream the source once through a temp file in ``root/tmp`` (same file system), fsync it and
rename it into place, so a blob is either complete or absent. Every read hashes the content again:
a blob that was changed or truncated on disk is refused with :class:`ArtifactCorrupt`, never used.
"""

from __future__ import annotations

import errno
import hashlib
import io
import logging
import os
import re
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from core.errors import InvalidInput, KnownError, NotFound, StorageUnavailable
from core.tasks import CancelToken, ProgressFn

log = logging.getLogger(__name__)

CHUNK_BYTES = 1024 * 1024
_HEX64 = re.compile(r"[0-9a-f]{64}")
_NO_SPACE = {errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC)}
_NO_ACCESS = {errno.EACCES, errno.EPERM, errno.EROFS}


class ArtifactCorrupt(KnownError):
    """A stored blob no longer matches the SHA-256 it is named by (changed or truncated)."""

    code = "artifact_corrupt"

    @classmethod
    def mismatch(cls, sha256: str, path: Path, actual: StoredBlob) -> ArtifactCorrupt:
        err = cls(
            f"The artifact {sha256} at {path} no longer matches its SHA-256: the file now has "
            f"{actual.size} bytes with SHA-256 {actual.sha256}. It was changed or truncated after "
            "it was stored, so Charter will not use it.",
            hint="Restore the file from a backup or import the artifact again, and ask IT who "
                 "changed the artifact folder.",
        )
        err.sha256, err.path, err.actual = sha256, path, actual
        return err


@dataclass(frozen=True)
class StoredBlob:
    """The SHA-256 (lowercase hex) and size in bytes of some content."""

    sha256: str
    size: int


@dataclass(frozen=True)
class IntegrityReport:
    """Result of :meth:`ArtifactStore.verify_all`.

    ``corrupt`` holds (expected sha256, path, what the file hashes to now); ``stray`` holds files
    under ``sha256/`` that are not where their name says; ``leftover_temp`` holds files in ``tmp/``
    (an interrupted or a running write; they do not make the store unsound).
    """

    checked: int
    corrupt: tuple[tuple[str, Path, StoredBlob], ...]
    stray: tuple[Path, ...]
    leftover_temp: tuple[Path, ...]

    @property
    def ok(self) -> bool:
        return not self.corrupt and not self.stray


class _SourceError(Exception):
    """Reading the source failed (as opposed to writing the destination); wraps the OSError."""

    @property
    def exc(self) -> OSError:
        return self.args[0]


def _pump(src: BinaryIO, sink: Callable[[memoryview], None] | None, total: int,
          progress: ProgressFn | None, cancel: CancelToken | None) -> StoredBlob:
    """Read ``src`` to its end in 1 MiB chunks, hashing each and handing it to ``sink``."""
    digest = hashlib.sha256()
    buf = bytearray(CHUNK_BYTES)
    view = memoryview(buf)
    done = 0
    while True:
        if cancel is not None:
            cancel.check()
        try:
            n = src.readinto(buf)
        except OSError as exc:
            raise _SourceError(exc) from exc
        if not n:
            break
        digest.update(view[:n])
        if sink is not None:
            sink(view[:n])
        done += n
        if progress is not None:
            progress(done, max(total, done))
    return StoredBlob(digest.hexdigest(), done)


def _write_all(fd: int, data: memoryview) -> None:
    while data:
        data = data[os.write(fd, data):]


def _unlink_quietly(path: str | Path) -> None:
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass
    except OSError as exc:  # the caller's error matters more than a leftover temp file
        log.warning("Could not remove temp file %s: %s", path, exc)


def _fsync_dir(folder: Path) -> None:
    """Make a rename durable; not possible on every platform (Windows), where it is skipped."""
    with suppress(OSError):
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


@contextmanager
def _spooled(src: BinaryIO, total: int, folder: Path, progress: ProgressFn | None,
             cancel: CancelToken | None) -> Iterator[tuple[Path, StoredBlob]]:
    """Copy ``src`` into a new fsynced temp file in ``folder``; the file is removed on exit."""
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=".incoming-", suffix=".part")
    try:
        try:
            blob = _pump(src, lambda chunk: _write_all(fd, chunk), total, progress, cancel)
            os.fsync(fd)
        finally:
            os.close(fd)
        yield Path(tmp), blob
    finally:
        _unlink_quietly(tmp)


def hash_file(path: Path, *, progress: ProgressFn | None = None,
              cancel: CancelToken | None = None) -> StoredBlob:
    """SHA-256 and size of a file, streamed in 1 MiB chunks: works for files far larger than memory.

    Raises NotFound if the file is missing, InvalidInput if it cannot be read, Cancelled if
    ``cancel`` is set.
    """
    try:
        with open(path, "rb", buffering=0) as src:
            return _pump(src, None, os.fstat(src.fileno()).st_size, progress, cancel)
    except FileNotFoundError:
        raise NotFound(f"The file {path} does not exist.") from None
    except (OSError, _SourceError) as exc:
        cause = exc.exc if isinstance(exc, _SourceError) else exc
        raise InvalidInput(f"The file {path} cannot be read: {cause.strerror or cause}.",
                           hint="Check that it exists and that you may read it.") from None


class ArtifactStore:
    """Content-addressed blobs under ``root``; safe for several writers on one shared folder.

    With ``create=False`` (a configured shared path) a missing ``root`` is reported as an
    unreachable folder instead of being created, so an unmounted share is never silently replaced
    by an empty local folder.
    """

    def __init__(self, root: Path, *, create: bool = True) -> None:
        self.root = Path(root)
        self.create = create

    # -- locating ----------------------------------------------------------------------------
    def path_for(self, sha256: str) -> Path:
        """Where the blob with this SHA-256 lives, stored or not. Raises InvalidInput."""
        key = str(sha256).lower()
        if not _HEX64.fullmatch(key):
            raise InvalidInput(f"{sha256!r} is not a SHA-256 (64 hexadecimal digits).")
        return self.root / "sha256" / key[:2] / key[2:4] / key

    def __contains__(self, sha256: str) -> bool:
        return self.path_for(sha256).is_file()

    # -- writing -----------------------------------------------------------------------------
    def put_file(self, path: Path, *, progress: ProgressFn | None = None,
                 cancel: CancelToken | None = None) -> StoredBlob:
        """Copy a file into the store, reading it once, and return its SHA-256 and size.

        Idempotent: if the blob is already stored and intact it is kept; if the stored copy is
        corrupt it is replaced by this (correct) content. Raises NotFound / InvalidInput when the
        source is missing or unreadable, StorageUnavailable when the store folder is full,
        read-only or unreachable, Cancelled when ``cancel`` is set. On any error no temp file is
        left behind and the store is unchanged.
        """
        source = Path(path)
        try:
            src = open(source, "rb", buffering=0)
        except FileNotFoundError:
            raise NotFound(f"The file {source} does not exist.") from None
        except OSError as exc:
            raise InvalidInput(f"The file {source} cannot be read: {exc.strerror or exc}.",
                               hint="Check that it is a file and that you may read it.") from None
        with src, self._translated(f"storing {source.name}", source=source):
            size = os.fstat(src.fileno()).st_size
            with _spooled(src, size, self._temp_dir(), progress, cancel) as (tmp, blob):
                return self._commit(tmp, blob)

    def put_bytes(self, data: bytes) -> StoredBlob:
        """Store ``data``; return its SHA-256 and size. Raises StorageUnavailable like put_file."""
        with self._translated("storing data"):
            with _spooled(io.BytesIO(data), len(data), self._temp_dir(), None, None) as (tmp, blob):
                return self._commit(tmp, blob)

    # -- reading -----------------------------------------------------------------------------
    def read_bytes(self, sha256: str) -> bytes:
        """The content of a blob, hashed again after reading; for blobs that fit in memory.

        The bytes returned are exactly the bytes verified (no window for a change between check
        and use). Raises NotFound, ArtifactCorrupt, StorageUnavailable.
        """
        path = self._existing(sha256)
        with self._translated(f"reading {path.name}"):
            data = path.read_bytes()
        actual = StoredBlob(hashlib.sha256(data).hexdigest(), len(data))
        if actual.sha256 != path.name:
            raise ArtifactCorrupt.mismatch(path.name, path, actual)
        return data

    def read_verified(self, sha256: str, dest: Path, *, progress: ProgressFn | None = None,
                      cancel: CancelToken | None = None) -> StoredBlob:
        """Copy a blob to ``dest``, verifying its SHA-256 in the same pass; streams any size.

        ``dest`` appears (atomically, replacing an older file) only if the content matched.
        Raises NotFound, ArtifactCorrupt, StorageUnavailable (store or ``dest`` folder failing),
        Cancelled. On error ``dest`` is unchanged and no temp file is left.
        """
        path, dest = self._existing(sha256), Path(dest)
        with self._translated(f"reading {path.name}"):
            src = open(path, "rb", buffering=0)
        with src, self._translated(f"writing {dest.name}", folder=dest.parent):
            size = os.fstat(src.fileno()).st_size
            with _spooled(src, size, dest.parent, progress, cancel) as (tmp, actual):
                if actual.sha256 != path.name:
                    raise ArtifactCorrupt.mismatch(path.name, path, actual)
                os.replace(tmp, dest)
                return actual

    def verify(self, sha256: str, *, cancel: CancelToken | None = None) -> StoredBlob:
        """Hash one stored blob in place. Raises NotFound, ArtifactCorrupt, StorageUnavailable."""
        path = self._existing(sha256)
        actual = self._hash_blob(path, None, cancel)
        if actual.sha256 != path.name:
            raise ArtifactCorrupt.mismatch(path.name, path, actual)
        return actual

    def verify_all(self, *, progress: ProgressFn | None = None,
                   cancel: CancelToken | None = None) -> IntegrityReport:
        """Hash every blob and list corrupt, misplaced and leftover files; changes nothing.

        Progress counts bytes over all blobs. Raises StorageUnavailable if the folder cannot be
        read, Cancelled when ``cancel`` is set.
        """
        self._require_root()
        blobs, stray, corrupt, base = [], [], [], 0
        try:
            for folder, _dirs, files in os.walk(self.root / "sha256"):
                for path in (Path(folder, name) for name in files):
                    placed = _HEX64.fullmatch(path.name) and path == self.path_for(path.name)
                    (blobs if placed else stray).append(path)
            total = sum(p.stat().st_size for p in blobs)
            temp = sorted((self.root / "tmp").glob("*"))
        except OSError as exc:
            raise self._storage_error(exc, "listing the store") from None
        for path in sorted(blobs):
            def overall(done: int, _total: int, base: int = base) -> None:
                if progress is not None:
                    progress(base + done, total)
            actual = self._hash_blob(path, overall, cancel)
            base += actual.size
            if actual.sha256 != path.name:
                corrupt.append((path.name, path, actual))
        return IntegrityReport(len(blobs), tuple(corrupt), tuple(sorted(stray)), tuple(temp))

    # -- internals ---------------------------------------------------------------------------
    def _require_root(self) -> None:
        if self.root.is_dir():
            return
        if self.create and not self.root.exists():
            try:
                self.root.mkdir(parents=True, exist_ok=True)
                return
            except OSError as exc:
                raise self._storage_error(exc, "creating the folder") from None
        raise StorageUnavailable(
            f"The artifact store folder {self.root} is not reachable.",
            hint="If it is on a network share, check that the share is mounted; otherwise "
                 "choose the right artifact folder in the settings.")

    def _hash_blob(self, path: Path, progress: ProgressFn | None,
                   cancel: CancelToken | None) -> StoredBlob:
        with self._translated(f"reading {path.name}"), open(path, "rb", buffering=0) as src:
            return _pump(src, None, 0, progress, cancel)

    def _existing(self, sha256: str) -> Path:
        path = self.path_for(sha256)
        self._require_root()
        if not path.is_file():
            raise NotFound(f"There is no artifact with SHA-256 {path.name} in {self.root}.",
                           hint="It was never stored here, or it was removed from the folder; "
                                "import the artifact again or restore it from a backup.")
        return path

    def _temp_dir(self) -> Path:
        """``root/tmp``: temp files live on the blobs' file system so the final rename is atomic."""
        self._require_root()
        (self.root / "tmp").mkdir(exist_ok=True)
        return self.root / "tmp"

    @contextmanager
    def _translated(self, doing: str, *, folder: Path | None = None,
                    source: Path | None = None) -> Iterator[None]:
        """OSError -> StorageUnavailable naming the folder; a failing source -> InvalidInput."""
        try:
            yield
        except _SourceError as err:
            if source is None:
                raise self._storage_error(err.exc, doing) from None
            raise InvalidInput(f"Reading {source} failed: {err.exc.strerror or err.exc}.",
                               hint="Nothing was stored. Check the file or its drive and try "
                                    "again.") from None
        except OSError as exc:
            raise self._storage_error(exc, doing, folder) from None

    def _commit(self, tmp: Path, blob: StoredBlob) -> StoredBlob:
        final = self.path_for(blob.sha256)
        if final.is_file():
            try:
                self.verify(blob.sha256)
                return blob
            except ArtifactCorrupt as err:
                log.warning("Replacing corrupt blob: %s", err.message)
                os.chmod(final, 0o644)  # Windows refuses to replace a read-only file
        final.parent.mkdir(parents=True, exist_ok=True)
        os.chmod(tmp, 0o444)  # a guard against accidental edits, not a security boundary
        os.replace(tmp, final)
        _fsync_dir(final.parent)
        return blob

    def _storage_error(self, exc: OSError, doing: str,
                       folder: Path | None = None) -> StorageUnavailable:
        folder = folder or self.root
        if exc.errno in _NO_SPACE:
            return StorageUnavailable(
                f"The folder {folder} is full; {doing} stopped and nothing was written.",
                hint="Free space on that disk or ask IT to enlarge it, then try again.")
        if exc.errno in _NO_ACCESS:
            return StorageUnavailable(
                f"Charter is not allowed to use the folder {folder} ({exc.strerror}); {doing} "
                "stopped and nothing was written.",
                hint="Ask IT for read and write access to that folder, or choose another "
                     "artifact folder in the settings.")
        return StorageUnavailable(
            f"The folder {folder} failed while {doing}: {exc.strerror or exc}.",
            hint="Check that the folder, or the network share it is on, is reachable, then try "
                 "again.")
