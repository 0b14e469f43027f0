"""Install-time code that has no build purpose: it looks around the machine, opens programs
for the person installing, or pings a server and ignores the answer.

Build steps in ``setup.py`` and npm hooks run compilers, ``make``, ``git``, the interpreter
and the package manager; none of them needs ``whoami``, ``systeminfo``, a calculator or a
browser tab, nor a request whose answer nobody reads. Those are what reconnaissance
scripts and proofs of install-time execution do, and what a first-stage probe does before
its author sends the real payload.
"""

from __future__ import annotations

import ast
import ipaddress
import posixpath
import re
from collections.abc import Iterable
from functools import lru_cache
from urllib.parse import urlsplit

from threatfeed.analysis import python_ast
from threatfeed.analysis.model import Indicator, Signal
from threatfeed.analysis.package import Package, SourceFile
from threatfeed.analysis.rules.base import indicator
from threatfeed.analysis.rules.install import install_calls
from threatfeed.analysis.rules.metadata import holds_no_code
from threatfeed.analysis.rules.setup_reach import SCOPES, module_functions, reached
from threatfeed.analysis.text import shorten

#: Programs that report on the machine or its user. ``uname`` only with ``-a``: build
#: scripts ask ``uname -m`` for the architecture.
RECON_PROGRAMS = frozenset(
    {"whoami", "hostname", "id", "ipconfig", "ifconfig", "systeminfo", "dir", "ls", "net"}
)
#: Programs opened in front of the person installing: no build step opens a window.
LAUNCHED_PROGRAMS = frozenset(
    {
        "calc",
        "notepad",
        "mspaint",
        "explorer",
        "xcalc",
        "gnome-calculator",
        "xterm",
        "gnome-terminal",
        "open",
        "xdg-open",
        "start",
    }
)
#: Shells launched with nothing to run: an interactive shell, not a build script.
_SHELLS = frozenset({"sh", "bash", "zsh", "cmd", "powershell", "pwsh"})
LAUNCH_WEIGHT = 4.0
MAX_ITEMS = 10
#: HTTP calls whose answer is data: a request whose answer is never read is a message.
_REQUESTS = (
    "requests.get",
    "requests.post",
    "requests.head",
    "requests.put",
    "requests.request",
    "httpx.get",
    "httpx.post",
    "httpx.head",
    "urllib.request.urlopen",
    "urllib2.urlopen",
    "urllib.urlopen",
)
#: What reading an answer looks like (``r.text``, ``r.json()``, ``r.read()``...).
_READS = frozenset(
    {"text", "content", "json", "read", "readlines", "iter_content", "iter_lines", "raw"}
)
UNREAD_REQUEST_WEIGHT = 3.0
#: With ``trivial_package_rule`` (4), at import (x0.8): flagged.
EMPTY_PACKAGE_REQUEST_WEIGHT = 8.0

#: npm hook commands and install-time JavaScript running the same programs.
_JS_RECON = re.compile(
    rb"""\b(?:exec|execSync|spawn|spawnSync|execFile|execFileSync)\s*\(\s*["'`]"""
    rb"""(whoami|hostname|id|ipconfig|ifconfig|systeminfo|calc|notepad|uname -a|net user)\b"""
)


def _words(command: str) -> list[str]:
    return command.replace('"', " ").replace("'", " ").split()


def classify_command(command: str) -> str | None:
    """``recon`` or ``launch`` for the first program of a command line, else None.

    A shell handed a command (``cmd /c whoami``, ``sh -c id``) decides for its part alone:
    the command it runs is read in a loop, not a call per shell, since a hook may stack
    thousands of ``sh -c`` and a recursion limit reached would lose the rule's evidence."""
    for part in re.split(r"&&|\|\||[;&|]", command):
        words = _words(part)
        first = 0  # the word the program is, past the shells that hand it on
        while first < len(words):
            program = posixpath.basename(words[first].replace("\\", "/")).lower()
            program = program.removesuffix(".exe")
            options = words[first + 1 : first + 2]
            if program == "uname" and "-a" in words[first + 1 :]:
                return "recon"
            if program == "net" and options not in (["user"], ["users"], ["localgroup"]):
                break
            if program in _SHELLS and options in (["-c"], ["/c"], ["/k"]):
                first += 2
                continue
            if program in RECON_PROGRAMS:
                return "recon"
            if program in LAUNCHED_PROGRAMS or (program in _SHELLS and len(words) == first + 1):
                return "launch"
            break
        if first:
            return None
    return None


def _command_of(node: ast.Call) -> str | None:
    """The command line a process call runs, when it is spelled as literals."""
    if not node.args:
        return None
    first = node.args[0]
    if isinstance(first, ast.Constant) and isinstance(first.value, str):
        return first.value
    if isinstance(first, ast.List | ast.Tuple) and first.elts:
        words = [e.value for e in first.elts if isinstance(e, ast.Constant)]
        if len(words) == len(first.elts) and all(isinstance(w, str) for w in words):
            return " ".join(str(w) for w in words)
    return None


#: Call types of ``install_calls`` that start a process.
_PROCESS_TYPES = frozenset({"process", "launches_payload", "background_process"})


#: The first string literal of a call whose excerpt does not parse alone (a call spread
#: over several lines: the excerpt is its first line).
_FIRST_LITERAL = re.compile(r"""\(\s*\[?\s*[rbu]?(["'])([^"'\n]{1,200})\1""")


def _command_in(code: str) -> str | None:
    """The command a process call's excerpt runs, when it is spelled as literals."""
    try:
        node = ast.parse(code, mode="eval").body
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        literal = _FIRST_LITERAL.search(code)
        return literal.group(2) if literal else None
    return _command_of(node) if isinstance(node, ast.Call) else None


@lru_cache(maxsize=4096)  # excerpts come from attackers: bounded
def _launch_in(code: str) -> tuple[str, str] | None:
    """What a process call's excerpt runs, classified (``recon`` or ``launch``, and the
    command), when it is spelled as literals. Remembered: the versions of a package bring
    the same install calls back, and parsing their excerpts was most of the rule's cost."""
    command = _command_in(code)
    if command is None:
        return None
    kind = classify_command(command)
    return (kind, command) if kind else None


def _python_launches(source: SourceFile) -> list[tuple[int, str, str]]:
    """From the calls ``suspicious_setup_commands_rule`` already found (cached): no walk of
    the tree of its own."""
    found = []
    for call in install_calls(source):
        if call.type == "browser" and call.name.startswith("webbrowser.open"):
            found.append((call.line, "launch", call.name))
        elif call.type in _PROCESS_TYPES and (launch := _launch_in(call.code)) is not None:
            found.append((call.line, *launch))
    return sorted(found)


def _javascript_launches(source: SourceFile) -> list[tuple[int, str, str]]:
    found = []
    for match in _JS_RECON.finditer(source.data):
        command = match.group(1).decode()
        kind = classify_command(command)
        if kind:
            found.append((source.data.count(b"\n", 0, match.start()) + 1, kind, command))
    return found


def _is_request(node: ast.AST, names: dict[str, str]) -> bool:
    if not isinstance(node, ast.Call):
        return False
    name = python_ast.resolve(node.func, names) or ""
    return name.startswith(_REQUESTS) and not _to_this_machine(node)


def _to_this_machine(call: ast.Call) -> bool:
    """A request to the installing machine itself (a local service asked whether it is
    up) tells nobody outside about the install."""
    url = call.args[0] if call.args else None
    if not (isinstance(url, ast.Constant) and isinstance(url.value, str)):
        return False
    try:
        host = urlsplit(url.value).hostname or ""
    except ValueError:
        return False
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _read_names(nodes: Iterable[ast.AST]) -> set[str]:
    """Names whose answer is read (``r.text``) or handed to another call than ``print``."""
    found = set()
    for node in nodes:
        # ``type(node) is``: the parser makes no subclasses, and every node is asked
        if type(node) is ast.Attribute and node.attr in _READS and isinstance(node.value, ast.Name):
            found.add(node.value.id)
        elif type(node) is ast.Call and not (
            isinstance(node.func, ast.Name) and node.func.id == "print"
        ):
            args = [*node.args, *(kw.value for kw in node.keywords)]
            found.update(arg.id for arg in args if isinstance(arg, ast.Name))
    return found


def unread_requests(source: SourceFile) -> list[tuple[int, str]]:
    """HTTP requests of a Python file whose answer is never read: made as a statement of
    their own, or kept in a name the file reads nothing from (``r.status_code`` at most)."""
    if not any(call.type in {"network", "download"} for call in install_calls(source)):
        return []  # most install code: nothing to walk
    tree = python_ast.parsed(source.data)
    if tree is None:
        return []
    nodes = python_ast.nodes(tree)  # remembered: the install-time calls walked it first
    names = python_ast.aliases(python_ast.calls_and_imports(tree))
    requests = [
        node
        for node in nodes
        if (type(node) is ast.Expr or type(node) is ast.Assign) and _is_request(node.value, names)
    ]
    if not requests:
        return []  # no names to read either
    read = _read_names(nodes) if any(type(node) is ast.Assign for node in requests) else set()
    lines = source.data.split(b"\n")
    found = []
    for node in requests:
        if isinstance(node, ast.Assign) and not (
            len(node.targets) == 1
            and isinstance(node.targets[0], ast.Name)
            and node.targets[0].id not in read
        ):
            continue  # the answer is kept in a name the file reads, or unpacked
        code = python_ast.segment(lines, node.value)  # the first line: payloads can be huge
        found.append((node.lineno, shorten(code, 120)))
    return sorted(found)


def install_time_unread_request_rule(package: Package) -> Indicator | None:
    """``setup.py`` (or a ``.pth`` file) making an HTTP request whose answer it never reads.

    Install code downloads what it needs and reads or saves it; a request made for its
    own sake is a message: the server learns that, when and from which address the
    package was installed (a dependency-confusion probe with nothing in its query, a
    "ping" announcing a new victim before the payload is sent).

    Evidence: ``[{"file": str, "line": int, "code": str}]``.
    """
    evidence = []
    signals = []
    for source in package.at_install:
        if source.kind != "python":
            continue
        for line, code in unread_requests(source):
            evidence.append({"file": source.path, "line": line, "code": code})
            signals.append(
                Signal(source.path, line, code, UNREAD_REQUEST_WEIGHT, "install", key="unread")
            )
    return indicator("install_time_unread_request_rule", evidence[:MAX_ITEMS], signals)


def install_time_program_launch_rule(package: Package) -> Indicator | None:
    """Install-time code running reconnaissance commands (``whoami``, ``hostname``, ``id``,
    ``uname -a``, ``ipconfig``/``ifconfig``, ``systeminfo``, ``net user``, ``dir``/``ls``)
    or opening programs (a calculator, ``notepad``, a terminal, a bare shell, a browser tab).

    Reads ``setup.py`` and ``.pth`` files (process calls whose command is spelled as
    literals, ``webbrowser.open``), the npm hook commands and the JavaScript files they run.
    Build tools (compilers, ``make``, ``git``, the interpreter, package managers) are not
    listed, so ordinary build steps never count.

    Evidence: ``[{"file": str, "line": int, "kind": "recon"|"launch", "command": str}]``.
    """
    evidence = []
    signals = []
    for source in package.at_install:
        if source.kind == "python":
            found = _python_launches(source)
        elif source.kind == "javascript":
            found = _javascript_launches(source)
        elif source.rel == "package.json":
            found = [
                (0, kind, command)
                for command in package.hooks.values()
                if (kind := classify_command(command))
            ]
        else:
            continue
        for line, kind, command in found:
            command = shorten(command, 120)
            evidence.append({"file": source.path, "line": line, "kind": kind, "command": command})
            signals.append(
                Signal(source.path, line or None, command, LAUNCH_WEIGHT, "install", key=kind)
            )
    return indicator("install_time_program_launch_rule", evidence[:MAX_ITEMS], signals)


def _module_level_requests(source: SourceFile) -> list[tuple[int, str]]:
    if not any(hit.capability == "network" for hit in source.signatures):
        return []  # most files: nothing to parse
    tree = python_ast.parsed(source.data)
    if tree is None:
        return []
    picked = python_ast.calls_and_imports(tree)
    names = python_ast.aliases(picked)
    requests = {node for node in picked if node.__class__ is ast.Call and _is_request(node, names)}
    whole = not python_ast.nodes_cut(tree)  # else calls past the walk's limit are asked too
    if whole and not requests:
        return []  # no request in the whole file: none that module level runs
    roots = [(source, node) for node in tree.body if not isinstance(node, SCOPES)]
    calls = [
        node  # module_functions reads the same tree, remembered by ``parsed``
        for _, node in reached(roots, module_functions([source]))
        if isinstance(node, ast.Call) and (node in requests if whole else _is_request(node, names))
    ]
    lines = source.data.split(b"\n") if calls else []  # split only for the evidence
    return sorted((node.lineno, shorten(python_ast.segment(lines, node), 120)) for node in calls)


def empty_package_request_rule(package: Package) -> Indicator | None:
    """A package with almost no code (``trivial_package_rule``) whose install or import
    code makes an HTTP request as it runs (at module level, or in a function of the file
    that module level calls; not in one waiting to be called): the request is the
    package's whole purpose, telling a server where and when the name was installed
    (dependency-confusion probes that moved their callback from ``setup.py`` into
    ``__init__.py``). Requests to this machine do not count.

    Evidence: ``[{"file": str, "line": int, "code": str}]``.
    """
    if not holds_no_code(package):
        return None
    evidence = []
    signals = []
    for source in package.files:
        if source.kind != "python" or source.context not in {"install", "import"}:
            continue
        for line, code in _module_level_requests(source):
            evidence.append({"file": source.path, "line": line, "code": code})
            signals.append(
                Signal(
                    source.path,
                    line,
                    code,
                    EMPTY_PACKAGE_REQUEST_WEIGHT,
                    source.context,
                    frozenset({"network"}),
                    "empty_package_request",
                )
            )
    return indicator("empty_package_request_rule", evidence[:MAX_ITEMS], signals)
