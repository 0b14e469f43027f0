"""Small synthetic packages built in memory: npm tarballs, sdists, wheels.

Their code mimics real techniques harmlessly (hosts are reserved example names or
documentation addresses) and is never executed.
"""

from __future__ import annotations

import io
import json
import tarfile
import zipfile
from collections.abc import Callable, Mapping
from typing import Any

from threatfeed.analysis import Engine
from threatfeed.analysis.model import Indicator
from threatfeed.analysis.package import Package
from threatfeed.archives import read_archive

Files = Mapping[str, str | bytes]


def _bytes(content: str | bytes) -> bytes:
    return content.encode() if isinstance(content, str) else content


def tar_gz(files: Files) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        for path, content in files.items():
            data = _bytes(content)
            info = tarfile.TarInfo(path)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def zip_bytes(files: Files) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for path, content in files.items():
            archive.writestr(path, _bytes(content))
    return buffer.getvalue()


def npm_tarball(
    files: Files | None = None,
    *,
    name: str = "left-padder",
    version: str = "1.2.3",
    scripts: Mapping[str, str] | None = None,
    manifest: Mapping[str, Any] | None = None,
) -> bytes:
    package_json: dict[str, Any] = {"name": name, "version": version, "main": "index.js"}
    if scripts:
        package_json["scripts"] = dict(scripts)
    package_json.update(manifest or {})
    members: dict[str, str | bytes] = {"package/package.json": json.dumps(package_json)}
    members.update({f"package/{path}": content for path, content in (files or {}).items()})
    members.setdefault("package/index.js", "module.exports = (s, n) => s.padStart(n);\n")
    return tar_gz(members)


SETUP_PY = """from setuptools import setup

setup(name={name!r}, version={version!r}, packages=["{module}"])
"""


def sdist(
    files: Files | None = None,
    *,
    name: str = "tidy-strings",
    version: str = "0.4.0",
    setup_py: str | None = None,
) -> bytes:
    root = f"{name}-{version}/"
    module = name.replace("-", "_")
    members: dict[str, str | bytes] = {
        root + "PKG-INFO": f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n\n",
        root + "setup.py": setup_py or SETUP_PY.format(name=name, version=version, module=module),
        root + f"{module}/__init__.py": "def tidy(s):\n    return ' '.join(s.split())\n",
    }
    members.update({root + path: content for path, content in (files or {}).items()})
    return tar_gz(members)


def wheel(files: Files, *, name: str = "tidy_strings", version: str = "0.4.0") -> bytes:
    info = f"{name}-{version}.dist-info/"
    members: dict[str, str | bytes] = {
        info + "METADATA": f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n\n",
        info + "WHEEL": "Wheel-Version: 1.0\n",
    }
    members.update(files)
    return zip_bytes(members)


def package(engine: Engine, archive: bytes) -> Package:
    return engine.prepare(read_archive(archive))


def run_rule(engine: Engine, rule: Callable[[Package], Indicator | None], archive: bytes) -> Any:
    """The evidence a rule reports on an archive, or None."""
    found = rule(package(engine, archive))
    return None if found is None else found.evidence


def module_evidence(engine: Engine, rule: Callable[[Package], Indicator | None], code: str) -> Any:
    """The evidence a rule reports on an sdist whose one module holds ``code``, or None."""
    return run_rule(engine, rule, sdist({"tidy_strings/module.py": code}))
