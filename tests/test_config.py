from __future__ import annotations

from pathlib import Path

import pytest

from threatfeed.config import Settings
from threatfeed.errors import ConfigError
from threatfeed.pipeline.runtime import open_queue
from threatfeed.store import Database


def settings(tmp_path: Path, **env: str) -> Settings:
    return Settings.from_env({"THREATFEED_DATA_DIR": str(tmp_path), **env})


def test_job_retention_reaches_the_queue(tmp_path: Path, database: Database) -> None:
    configured = settings(tmp_path, THREATFEED_JOB_RETENTION_HOURS="0.5")

    queue = open_queue(configured, database)

    assert configured.job_retention_hours == 0.5
    assert getattr(queue, "retention_seconds", None) == 1800.0


def test_a_retention_that_is_not_a_number_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="THREATFEED_JOB_RETENTION_HOURS must be a number"):
        settings(tmp_path, THREATFEED_JOB_RETENTION_HOURS="a day")
