from __future__ import annotations

import pytest

from tests.analysis.builders import npm_tarball, package, run_rule, sdist
from threatfeed.analysis import Engine
from threatfeed.analysis.rules.dependencies import remote_dependency_rule
from threatfeed.analysis.scoring import rule_points

LIBRARY = {"index.js": "module.exports = (s, n) => s.padStart(n);\n" * 80}


def _points(engine: Engine, spec: str, files: dict[str, str] | None = None) -> float:
    manifest = {"dependencies": {"ui-kit": spec, "left-pad": "^1.3.0"}}
    found = remote_dependency_rule(package(engine, npm_tarball(files, manifest=manifest)))
    return 0.0 if found is None else rule_points(found)


def test_a_tarball_on_an_unknown_host_is_reported_with_its_spec(engine: Engine) -> None:
    manifest = {"optionalDependencies": {"ui-kit": "http://cdn.example.net/ui-kit-1.0.0.tgz"}}
    evidence = run_rule(engine, remote_dependency_rule, npm_tarball(manifest=manifest))
    assert evidence == [{"name": "ui-kit", "spec": "http://cdn.example.net/ui-kit-1.0.0.tgz"}]


@pytest.mark.parametrize(
    "spec",
    ["^1.2.0", "latest", "npm:other@^2", "file:./vendor/ui-kit", "1.x || >=2.5.0", "*", ""],
)
def test_registry_versions_tags_aliases_and_folders_are_not_remote(
    engine: Engine, spec: str
) -> None:
    assert _points(engine, spec) == 0.0


def test_plain_http_weighs_more_than_tls_and_forges_least(engine: Engine) -> None:
    plain = _points(engine, "http://cdn.example.net/ui-kit.tgz")
    tls = _points(engine, "https://cdn.example.net/ui-kit.tgz")
    git_elsewhere = _points(engine, "git+ssh://git@code.example.net:team/ui-kit.git")
    forges = {
        _points(engine, spec)
        for spec in (
            "github:team/ui-kit",
            "team/ui-kit#v1.2.0",
            "git+https://github.com/team/ui-kit.git",
            "https://codeload.github.com/team/ui-kit/tar.gz/v1",
            "gitlab:team/ui-kit",
        )
    }
    assert plain > tls == git_elsewhere > max(forges) > 0.0


def test_an_empty_package_that_pulls_its_code_from_a_server_is_flagged(engine: Engine) -> None:
    manifest = {"dependencies": {"ui-kit": "http://cdn.example.net/ui-kit.tgz"}}
    assert engine.analyze(npm_tarball(manifest=manifest)).flagged
    library = npm_tarball(
        LIBRARY, manifest={"dependencies": {"sheet": "https://cdn.example.net/sheet-0.20.tgz"}}
    )
    assert not engine.analyze(library).flagged  # libraries that left the registry


def test_hostile_specs_are_read_without_error(engine: Engine) -> None:
    manifest = {
        "dependencies": {"a": "http://[::1", "b": 7, "c": ["x"], "d": "https://" + "a" * 5000},
        "peerDependencies": "not a table",
    }
    evidence = run_rule(engine, remote_dependency_rule, npm_tarball(manifest=manifest))
    assert [item["name"] for item in evidence] == ["a", "d"]
    assert all(len(item["spec"]) <= 300 for item in evidence)


def test_pypi_packages_are_left_alone(engine: Engine) -> None:
    assert run_rule(engine, remote_dependency_rule, sdist()) is None


@pytest.mark.parametrize(
    "files",
    [
        {
            "pyproject.toml": '[project]\nname = "tidy-strings"\ndependencies = [\n'
            '    "pydantic>=2",\n    "tidy-core @ https://files.example.net/tidy_core-1.0.tar.gz",\n]\n'
        },
        {
            "PKG-INFO": "Metadata-Version: 2.1\nName: tidy-strings\nRequires-Dist: pydantic>=2\n"
            "Requires-Dist: tidy-core@ https://files.example.net/tidy_core-1.0.tar.gz\n\n# README\n"
        },
    ],
    ids=["pyproject", "metadata"],
)
def test_a_python_direct_reference_to_an_unknown_host_is_remote(
    engine: Engine, files: dict[str, str]
) -> None:
    evidence = run_rule(engine, remote_dependency_rule, sdist(files))
    assert evidence == [
        {"name": "tidy-core", "spec": "https://files.example.net/tidy_core-1.0.tar.gz"}
    ]


def test_python_references_in_setup_py_extras_and_readmes_are_weighed_apart(
    engine: Engine,
) -> None:
    setup_py = (
        "from setuptools import setup\nsetup(name='tidy-strings', install_requires=[\n"
        "    'tidy-core @ git+https://github.com/tidy/core.git@v1',\n])\n"
    )
    metadata = (
        "Metadata-Version: 2.1\nName: tidy-strings\n"
        "Requires-Dist: docs-theme @ https://files.example.net/t.tar.gz ; extra == 'docs'\n\n"
        'pip install "tidy-strings @ https://files.example.net/tidy.tar.gz"\n'
    )
    archive = sdist({"PKG-INFO": metadata}, setup_py=setup_py)
    found = remote_dependency_rule(package(engine, archive))
    assert found is not None
    assert found.evidence == [
        {"name": "tidy-core", "spec": "git+https://github.com/tidy/core.git@v1"}
    ]
    assert rule_points(found) == 1.5  # a forge: the extra and the README are not read


_REMOTE = "tidy-core @ https://files.example.net/tidy_core-1.0.tar.gz"
_SETUP = "from setuptools import setup\n"


@pytest.mark.parametrize(
    ("files", "setup_py"),
    [
        (
            {},
            _SETUP + "setup(install_requires=['" + _REMOTE.replace(" @", "[socks] @") + "'])\n",
        ),
        (
            {},
            _SETUP + f"setup(install_requires=(\n    '{_REMOTE}',\n))\n",
        ),
        (
            {},
            _SETUP + f"\nREQUIRES = [\n    'click',\n    '{_REMOTE}',\n]\n"
            "setup(name='tidy-strings', install_requires=REQUIRES)\n",
        ),
        (
            {
                "setup.cfg": "[metadata]\nname = tidy-strings\n\n[options]\ninstall_requires =\n"
                f"    click\n    {_REMOTE}\n\n[options.extras_require]\n"
                "docs = docs-theme @ https://files.example.net/t.tar.gz\n"
            },
            "from setuptools import setup\nsetup()\n",
        ),
    ],
    ids=["extras before the url", "a tuple", "a list bound to a name", "setup.cfg"],
)
def test_setup_py_and_setup_cfg_references_are_read_however_listed(
    engine: Engine, files: dict[str, str], setup_py: str
) -> None:
    evidence = run_rule(engine, remote_dependency_rule, sdist(files, setup_py=setup_py))
    assert evidence == [
        {"name": "tidy-core", "spec": "https://files.example.net/tidy_core-1.0.tar.gz"}
    ]


def test_a_setup_cfg_that_does_not_parse_is_no_error(engine: Engine) -> None:
    files = {"setup.cfg": "install_requires = x @ https://files.example.net/x.tar.gz\n[options\n"}
    assert run_rule(engine, remote_dependency_rule, sdist(files)) is None
    assert not engine.analyze(sdist(files)).errors
