"""Real, small package archives built in memory, byte-for-byte reproducible.

Each builder writes the layout its ecosystem's tools write (an npm tarball under
``package/`` with its ``package.json``, an sdist with ``PKG-INFO`` and
``setup.py``, a wheel with its ``.dist-info``), plus whatever extra ``files`` a
test wants inside. Fixed timestamps make equal inputs give equal digests.
"""

from __future__ import annotations

import gzip
import io
import json
import re
import tarfile
import zipfile
from collections.abc import Mapping

Files = Mapping[str, str | bytes]
_EPOCH = 1_700_000_000


def _bytes(content: str | bytes) -> bytes:
    return content.encode() if isinstance(content, str) else content


def _tar_gz(members: Mapping[str, bytes]) -> bytes:
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for path, content in members.items():
            info = tarfile.TarInfo(path)
            info.size, info.mtime, info.mode = len(content), _EPOCH, 0o644
            tar.addfile(info, io.BytesIO(content))
    return gzip.compress(raw.getvalue(), mtime=_EPOCH)


def npm_tarball(name: str, version: str, files: Files | None = None) -> bytes:
    manifest = {"name": name, "version": version, "main": "index.js", "license": "MIT"}
    members = {
        "package/package.json": json.dumps(manifest, indent=2).encode(),
        "package/index.js": b"module.exports = function add(a, b) { return a + b; };\n",
    }
    members.update({f"package/{path}": _bytes(content) for path, content in (files or {}).items()})
    return _tar_gz(members)


def normalized(name: str) -> str:
    """PEP 503 normalisation, with underscores as file names use it."""
    return re.sub(r"[-_.]+", "_", name).lower()


def sdist_filename(name: str, version: str) -> str:
    return f"{normalized(name)}-{version}.tar.gz"


def wheel_filename(name: str, version: str) -> str:
    return f"{normalized(name)}-{version}-py3-none-any.whl"


def _metadata(name: str, version: str) -> bytes:
    return f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\nSummary: test\n".encode()


def sdist(name: str, version: str, files: Files | None = None) -> bytes:
    root = f"{normalized(name)}-{version}"
    module = normalized(name)
    setup = f"from setuptools import setup\nsetup(name={name!r}, version={version!r})\n"
    members = {
        f"{root}/PKG-INFO": _metadata(name, version),
        f"{root}/setup.py": setup.encode(),
        f"{root}/{module}/__init__.py": b"VALUE = 1\n",
    }
    members.update({f"{root}/{path}": _bytes(content) for path, content in (files or {}).items()})
    return _tar_gz(members)


def wheel(name: str, version: str, files: Files | None = None) -> bytes:
    module = normalized(name)
    dist_info = f"{module}-{version}.dist-info"
    members = {
        f"{module}/__init__.py": b"VALUE = 1\n",
        **{path: _bytes(content) for path, content in (files or {}).items()},
        f"{dist_info}/METADATA": _metadata(name, version),
        f"{dist_info}/WHEEL": b"Wheel-Version: 1.0\nGenerator: fake\nRoot-Is-Purelib: true\n"
        b"Tag: py3-none-any\n",
    }
    record = "".join(f"{path},,\n" for path in [*members, f"{dist_info}/RECORD"])
    members[f"{dist_info}/RECORD"] = record.encode()
    raw = io.BytesIO()
    with zipfile.ZipFile(raw, "w", zipfile.ZIP_DEFLATED) as archive:
        for path, content in members.items():
            archive.writestr(zipfile.ZipInfo(path, date_time=(2023, 11, 14, 22, 13, 20)), content)
    return raw.getvalue()
