"""Dependencies npm fetches from elsewhere than the registry.

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
from urllib.parse import urlsplit

from threatfeed.analysis.model import Indicator, Signal
from threatfeed.analysis.package import Package
from threatfeed.analysis.rules.base import indicator

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
    if not _URL.match(spec):
        return 0.0  # a version range, a tag, ``npm:`` aliases, ``file:`` folders
    try:
        host = (urlsplit(spec.removeprefix("git+")).hostname or "").rstrip(".")
    except ValueError:  # a malformed address: no forge's
        host = ""
    if host in _FORGES:
        return FORGE_WEIGHT
    return REMOTE_WEIGHT + (PLAIN_HTTP_WEIGHT if spec.lower().startswith("http:") else 0.0)


def remote_dependency_rule(package: Package) -> Indicator | None:
    """npm dependencies fetched from a URL or a git repository instead of the registry.

    Evidence: ``[{"name": str, "spec": str}]``. A tarball or repository on any other host
    than the public forges weighs 8 (10 over plain ``http:``, which anyone on the path can
    swap); one on GitHub, GitLab or Bitbucket 1.5. They count once per kind of host.
    """
    if package.ecosystem != "npm":
        return None
    manifest = package.path_of("package.json")
    evidence = []
    signals = []
    for field in _INSTALLED:
        specs = package.manifest.get(field)
        for name, spec in specs.items() if isinstance(specs, dict) else ():
            weight = _weight(spec.strip()) if isinstance(spec, str) else 0.0
            if not weight:
                continue
            evidence.append({"name": str(name), "spec": spec[:300]})
            key = "forge" if weight == FORGE_WEIGHT else "remote"
            excerpt = f"{name}: {spec}"[:160]
            signals.append(Signal(manifest, None, excerpt, weight, "install", key=key))
    return indicator("remote_dependency_rule", evidence[:MAX_ITEMS], signals)
