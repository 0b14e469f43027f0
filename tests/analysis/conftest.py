from __future__ import annotations

import pytest

from threatfeed.analysis import Engine


@pytest.fixture(scope="session")
def engine() -> Engine:
    return Engine()
