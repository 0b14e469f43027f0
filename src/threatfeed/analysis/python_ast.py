"""Python structure with ``ast``: resolved names of the calls a file makes.

Resolving imports matters because malware renames (``from os import system as s``) and
hides imports (``__import__("os").system``).
"""

from __future__ import annotations

import ast
import base64
import re
import sys
import unicodedata
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from functools import lru_cache
from itertools import islice

from threatfeed.analysis import folding
from threatfeed.analysis.calls import Call
from threatfeed.analysis.memo import collector_paused, per_archive
from threatfeed.analysis.text import shorten

_PROCESS = (
    "os.system",
    "os.popen",
    "os.startfile",
    "os.exec",
    "os.spawn",
    "os.posix_spawn",
    "subprocess.",
    "commands.getoutput",
    "pty.spawn",
)
_DOWNLOAD = ("urllib.request.urlretrieve", "urllib.urlretrieve", "wget.download")
_NETWORK = (
    "urllib.request.urlopen",
    "urllib.request.Request",
    "urllib.urlopen",
    "urllib2.urlopen",
    "requests.",
    "httpx.",
    "http.client.",
    "httplib.",
    "socket.socket",
    "socket.create_connection",
    "smtplib.",
    "ftplib.",
    "aiohttp.",
    "pycurl.",
    "dns.resolver.",
)
_DECODE = (
    "base64.",
    "binascii.unhexlify",
    "binascii.a2b_",
    "codecs.decode",
    "zlib.decompress",
    "bz2.decompress",
    "lzma.decompress",
    "gzip.decompress",
    "marshal.loads",
    "bytes.fromhex",
    "cryptography.fernet.Fernet",
    "fernet.Fernet",
)
_RECON = (
    "socket.gethostname",
    "socket.getfqdn",
    "getpass.getuser",
    "os.getlogin",
    "platform.node",
    "os.uname",
    "platform.uname",
)
#: DNS lookups: dependency-confusion probes resolve a name of theirs (a beacon by DNS).
_LOOKUPS = frozenset({"socket.gethostbyname", "socket.gethostbyname_ex"})
#: Calls that run code given to them: the builtins, and the deserialisers whose formats carry
#: code (a pickle's ``__reduce__`` runs a callable of the author's choice as it loads).
_EXEC = frozenset(
    {
        "exec",
        "eval",
        "execfile",
        "runpy.run_path",
        "runpy.run_module",
        "pickle.loads",
        "pickle.load",
        "_pickle.loads",
        "cPickle.loads",
        "dill.loads",
        "cloudpickle.loads",
        "marshal.loads",
    }
)
_INSTALL_BASES = frozenset({"install", "develop", "egg_info", "bdist_egg", "build_py"})
_PAYLOAD = re.compile(
    r"(?i)\.(exe|vbs|bat|cmd|ps1|scr|hta|msi|pyw)\b|\bstart\s|powershell|mshta|wscript|cscript"
)
#: What decoded code looks like: a base64 literal that decodes to these is hidden code.
_CODE_MARKERS = (b"exec(", b"eval(", b"import ", b"subprocess", b"os.system", b"powershell")
_B64 = re.compile(rb"^[A-Za-z0-9+/=\s]+$")
#: What a base64 literal hides when it is no code: where to send (a URL, a host name),
#: what to read (a home, system or credential folder), what to run (a survey command).
_HIDDEN_TARGET = re.compile(
    rb"https?://|[a-z0-9-]{1,63}(\.[a-z0-9-]{1,63})*\.(?!(py|md|txt|rst|cfg|toml|json|ini)$)"
    rb"[a-z]{2,10}(:\d+)?(/|$)|~/|/etc/|/home/|/Users/|[A-Z]:\\|%\w+%|.*\.(ssh|aws|gnupg|kube)/"
    rb"|.*\.config/|(curl|wget|whoami|hostname|uname|ioreg|systeminfo|wmic|nslookup|dig|ping"
    rb"|ifconfig|ipconfig|powershell|bash|sh|cmd)\b",
    re.IGNORECASE,
)
MAX_CODE = 200
#: The nodes ``aliases`` and ``suspicious_calls`` read, picked out of a walk in one pass
#: (the parser makes no subclasses of them).
_IMPORTS = frozenset({ast.Import, ast.ImportFrom})
_CALLS_AND_CLASSES = frozenset({ast.Call, ast.ClassDef})
_READ_BY_CALLS = _IMPORTS | _CALLS_AND_CLASSES
MAX_UNPARSE_NODES = 200
MAX_PARSE_BYTES = 256 * 1024
#: Obfuscated setup.py files have hundreds of thousands of nodes; calls that matter come
#: first in practice, and the signatures cover the rest.
MAX_NODES = 20000
#: What reading a file and fetching or unpacking code look like, as plain words: ``in``
#: finds them in the megabytes a payload unparses to faster than an alternation in ``re``.
_LOCAL_READS = (".read(", "read_text(")
_OPEN = re.compile(r"\bopen\(")
_REMOTE = ("urlopen", "requests", "http", "socket", "decode", "decompress", "loads")


#: Types of the grammar's fields that hold no node (names, numbers, constants).
_SCALAR_TYPES = frozenset({"identifier", "string", "int", "constant"})
#: Types of the nodes that hold nothing and that no reader looks for: expression contexts
#: (``Load``) and operators, a quarter of the nodes of a tree. Walks count them, for their
#: limits, and leave them out.
_LEAF_TYPES = frozenset({"expr_context", "operator", "boolop", "unaryop", "cmpop"})
_LEAVES = (ast.expr_context, ast.operator, ast.boolop, ast.unaryop, ast.cmpop)
_SIGNATURE = re.compile(r"(\w+)\((.*)\)")

#: Adds the children of a node but its leaves (with the ``append`` and ``extend`` of a
#: list), in ``ast.iter_child_nodes`` order, and returns how many leaves it left out.
Expand = Callable[[ast.AST, Callable[[ast.AST], None], Callable[[Iterable[ast.AST]], None]], int]


def _expand_any(
    node: ast.AST, append: Callable[[ast.AST], None], _: Callable[[Iterable[ast.AST]], None]
) -> int:
    """``Expand`` for a class whose grammar line cannot be read: every field is looked at."""
    leaves = 0
    for child in ast.iter_child_nodes(node):
        if isinstance(child, _LEAVES):
            leaves += 1
        else:
            append(child)
    return leaves


def _declared(cls: type[ast.AST]) -> list[tuple[str, str]] | None:
    """The fields of ``cls`` that can hold nodes, each as type and name, from the grammar
    line the class documents (``BinOp(expr left, operator op, expr right)``); None when
    the line cannot be read."""
    if not cls._fields:
        return []
    match = _SIGNATURE.fullmatch((cls.__doc__ or "").strip())
    if match is None or match.group(1) != cls.__name__:
        return None
    declared = [field.split() for field in match.group(2).split(",")]
    if [field[-1] for field in declared] != list(cls._fields):
        return None
    return [(kind, name) for kind, name in declared if kind.rstrip("*?") not in _SCALAR_TYPES]


#: The list fields that hold None among their nodes, as the ``ast`` documentation says:
#: the keys of a dict display (``**``), the defaults of keyword-only arguments (none).
_LISTS_WITH_NONE = frozenset({(ast.Dict, "keys"), (ast.arguments, "kw_defaults")})


def _expander(cls: type[ast.AST]) -> Expand:
    """``Expand`` for ``cls``, compiled from its grammar line: a walk calls it once per
    node, where a loop over the fields with ``getattr`` cost a fifth more. Only the lists
    that may hold None are filtered, and only the optional fields (``expr?``) are tested
    for None: the parser fills the others, and the tests cost a tenth of a walk. What is
    compiled comes from ``ast`` alone."""
    declared = _declared(cls)
    if declared is None:
        return _expand_any
    lines, leaves = [], ["0"]
    for kind, name in declared:
        many = kind.endswith("*")
        if kind.rstrip("*?") in _LEAF_TYPES:
            leaves.append(f"len(node.{name})" if many else "1")
        elif many and (cls, name) in _LISTS_WITH_NONE:
            lines.append(f"extend(filter(None, node.{name}))")
        elif many:
            lines.append(f"extend(node.{name})")
        elif kind.endswith("?"):
            lines.append(f"if (child := node.{name}) is not None: append(child)")
        else:
            lines.append(f"append(node.{name})")
    lines.append(f"return {' + '.join(leaves)}")
    namespace: dict[str, Expand] = {}
    source = "def expand(node, append, extend):\n    " + "\n    ".join(lines)
    exec(source, {}, namespace)  # noqa: S102
    return namespace["expand"]


def _size(cls: type[ast.AST]) -> int | None:
    """How many nodes of ``ast.walk`` a ``cls`` node and what is under it are, when that
    is fixed: for a class holding leaves at most (``Name``: the name and its ``Load``)."""
    declared = _declared(cls)
    if declared is None or any(kind.endswith("*") for kind, _ in declared):
        return None
    if any(kind.rstrip("?") not in _LEAF_TYPES for kind, _ in declared):
        return None
    return 1 + len(declared)


class _Expanders(dict[type[ast.AST], Expand]):
    def __missing__(self, cls: type[ast.AST]) -> Expand:
        return _expand_any


_CLASSES = [cls for cls in vars(ast).values() if isinstance(cls, type) and issubclass(cls, ast.AST)]
#: ``Expand`` by node class.
EXPANDERS = _Expanders((cls, _expander(cls)) for cls in _CLASSES)
#: The classes of nodes with nothing under them but leaves, with their ``_size``:
#: ``Constant``, ``Name``, ``alias``, ``pass``...
SIZES = {cls: size for cls in _CLASSES if (size := _size(cls)) is not None}


def walk(root: ast.AST, limit: int | None = None) -> list[ast.AST]:
    """The nodes under ``root`` in ``ast.walk`` order (breadth first) but the leaves, of
    the first ``limit`` nodes of ``ast.walk``.

    ``ast.walk`` goes through three generators per node, which made it a large part of
    the cost of reading big install scripts; this is the same order from one list.
    """
    return _walk(root, limit)[0]


#: How many nodes ``_walk`` expands between looks at its limit: a look after each node
#: cost a tenth of a walk. The chunk that passes the limit is walked again node by node.
_CHUNK = 256


def _walk(root: ast.AST, limit: int | None = None) -> tuple[list[ast.AST], bool]:
    """``walk``, and whether ``ast.walk`` has ``limit`` nodes or more."""
    if limit is None:
        limit = sys.maxsize
    if limit <= 1:
        return [root][:limit], True
    nodes = [root]
    append = nodes.append
    extend = nodes.extend
    queue = iter(nodes)  # a list's iterator goes on to what is appended as it goes
    leaves = start = 0
    while start < len(nodes):
        size, counted = len(nodes), leaves
        for node in islice(queue, _CHUNK):
            leaves += EXPANDERS[node.__class__](node, append, extend)
        if len(nodes) + leaves >= limit:
            del nodes[size:]  # back to before the chunk
            return _walk_from(nodes, start, counted, limit)
        start += _CHUNK
    return nodes, False


def _walk_from(
    nodes: list[ast.AST], start: int, leaves: int, limit: int
) -> tuple[list[ast.AST], bool]:
    """``_walk`` on from ``nodes``, of which the first ``start`` are expanded (leaving out
    ``leaves``), looking at the limit after each node."""
    append = nodes.append
    extend = nodes.extend
    for node in islice(nodes, start, None):
        leaves += EXPANDERS[node.__class__](node, append, extend)
        if len(nodes) + leaves >= limit:
            return _cut(nodes, node, leaves, limit), True
    return nodes, False


def _cut(nodes: list[ast.AST], last: ast.AST, leaves: int, limit: int) -> list[ast.AST]:
    """``nodes`` without the children of ``last`` (the node expanded last) past ``limit``."""
    children: list[ast.AST] = []
    leaves -= EXPANDERS[last.__class__](last, children.append, children.extend)
    del nodes[len(nodes) - len(children) :]
    seen = len(nodes) + leaves
    for child in ast.iter_child_nodes(last):
        if seen == limit:
            break
        seen += 1
        if not isinstance(child, _LEAVES):
            nodes.append(child)
    return nodes


def _source(node: ast.AST) -> str:
    """Source of a small expression; large ones (embedded payloads) are not worth unparsing."""
    large = _walk(node, MAX_UNPARSE_NODES)[1]
    return "" if large else ast.unparse(node)


def _exec_type(node: ast.Call, aliases: dict[str, str]) -> str | None:
    """What is executed: downloaded code, decoded code, or something else."""
    if not node.args or isinstance(node.args[0], ast.Constant):
        return None
    inner = {
        call_type(name, sub, aliases)
        for sub in walk(node.args[0])
        if isinstance(sub, ast.Call) and (name := resolve(sub.func, aliases))
    }
    if inner & {"network", "download"}:
        return "remote_code_execution"
    if "decode" in inner:
        return "decoded_code_execution"
    return None if _reads_local_file(node.args[0]) else "code_execution"


_TYPED_PREFIXES = (*_PROCESS, *_DOWNLOAD, *_NETWORK, *_DECODE, *_RECON, "webbrowser.")


@lru_cache(maxsize=4096)
def _may_have_type(name: str) -> bool:
    """Whether ``call_type`` can type a call of this name, by the name alone: most calls
    cannot (``setup``, ``os.path.join``), and their names repeat, so the answer is
    remembered."""
    if name.startswith("base64.") and "decode" not in name:
        return False
    return (
        name in _EXEC
        or name in _LOOKUPS
        or name.startswith(_TYPED_PREFIXES)
        or name.endswith(".decrypt")
    )


#: The words (identifiers) of each name ``call_type`` may type, the longest (rarest) first: a
#: call of such a name spells every one in the file (the last perhaps longer: ``os.execv``).
#: With ``class`` for install commands and ``__import__`` for names made of strings, first:
#: large install scripts that are parsed all the same mostly have one.
_TYPED_WORDS = tuple(
    tuple(sorted({word.encode() for word in name.split(".") if word}, key=lambda w: (-len(w), w)))
    for name in (
        "class",
        "__import__",
        *sorted(_EXEC),
        *_TYPED_PREFIXES,
        *sorted(_LOOKUPS),
        "decrypt",
    )
)
_CODING = re.compile(rb"coding[:=][ \t]*utf[-_]?8(?![-\w.])", re.IGNORECASE)


def _identifiers_text(source: bytes) -> bytes | None:
    """The file with its identifiers as the parser reads them (in NFKC normal form, PEP
    3131), in UTF-8, when the parser reads the file as UTF-8; None when unsure (another
    encoding declared in the first two lines, a byte order mark, bytes that are no UTF-8).

    An identifier the parser accepts is a run of ASCII letters, digits, ``_`` and
    non-ASCII characters, with ASCII characters (or nothing) on either side; NFKC changes
    nothing across an ASCII character, so the normal form of the text holds that of each
    identifier."""
    end = source.find(b"\n")
    end = source.find(b"\n", end + 1) if end >= 0 else -1
    head = source if end < 0 else source[:end]
    if source.startswith(b"\xef\xbb\xbf") or head.count(b"coding") != len(_CODING.findall(head)):
        return None
    if source.isascii():
        return source
    try:
        return unicodedata.normalize("NFKC", source.decode()).encode()
    except UnicodeDecodeError:
        return None


def may_call_typed(source: bytes) -> bool:
    """False when ``suspicious_calls`` finds nothing in the file, whatever its tree: no name
    ``call_type`` types has all its words in it, and no ``class`` (an install command) or
    ``__import__`` (a name made of a string) is written. Cheaper than parsing large files:
    an obfuscated install script can take 30 ms."""
    text = _identifiers_text(source)
    if text is None:
        return True
    spelled: dict[bytes, bool] = {}  # each word looked for once: ``os`` is in eight names
    for words in _TYPED_WORDS:
        for word in words:
            if word not in spelled:
                spelled[word] = word in text
            if not spelled[word]:
                break
        else:
            return True
    return False


def call_type(name: str, node: ast.Call, aliases: dict[str, str]) -> str | None:
    if not _may_have_type(name):
        return None  # also base64's encoders, which ``_DECODE``'s ``base64.`` would take
    if name in _EXEC:
        return _exec_type(node, aliases)
    if name == "compile":
        return None
    if name.startswith(_PROCESS):
        detached = any(kw.arg in {"creationflags", "start_new_session"} for kw in node.keywords)
        if detached:
            return "background_process"
        arguments = " ".join(_source(a) for a in node.args[:2])
        return "launches_payload" if _PAYLOAD.search(arguments) else "process"
    if name.startswith(_DOWNLOAD):
        return "download"
    if name.startswith(_NETWORK):
        return "network"
    if name in _LOOKUPS:
        # a DNS query for a name of the code's choosing; of its own host name, identity
        own = any("gethostname" in _source(a) for a in node.args[:1])
        return "recon" if own else "network"
    if name.startswith(_DECODE) or name.endswith(".decrypt"):
        decoded = _decoded_literal(node)
        if decoded is not None and any(marker in decoded for marker in _CODE_MARKERS):
            return "hidden_code"
        return "hidden_string" if decoded and _HIDDEN_TARGET.match(decoded) else "decode"
    if name.startswith(_RECON):
        return "recon"
    if name.startswith("webbrowser."):
        return "browser"
    return None


def _decoded_literal(node: ast.Call) -> bytes | None:
    """The start of a base64 literal argument, decoded."""
    if not node.args or not isinstance(node.args[0], ast.Constant):
        return None
    value = node.args[0].value
    # an escape in the literal can spell a lone surrogate, which strict UTF-8 refuses
    raw = value.encode("utf-8", "surrogatepass") if isinstance(value, str) else value
    if not isinstance(raw, bytes) or len(raw) < 8 or not _B64.match(raw[:400]):
        return None
    head = re.sub(rb"\s", b"", raw)[:400]
    try:
        return base64.b64decode(head[: len(head) // 4 * 4])
    except ValueError:
        return None


def _reads_local_file(argument: ast.expr) -> bool:
    """``exec(open("pkg/version.py").read())`` is how many setup.py files read a version."""
    text = _source(argument)
    reads = any(word in text for word in _LOCAL_READS) or (
        "open(" in text and _OPEN.search(text) is not None
    )
    return reads and not any(word in text for word in _REMOTE)


def aliases(nodes: Iterable[ast.AST]) -> dict[str, str]:
    """Local names of imported modules and functions: ``sp`` -> ``subprocess``."""
    found: dict[str, str] = {}
    for node in [node for node in nodes if node.__class__ in _IMPORTS]:
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.asname:
                    found[alias.asname] = alias.name
                else:
                    top = alias.name.split(".")[0]
                    found.setdefault(top, top)
        elif isinstance(node, ast.ImportFrom):
            for alias in node.names:
                found[alias.asname or alias.name] = f"{node.module or ''}.{alias.name}"
    return found


def resolve(func: ast.expr, aliases: dict[str, str]) -> str | None:
    """``sp.Popen`` -> ``subprocess.Popen``; ``__import__("os").system`` -> ``os.system``.

    Asked of every call: a bare name and a name's attribute (most calls) are made without
    a list to join. ``__class__ is``: the parser makes no subclasses."""
    if func.__class__ is ast.Name:
        return aliases.get(func.id, func.id)
    if func.__class__ is ast.Attribute and (base := func.value).__class__ is ast.Name:
        return f"{aliases.get(base.id, base.id)}.{func.attr}"
    parts: list[str] = []
    while isinstance(func, ast.Attribute):
        parts.append(func.attr)
        func = func.value
    if isinstance(func, ast.Name):
        parts.append(aliases.get(func.id, func.id))
    elif (
        isinstance(func, ast.Call)
        and isinstance(func.func, ast.Name)
        and func.func.id == "__import__"
        and func.args
        and isinstance(func.args[0], ast.Constant)
        and isinstance(func.args[0].value, str)
    ):
        parts.append(func.args[0].value)
    else:
        return None
    return ".".join(reversed(parts))


def parse(source: bytes) -> ast.Module | None:
    """The module, or None when it does not parse or is too large to be worth it (the
    signatures still cover it)."""
    if len(source) > MAX_PARSE_BYTES:
        return None
    try:
        with collector_paused():
            return ast.parse(source)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return None


def parsed(source: bytes) -> ast.Module | None:
    """``parse``, remembered for the files that several rules read in turn (``setup.py`` above
    all: the install-time calls, the developer-only commands, what setup reaches). The trees
    are shared, so no rule may change one. A file too large to parse is not hashed for the
    cache."""
    return None if len(source) > MAX_PARSE_BYTES else _parsed(source)


@per_archive(maxsize=32)
def _parsed(source: bytes) -> ast.Module | None:
    return parse(source)


@per_archive(maxsize=32)
def _walked(tree: ast.Module) -> tuple[tuple[ast.AST, ...], bool]:
    nodes, cut = _walk(tree, MAX_NODES)
    return tuple(nodes), cut


def nodes(tree: ast.Module) -> tuple[ast.AST, ...]:
    """``walk(tree, MAX_NODES)``, remembered with the trees of ``parsed`` for the rules that
    walk a tree in turn (the install-time calls, the developer-only commands, what setup
    reaches)."""
    return _walked(tree)[0]


def nodes_cut(tree: ast.Module) -> bool:
    """Whether ``nodes(tree)`` stopped at ``MAX_NODES``: then it holds only part of the tree."""
    return _walked(tree)[1]


@per_archive(maxsize=32)
def constants(tree: ast.Module) -> dict[str, str]:
    """``folding.constants`` of ``nodes(tree)``, remembered for the two readers of a file's
    built strings (names reached through ``__import__``/``getattr``, commands started)."""
    return folding.constants(nodes(tree))


@per_archive(maxsize=32)
def calls_and_imports(tree: ast.Module) -> tuple[ast.AST, ...]:
    """The calls, class definitions and imports of ``nodes(tree)``, in its order: all that
    ``suspicious_calls`` and ``aliases`` read (about a tenth of the nodes), picked once for
    the rules that ask in turn instead of by each from the whole walk."""
    return tuple([node for node in nodes(tree) if node.__class__ in _READ_BY_CALLS])


def segment(lines: list[bytes], node: ast.expr) -> str:
    """The call's source, from its first line only (``ast.get_source_segment`` is quadratic)."""
    line = lines[node.lineno - 1] if node.lineno <= len(lines) else b""
    end = node.end_col_offset if node.end_lineno == node.lineno else None
    return line[node.col_offset : end][: MAX_CODE * 2].decode("utf-8", "replace")


def suspicious_calls(tree: ast.Module, source: bytes) -> list[Call]:
    """Calls that spawn processes, reach the network, execute or decode code, read identity."""
    picked = calls_and_imports(tree)
    local_names = aliases(picked)
    lines: list[bytes] = []
    found: list[Call] = []
    in_hook: set[int] = set()
    dynamic: _Dynamic | bool | None = None  # worked out at the first call left untyped
    for node in picked:
        if node.__class__ in _IMPORTS:
            continue
        if isinstance(node, ast.ClassDef):
            bases = {resolve(b, local_names) or "" for b in node.bases}
            if {b.rsplit(".", 1)[-1] for b in bases} & _INSTALL_BASES:
                in_hook.update(map(id, walk(node)))
                found.append(
                    Call(
                        "class",
                        "install_command_override",
                        node.lineno,
                        f"class {node.name}({', '.join(sorted(bases))})",
                    )
                )
            continue
        assert isinstance(node, ast.Call)
        name = resolve(node.func, local_names)
        kind = call_type(name, node, local_names) if name else None
        if kind is None and dynamic is not False and node.func.__class__ in _DYNAMIC_FORMS:
            dynamic = dynamic or _Dynamic.of(tree, source)
            if isinstance(dynamic, _Dynamic):
                name = dynamic.resolve(node.func, local_names) or name
                kind = call_type(name, node, local_names) if name else None
        if kind == "code_execution":
            kind = traced_exec_type(node, tree, local_names) or kind
        if kind in _SHELL_TYPES and node.args and node.args[0].__class__ in _BUILT_STRINGS:
            command = folding.folded(node.args[0], constants(tree))
            if command is not None and _PIPE_TO_SHELL.search(command):
                kind = "remote_code_execution"
        if name and kind:
            lines = lines or source.split(b"\n")
            code = shorten(segment(lines, node), MAX_CODE)
            found.append(Call(name, kind, node.lineno, code, id(node) in in_hook))
    return found


_DOCUMENTED = (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)


@per_archive(maxsize=32)
def docstring_lines(tree: ast.Module) -> tuple[tuple[int, int], ...]:
    """The first and last lines of the module's docstrings: the string a module, class or
    function opens with, which Python keeps as ``__doc__`` and never runs."""
    spans = []
    for node in nodes(tree):
        if isinstance(node, _DOCUMENTED) and node.body:
            first = node.body[0]
            if (
                isinstance(first, ast.Expr)
                and isinstance(first.value, ast.Constant)
                and isinstance(first.value.value, str)
            ):
                spans.append((first.lineno, first.end_lineno or first.lineno))
    return tuple(spans)


#: How far ``traced_exec_type`` follows names back, and how many bindings it reads: enough
#: for ``r = urlopen(u)``, ``src = r.read()``, ``exec(src)``, and for a name rebound by
#: hundreds of decoys around the payload, bounded against crafted modules binding one name
#: thousands of times (the walk's node budget bounds the cost in any case). What the
#: bindings of a set of names hold is read once per module, and at most
#: ``MAX_TRACED_NODES`` nodes are walked for it in all: thousands of ``exec(x)`` calls of
#: names bound to large expressions cost no more.
_TRACE_STEPS = 2
_TRACE_BINDINGS = 512
MAX_TRACED_NODES = 50_000
_DECODING_TYPES = frozenset({"decode", "hidden_code", "hidden_string"})


@dataclass
class _Reading:
    """The call types, XORs and names met in expressions."""

    types: set[str | None] = field(default_factory=set)
    xor: bool = False
    names: list[str] = field(default_factory=list)
    walked: int = 0


def _read(expressions: Iterable[ast.AST], aliases: dict[str, str], seen: set[str]) -> _Reading:
    reading = _Reading()
    for expression in expressions:
        met = walk(expression, MAX_UNPARSE_NODES)
        reading.walked += len(met)
        for sub in met:
            if isinstance(sub, ast.Call) and (name := resolve(sub.func, aliases)):
                reading.types.add(call_type(name, sub, aliases))
            elif (key := _bound_key(sub)) is not None and key not in seen:
                seen.add(key)
                reading.names.append(key)
            elif isinstance(sub, ast.BinOp) and isinstance(sub.op, ast.BitXor):
                reading.xor = True
    return reading


@dataclass
class _Traces:
    """What the bindings of sets of names of one module hold, and the nodes left to walk."""

    held: dict[frozenset[str], tuple[frozenset[str | None], bool]] = field(default_factory=dict)
    budget: int = MAX_TRACED_NODES


@per_archive(maxsize=32)
def _traces(tree: ast.Module) -> _Traces:
    return _Traces()


def _held(
    names: list[str], tree: ast.Module, aliases: dict[str, str]
) -> tuple[frozenset[str | None], bool]:
    """The call types and XORs in what ``names`` are bound to, ``_TRACE_STEPS`` back."""
    traces = _traces(tree)
    key = frozenset(names)
    if key in traces.held:
        return traces.held[key]
    bound = bindings(tree)
    types: set[str | None] = set()
    xor = False
    seen = set(names)
    for _ in range(_TRACE_STEPS):
        frontier = list(islice(_bound_values(names, bound), _TRACE_BINDINGS))
        if not frontier or traces.budget <= 0:
            break
        reading = _read(frontier, aliases, seen)
        traces.budget -= reading.walked
        types |= reading.types
        xor = xor or reading.xor
        names = reading.names
    traces.held[key] = frozenset(types), xor
    return traces.held[key]


def traced_exec_type(node: ast.Call, tree: ast.Module, aliases: dict[str, str]) -> str | None:
    """What ``exec(src)`` runs when ``src`` is a name: the values bound to the names in the
    argument, and to the names in those, two steps back. A download among them makes it
    ``remote_code_execution``; a decoding (or an XOR of numbers, the hand-made cipher)
    ``decoded_code_execution``."""
    if not node.args:
        return None
    reading = _read([node.args[0]], aliases, set())
    held, xor = _held(reading.names, tree, aliases)
    types = reading.types | held
    if types & {"network", "download", "remote_code_execution"}:
        return "remote_code_execution"
    if types & _DECODING_TYPES or reading.xor or xor or "decoded_code_execution" in types:
        return "decoded_code_execution"
    return None


def _bound_key(node: ast.AST) -> str | None:
    """The key ``bindings`` files a name or an attribute under: ``src``, or ``.src`` for
    ``self.src`` and ``state.src`` alike (objects are not told apart)."""
    if node.__class__ is ast.Name:
        return node.id
    if node.__class__ is ast.Attribute:
        return "." + node.attr
    return None


def _bound_values(names: list[str], bound: dict[str, tuple[ast.AST, ...]]) -> Iterator[ast.AST]:
    """The values bound to each of ``names``: all of them, or the first and the last
    ``_TRACE_BINDINGS // 2`` of a name bound more often, so that junk bound to a name
    hundreds of times before (or after) the payload does not push it out."""
    half = _TRACE_BINDINGS // 2
    for name in names:
        values = bound.get(name, ())
        yield from values if len(values) <= _TRACE_BINDINGS else (*values[:half], *values[-half:])


def _pairs(node: ast.AST) -> list[tuple[ast.AST | None, ast.AST | None]]:
    """(target, value) of a statement that binds, element by element where a tuple or list
    is unpacked into one of the same length (``key, src = k, fetch()``)."""
    if isinstance(node, ast.Assign):
        pairs: list[tuple[ast.AST | None, ast.AST | None]] = [(t, node.value) for t in node.targets]
    elif isinstance(node, ast.AnnAssign | ast.AugAssign | ast.NamedExpr):
        pairs = [(node.target, node.value)]
    elif isinstance(node, ast.withitem):
        pairs = [(node.optional_vars, node.context_expr)]
    elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
        # a function's name holds what it returns: ``exec(_load())``
        returns = [s for s in _outer_statements(node.body) if isinstance(s, ast.Return)]
        return [(ast.Name(node.name), r.value) for r in returns]
    else:
        return []
    unpacked: list[tuple[ast.AST | None, ast.AST | None]] = []
    for target, value in pairs:
        if isinstance(target, ast.Tuple | ast.List):
            same = isinstance(value, ast.Tuple | ast.List) and len(value.elts) == len(target.elts)
            values = value.elts if same else [value] * len(target.elts)  # type: ignore[union-attr]
            unpacked.extend(zip(target.elts, values, strict=True))
        else:
            unpacked.append((target, value))
    return unpacked


def _outer_statements(body: list[ast.stmt]) -> Iterator[ast.stmt]:
    """A function's statements, and those one block down (``try``, ``if``, ``with``)."""
    for statement in body:
        yield statement
        for field_name in ("body", "orelse", "finalbody"):
            yield from getattr(statement, field_name, ())
        for handler in getattr(statement, "handlers", ()):
            yield from handler.body


@per_archive(maxsize=32)
def bindings(tree: ast.Module) -> dict[str, tuple[ast.AST, ...]]:
    """The values bound to each name anywhere in the module (assignments, annotated and
    augmented ones, ``:=``, ``with ... as name``, tuples unpacked, what a function returns,
    attributes as ``.name``), scopes merged: a payload is read into a name a few lines
    above where it runs, in one function or at the top."""
    found: dict[str, list[ast.AST]] = {}
    for node in nodes(tree):
        if node.__class__ not in _BINDING_NODES:
            continue
        for target, value in _pairs(node):
            if value is not None and target is not None and (key := _bound_key(target)):
                found.setdefault(key, []).append(value)
    return {name: tuple(values) for name, values in found.items()}


_BINDING_NODES = frozenset(
    {
        ast.Assign,
        ast.AnnAssign,
        ast.AugAssign,
        ast.NamedExpr,
        ast.withitem,
        ast.FunctionDef,
        ast.AsyncFunctionDef,
    }
)


#: A process started with a command the file builds (``"{} -s {} | {}".format(...)``) is
#: read folded: a download piped into a shell is remote code execution, however spelled.
_SHELL_TYPES = frozenset({"process", "background_process"})
_BUILT_STRINGS = frozenset({ast.Name, ast.BinOp, ast.JoinedStr, ast.Call})
_PIPE_TO_SHELL = re.compile(
    r"\b(curl|wget)\s[^\n|;]{0,200}\|\s*(sudo\s+)?(/\S*/)?((ba|z|da|k)?sh|python[0-9.]*)\b"
)

#: Ways to reach a module or attribute by a computed name (see ``_Dynamic``), and the
#: forms of the calls made through one (``getattr(m, n)(...)``, ``m.f(...)``).
_DYNAMIC_FORMS = frozenset({ast.Call, ast.Attribute})
_DYNAMIC_MARKERS = (b"__import__", b"getattr", b"import_module")
_BUILTINS = ("builtins.", "__builtins__.")


class _Dynamic:
    """Modules and attributes named by strings the file builds (``folding``):
    ``m = __import__("%s%s" % ("sub", "process"))`` then ``getattr(m, "Po" + "pen")(...)``
    is ``subprocess.Popen``. Worked out once per file, and only for files that reach a
    name through ``__import__``, ``getattr`` or ``import_module`` at all."""

    def __init__(self, constants: dict[str, str], modules: dict[str, str]) -> None:
        self._constants = constants
        self._modules = modules

    @classmethod
    def of(cls, tree: ast.Module, source: bytes) -> _Dynamic | bool:
        if not any(marker in source for marker in _DYNAMIC_MARKERS):
            return False
        found = cls(constants(tree), {})
        for node in nodes(tree):
            if isinstance(node, ast.Assign) and len(node.targets) == 1:
                target = node.targets[0]
                if isinstance(target, ast.Name) and (module := found._module(node.value)):
                    found._modules[target.id] = module
        return found

    def resolve(self, func: ast.expr, aliases: dict[str, str]) -> str | None:
        """The dotted name of a call reached through computed names, builtins dropped."""
        name = self._name(func, aliases)
        if name is None:
            return None
        return name.removeprefix(_BUILTINS[0]).removeprefix(_BUILTINS[1])

    def _name(self, func: ast.expr, aliases: dict[str, str]) -> str | None:
        if isinstance(func, ast.Call) and _is_call_of(func, "getattr") and len(func.args) in (2, 3):
            base = self._module(func.args[0]) or self._alias(func.args[0], aliases)
            attribute = folding.folded(func.args[1], self._constants)
            return f"{base}.{attribute}" if base and attribute else None
        if isinstance(func, ast.Attribute):
            base = self._module(func.value) or (
                self._modules.get(func.value.id) if isinstance(func.value, ast.Name) else None
            )
            return f"{base}.{func.attr}" if base else None
        return None

    def _module(self, node: ast.expr) -> str | None:
        """``__import__(s)`` or ``importlib.import_module(s)`` of a foldable ``s``, or a
        name bound to one."""
        if isinstance(node, ast.Name):
            return self._modules.get(node.id)
        if (
            isinstance(node, ast.Call)
            and node.args
            and (_is_call_of(node, "__import__") or _is_call_of(node, "import_module"))
        ):
            return folding.folded(node.args[0], self._constants)
        return None

    def _alias(self, node: ast.expr, aliases: dict[str, str]) -> str | None:
        return aliases.get(node.id, node.id) if isinstance(node, ast.Name) else None


def _is_call_of(node: ast.Call, name: str) -> bool:
    func = node.func
    return (isinstance(func, ast.Name) and func.id == name) or (
        isinstance(func, ast.Attribute) and func.attr == name
    )
