"""Dependencies fetched from elsewhere than the registry: npm's URL and git specs, and
PEP 508 direct references (``name @ https://...``) of Python packages.

A dependency given as a URL (``"ui-kit": "http://cdn.example.net/ui-kit.tgz"``) is
downloaded on install and its hooks run, while the registry, its scanners and the
package's own archive hold none of its code: the payload stays on the attacker's server
and can change after review. Published packages almost never do this (none of 1,089
benign npm packages measured); libraries that left the registry are the exception, so a
remote tarball alone stays below the threshold and needs company (an empty package, a
hook) to flag.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from itertools import islice
from urllib.parse import urlsplit

from threatfeed.analysis import build
from threatfeed.analysis.model import Indicator, Signal
from threatfeed.analysis.package import Package, SourceFile
from threatfeed.analysis.rules.base import indicator
from threatfeed.analysis.text import decode

#: Fields whose packages ``npm install`` installs (peer dependencies too, since npm 7).
_INSTALLED = ("dependencies", "optionalDependencies", "peerDependencies")
#: Code hosts whose repositories and tarballs are public and versioned.
_FORGES = frozenset(
    {
        "github.com",
        "codeload.github.com",
        "gist.github.com",
        "gitlab.com",
        "bitbucket.org",
        "registry.npmjs.org",
        "registry.yarnpkg.com",
    }
)
_URL = re.compile(r"^(?:git\+)?[a-z][a-z0-9+.-]*://", re.IGNORECASE)
#: ``github:user/repo``, ``gitlab:``..., and the bare ``user/repo`` shorthand for GitHub.
_FORGE_SHORTHAND = re.compile(
    r"^(?:(?:github|gitlab|bitbucket|gist):\S+|[\w.-]+/[\w.-]+(?:#\S*)?)$"
)
REMOTE_WEIGHT = 8.0
PLAIN_HTTP_WEIGHT = 2.0
FORGE_WEIGHT = 1.5
MAX_ITEMS = 20


def _weight(spec: str) -> float:
    if _FORGE_SHORTHAND.match(spec):
        return FORGE_WEIGHT
    if not _URL.match(spec) or spec.lower().startswith(("file:", "git+file:")):
        return 0.0  # a version range, a tag, ``npm:`` aliases, ``file:`` folders
    try:
        host = (urlsplit(spec.removeprefix("git+")).hostname or "").rstrip(".")
    except ValueError:  # a malformed address: no forge's
        host = ""
    if host in _FORGES:
        return FORGE_WEIGHT
    return REMOTE_WEIGHT + (PLAIN_HTTP_WEIGHT if spec.lower().startswith("http:") else 0.0)


def _npm_specs(package: Package) -> Iterator[tuple[str | None, str, str]]:
    manifest = package.path_of("package.json")
    for field in _INSTALLED:
        specs = package.manifest.get(field)
        for name, spec in specs.items() if isinstance(specs, dict) else ():
            if isinstance(spec, str):
                yield manifest, str(name), spec.strip()


#: ``name [extras] @ url``: a PEP 508 direct reference (markers after ``;`` are kept apart).
_DIRECT = re.compile(r"^\s*([A-Za-z0-9][\w.-]*)\s*(?:\[[^\]]*\]\s*)?@\s*(\S+?)\s*(?:;.*)?$")
#: A requirement is read up to this length (names, extras and URLs are short).
MAX_REQUIREMENT = 500
_REQUIRES_DIST = re.compile(rb"^Requires-Dist:[ \t]*([^\n]{1,500})$", re.MULTILINE)
#: ``install_requires=[`` or ``(``, or ``install_requires=NAME`` of a list bound above.
_REQUIRES_OPENS = re.compile(rb"install_requires\s*=\s*(?:([\[(])|([A-Za-z_]\w*)\b)")
#: How far a list is read (20,000 bytes), and how many lists (a ``setup.py`` has one or
#: two): a file opening one at every line is not read at each; mentions in comments do not
#: count.
_LIST_SPAN = 20_000
MAX_INSTALL_REQUIRES = 16
#: In a list: a quoted string (brackets inside it are the string's: ``pkg[socks] @ url``),
#: a bracket opening or closing a nested one, a comment (its brackets are its own), or a
#: list unpacked into it (``*BASE``).
_LIST_TOKEN = re.compile(rb""""([^"\n]{0,500})"|'([^'\n]{0,500})'|([\[\](){}])|#[^\n]*|\*(\w+)""")
#: What separates two literals Python joins into one (``"evil " "@ https://..."``).
_JOINING = re.compile(rb"\s*")
_AT_URL = re.compile(rb"@\s*(?:git\+)?[A-Za-z][\w+.-]*://")
_EXTRA = re.compile(r"\bextra\s*==")


#: Names of lists unpacked into ``install_requires`` read per file, each once: thousands
#: of ``*R`` read again every list bound to ``R`` (7 s for a 30 KB setup.py).
MAX_UNPACKED = 8


def _list_items(data: bytes, start: int, unpacked: set[bytes] | None = None) -> Iterator[str]:
    """The strings of the list whose bracket opens just before ``start``: literals written
    side by side joined as Python joins them, comments skipped, and a list unpacked into it
    (``[*BASE, "x"]``) read where it is bound, one level down, when ``unpacked`` (the
    names already read for the file) is given."""
    depth = 1
    pending: list[str] = []
    last_end = -1
    for token in _LIST_TOKEN.finditer(data, start, start + _LIST_SPAN):
        text = token.group(1) if token.group(1) is not None else token.group(2)
        if text is not None:
            if pending and not _JOINING.fullmatch(data, last_end, token.start()):
                yield "".join(pending)
                pending = []
            pending.append(decode(text))
            last_end = token.end()
            continue
        if pending and token.group(0)[:1] != b"#":
            yield "".join(pending)
            pending = []
        if bracket := token.group(3):
            depth += 1 if bracket in b"[({" else -1
            if not depth:
                break
        elif (
            (name := token.group(4))
            and unpacked is not None
            and name not in unpacked
            and len(unpacked) < MAX_UNPACKED
        ):
            unpacked.add(name)
            for opened in _bound_lists(data, name):
                yield from _list_items(data, opened)
    if pending:
        yield "".join(pending)


def _bound_lists(data: bytes, name: bytes) -> Iterator[int]:
    """Where each list bound to ``name`` opens (``REQS = [``, ``REQS: list = (``), every
    binding: a decoy bound first hides nothing."""
    bound = re.compile(rb"^[ \t]*" + re.escape(name) + rb"[ \t]*(?::[^=\n]{0,60})?=\s*[\[(]", re.M)
    yield from (match.end() for match in islice(bound.finditer(data), MAX_INSTALL_REQUIRES))


def _setup_py_requirements(data: bytes) -> Iterator[str]:
    """The strings of ``install_requires``'s lists: written in place, or bound to a name
    first (``REQUIRES = [...]``, then ``install_requires=REQUIRES``)."""
    lists = 0
    unpacked: set[bytes] = set()
    position = data.find(b"install_requires")
    while position >= 0 and lists < MAX_INSTALL_REQUIRES:
        if opened := _REQUIRES_OPENS.match(data, position):  # not a comment's mention
            lists += 1
            if opened.group(1):
                yield from _list_items(data, opened.end(), unpacked)
            else:
                for start in _bound_lists(data, opened.group(2)):
                    yield from _list_items(data, start, unpacked)
        position = data.find(b"install_requires", position + 1)


#: setup.cfg's sections, and its ``install_requires`` key with the indented lines that
#: continue its value.
_CFG_SECTION = re.compile(rb"^\[([^\]\n]{1,80})\][ \t]*$", re.M)
_CFG_REQUIRES = re.compile(
    rb"^install_requires[ \t]*[=:][ \t]*([^\n]*)((?:\n[ \t]+[^\n]*|\n[ \t]*(?=\n))*)", re.M
)


def _setup_cfg_requirements(data: bytes) -> Iterator[str]:
    """``install_requires`` of setup.cfg's ``[options]``: a requirement a line, or several
    on a line split by ``;`` as setuptools splits them. Read line by line (ConfigParser
    takes quadratic time on a long line of blanks)."""
    sections = list(islice(_CFG_SECTION.finditer(data), 1000))
    for here, section in enumerate(sections):
        if section.group(1).strip() != b"options":
            continue
        end = sections[here + 1].start() if here + 1 < len(sections) else len(data)
        if found := _CFG_REQUIRES.search(data, section.end(), end):
            for line in decode(found.group(1) + found.group(2)).splitlines():
                yield from (item.strip() for item in line.split(";") if item.strip())


def _python_requirements(source: SourceFile) -> Iterator[str]:
    """The requirements a Python package's metadata or build files declare as installed
    (not extras: ``; extra == ...`` requirements install only when asked for)."""
    name = source.rel.rpartition("/")[2]
    if name in {"PKG-INFO", "METADATA"}:
        headers_end = source.data.find(b"\n\n")  # the body is the README
        end = len(source.data) if headers_end < 0 else headers_end
        for match in _REQUIRES_DIST.finditer(source.data, 0, end):
            line = decode(match.group(1)).strip()
            if not _EXTRA.search(line.partition(";")[2]):
                yield line
    elif name == "setup.py":
        yield from _setup_py_requirements(source.data)
    elif name == "setup.cfg":
        yield from _setup_cfg_requirements(source.data)
    elif name == "pyproject.toml":
        project = build.toml(source.data).get("project")
        dependencies = project.get("dependencies") if isinstance(project, dict) else None
        if isinstance(dependencies, list):
            yield from (item for item in dependencies if isinstance(item, str))


#: The package's own declarations, at its root (fixtures of tests hold other projects').
_DECLARING = frozenset({"PKG-INFO", "setup.py", "setup.cfg", "pyproject.toml"})


def _python_specs(package: Package) -> Iterator[tuple[str | None, str, str]]:
    for source in package.files:
        folder, _, name = source.rel.rpartition("/")
        wheel_metadata = name == "METADATA" and folder.endswith(".dist-info") and "/" not in folder
        if not (source.rel in _DECLARING or wheel_metadata) or not _AT_URL.search(source.data):
            continue  # no ``@ scheme://`` anywhere: no direct reference (most packages)
        for requirement in _python_requirements(source):
            if match := _DIRECT.match(requirement[:MAX_REQUIREMENT]):
                yield source.path, match.group(1), match.group(2)


def remote_dependency_rule(package: Package) -> Indicator | None:
    """Dependencies fetched from a URL or a git repository instead of the registry: npm's
    URL and git specs, and Python's direct references (``name @ https://...`` in
    ``Requires-Dist``, ``install_requires`` or ``[project] dependencies``).

    Evidence: ``[{"name": str, "spec": str}]``. A tarball or repository on any other host
    than the public forges weighs 8 (10 over plain ``http:``, which anyone on the path can
    swap); one on GitHub, GitLab or Bitbucket 1.5. They count once per kind of host.
    """
    if package.ecosystem == "npm":
        specs = _npm_specs(package)
    elif package.ecosystem == "pypi":
        specs = _python_specs(package)
    else:
        return None
    evidence = []
    signals = []
    seen = set()
    for path, name, spec in specs:
        weight = _weight(spec)
        if not weight or (name, spec) in seen:
            continue
        seen.add((name, spec))
        evidence.append({"name": name, "spec": spec[:300]})
        key = "forge" if weight == FORGE_WEIGHT else "remote"
        excerpt = f"{name}: {spec}"[:160]
        signals.append(Signal(path, None, excerpt, weight, "install", key=key))
    return indicator("remote_dependency_rule", evidence[:MAX_ITEMS], signals)
