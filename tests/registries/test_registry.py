"""The registries built from the environment reach the right places."""

from __future__ import annotations

from pathlib import Path

from tests.fakeregistry import FakeRegistry
from threatfeed.config import Settings
from threatfeed.registries import NPM, PYPI, ChangeKind, open_registries


def test_registries_built_from_the_environment_watch_resolve_and_download(
    fake_registry: FakeRegistry, tmp_path: Path
) -> None:
    env = fake_registry.env() | {"THREATFEED_DATA_DIR": str(tmp_path)}
    registries = open_registries(Settings.from_env(env))
    try:
        npm, pypi = registries[NPM], registries[PYPI]
        npm_start, pypi_start = npm.head(), pypi.head()
        tarball = fake_registry.publish_npm("lib", "1.0.0")
        [sdist] = fake_registry.publish_pypi("Lib", "1.0", wheel=False)

        [npm_change] = npm.poll(npm_start).events
        [release] = npm.resolve(npm_change)
        assert npm.download(release.files[0]).sha256 == tarball.sha256

        file_added = [c for c in pypi.poll(pypi_start).events if c.kind is ChangeKind.FILE_ADDED]
        [release] = pypi.resolve(file_added[0])
        assert pypi.download(release.files[0]).sha256 == sdist.sha256
    finally:
        for registry in registries.values():
            registry.close()
