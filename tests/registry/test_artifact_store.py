"""The content-addressed artifact store: what goes in comes out verified, or is refused clearly."""

from __future__ import annotations

import errno
import hashlib
import os
import tracemalloc
from pathlib import Path

import pytest

from core.errors import Cancelled, InvalidInput, NotFound, StorageUnavailable
from core.registry import artifact_store
from core.registry.artifact_store import ArtifactCorrupt, ArtifactStore, StoredBlob, hash_file
from core.tasks import CancelToken

# SHA-256 of 1 GiB of zero bytes, computed independently (hashlib over a zero buffer).
ZEROS_1GIB_SHA256 = "49bc20df15e412a64472421e13fe86ff1c5165e18b2afccf160d4dc19fe68a14"
MIB = 1024 * 1024


@pytest.fixture
def store(tmp_path: Path) -> ArtifactStore:
    return ArtifactStore(tmp_path / "artifacts")


def _file(tmp_path: Path, name: str, data: bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


def _temp_files(store: ArtifactStore) -> list[Path]:
    return sorted((store.root / "tmp").glob("*"))


def _blobs(store: ArtifactStore) -> list[Path]:
    return sorted(p for p in (store.root / "sha256").rglob("*") if p.is_file())


def _tamper(path: Path, data: bytes) -> None:
    os.chmod(path, 0o644)
    path.write_bytes(data)


def test_put_file_stores_under_its_sha256_and_reads_back(store: ArtifactStore, tmp_path: Path):
    data = os.urandom(3 * MIB + 17)  # not a multiple of the chunk size
    blob = store.put_file(_file(tmp_path, "model.onnx", data))

    digest = hashlib.sha256(data).hexdigest()
    assert blob == StoredBlob(digest, len(data))
    assert _blobs(store) == [store.root / "sha256" / digest[:2] / digest[2:4] / digest]
    assert store.read_bytes(digest) == data
    assert digest in store
    assert _temp_files(store) == []


def test_put_is_idempotent_and_bytes_and_files_agree(store: ArtifactStore, tmp_path: Path):
    source = _file(tmp_path, "model.skops", b"weights" * 1000)
    first = store.put_file(source)
    again = store.put_file(source)
    from_bytes = store.put_bytes(b"weights" * 1000)

    assert first == again == from_bytes
    assert len(_blobs(store)) == 1
    assert _temp_files(store) == []


def test_put_file_reports_progress_and_streams_without_loading_the_file(store, tmp_path):
    source = _file(tmp_path, "big.bin", os.urandom(24 * MIB))
    seen: list[tuple[int, int]] = []

    tracemalloc.start()
    try:
        store.put_file(source, progress=lambda done, total: seen.append((done, total)))
        _current, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()

    assert peak < 4 * MIB, f"put_file held {peak} bytes at once; it must stream"
    assert len(seen) == 24
    assert seen[-1] == (24 * MIB, 24 * MIB)
    assert [done for done, _ in seen] == sorted(done for done, _ in seen)


def test_hash_file_streams_a_sparse_gigabyte(tmp_path: Path):
    # Stands in for a file far larger than memory: the hash must stream, never read it whole.
    sparse = tmp_path / "huge.bin"
    with open(sparse, "wb") as fh:
        fh.truncate(1024 * MIB)

    tracemalloc.start()
    try:
        digest = hash_file(sparse)
        _current, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()

    assert digest == StoredBlob(ZEROS_1GIB_SHA256, 1024 * MIB)
    assert peak < 4 * MIB


def test_hash_file_of_missing_file_is_not_found(tmp_path: Path):
    with pytest.raises(NotFound, match="nothing-here.bin"):
        hash_file(tmp_path / "nothing-here.bin")


def test_tampered_blob_is_refused_naming_hash_and_path(store: ArtifactStore, tmp_path: Path):
    data = b"A" * 5000
    blob = store.put_bytes(data)
    path = store.path_for(blob.sha256)
    _tamper(path, b"B" + data[1:])  # same size, one byte changed

    with pytest.raises(ArtifactCorrupt) as caught:
        store.read_bytes(blob.sha256)
    assert blob.sha256 in str(caught.value) and str(path) in str(caught.value)
    assert caught.value.code == "artifact_corrupt"
    with pytest.raises(ArtifactCorrupt):
        store.verify(blob.sha256)


def test_truncated_blob_is_refused_and_not_copied_out(store: ArtifactStore, tmp_path: Path):
    data = os.urandom(2 * MIB)
    blob = store.put_bytes(data)
    _tamper(store.path_for(blob.sha256), data[: MIB + 3])
    out = tmp_path / "out"
    out.mkdir()

    with pytest.raises(ArtifactCorrupt, match=f"{MIB + 3} bytes"):
        store.read_verified(blob.sha256, out / "model.onnx")
    assert list(out.iterdir()) == []  # neither the file nor a temp file


def test_read_verified_copies_intact_blob_and_replaces_old_file(store, tmp_path: Path):
    data = os.urandom(MIB + 5)
    blob = store.put_bytes(data)
    dest = tmp_path / "model.onnx"
    dest.write_bytes(b"an older model")

    assert store.read_verified(blob.sha256, dest) == blob
    assert dest.read_bytes() == data
    assert sorted(p.name for p in tmp_path.iterdir()) == ["artifacts", "model.onnx"]


def test_putting_again_repairs_a_corrupt_copy(store: ArtifactStore, tmp_path: Path):
    source = _file(tmp_path, "model.onnx", b"the real model")
    blob = store.put_file(source)
    _tamper(store.path_for(blob.sha256), b"the fake model")

    assert store.put_file(source) == blob
    assert store.read_bytes(blob.sha256) == b"the real model"


def test_missing_blob_is_not_found(store: ArtifactStore):
    store.put_bytes(b"something else")
    with pytest.raises(NotFound, match="0" * 64):
        store.read_bytes("0" * 64)


def test_a_hash_that_is_not_a_hash_never_becomes_a_path(store: ArtifactStore):
    with pytest.raises(InvalidInput, match="SHA-256"):
        store.read_bytes("../../../etc/passwd")


def test_missing_source_is_not_found_and_stores_nothing(store: ArtifactStore, tmp_path: Path):
    with pytest.raises(NotFound, match="gone.onnx"):
        store.put_file(tmp_path / "gone.onnx")
    assert not (store.root / "sha256").exists()


def test_cancel_stops_the_copy_and_removes_the_temp_file(store: ArtifactStore, tmp_path: Path):
    source = _file(tmp_path, "big.bin", os.urandom(8 * MIB))
    token = CancelToken()

    def progress(done: int, _total: int) -> None:
        if done >= 2 * MIB:
            token.cancel()

    with pytest.raises(Cancelled):
        store.put_file(source, progress=progress, cancel=token)
    assert _blobs(store) == []
    assert _temp_files(store) == []


def test_disk_full_names_the_folder_and_leaves_nothing(store, tmp_path, monkeypatch):
    source = _file(tmp_path, "model.onnx", os.urandom(3 * MIB))

    def full(_fd: int) -> None:  # network shares often report a full disk only at fsync
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(artifact_store.os, "fsync", full)
    with pytest.raises(StorageUnavailable) as caught:
        store.put_file(source)
    assert str(store.root) in caught.value.message and "full" in caught.value.message
    assert "Free space" in (caught.value.hint or "")
    assert _blobs(store) == [] and _temp_files(store) == []


def test_permission_denied_on_rename_names_the_folder_and_leaves_nothing(store, monkeypatch):
    def denied(_src, _dst) -> None:
        raise PermissionError(errno.EACCES, os.strerror(errno.EACCES))

    monkeypatch.setattr(artifact_store.os, "replace", denied)
    with pytest.raises(StorageUnavailable) as caught:
        store.put_bytes(b"model")
    assert str(store.root) in caught.value.message and "not allowed" in caught.value.message
    assert "access" in (caught.value.hint or "")
    assert _blobs(store) == [] and _temp_files(store) == []


def test_unmounted_shared_folder_is_reported_not_created(tmp_path: Path):
    share = ArtifactStore(tmp_path / "mnt" / "models-share", create=False)
    with pytest.raises(StorageUnavailable, match="not reachable"):
        share.put_bytes(b"model")
    assert not (tmp_path / "mnt").exists()


def test_verify_all_lists_corrupt_and_stray_files(store: ArtifactStore, tmp_path: Path):
    good = [store.put_bytes(bytes([i]) * (MIB + i)) for i in range(3)]
    assert store.verify_all().ok

    _tamper(store.path_for(good[1].sha256), b"tampered")
    stray = store.root / "sha256" / "ab" / "notes.txt"
    stray.parent.mkdir(parents=True, exist_ok=True)
    stray.write_text("not a blob")
    seen: list[tuple[int, int]] = []

    report = store.verify_all(progress=lambda done, total: seen.append((done, total)))
    assert report.checked == 3
    assert [(sha, path) for sha, path, _ in report.corrupt] == [
        (good[1].sha256, store.path_for(good[1].sha256))]
    assert report.corrupt[0][2] == StoredBlob(hashlib.sha256(b"tampered").hexdigest(), 8)
    assert report.stray == (stray,)
    assert not report.ok
    total = good[0].size + good[2].size + 8
    assert seen[-1] == (total, total)
