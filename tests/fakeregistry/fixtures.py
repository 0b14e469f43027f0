"""The ``fake_registry`` fixture; import it into a ``conftest.py`` to use it there."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.fakeregistry.server import FakeRegistry


@pytest.fixture
def fake_registry() -> Iterator[FakeRegistry]:
    with FakeRegistry() as fake:
        yield fake
