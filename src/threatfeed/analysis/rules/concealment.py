"""Code kept out of sight: in archives named like data, in dependencies installed behind
the resolver's back, in instructions for AI agents, behind a hijacked elevation prompt."""

from __future__ import annotations

import ast
import base64
import re
from itertools import islice

from threatfeed.analysis import python_ast
from threatfeed.analysis.model import Indicator, Signal
from threatfeed.analysis.package import Package, SourceFile
from threatfeed.analysis.rules.base import indicator, signal_at
from threatfeed.analysis.rules.install import install_calls
from threatfeed.analysis.rules.signature_rules import signature_rule

privilege_escalation_rule = signature_rule(
    "privilege_escalation_rule",
    "Elevates without a prompt by hijacking an auto-elevating Windows program (fodhelper...).",
)
agent_instruction_injection_rule = signature_rule(
    "agent_instruction_injection_rule",
    "An agent tool whose description hides orders to read secrets or to keep them from the user.",
)

#: What the disguise claims to be: certificates and keys, bytecode, typing markers, text,
#: pictures, fonts, native libraries. Formats that are archives by design under names of
#: their own (``.whl``, ``.egg``, ``.jar``, office documents, application containers such
#: as Enthought's ``.runtime``) claim nothing else and do not count.
_DISGUISES = re.compile(
    r"\.(crt|cer|pem|key|der|p12|pyc|pyo|typed|txt|json|ya?ml|cfg|ini|toml|md|rst|csv|xml"
    r"|html?|css|log|png|jpe?g|gif|ico|bmp|svg|ttf|otf|woff2?|so|dll|pyd|dylib|mo|po)$",
    re.IGNORECASE,
)
_CODE = (".py", ".pyw", ".js", ".cjs", ".mjs")
DISGUISED_ARCHIVE_WEIGHT = 17.0


def disguised_code_archive_rule(package: Package) -> Indicator | None:
    """An archive of modules shipped under a name that is not an archive's (a zip of ``.py``
    files named ``server.crt`` or ``__pycache__/x.pyc``): ``zipimport`` and ``sys.path`` load
    modules from it whatever its name, while reviewers and scanners that do not open
    nested archives see a certificate or bytecode.

    Evidence: ``[{"file": str, "modules": [str]}]``, the outer file and the modules in it.
    """
    found: dict[str, list[str]] = {}
    signals: dict[str, Signal] = {}
    for source in package.files:
        outer, separator, inner = source.path.partition("!/")
        if not separator or not _DISGUISES.search(outer) or not inner.endswith(_CODE):
            continue
        found.setdefault(outer, []).append(inner)
        signals.setdefault(
            outer,
            Signal(
                outer,
                None,
                f"archive of code named {outer.rpartition('/')[2]}",
                DISGUISED_ARCHIVE_WEIGHT,
                source.context,
                frozenset({"obfuscation"}),
                "disguised_archive",
            ),
        )
    evidence = [{"file": outer, "modules": sorted(inner)[:20]} for outer, inner in found.items()]
    return indicator("disguised_code_archive_rule", evidence, signals.values())


#: ``pip install x``, ``["pip", "install", x]``, ``[sys.executable, "-m", "pip", "install"]``.
_PIP_INSTALL = re.compile(r"""\bpip[\d.]*(?:\.exe)?['"]?\s*,?\s*['"]?\s*install\b""")
#: ``pip install -r requirements.txt``: build requirements listed in a file of the archive,
#: where a reviewer reads them (fpylll's setup.py); named packages are what hides.
_REQUIREMENTS_FILE = re.compile(r"""['"\s](?:-r|--requirement)['"\s=]""")
PACKAGE_INSTALL_WEIGHT = 6.0


def install_time_package_install_rule(package: Package) -> Indicator | None:
    """Install-time code (``setup.py``, ``.pth``) that runs ``pip install`` itself: packages
    installed that way are in no metadata, so no lock file, resolver, mirror policy or
    scanner sees them, which is how a clean-looking package pulls its payload.

    Release helpers of maintainers (``if sys.argv[-1] == "publish": os.system("pip install
    twine")``) run only for that command, not on install, and are not counted.
    Evidence: ``[{"file": str, "code": str}]``.
    """
    evidence = []
    signals = []
    for source in package.at_install:
        if source.kind != "python":
            continue
        calls = [
            call
            for call in install_calls(source)
            if call.type in {"process", "background_process"}
            and _PIP_INSTALL.search(call.code)
            and not _REQUIREMENTS_FILE.search(call.code)
        ]
        if not calls:
            continue
        guarded = _developer_command_lines(source.data)
        for call in calls:
            if call.line in guarded:
                continue
            evidence.append({"file": source.path, "code": call.code})
            signals.append(
                Signal(
                    source.path,
                    call.line,
                    call.code,
                    PACKAGE_INSTALL_WEIGHT,
                    source.context,
                    key="pip_install",
                )
            )
    return indicator("install_time_package_install_rule", evidence[:20], signals)


#: ``setup.py`` commands that run when a package is installed (or built to be installed).
_INSTALL_COMMANDS = frozenset(
    {
        "install",
        "develop",
        "egg_info",
        "bdist_wheel",
        "bdist_egg",
        "build",
        "build_ext",
        "build_py",
        "dist_info",
        "editable_wheel",
    }
)


def _names_argv(test: ast.expr) -> bool:
    """Whether ``ast.dump(test)`` spells ``argv``, without the dump (which took more than
    half of ``_developer_command_lines``). The dump spells the class and field names, none
    with ``argv`` in it, and in quotes the names of the expression's names, attributes,
    keywords and parameters and the ``repr`` of its constants (``'\\x1argv'`` spells it)."""
    for node in python_ast.walk(test):
        if isinstance(node, ast.Constant):
            text = repr(node.value)
        elif isinstance(node, ast.Name):
            text = node.id
        elif isinstance(node, ast.Attribute):
            text = node.attr
        elif isinstance(node, (ast.keyword, ast.arg)):
            text = node.arg or ""
        else:
            continue
        if "argv" in text:
            return True
    return False


def _developer_command_lines(data: bytes) -> set[int]:
    """Lines under ``if`` tests on ``sys.argv`` that name only commands no installer runs
    (``publish``, ``release``, ``upload``)."""
    tree = python_ast.parsed(data)
    if tree is None:
        return set()
    lines: set[int] = set()
    for node in python_ast.nodes(tree):
        if not isinstance(node, ast.If) or not _names_argv(node.test):
            continue
        words = {
            sub.value
            for sub in python_ast.walk(node.test)
            if isinstance(sub, ast.Constant) and isinstance(sub.value, str)
        }
        if words and not words & _INSTALL_COMMANDS:
            first = node.body[0].lineno
            last = node.body[-1].end_lineno or first
            lines.update(range(first, last + 1))
    return lines


#: Where stolen data goes: messenger bots and webhooks, request catchers, OAST hosts.
_EXFIL_URL = re.compile(
    r"api\.telegram\.org/bot|discord(?:app)?\.com/api/(?:v\d+/)?webhooks/|hooks\.slack\.com/"
    r"|\bwebhook\.site\b|pipedream\.net|requestbin\.|hookbin\.com|\boast\.(?:fun|me|pro|live|site|online)"
    r"|\binteract\.sh\b|\bburpcollaborator\.net\b|\.hooks\.webhookrelay\.com"
)
_BASE64_URL = re.compile(rb"""["']((?:aHR0cHM6Ly|aHR0cDovL)[A-Za-z0-9+/]{6,2000}={0,2})["']""")
HIDDEN_EXFIL_WEIGHT = 12.0


def encoded_exfiltration_endpoint_rule(package: Package) -> Indicator | None:
    """A messenger bot, webhook or request-catcher URL spelled in base64
    (``'aHR0cHM6Ly9hcGkudGVsZWdyYW0ub3JnL2JvdD...'``): the address a stealer reports to,
    hidden from readers and from URL scanners, even when another module does the sending.

    Only files where the signatures saw a base64 URL are decoded. Evidence:
    ``[{"file": str, "urls": [str]}]``, the decoded URLs.
    """
    evidence = []
    signals = []
    for source in package.signed:
        if not any(hit.capability == "hidden_url" for hit in source.signatures):
            continue
        urls = []
        for match in _BASE64_URL.finditer(source.data):
            literal = match.group(1)
            try:
                url = base64.b64decode(literal + b"=" * (-len(literal) % 4)).decode("utf-8")
            except (ValueError, UnicodeDecodeError):
                continue
            if _EXFIL_URL.search(url):
                urls.append(url[:200])
                if len(urls) == 1:
                    signals.append(
                        signal_at(
                            source,
                            match.start(1),
                            len(literal),
                            HIDDEN_EXFIL_WEIGHT,
                            "encoded_exfiltration_endpoint",
                            "exfil",
                        )
                    )
        if urls:
            evidence.append({"file": source.path, "urls": urls[:10]})
    return indicator("encoded_exfiltration_endpoint_rule", evidence, signals)


#: The files coding agents (Claude Code, Codex, Gemini CLI, Cursor, Windsurf, Cline,
#: Copilot) read as standing orders when they sit in the project being worked on: a
#: package that ships one, or a scaffold that copies one into the user's project, speaks
#: to the agent.
_AGENT_FILES = frozenset(
    {
        "agents.md",
        "claude.md",
        "gemini.md",
        ".cursorrules",
        ".windsurfrules",
        ".clinerules",
        "copilot-instructions.md",
    }
)
#: Unicode tag characters (U+E0020-E007E) spell ASCII that no editor or review shows, and
#: models read: "ASCII smuggling". A flag emoji carries at most six.
_TAG_TEXT = re.compile("[\U000e0020-\U000e007e]{8,}")
#: An order to act without the user knowing or agreeing...
_UNASKED = re.compile(
    r"\b(?:do not|don't|never|without)\s+(?:ask(?:ing)?|prompt(?:ing)?|confirm(?:ing)?"
    r"|tell(?:ing)?|notify(?:ing)?|inform(?:ing)?|mention(?:ing)?)\b[^\n]{0,40}?"
    r"\b(?:user|permission|confirmation|approval)",
    re.IGNORECASE,
)
#: ...to run something fetched from the network, written there or in the npm script it names.
_FETCHED = re.compile(
    r"\b(?:curl|wget|iwr|Invoke-WebRequest|Invoke-Expression)\b"
    r"(?![^\n]{0,60}\b(?:localhost|127\.0\.0\.1)\b)|\|\s*(?:ba|z)?sh\b"
)
_NPM_RUN = re.compile(r"\bnpm\s+run(?:-script)?\s+([\w:.-]+)")
HIDDEN_ORDERS_WEIGHT = 17.0
UNASKED_DOWNLOAD_WEIGHT = 12.0


def _agent_file(rel: str) -> bool:
    folder, _, name = rel.lower().rpartition("/")
    return name in _AGENT_FILES or folder.endswith(".cursor/rules")


#: How far from the order the command may stand (its paragraph), and how many npm scripts
#: it may name that are looked at.
_ORDER_REACH = 400
MAX_NAMED_SCRIPTS = 16


def _runs_fetched_code(text: str, scripts: object) -> bool:
    """Whether ``text`` (the order's paragraph) runs code fetched from the network, itself
    or through an npm script it names (each script read once)."""
    if _FETCHED.search(text):
        return True
    if not isinstance(scripts, dict):
        return False
    named = list(dict.fromkeys(_NPM_RUN.findall(text)))[:MAX_NAMED_SCRIPTS]
    return any(
        isinstance(command := scripts.get(name), str) and _FETCHED.search(command) for name in named
    )


def poisoned_agent_instructions_rule(package: Package) -> Indicator | None:
    """Instructions for coding agents that the user is not meant to see or approve: text
    hidden in Unicode tag characters, or an order to run code fetched from the network
    without asking (directly, or through the npm script it names).

    Evidence: ``[{"file": str, "technique": "hidden text" | "unasked download",
    "text": str}]``. Counted as code the agent runs (0.6): hidden orders flag alone.
    """
    evidence = []
    signals = []
    for source in package.files:
        if not _agent_file(source.rel):
            continue
        text = source.text
        if hidden := _TAG_TEXT.search(text):
            spelled = "".join(chr(ord(c) - 0xE0000) for c in hidden.group(0)[:300])
            evidence.append({"file": source.path, "technique": "hidden text", "text": spelled})
            signals.append(_agent_signal(source, spelled, HIDDEN_ORDERS_WEIGHT, "hidden"))
        if order := _unasked_download(text, package.manifest.get("scripts")):
            evidence.append({"file": source.path, "technique": "unasked download", "text": order})
            signals.append(_agent_signal(source, order, UNASKED_DOWNLOAD_WEIGHT, "unasked"))
    return indicator("poisoned_agent_instructions_rule", evidence, signals)


#: Orders read per file: harmless ones in front do not hide the one that fetches.
MAX_ORDERS = 16


def _unasked_download(text: str, scripts: object) -> str | None:
    """The first order to act unasked whose paragraph runs fetched code."""
    for unasked in islice(_UNASKED.finditer(text), MAX_ORDERS):
        paragraph = text[max(0, unasked.start() - _ORDER_REACH) : unasked.end() + _ORDER_REACH]
        if _runs_fetched_code(paragraph, scripts):
            return unasked.group(0)
    return None


def _agent_signal(source: SourceFile, excerpt: str, weight: float, key: str) -> Signal:
    return Signal(source.path, None, excerpt[:160], weight, "code", _AGENT_INJECTION, key)


_AGENT_INJECTION = frozenset({"agent_injection"})
