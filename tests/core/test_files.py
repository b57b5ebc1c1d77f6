"""Atomic writes: all or nothing, and a clear message when the folder cannot take the file."""

from __future__ import annotations

import pytest

from core.errors import InvalidInput
from core.files import write_atomically


def test_replaces_the_file_and_leaves_no_temporary_behind(tmp_path) -> None:
    dest = tmp_path / "report.pdf"
    dest.write_bytes(b"old")
    write_atomically(dest, b"new contents")
    assert dest.read_bytes() == b"new contents"
    assert [p.name for p in tmp_path.iterdir()] == ["report.pdf"]


def test_a_missing_folder_is_named_and_nothing_is_written(tmp_path) -> None:
    with pytest.raises(InvalidInput, match="Cannot write to .*missing"):
        write_atomically(tmp_path / "missing" / "report.pdf", b"x")
    assert list(tmp_path.iterdir()) == []


def test_a_directory_in_the_way_is_refused_and_cleaned_up(tmp_path) -> None:
    (tmp_path / "report.pdf").mkdir()
    with pytest.raises(InvalidInput, match="Cannot write .*report.pdf"):
        write_atomically(tmp_path / "report.pdf", b"x")
    assert [p.name for p in tmp_path.iterdir()] == ["report.pdf"]
