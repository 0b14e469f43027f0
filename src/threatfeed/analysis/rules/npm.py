"""npm-specific rules: install hooks, commands shadowed by ``bin``, and the registry's
security placeholders."""

from __future__ import annotations

import posixpath
import re

from threatfeed.analysis import manifest_json
from threatfeed.analysis.memo import per_package
from threatfeed.analysis.model import Indicator, Signal
from threatfeed.analysis.package import Package, SourceFile, interpreted_targets, loadable
from threatfeed.analysis.rules.base import indicator

HOOK_WEIGHT = 1.5
NETWORK_TOOL_WEIGHT = 5.0
BACKGROUND_WEIGHT = 1.0
PAYLOAD_WEIGHT = 5.0
PLACEHOLDER_WEIGHT = 10.0
ODD_TARGET_WEIGHT = 4.0
#: A hook in a dependency bundled as a ``file:`` folder runs on install like the package's
#: own, but is invisible in its manifest: it is there to be missed.
HIDDEN_HOOK_WEIGHT = 6.0
#: Hooks that run when the published tarball is installed (``prepare`` does not).
_INSTALL_HOOKS = frozenset({"preinstall", "install", "postinstall"})
_SCRIPT_EXTS = frozenset({"", ".js", ".cjs", ".mjs", ".ts", ".sh", ".py", ".ps1", ".bat", ".cmd"})

_NETWORK_TOOL = re.compile(
    r"\b(curl|wget|nc|ncat|nslookup|dig|ping|Invoke-WebRequest|iwr|Invoke-RestMethod)\b", re.I
)
_PAYLOAD = re.compile(r"(\.(exe|bat|cmd|vbs|ps1|scr)\b|\bpowershell\b|\bstart\s)", re.I)
#: npm never needs root to install a package; a hook that asks for it wants the machine.
_PRIVILEGE = re.compile(r"(^|[;&|(]\s*)(sudo|su\s+-c|doas|pkexec)\s", re.I)
PRIVILEGE_WEIGHT = 6.0
_BACKGROUND = re.compile(r"(\bnohup\b|\bstart\s+/b\b|&\s*$|\bdisown\b|\bsetsid\b)", re.I)


def _odd_target(package: Package, command: str) -> bool:
    """A hook that runs a file the archive lacks, or a file that is not a script
    (``node lib/README.md``): the code hides elsewhere, or behind a harmless name.

    Each target is looked for once, among the files of its name: a hook naming the same
    file tens of thousands of times, each looked for among every file, cost minutes."""
    by_name = _files_by_name(package)
    for target in dict.fromkeys(interpreted_targets(command)):
        if target == "." or target.startswith("-"):
            continue
        names = loadable(target)
        ends = tuple("/" + name for name in names)
        present = any(
            f.rel in names or f.path.endswith(ends)
            for name in names
            for f in by_name.get(name.rpartition("/")[2], ())
        )
        if not present or posixpath.splitext(target)[1].lower() not in _SCRIPT_EXTS:
            return True
    return False


@per_package
def _files_by_name(package: Package) -> dict[str, list[SourceFile]]:
    """The files by the last part of their path and of their path from the root (they
    differ where the archive writes backslashes): a file whose path or ``rel`` is, or ends
    with, ``/`` and a name has the name's last part."""
    found: dict[str, list[SourceFile]] = {}
    for source in package.files:
        for name in dict.fromkeys((source.rel.rpartition("/")[2], source.path.rpartition("/")[2])):
            found.setdefault(name, []).append(source)
    return found


def _hook_weight(package: Package, hook: str, command: str) -> tuple[float, set[str]]:
    weight = HOOK_WEIGHT
    capabilities = {"install_hook"}
    if _NETWORK_TOOL.search(command):
        weight += NETWORK_TOOL_WEIGHT
        capabilities.add("network")
    if _BACKGROUND.search(command):
        weight += BACKGROUND_WEIGHT
    if _PAYLOAD.search(command):
        weight += PAYLOAD_WEIGHT
    if _PRIVILEGE.search(command):
        weight += PRIVILEGE_WEIGHT
    if hook in _INSTALL_HOOKS and _odd_target(package, command):
        weight += ODD_TARGET_WEIGHT
    return weight, capabilities


def _bundled_dependency_hooks(package: Package) -> list[tuple[str, str, str]]:
    """Install hooks of dependencies that point into the archive itself
    (``"react": "file:./secret-deps"``): npm installs them, and runs their hooks, with the
    package, while the top-level manifest (parsed once, in ``package.manifest``) shows none.
    ``(manifest path, hook, command)``.

    Each folder's manifest is read once, however many dependencies name it: tens of
    thousands of them naming one large manifest cost minutes."""
    found = []
    hooks_in: dict[str, list[tuple[str, str, str]]] = {}
    by_rel: dict[str, SourceFile] | None = None
    for field in ("dependencies", "optionalDependencies"):
        specs = package.manifest.get(field)
        for spec in specs.values() if isinstance(specs, dict) else ():
            if not isinstance(spec, str) or not spec.startswith("file:"):
                continue
            folder = posixpath.normpath(spec[len("file:") :])
            if folder not in hooks_in:
                if by_rel is None:  # the first file of each path, as ``Package.file`` finds
                    by_rel = {source.rel: source for source in reversed(package.files)}
                nested = by_rel.get(posixpath.join(folder, "package.json"))
                hooks_in[folder] = _manifest_hooks(nested) if nested else []
            found += hooks_in[folder]
    return found


def _manifest_hooks(manifest: SourceFile) -> list[tuple[str, str, str]]:
    """The install hooks of a bundled dependency's manifest, as ``(path, hook, command)``."""
    try:
        scripts = manifest_json.loads(manifest.text).get("scripts")
    except (ValueError, AttributeError):
        return []
    if not isinstance(scripts, dict):
        return []
    return [
        (manifest.path, hook, command)
        for hook, command in scripts.items()
        if hook in _INSTALL_HOOKS and isinstance(command, str)
    ]


def npm_hooks_rule(package: Package) -> Indicator | None:
    """Commands npm runs by itself on ``npm install``: the usual door of npm malware.

    Evidence: ``[str]``, the commands of ``preinstall``, ``install``, ``postinstall`` and
    ``prepare``, then those of dependencies bundled in the archive as ``file:`` folders,
    then the shell commands of ``binding.gyp``'s ``<!(...)`` expansions when npm builds it
    (node-gyp runs them on install, with no script in the manifest). A hook alone weighs
    little (native builds use them); a hook calling a network tool, detaching into the
    background, asking for root (``sudo``), or running at install a file that the archive
    lacks or that is no script weighs more, and so does a hook hidden in a bundled
    ``file:`` dependency.
    """
    if package.ecosystem != "npm":
        return None
    hidden = _bundled_dependency_hooks(package)
    if not package.hooks and not hidden and not package.build_commands:
        return None
    manifest = package.path_of("package.json")
    signals = []
    for hook, command in package.hooks.items():
        weight, capabilities = _hook_weight(package, hook, command)
        signals.append(
            Signal(
                manifest,
                None,
                f"{hook}: {command}"[:160],
                weight,
                "install",
                frozenset(capabilities),
            )
        )
    for path, hook, command in hidden:
        weight, capabilities = _hook_weight(package, "", command)
        signals.append(
            Signal(
                path,
                None,
                f"{hook}: {command}"[:160],
                weight + HIDDEN_HOOK_WEIGHT,
                "install",
                frozenset(capabilities),
                key=f"hidden {hook}",
            )
        )
    gyp = package.path_of("binding.gyp")
    for command in package.build_commands:
        weight, capabilities = _hook_weight(package, "install", command)
        signals.append(
            Signal(
                gyp,
                None,
                f"binding.gyp: {command}"[:160],
                weight,
                "install",
                frozenset(capabilities),
                key="binding.gyp",
            )
        )
    evidence = [
        *package.hooks.values(),
        *(command for _, _, command in hidden),
        *package.build_commands,
    ]
    return indicator("npm_hooks_rule", evidence, signals)


def npm_security_placeholder_rule(package: Package) -> Indicator | None:
    """npm replaces a package removed for malware by a ``0.0.1-security`` placeholder.

    The placeholder holds no code, but it proves the name was used for malware. Evidence:
    ``true``.
    """
    if package.ecosystem != "npm" or not (package.version or "").endswith("-security"):
        return None
    signal = Signal(None, None, f"version {package.version}", PLACEHOLDER_WEIGHT, key="version")
    return indicator("npm_security_placeholder_rule", True, [signal])


#: Commands a project's own scripts and developers run, which a package has no business
#: providing under their names: npm puts every dependency's ``bin`` in front of ``PATH``
#: for the project's scripts (``node_modules/.bin``), and ``npm install -g`` in front of
#: the system's. Package managers are left out (corepack provides ``yarn`` and ``pnpm`` by
#: design), and a package may provide the command that is its own name.
_SHADOWED = frozenset(
    {
        "git",
        "npm",
        "npx",
        "node",
        "sudo",
        "su",
        "ssh",
        "scp",
        "gpg",
        "curl",
        "wget",
        "python",
        "python3",
        "pip",
        "pip3",
        "bash",
        "sh",
        "zsh",
        "ls",
        "cat",
        "cp",
        "mv",
        "rm",
        "env",
        "docker",
        "kubectl",
        "aws",
        "gcloud",
        "az",
        "gh",
        "openssl",
    }
)
SHADOW_WEIGHT = 10.0


def command_shadowing_rule(package: Package) -> Indicator | None:
    """An npm package whose ``bin`` provides a common command under its name (``git``,
    ``npm``, ``sudo``, ``ssh``...): once installed, the project's scripts (or, installed
    globally, its user) run the package's file in the command's place, which can read what
    it is given (tokens pushed with ``git``, the password typed for ``sudo``) and then run
    the real command so that nothing shows.

    Evidence: ``[{"command": str, "file": str}]``. Weighed as install-time code: npm links
    the commands as it installs the package.
    """
    if package.ecosystem != "npm":
        return None
    commands = package.manifest.get("bin")
    name = str(package.name or "")
    if isinstance(commands, str):
        commands = {name.rpartition("/")[2]: commands}  # a scoped package's unscoped name
    if not isinstance(commands, dict):
        return None
    manifest = package.path_of("package.json")
    evidence = []
    signals = []
    for key, target in commands.items():
        command = posixpath.basename(str(key)).lstrip(".")  # as npm links it
        if command in _SHADOWED and command != name:
            evidence.append({"command": command, "file": str(target)})
            signals.append(
                Signal(manifest, None, f"bin {command}", SHADOW_WEIGHT, "install", key="shadow")
            )
    return indicator("command_shadowing_rule", evidence, signals)
