"""JavaScript structure with tree-sitter: the calls an install script makes.

Only files that npm runs at install time are parsed (they are small); the rest of a
package is left to the signatures, so minified bundles never reach the parser.
"""

from __future__ import annotations

import re
from functools import cache

import tree_sitter
import tree_sitter_javascript

from threatfeed.analysis.calls import Call
from threatfeed.analysis.text import line_of, shorten

MAX_PARSE_BYTES = 512 * 1024
MAX_CODE = 200
#: Callees longer than this are chains of calls (``_callee``).
MAX_CALLEE = 256
#: Bytes read for an excerpt of ``MAX_CODE`` characters (``_excerpt``).
EXCERPT_WINDOW = 8 * MAX_CODE
_PROCESS = frozenset({"exec", "execSync", "spawn", "spawnSync", "execFile", "execFileSync", "fork"})
_NETWORK = re.compile(
    r"^(https?\.(get|request)|fetch|axios(\.\w+)?|net\.(connect|createConnection)|"
    r"dns\.\w+|request|got(\.\w+)?|needle|XMLHttpRequest|\w+\.(get|post)Async)$"
)
_RECON = re.compile(r"^os\.(hostname|userInfo|homedir|networkInterfaces)$")
_EVAL = frozenset({"eval", "Function", "vm.runInThisContext", "vm.runInNewContext", "vm.Script"})
_STRING_NODES = frozenset({"string", "template_string"})
_REQUIRE = re.compile(r"require\(\s*['\"](?:node:)?([\w-]+)['\"]\s*\)")
_DETACHED = re.compile(rb"detached\s*:\s*true")
_ENV_ALIAS = re.compile(rb"\b(\w+)\s*=\s*process(\.env\b(?![.\[])|\[[^\]\n]{1,40}\](?!\s*[.\[]))")
#: The name a serialiser is handed, whole (the lookahead lets a match start inside it:
#: ``JSON.stringify(JSON.stringify(env))`` hands over ``JSON`` and ``env``).
_SERIALISED = re.compile(rb"(?:JSON|querystring)\.stringify\(\s*(?=(\w+))")
_REQUIRE_ALIAS = re.compile(
    rb"\b(?:const|let|var)\s+(\w+)\s*=\s*require\(\s*['\"](?:node:)?([\w-]+)['\"]\s*\)"
)


@cache
def _parser() -> tree_sitter.Parser:
    return tree_sitter.Parser(tree_sitter.Language(tree_sitter_javascript.language()))


def _call_type(callee: str, node: tree_sitter.Node, uses_child_process: bool) -> str | None:
    args = node.child_by_field_name("arguments")
    first = args.named_children[0] if args is not None and args.named_children else None
    last = callee.rsplit(".", 1)[-1]
    if callee in _EVAL or callee.endswith(".eval"):
        return None if first is None or first.type in _STRING_NODES else "code_execution"
    if last in _PROCESS and uses_child_process:
        detached = args is not None and _DETACHED.search(args.text or b"")
        return "background_process" if detached else "process"
    if _NETWORK.match(callee):
        return "network"
    if callee == "atob" or (
        callee == "Buffer.from"
        and args is not None
        and re.search(rb"['\"](base64|hex)['\"]\s*\)?$", args.text or b"")
    ):
        return "decode"
    if _RECON.match(callee):
        return None if callee == "os.homedir" and _roots_a_path(node) else "recon"
    return None


def _roots_a_path(node: tree_sitter.Node) -> bool:
    """Whether a call is the first argument of ``path.join``/``path.resolve``: the home
    folder as the root of a cache or config path, not a fact about the machine."""
    arguments = node.parent
    if arguments is None or arguments.type != "arguments" or arguments.named_children[0] != node:
        return False
    call = arguments.parent
    function = call.child_by_field_name("function") if call is not None else None
    return function is not None and (function.text or b"").endswith((b"path.join", b"path.resolve"))


def suspicious_calls(source: bytes) -> list[Call]:
    """Calls spawning processes, reaching the network, evaluating or decoding code."""
    source = source[:MAX_PARSE_BYTES]
    tree = _parser().parse(source)
    uses_child_process = b"child_process" in source
    modules = {m.group(1).decode(): m.group(2).decode() for m in _REQUIRE_ALIAS.finditer(source)}
    found: list[Call] = []
    stack = [tree.root_node]
    while stack:
        node = stack.pop()
        stack.extend(node.children)
        if node.type == "call_expression":
            function = node.child_by_field_name("function")
        elif node.type == "new_expression":
            function = node.child_by_field_name("constructor")
        else:
            continue
        if function is None or function.type not in {"identifier", "member_expression"}:
            continue
        callee = _callee(source, function)
        head, dot, rest = callee.partition(".")
        if dot and head in modules:
            callee = f"{modules[head]}.{rest}"  # const goto = require("https"); goto.request()
        kind = _call_type(callee, node, uses_child_process)
        if kind:
            found.append(Call(callee, kind, node.start_point[0] + 1, _excerpt(source, node)))
    found += _environment_dumps(source)
    found.sort(key=lambda call: call.line)
    return found


def _callee(source: bytes, function: tree_sitter.Node) -> str:
    """The called name, blanks removed (``a . b`` is ``a.b``). In a chain (``a.b().c()``)
    each callee holds every call before it: past ``MAX_CALLEE`` bytes only its last name is
    kept, which is all ``_call_type`` reads of a name that long (the other names it knows
    are short), and a chain of thousands of calls costs no quadratic time."""
    member = function.child_by_field_name("property")
    if function.end_byte - function.start_byte > MAX_CALLEE and member is not None:
        return "…." + (member.text or b"").decode("utf-8", "replace")
    text = source[function.start_byte : function.end_byte].decode("utf-8", "replace")
    return _REQUIRE.sub(r"\1", re.sub(r"\s+", "", text))


def _excerpt(source: bytes, node: tree_sitter.Node) -> str:
    """``shorten`` of the call's code, read from a window at its start (a call ending a
    chain of thousands spans all of them); from the whole call only if blanks filled the
    window."""
    end = min(node.end_byte, node.start_byte + EXCERPT_WINDOW)
    code = source[node.start_byte : end].decode("utf-8", "replace")
    if end < node.end_byte and len(" ".join(code.split())) <= MAX_CODE:
        code = source[node.start_byte : node.end_byte].decode("utf-8", "replace")
    return shorten(code, MAX_CODE)


def _environment_dumps(source: bytes) -> list[Call]:
    """``data = process.env`` later serialised: the whole environment (CI secrets) leaves.

    The serialised names are found in one pass: a search of the whole file for each alias
    made a file of thousands of them cost minutes."""
    aliases = list(_ENV_ALIAS.finditer(source))
    if not aliases:
        return []
    serialised = {match.group(1) for match in _SERIALISED.finditer(source)}
    found = []
    for match in aliases:
        if match.group(1) in serialised:
            code = match.group().decode("utf-8", "replace")
            found.append(Call("process.env", "environment", line_of(source, match.start()), code))
    return found
