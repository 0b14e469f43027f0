"""The package as the rules see it: files with their kind and where they run, plus metadata.

Archives from the wild are laid out in many ways (``package/`` for npm, ``name-1.0/`` for
sdists, bare files in re-packed samples), so the root and the ecosystem are found from
content (manifests), never from the archive's file name.
"""

from __future__ import annotations

import ast
import posixpath
import re
from collections.abc import Iterable, Iterator, Mapping
from configparser import ConfigParser
from configparser import Error as ConfigParserError
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, NamedTuple

from threatfeed.analysis import manifest_json
from threatfeed.analysis.build import build_files, gyp_commands, setup_loaded_files, toml
from threatfeed.analysis.signatures import SignatureHit
from threatfeed.analysis.text import decode, line_start_matches, looks_binary
from threatfeed.archives import ArchiveContents, Finding, Member

#: npm runs these scripts on ``npm install`` of the package (``prepare`` too for git installs).
NPM_INSTALL_HOOKS = ("preinstall", "install", "postinstall", "prepare")

#: How much a capability counts depending on when the file runs. Install-time code runs
#: on every developer machine and CI that installs the package, with no import needed.
CONTEXT_FACTORS: Mapping[str, float] = {
    "install": 1.0,
    "import": 0.8,
    "imported": 0.7,
    "code": 0.6,
    "script": 0.35,
    "test": 0.35,
    "docs": 0.2,
}

#: Contexts whose code runs on the user's machine (installing, importing or using the
#: package), as opposed to tests, scripts and docs.
RUNNING = frozenset({"install", "import", "imported", "code"})

_TEST_DIRS = frozenset(
    {
        "test",
        "tests",
        "__tests__",
        "spec",
        "specs",
        "testing",
        "example",
        "examples",
        "docs",
        "doc",
        "benchmark",
        "benchmarks",
        "bench",
        "fixtures",
        "demo",
        "demos",
        "samples",
        "sample",
    }
)
#: Shell, PowerShell and batch scripts run when someone runs them (a developer setting up,
#: CI): neither pip nor npm nor an import does, unless install code names them, which makes
#: them install code.
_SCRIPT_KINDS = frozenset({"shell", "powershell", "batch", "vbscript"})
#: Kinds of files that hold code.
CODE_KINDS = frozenset({"python", "javascript"}) | _SCRIPT_KINDS
#: Kinds of files that are no code.
_NOT_CODE = frozenset({"text", "data", "manifest"})
_TEST_FILE = re.compile(r"(^test_.*\.py$|_test\.py$|\.(test|spec)\.[cm]?[jt]s$)")
_DOC_EXTS = frozenset(
    {
        ".md",
        ".rst",
        ".txt",
        ".html",
        ".htm",
        ".css",
        ".scss",
        ".svg",
        ".yml",
        ".yaml",
        ".toml",
        ".cfg",
        ".ini",
        ".in",
        ".lock",
        ".map",
        ".d.ts",
        ".pyi",
        ".markdown",
        ".csv",
        ".xml",
        ".png",
        ".jpg",
        ".gif",
        ".ico",
        ".woff",
        ".woff2",
        ".ttf",
        ".eot",
        ".snap",
    }
)
_KINDS = {
    ".py": "python",
    ".pyw": "python",
    ".pth": "python",
    ".js": "javascript",
    ".cjs": "javascript",
    ".mjs": "javascript",
    ".jsx": "javascript",
    ".ts": "javascript",
    ".sh": "shell",
    ".bash": "shell",
    ".ps1": "powershell",
    ".psm1": "powershell",
    ".bat": "batch",
    ".cmd": "batch",
    ".vbs": "vbscript",
}
_BINARY_MAGIC = (
    (b"\x7fELF", "elf"),
    (b"MZ", "pe"),
    (b"\xfe\xed\xfa\xce", "macho"),
    (b"\xfe\xed\xfa\xcf", "macho"),
    (b"\xce\xfa\xed\xfe", "macho"),
    (b"\xcf\xfa\xed\xfe", "macho"),
    (b"\xca\xfe\xba\xbe", "macho"),
)
MAX_IMPORT_SCAN = 64 * 1024
#: ``from .X import names`` or ``from package.X import names`` at the start of a line (see
#: ``line_start_matches``): group 1 is ``.`` or the package's name with its dot.
_OWN_IMPORT = re.compile(rb"from\s+(\.|\w+\.)([\w.]*)\s+import\s+\(?([\w ,]+|\*)")

#: PyPI's metadata files (sdist, wheel): headers and the project's description, which no
#: tool runs.
_METADATA_FILES = ("PKG-INFO", "METADATA")
#: Without a manifest, the ``name-1.2.3/`` folder that packs the files still names them.
_ROOT_NAME = re.compile(r"^(.+?)-(\d+(?:\.\w+)*(?:[-+][\w.]+)?)$")
_HOOK_FILE = re.compile(
    r"(?:^|[\s;&|(\"'=])((?:\./)?[\w./@-]+\.(?:[cm]?js|ts|sh|py|ps1|bat|cmd))\b"
)
#: ``node -e "require('./lib/setup')()"``: a file of the package loaded by inline code.
_HOOK_REQUIRED = re.compile(r"""\b(?:require|import)\s*\(\s*['"`](\.{1,2}/[^'"`\s]+)['"`]""")
#: ``node lib/README.md`` runs a file whatever its extension; ``node .`` runs ``main``; so do
#: the other runtimes and runners a hook may call (``bun``, ``deno run``, ``tsx``, ``zx``).
_HOOK_INTERPRETED = re.compile(
    r"\b(?:node|(?:bun|deno)(?:\s+run)?|tsx|ts-node|zx|sh|bash|python3?|pwsh|powershell)\s+"
    r"(?:-\S+\s+)*([^\s;&|<>\"'-][^\s;&|<>\"']*)"
)


_MAGIC_FIRST_BYTES = frozenset(magic[:1] for magic, _ in _BINARY_MAGIC)


def binary_format(data: bytes) -> str | None:
    """ELF, PE or Mach-O by magic bytes: extensions are chosen by the attacker."""
    if data[:1] not in _MAGIC_FIRST_BYTES:
        return None  # the common case, decided without trying every magic
    for magic, name in _BINARY_MAGIC:
        if data.startswith(magic):
            if name == "pe" and b"PE\x00\x00" not in data[:1024]:
                continue
            if name == "macho" and magic == b"\xca\xfe\xba\xbe" and data[4:8] > b"\x00\x00\x00\x30":
                continue  # Java class files share this magic; fat Mach-O has few arches
            return name
    return None


@dataclass(frozen=True)
class SourceFile:
    """One archive member, classified. ``rel`` is relative to the package root."""

    path: str
    rel: str
    data: bytes
    size: int
    truncated: bool
    kind: str
    context: str
    signatures: tuple[SignatureHit, ...] = ()

    def __hash__(self) -> int:
        """From the path and size alone (equal files have equal ones): files key the
        per-archive caches that rules ask many times per file, and the hash generated
        from every field hashed each signature hit anew at each question."""
        return hash((self.path, self.size))

    @cached_property
    def text(self) -> str:
        return decode(self.data)

    @property
    def factor(self) -> float:
        return CONTEXT_FACTORS[self.context]

    @property
    def is_code(self) -> bool:
        return self.kind in CODE_KINDS

    @cached_property
    def _hits_by_indicator(self) -> dict[str, tuple[SignatureHit, ...]]:
        """Grouped once: every rule asks every file for its own indicator's hits."""
        grouped: dict[str, list[SignatureHit]] = {}
        for hit in self.signatures:
            grouped.setdefault(hit.indicator, []).append(hit)
        return {indicator: tuple(hits) for indicator, hits in grouped.items()}

    def hits(self, indicator: str) -> list[SignatureHit]:
        if not self.signatures:
            return []  # most files, asked by every rule
        return list(self._hits_by_indicator.get(indicator, ()))


@dataclass(frozen=True)
class Package:
    """Everything a rule may look at; built once per archive by the engine."""

    ecosystem: str | None
    name: str | None
    version: str | None
    root: str
    files: tuple[SourceFile, ...]
    findings: tuple[Finding, ...] = ()
    manifest: Mapping[str, Any] = field(default_factory=dict)
    hooks: Mapping[str, str] = field(default_factory=dict)
    errors: tuple[str, ...] = ()
    build_commands: tuple[str, ...] = ()
    build_files: frozenset[str] = frozenset()

    @cached_property
    def signed(self) -> tuple[SourceFile, ...]:
        """The files some signature matched, in order: all that most rules read (about a
        tenth of the files), picked once instead of by every rule."""
        return tuple(source for source in self.files if source.signatures)

    @cached_property
    def at_install(self) -> tuple[SourceFile, ...]:
        """The files that run at install (``setup.py``, ``.pth`` files, hook scripts, build
        hooks), in order."""
        return tuple(source for source in self.files if source.context == "install")

    @cached_property
    def derived(self) -> dict[str, Any]:
        """What rules derive from the whole package and share (``memo.per_package``): kept
        with the package and dropped with it."""
        return {}

    def file(self, rel: str) -> SourceFile | None:
        for source in self.files:
            if source.rel == rel:
                return source
        return None

    def path_of(self, rel: str) -> str | None:
        """The archive path of the file at ``rel`` from the root, for evidence."""
        source = self.file(rel)
        return None if source is None else source.path


@dataclass(frozen=True)
class Layout:
    """What the manifests say, found before any file is classified."""

    ecosystem: str | None
    root: str
    name: str | None = None
    version: str | None = None
    manifest: Mapping[str, Any] = field(default_factory=dict)
    hooks: Mapping[str, str] = field(default_factory=dict)
    errors: tuple[str, ...] = ()
    #: Shell commands the package's build runs on install (``build.gyp_commands``).
    build_commands: tuple[str, ...] = ()
    #: Files, relative to the root, that the build imports or runs on install.
    build_files: frozenset[str] = frozenset()

    @cached_property
    def main_file(self) -> str:
        """The module ``require("package")`` loads (npm's ``main``, else ``index.js``)."""
        main = self.manifest.get("main") if self.ecosystem == "npm" else None
        return posixpath.normpath(main if isinstance(main, str) else "index.js")


def _basename(path: str) -> str:
    """``posixpath.basename``, called for every member several times: without its
    ``os.fspath`` and separator look-ups."""
    return path.rpartition("/")[2]


def _depth(path: str) -> int:
    return path.count("/")


#: First characters of a path ``_clean`` changes.
_UNCLEAN_STARTS = frozenset({".", "/"})


def _clean(path: str) -> str:
    if "\\" not in path and path[:1] not in _UNCLEAN_STARTS:
        return path  # most paths: nothing to clean
    path = path.replace("\\", "/")
    while path.startswith("./"):
        path = path[2:]
    return path.lstrip("/")


def _extension(base: str) -> str:
    """``posixpath.splitext(base)[1].lower()`` of a file name, without the generic code of
    ``splitext`` (called for every member): from the last dot, unless only dots come
    before it (``.bashrc`` has no extension)."""
    dot = base.rfind(".")
    # only a name that starts with a dot can have nothing but dots before the last one
    if dot <= 0 or (base[0] == "." and not base[:dot].lstrip(".")):
        return ""
    return base[dot:].lower()


#: Modules Python imports at every start when they are installed at the top of
#: site-packages: persistence, like ``.pth`` files.
_STARTUP_MODULES = frozenset({"sitecustomize.py", "usercustomize.py"})
#: Where a wheel's files land at the top of site-packages: its own top, and the
#: ``purelib`` and ``platlib`` folders of its ``.data`` folder.
_SITE_FOLDERS = frozenset({"purelib", "platlib"})


def _at_site_top(rel: str) -> bool:
    parts = rel.split("/")
    return len(parts) == 1 or (
        len(parts) == 3 and parts[0].endswith(".data") and parts[1] in _SITE_FOLDERS
    )


_PY_MARKERS = ("PKG-INFO", "setup.py", "pyproject.toml", "setup.cfg")
_PY_MARKER_ENDS = tuple("/" + name for name in _PY_MARKERS)
#: How the paths of all manifests end (and those of a few other files).
_MANIFEST_ENDS = ("package.json", "METADATA", *_PY_MARKERS)


def detect_layout(by_path: Mapping[str, Member]) -> Layout:
    """Find the package root and ecosystem from the shallowest manifest, among the members
    by their cleaned paths."""
    # one test of each path picks the few that the tests below tell apart
    manifests = [p for p in by_path if p.endswith(_MANIFEST_ENDS)]
    npm = sorted(
        (p for p in manifests if p == "package.json" or p.endswith("/package.json")), key=_depth
    )
    py_markers = sorted(
        (
            p
            for p in manifests
            if p.endswith(_PY_MARKER_ENDS)
            or p in _PY_MARKERS
            or (p.endswith(".dist-info/METADATA") and _depth(p) <= 1)
        ),
        key=lambda p: (_depth(p) - p.endswith("/METADATA"), not p.endswith("PKG-INFO")),
    )
    npm_depth = _depth(npm[0]) if npm else 99
    py_depth = _depth(py_markers[0]) - py_markers[0].endswith("/METADATA") if py_markers else 99
    if npm and npm_depth < py_depth:
        return _npm_layout(npm[0], by_path)
    if py_markers:
        return _pypi_layout(py_markers[0], by_path)
    kinds = {_KINDS.get(posixpath.splitext(p)[1]) for p in by_path}
    guess = "pypi" if "python" in kinds else "npm" if "javascript" in kinds else None
    roots = {p.split("/", 1)[0] for p in by_path if "/" in p}
    if len(roots) != 1:
        return Layout(guess, "")
    root = roots.pop()
    named = _ROOT_NAME.match(root)
    return Layout(guess, root + "/", *(named.groups() if named else (None, None)))


def _npm_layout(path: str, by_path: Mapping[str, Member]) -> Layout:
    root = posixpath.dirname(path)
    root = root + "/" if root else ""
    try:
        manifest = manifest_json.loads(decode(by_path[path].data))
    except ValueError as exc:
        return Layout("npm", root, errors=(f"{path}: invalid JSON: {exc}",))
    if not isinstance(manifest, dict):
        return Layout("npm", root, errors=(f"{path}: not a JSON object",))
    scripts = manifest.get("scripts")
    hooks = (
        {k: v for k in NPM_INSTALL_HOOKS if isinstance(v := scripts.get(k), str)}
        if isinstance(scripts, dict)
        else {}
    )
    gyp = by_path.get(root + "binding.gyp")
    commands = (
        tuple(gyp_commands(decode(gyp.data))) if gyp and _runs_node_gyp(manifest, hooks) else ()
    )
    return Layout(
        "npm",
        root,
        name=_str(manifest.get("name")),
        version=_str(manifest.get("version")),
        manifest=manifest,
        hooks=hooks,
        build_commands=commands,
        build_files=frozenset({*hook_files(commands), "binding.gyp"} if commands else ()),
    )


def _runs_node_gyp(manifest: Mapping[str, Any], hooks: Mapping[str, str]) -> bool:
    """Whether ``npm install`` builds the package's ``binding.gyp``: by itself when no
    ``install`` or ``preinstall`` script is given (unless ``"gypfile": false``), or
    because a hook calls node-gyp."""
    if any("node-gyp" in command for command in hooks.values()):
        return True
    return manifest.get("gypfile") is not False and not {"install", "preinstall"} & set(hooks)


def _pypi_layout(marker: str, by_path: Mapping[str, Member]) -> Layout:
    if marker.endswith(".dist-info/METADATA"):
        root = posixpath.dirname(posixpath.dirname(marker))
    else:
        root = posixpath.dirname(marker)
    root = root + "/" if root else ""
    name = version = None
    for candidate in (marker, root + "PKG-INFO"):
        if candidate.endswith(_METADATA_FILES) and candidate in by_path:
            name, version = _email_metadata(decode(by_path[candidate].data[:65536]))
            break
    if (name is None or version is None) and root + "setup.py" in by_path:
        found = _setup_py_metadata(by_path[root + "setup.py"].data)
        name, version = name or found[0], version or found[1]
    if (name is None or version is None) and root + "pyproject.toml" in by_path:
        found = _pyproject_metadata(by_path[root + "pyproject.toml"].data)
        name, version = name or found[0], version or found[1]
    if (name is None or version is None) and root + "setup.cfg" in by_path:
        found = _setup_cfg_metadata(by_path[root + "setup.cfg"].data)
        name, version = name or found[0], version or found[1]
    built = build_files(_data(by_path, root + "pyproject.toml"), _data(by_path, root + "setup.cfg"))
    setup_py = _data(by_path, root + "setup.py")
    if setup_py is not None:
        built |= setup_loaded_files(setup_py)
    return Layout("pypi", root, name=name, version=version, build_files=built)


def _data(by_path: Mapping[str, Member], path: str) -> bytes | None:
    member = by_path.get(path)
    return None if member is None else member.data


def _str(value: object) -> str | None:
    return value if isinstance(value, str) and value else None


def _email_metadata(text: str) -> tuple[str | None, str | None]:
    """``Name`` and ``Version`` of the headers that open ``PKG-INFO`` and ``METADATA``.
    They come second and third: read from the complete lines of the first kilobyte when
    they are there, since splitting a whole long description into lines costs more than
    the headers do."""
    name, version, known = _email_headers(text[:1024].splitlines()[:-1])
    if known:
        return name, version
    name, version, _ = _email_headers(text.splitlines())
    return name, version


def _email_headers(lines: list[str]) -> tuple[str | None, str | None, bool]:
    """The first non-empty ``Name`` and ``Version`` of the header lines (up to the first
    blank one), and whether they are known, as nothing in further lines can change them."""
    name = version = None
    for line in lines:
        if not line.strip():
            return name, version, True
        key, _, value = line.partition(":")
        if key.lower() == "name" and name is None:
            name = value.strip() or None
        elif key.lower() == "version" and version is None:
            version = value.strip() or None
        if name is not None and version is not None:
            return name, version, True
    return name, version, False


def _setup_py_metadata(data: bytes) -> tuple[str | None, str | None]:
    """Literal ``name=``/``version=`` of the ``setup()`` call (or module-level constants)."""
    try:
        tree = ast.parse(data)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return None, None
    constants: dict[str, str] = {}
    found: dict[str, str] = {}
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Assign)
            and len(node.targets) == 1
            and isinstance(node.targets[0], ast.Name)
            and isinstance(node.value, ast.Constant)
            and isinstance(node.value.value, str)
        ):
            constants[node.targets[0].id] = node.value.value
        elif isinstance(node, ast.Call) and _call_name(node.func) == "setup":
            for kw in node.keywords:
                if kw.arg in {"name", "version"}:
                    if isinstance(kw.value, ast.Constant) and isinstance(kw.value.value, str):
                        found[kw.arg] = kw.value.value
                    elif isinstance(kw.value, ast.Name) and kw.value.id in constants:
                        found[kw.arg] = constants[kw.value.id]
    return found.get("name") or None, found.get("version") or None


def _call_name(func: ast.expr) -> str | None:
    if isinstance(func, ast.Name):
        return func.id
    if isinstance(func, ast.Attribute):
        return func.attr
    return None


def _pyproject_metadata(data: bytes) -> tuple[str | None, str | None]:
    project = toml(data).get("project")
    if not isinstance(project, dict):
        return None, None
    return _str(project.get("name")), _str(project.get("version"))


def _setup_cfg_metadata(data: bytes) -> tuple[str | None, str | None]:
    parser = ConfigParser(interpolation=None)
    try:
        parser.read_string(decode(data))
    except ConfigParserError:
        return None, None
    if not parser.has_section("metadata"):
        return None, None
    return parser.get("metadata", "name", fallback=None), parser.get(
        "metadata", "version", fallback=None
    )


def interpreted_targets(command: str) -> list[str]:
    """Files a hook command hands to an interpreter (``node x.js``, ``sh build.sh``)."""
    return [posixpath.normpath(m.group(1)) for m in _HOOK_INTERPRETED.finditer(command)]


def hook_files(commands: Iterable[str], main: str = "index.js") -> set[str]:
    """Files install commands name (``node scripts/install.js`` -> ``scripts/install.js``)."""
    found: set[str] = set()
    for command in commands:
        for match in _HOOK_FILE.finditer(command):
            found.add(posixpath.normpath(match.group(1)))
        for match in _HOOK_INTERPRETED.finditer(command):
            target = posixpath.normpath(match.group(1))
            found.update((posixpath.normpath(main),) if target == "." else loadable(target))
        for match in _HOOK_REQUIRED.finditer(command):
            found.update(loadable(posixpath.normpath(match.group(1))))
    return found


def loadable(target: str) -> tuple[str, ...]:
    """The files ``node target`` may run: ``node util/setup`` loads ``util/setup.js`` or
    ``util/setup/index.js`` when no file has the bare name."""
    if posixpath.splitext(target)[1]:
        return (target,)
    return target, target + ".js", target + "/index.js"


#: How a Python module starts (after comments): an import statement, not a sentence that
#: starts with "import".
_PYTHON_START = re.compile(
    rb"\s*(?:#[^\n]*\n\s*)*"
    rb"(?:import[ \t]+[\w.]+[ \t]*(?:[,;\r\n]|as[ \t])|from[ \t]+[\w.]+[ \t]+import[ \t])"
)
#: How a script in Python or JavaScript starts (after blank lines and comments): a README
#: that npm's hook runs with ``node`` is code whatever its name says.
_CODE_START = re.compile(
    rb"(?:\xef\xbb\xbf)?(?:#!|(?>\s*(?:(?:#|//)[^\n]*+\n\s*|/\*(?:[^*]|\*(?!/))*+\*/\s*)*+)"
    rb"(?:import[ \t]+[\w.{*\"']|from[ \t]+[\w.]+[ \t]+import[ \t]|def[ \t]+\w+[ \t]*\("
    rb"|(?:exec|eval|__import__|require)[ \t]*\(|(?:var|let|const)[ \t]+[\w$]+[ \t]*="
    rb"|[!(]?[ \t]*function\b|\([ \t]*\([^)\n]{0,40}\)[ \t]*=>"
    rb"|[\"']use strict[\"']|module\.exports\b))"
)


def starts_like_code(data: bytes) -> bool:
    """Whether a file of any name opens like a Python or JavaScript program."""
    return _CODE_START.match(data, 0, 4096) is not None


def reads_as_prose(rel: str, kind: str, context: str, data: bytes) -> bool:
    """Prose, not code: manuals, licences, other languages' sources and PyPI's metadata,
    unless the file runs (an install hook names it) or opens like a program (an npm
    hook's ``node README.md`` runs JavaScript under a prose name)."""
    if context in RUNNING:
        return False
    if kind != "text" and not (kind == "manifest" and rel.endswith(_METADATA_FILES)):
        return False
    return not starts_like_code(data)


def file_kind(rel: str, base: str, ext: str, data: bytes) -> str:
    """What a file is; ``base`` and ``ext`` are the name and ``_extension`` of ``rel``."""
    if binary_format(data):
        return "binary"
    if (ext == ".ts" and rel.endswith(".d.ts")) or ext == ".pyi":
        return "text"  # type declarations: no code runs from them (Python never imports .pyi)
    if ext in _KINDS:
        return _KINDS[ext]
    if data.startswith(b"#!"):
        first = data[:100].split(b"\n", 1)[0]
        for word, kind in ((b"node", "javascript"), (b"python", "python"), (b"sh", "shell")):
            if word in first:
                return kind
    if base == "package.json" or rel.endswith(_METADATA_FILES):
        return "manifest"
    if not ext and _PYTHON_START.match(data):
        return "python"  # a script without a name that says so, run as ``python file``
    if looks_binary(data):
        return "data"
    return "text"


def file_context(
    rel: str,
    base: str,
    ext: str,
    kind: str,
    layout: Layout,
    install: set[str],
    test_dirs: dict[str, bool],
) -> str:
    """When a file's code runs: at install, on import, at use, or never (tests, docs).
    ``base`` and ``ext`` are the name and ``_extension`` of ``rel``; ``test_dirs`` remembers,
    for one archive, whether a folder is under a test or docs folder (the files of a
    folder ask in turn)."""
    if (
        rel in install
        or base.endswith(".pth")
        or (
            layout.ecosystem == "pypi"
            and (rel == "setup.py" or (base in _STARTUP_MODULES and _at_site_top(rel)))
        )
    ):
        return "install"
    if kind in _NOT_CODE and (ext in _DOC_EXTS or kind != "text"):
        return "docs"
    folder = rel[: len(rel) - len(base)]
    tested = test_dirs.get(folder)
    if tested is None:
        tested = test_dirs[folder] = in_test_folder(folder)
    if tested:
        return "test"
    name = base.lower()
    # what ``_TEST_FILE`` needs, looked for first: most names have neither word
    if ("test" in name or "spec" in name) and _TEST_FILE.search(name):
        return "test"
    if base == "__init__.py" and rel.count("/") <= 2:
        return "import"
    if rel == layout.main_file:
        return "import"
    if not layout.manifest and "/" not in rel and kind == "javascript":
        return "import"  # no package.json: a top-level script is what a user would run
    if kind in _NOT_CODE:
        return "docs"
    if kind in _SCRIPT_KINDS:
        return "script"
    return "code"


def in_test_folder(path: str) -> bool:
    """Whether a path lies under a test or fixture folder (any of its folders, by name)."""
    return not _TEST_DIRS.isdisjoint(path.lower().split("/")[:-1])


class Imports(NamedTuple):
    """The modules a top-level ``__init__.py`` loads (``loaded``), and those of them whose
    functions it calls as it runs (``called``): their code runs on ``import package``."""

    loaded: frozenset[str]
    called: frozenset[str]


def imported_modules(rel: str, data: bytes) -> Imports:
    """Modules an ``__init__.py`` imports from its own package (``from .x import f``,
    ``from pkg.x import f``), and those whose imported names it calls at its top level
    (``f()`` or ``f.g()`` at the start of a line, not indented under a definition)."""
    folder = posixpath.dirname(rel)
    own = (b".", posixpath.basename(folder).encode() + b".")
    loaded: set[str] = set()
    called: set[str] = set()
    calls: set[bytes] | None = None
    for match in line_start_matches(_OWN_IMPORT, data, MAX_IMPORT_SCAN):
        if match.group(1) not in own:
            continue  # another package's module
        module, names = match.group(2).decode("ascii", "replace"), match.group(3)
        # ``from .x import *`` loads x; ``from .pkg import mod`` may load pkg/mod.py too
        for item in names.split(b","):
            words = item.split()  # ``f``, ``f as g``, ``*``, or nothing after a trailing comma
            if not words or words[0] == b"*":
                if module:
                    loaded.update(module_paths(folder, module))
                continue
            name, alias = words[0].decode("ascii", "replace"), words[-1]
            inner = f"{module}.{name}" if module else name
            loaded.update(module_paths(folder, module) if module else ())
            loaded.update(module_paths(folder, inner))
            if calls is None:
                calls = _called_at_top(data)
            if alias in calls:
                # a function of module x (``from .x import f; f()``), or module f itself
                # (``from . import f; f.g()``)
                called.update(module_paths(folder, module) if module else ())
                called.update(module_paths(folder, inner))
    return Imports(frozenset(loaded), frozenset(called))


def module_paths(folder: str, dotted: str) -> tuple[str, str]:
    """The two files ``import dotted`` can load from ``folder``: a module or a package."""
    name = dotted.replace(".", "/")
    return posixpath.join(folder, name + ".py"), posixpath.join(folder, name, "__init__.py")


#: ``name(...)`` or ``name.f(...)`` at the start of a line, or assigned there
#: (``config = name()``): a call made as the module runs.
_CALL = rb"(?:[\w.]+[ \t]*=[ \t]*)?(\w+)[ \t]*(?:\(|\.\w+[ \t]*\()"
_TOP_LEVEL_CALL = re.compile(rb"^" + _CALL, re.MULTILINE)
_INDENTED_CALL = re.compile(rb"[ \t]+" + _CALL)
#: A block of the module's own top level (``try:``, ``if ...:``, ``with ...:``...): what it
#: holds runs as the module runs too, unlike the body of a ``def`` or ``class``.
#: (The header's ``[^\n#]*`` cannot back up through a line of colons and hashes: a class
#: that took both made one crafted line cost seconds.) ``if __name__ == "__main__":``
#: blocks run when the file is a script, not on import.
_TOP_LEVEL_BLOCK = re.compile(
    rb"^(?:try|else|finally|(?:if|elif|with|except|for|while)\b[^\n#]*):[ \t\r]*(?:#[^\n]*)?\n"
    rb"((?:[ \t]+[^\n]*\n|[ \t\r]*\n)+)",
    re.MULTILINE,
)


def top_level_block_lines(data: bytes) -> Iterator[bytes]:
    """The lines one block down under a top-level ``try:``/``if``/``with`` of a Python
    module's first 64 KiB (the block's first indentation only): they run as the module
    runs, unlike a function's body. ``if __name__ == "__main__":`` blocks are left out."""
    for block in _TOP_LEVEL_BLOCK.finditer(data[:MAX_IMPORT_SCAN]):
        if b"__name__" in block.group(0).partition(b"\n")[0]:
            continue
        lines = [line for line in block.group(1).split(b"\n") if line.strip()]
        depth = len(lines[0]) - len(lines[0].lstrip()) if lines else 0
        yield from (line for line in lines if len(line) - len(line.lstrip()) == depth)


def _called_at_top(data: bytes) -> set[bytes]:
    """The names an ``__init__.py`` calls as it runs: at its top level, or one block down
    under a top-level ``try:``/``if``/``with``."""
    names = {match.group(1) for match in _TOP_LEVEL_CALL.finditer(data[:MAX_IMPORT_SCAN])}
    for line in top_level_block_lines(data):
        if match := _INDENTED_CALL.match(line):
            names.add(match.group(1))
    return names


def classify(contents: ArchiveContents) -> tuple[Layout, list[tuple[Member, str, str, str]]]:
    """Layout plus, for each member, its path relative to the root, kind and context."""
    paths = [_clean(member.path) for member in contents.members]
    layout = detect_layout(dict(zip(paths, contents.members, strict=True)))
    main = layout.manifest.get("main")
    install = hook_files(layout.hooks.values(), main if isinstance(main, str) else "index.js")
    install |= layout.build_files
    root = layout.root
    test_dirs: dict[str, bool] = {}
    rows = []
    loaded: set[str] = set()
    called: set[str] = set()
    for member, path in zip(contents.members, paths, strict=True):
        rel = path[len(root) :] if path.startswith(root) else path
        base = _basename(rel)
        ext = _extension(base)
        kind = file_kind(rel, base, ext, member.data)
        context = file_context(rel, base, ext, kind, layout, install, test_dirs)
        if context == "import" and rel.endswith("__init__.py"):
            imports = imported_modules(rel, member.data)
            loaded |= imports.loaded
            called |= imports.called
        rows.append((member, rel, kind, context))
    if not loaded:
        return layout, rows  # most archives: no module that an import loads besides
    return layout, [
        (m, rel, kind, _loaded_context(rel, context, loaded, called))
        for m, rel, kind, context in rows
    ]


def _loaded_context(rel: str, context: str, loaded: set[str], called: set[str]) -> str:
    if context != "code" or rel not in loaded:
        return context
    return "import" if rel in called else "imported"
