"""Every archive test runs in an empty working folder with an empty private temp folder, and
fails if the reader left anything in either: reading must never touch the disk."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest


@pytest.fixture(autouse=True)
def nothing_written(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    work, temp = tmp_path / "work", tmp_path / "temp"
    work.mkdir()
    temp.mkdir()
    monkeypatch.chdir(work)
    monkeypatch.setattr(tempfile, "tempdir", str(temp))
    for variable in ("TMPDIR", "TEMP", "TMP"):
        monkeypatch.setenv(variable, str(temp))
    yield
    assert list(work.iterdir()) == [], "the reader wrote into the working folder"
    assert list(temp.iterdir()) == [], "the reader wrote into the temporary folder"
