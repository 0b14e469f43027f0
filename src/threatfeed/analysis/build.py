"""What a package's build runs when it is installed, besides ``setup.py`` and npm's hooks.

Installers run more than the doors scanners watch: pip imports an in-tree build backend
(``backend-path``), hatch and pdm run build hooks, poetry runs a build script, setuptools
imports the command classes that ``pyproject.toml`` or ``setup.cfg`` name, and npm runs
``node-gyp rebuild`` for a ``binding.gyp``, whose ``<!(...)`` expansions are shell
commands. Malware that moves its payload there would run on install while looking like
ordinary package code. Everything here reads configuration text only: the paths it
returns are compared with the archive's member names, never opened on disk.
"""

from __future__ import annotations

import posixpath
import re
import tomllib
from collections.abc import Iterator, Mapping
from configparser import ConfigParser
from configparser import Error as ConfigParserError
from typing import Any

from threatfeed.analysis.memo import per_archive
from threatfeed.analysis.text import decode

#: What a ``pyproject.toml`` must spell for its build to run a file of the archive: most
#: do not, and are not parsed.
_PYPROJECT_WORDS = re.compile(rb"backend-path|hooks\.custom|pdm|cmdclass|\b(?:build|script)\s*=")
#: Where hatch looks for a custom hook, and pdm for its build script, when none is named.
_HATCH_HOOK = "hatch_build.py"
_PDM_HOOK = "pdm_build.py"
#: Folders a package's modules live in, for command classes named by module.
_PACKAGE_DIRS = ("", "src/")
#: Python 3.11 imports a module 200 levels deep, not one 250 deep (``_module_files``).
MAX_MODULE_PARTS = 250
#: The longest file or folder name file systems hold.
NAME_MAX = 255
#: ``<!(command)`` and ``<!@(command)``: gyp runs the command in a shell and pastes its output.
_GYP_COMMAND = re.compile(r"<!@?\(")
MAX_GYP_COMMAND = 1000
#: Expansions read per file: native addons have a handful. The file itself runs at install
#: and gets every signature, so a command past the first ones is not unseen, only unlisted.
MAX_GYP_COMMANDS = 100
#: gyp files are Python literals: a command in a quoted string escapes its quotes.
_GYP_ESCAPE = re.compile(r"\\(.)")


def build_files(pyproject: bytes | None, setup_cfg: bytes | None) -> frozenset[str]:
    """Files, relative to the package root, that building the package imports or runs."""
    found: set[str] = set()
    if pyproject is not None and _PYPROJECT_WORDS.search(pyproject):
        found.update(_pyproject_files(pyproject))
    if setup_cfg is not None and b"cmdclass" in setup_cfg:
        found.update(_setup_cfg_files(setup_cfg))
    return frozenset(posixpath.normpath(path) for path in found)


#: ``setup.py`` running a file of the archive by its path rather than by an import:
#: ``importlib.util.spec_from_file_location(name, path)`` then ``exec_module``,
#: ``runpy.run_path(path)``, ``SourceFileLoader(name, path)``, ``imp.load_source``,
#: ``exec(open(path).read())``, ``execfile(path)``.
_LOAD_BY_PATH = re.compile(
    rb"(?:(spec_from_file_location|SourceFileLoader|load_source)|run_path|execfile)\s*\("
    rb"|exec\s*\(\s*(?:compile\s*\(\s*)?open\s*\("
)
#: Words one of which every match of ``_LOAD_BY_PATH`` holds, looked for first.
_LOADER_WORDS = (
    b"spec_from_file_location",
    b"SourceFileLoader",
    b"load_source",
    b"run_path",
    b"exec",
)
#: Places each word is looked at (a loader is called once or twice).
MAX_LOADER_CALLS = 1000
#: How much of the call is read for the path's pieces.
_LOAD_ARGUMENTS = 400
_PATH_PIECE = re.compile(rb"""["']([\w.-]+(?:/[\w.-]+)*)["']""")


def _loader_calls(setup_py: bytes) -> Iterator[re.Match[bytes]]:
    """``_LOAD_BY_PATH`` at each place one of its words starts, found by ``bytes.find``: a
    pattern tried at every byte of a setup.py padded to megabytes costs a second."""
    for word in _LOADER_WORDS:
        position = setup_py.find(word)
        for _ in range(MAX_LOADER_CALLS):
            if position < 0:
                break
            match = _LOAD_BY_PATH.match(setup_py, position)
            if match is not None:
                yield match
            position = setup_py.find(word, position + len(word))


def setup_loaded_files(setup_py: bytes) -> frozenset[str]:
    """Python files, relative to the package root, that ``setup.py`` runs by their path
    (``_LOAD_BY_PATH``): the string pieces of the call's arguments joined as a path
    (``os.path.join(here, "pkg", "resolver.py")`` is ``pkg/resolver.py``), when they end
    in a Python file. Version files read this way (``exec(open("pkg/version.py").read())``)
    run at install as surely as the payload of a loader does."""
    found = set()
    for match in _loader_calls(setup_py):
        arguments = setup_py[match.end() : match.end() + _LOAD_ARGUMENTS].split(b"\n\n", 1)[0]
        if match.group(1):
            arguments = arguments.partition(b",")[2]  # the module's name comes first
        pieces = [piece.decode() for piece in _PATH_PIECE.findall(arguments)]
        last = next((i for i, piece in enumerate(pieces) if piece.endswith(".py")), None)
        if last is None:
            continue
        first = last
        while first > 0 and not pieces[first - 1].endswith(".py") and "." not in pieces[first - 1]:
            first -= 1  # folders in front: ``"pkg", "resolver.py"``, not a module name
        path = posixpath.normpath("/".join(pieces[first : last + 1])).lstrip("/")
        if not path.startswith("../"):
            found.add(path)
    return frozenset(found)


@per_archive(maxsize=8)
def toml(data: bytes) -> Mapping[str, Any]:
    """A TOML document's top table, empty if it does not parse. Nested past Python's
    recursion limit, or with an integer longer than Python converts (a ValueError that is
    no TOMLDecodeError), it does not parse for pip either, which then builds nothing.
    Remembered for the archive: the layout, the build files and the dependencies read the
    same ``pyproject.toml`` (the table is shared: no caller may change it)."""
    try:
        return tomllib.loads(decode(data))
    except (ValueError, RecursionError):  # TOMLDecodeError is a ValueError
        return {}


def _pyproject_files(data: bytes) -> Iterator[str]:
    config = toml(data)
    system = _table(config, "build-system")
    backend = system.get("build-backend")
    backend = backend if isinstance(backend, str) else ""
    for folder in _strings(system.get("backend-path")):
        yield from _module_files(folder, backend.partition(":")[0])
    tool = _table(config, "tool")
    yield from _hatch_hooks(_table(tool, "hatch"), depth=0)
    if backend.startswith("pdm"):
        hook = _table(_table(tool, "pdm"), "build").get("custom-hook", _PDM_HOOK)
        yield from _strings(hook)
    poetry_build = _table(tool, "poetry").get("build")
    yield from _strings(poetry_build)
    yield from _strings(_table(poetry_build).get("script"))
    for spec in _strings(list(_table(_table(tool, "setuptools"), "cmdclass").values())):
        yield from _command_class_files(spec)


def _hatch_hooks(table: Mapping[str, Any], depth: int) -> Iterator[str]:
    """``[tool.hatch.build.hooks.custom]``, ``[tool.hatch.metadata.hooks.custom]`` and
    the same under each build target."""
    hooks = _table(table, "hooks")
    if "custom" in hooks:
        yield from _strings(_table(hooks, "custom").get("path", _HATCH_HOOK))
    if depth < 4:
        for value in table.values():
            if isinstance(value, dict):
                yield from _hatch_hooks(value, depth + 1)


def _setup_cfg_files(data: bytes) -> Iterator[str]:
    parser = ConfigParser(interpolation=None)
    try:
        parser.read_string(decode(data))
        value = parser.get("options", "cmdclass", fallback="")
    except ConfigParserError:
        return
    for line in value.splitlines():
        yield from _command_class_files(line.partition("=")[2])


def _command_class_files(spec: str) -> Iterator[str]:
    """``pkg.module.Class`` or ``pkg.module:Class``: the module, wherever packages live."""
    module = spec.strip().replace(":", ".").rpartition(".")[0]
    for folder in _PACKAGE_DIRS:
        yield from _module_files(folder, module)


def _module_files(folder: str, module: str) -> Iterator[str]:
    """The files an import of ``module`` from ``folder`` runs: the module and its parents.

    Python imports a module's parents by recursion, a few frames each: a module of more
    than ``MAX_MODULE_PARTS`` parts reaches the recursion limit before the first of them
    runs, and none does. The import stops at a part longer than ``NAME_MAX``, a name no
    file system holds, after its parents ran. Each path extends the one before: joining
    every prefix anew made a module of thousands of parts cost minutes."""
    parts = [part for part in module.strip().split(".") if part]
    if len(parts) > MAX_MODULE_PARTS:
        return
    path = folder
    for depth, part in enumerate(parts, 1):
        if len(part) > NAME_MAX:
            return
        path = posixpath.join(path, part)
        yield path + "/__init__.py"
        if depth == len(parts):
            yield path + ".py"


def gyp_commands(text: str) -> list[str]:
    """The shell commands of a ``.gyp`` file's ``<!(...)`` expansions, each up to its
    closing parenthesis (nested ones included) or the end of its line, unescaped; the
    first ``MAX_GYP_COMMANDS`` distinct ones."""
    commands: dict[str, None] = {}
    for match in _GYP_COMMAND.finditer(text):
        if len(commands) == MAX_GYP_COMMANDS:
            break
        start = end = match.end()
        depth = 1
        limit = min(len(text), start + MAX_GYP_COMMAND)
        while end < limit and text[end] != "\n":
            depth += {"(": 1, ")": -1}.get(text[end], 0)
            if depth == 0:
                break
            end += 1
        if command := _GYP_ESCAPE.sub(r"\1", text[start:end]).strip():
            commands[command] = None
    return list(commands)


def _table(value: object, key: str | None = None) -> Mapping[str, Any]:
    """``value[key]`` (or ``value``) if it is a table, else an empty one: configuration
    from the archive has whatever types its author chose."""
    if key is not None:
        value = value.get(key) if isinstance(value, dict) else None
    return value if isinstance(value, dict) else {}


def _strings(value: object) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, list):
        return [item for item in value if isinstance(item, str)]
    return []
