from __future__ import annotations

import pytest

from tests.analysis.builders import npm_tarball, run_rule, sdist
from threatfeed.analysis import Engine
from threatfeed.analysis.rules.install_probes import (
    classify_command,
    empty_package_request_rule,
    install_time_program_launch_rule,
    install_time_unread_request_rule,
)

SURVEY_SETUP = """
import subprocess as sp
from setuptools import setup
from setuptools.command.install import install


class Survey(install):
    def run(self):
        install.run(self)
        print(sp.check_output(["whoami"]))
        sp.run(["systeminfo"],
               capture_output=True)
        sp.Popen("C:\\\\Windows\\\\System32\\\\calc.exe")


setup(name="tidy-strings", version="0.4.0", cmdclass={"install": Survey})
"""

BROWSER_SETUP = """
import sys
import webbrowser
from setuptools import setup

if "install" in sys.argv:
    webbrowser.open_new_tab("https://example.org/landing")
setup(name="tidy-strings", version="0.4.0")
"""

BUILD_SETUP = """
import os
import subprocess
import sys
from setuptools import setup

machine = subprocess.check_output(["uname", "-m"]).decode().strip()
subprocess.check_call(["make", "-C", "native"])
subprocess.check_call([sys.executable, "tools/gen.py"])
os.system("git submodule update --init")
subprocess.call("sh build.sh", shell=True)
subprocess.check_call(["pkg-config", "--cflags", "libffi"])
setup(name="tidy-strings", version="0.4.0")
"""


@pytest.mark.parametrize(
    ("command", "kind"),
    [
        ("whoami", "recon"),
        ("hostname && id", "recon"),
        ("uname -a", "recon"),
        ("net user", "recon"),
        ("ipconfig /all", "recon"),
        ("/usr/bin/xcalc", "launch"),
        ("start notepad.exe", "launch"),
        ("/bin/sh", "launch"),
        ("cmd /c whoami", "recon"),
        ("sh -c 'make all'", None),
        ("uname -m", None),
        ("net start spooler", None),
        ("sh build.sh", None),
        ("gcc -O2 x.c", None),
        ("npm run build", None),
    ],
)
def test_commands_are_classified(command: str, kind: str | None) -> None:
    assert classify_command(command) == kind


def test_setup_py_running_recon_and_opening_programs(engine: Engine) -> None:
    evidence = run_rule(engine, install_time_program_launch_rule, sdist(setup_py=SURVEY_SETUP))
    assert [(e["kind"], e["command"]) for e in evidence] == [
        ("recon", "whoami"),
        ("recon", "systeminfo"),
        ("launch", "C:\\Windows\\System32\\calc.exe"),
    ]
    assert evidence[0]["file"].endswith("setup.py")


def test_setup_py_opening_a_browser_tab(engine: Engine) -> None:
    evidence = run_rule(engine, install_time_program_launch_rule, sdist(setup_py=BROWSER_SETUP))
    assert [e["kind"] for e in evidence] == ["launch"]


def test_build_steps_do_not_count(engine: Engine) -> None:
    assert run_rule(engine, install_time_program_launch_rule, sdist(setup_py=BUILD_SETUP)) is None


def test_recon_outside_install_code_does_not_count(engine: Engine) -> None:
    archive = sdist({"tidy_strings/cli.py": "import os\nos.system('whoami')\n"})
    assert run_rule(engine, install_time_program_launch_rule, archive) is None


def test_npm_hooks_running_recon(engine: Engine) -> None:
    archive = npm_tarball(
        {"scripts/post.js": "require('child_process').execSync('hostname');\n"},
        scripts={"preinstall": "whoami", "postinstall": "node scripts/post.js"},
    )
    evidence = run_rule(engine, install_time_program_launch_rule, archive)
    assert sorted(e["command"] for e in evidence) == ["hostname", "whoami"]


def test_npm_build_hooks_do_not_count(engine: Engine) -> None:
    archive = npm_tarball(
        {"scripts/build.js": "require('child_process').execSync('node-gyp rebuild');\n"},
        scripts={"install": "node scripts/build.js", "prepare": "tsc -p ."},
    )
    assert run_rule(engine, install_time_program_launch_rule, archive) is None


PING_SETUP = """
import requests
from setuptools import setup

setup(name="tidy-strings", version="0.4.0")
r = requests.get("https://collector.example.net/installed", timeout=5)
print("done", r.status_code)
"""

DOWNLOAD_SETUP = """
import json
import urllib.request
import requests
from setuptools import setup

schema = requests.get("https://schemas.example.org/v2.json").json()
with open("tidy_strings/data.bin", "wb") as out:
    out.write(requests.get("https://data.example.org/table.bin").content)
answer = urllib.request.urlopen("https://data.example.org/version")
version = answer.read().decode()
setup(name="tidy-strings", version=version)
"""


def test_setup_py_request_whose_answer_is_not_read(engine: Engine) -> None:
    evidence = run_rule(engine, install_time_unread_request_rule, sdist(setup_py=PING_SETUP))
    assert evidence == [
        {
            "file": "tidy-strings-0.4.0/setup.py",
            "line": 6,
            "code": 'requests.get("https://collector.example.net/installed", timeout=5)',
        }
    ]


def test_a_request_made_as_a_statement_of_its_own(engine: Engine) -> None:
    setup_py = "import urllib.request as u\nu.urlopen('https://x.example.net/hi')\n"
    evidence = run_rule(engine, install_time_unread_request_rule, sdist(setup_py=setup_py))
    assert [e["line"] for e in evidence] == [2]


def test_setup_py_downloads_that_are_read_do_not_count(engine: Engine) -> None:
    archive = sdist(setup_py=DOWNLOAD_SETUP)
    assert run_rule(engine, install_time_unread_request_rule, archive) is None


def test_unread_requests_outside_install_code_do_not_count(engine: Engine) -> None:
    archive = sdist({"tidy_strings/ping.py": PING_SETUP})
    assert run_rule(engine, install_time_unread_request_rule, archive) is None


def test_an_unread_request_to_this_machine_does_not_count(engine: Engine) -> None:
    for host in ("127.0.0.1:8000", "localhost", "[::1]"):
        setup_py = f"import requests\nrequests.get('http://{host}/ready')\n"
        archive = sdist(setup_py=setup_py)
        assert run_rule(engine, install_time_unread_request_rule, archive) is None
    setup_py = "import requests\nrequests.get('http://127.0.0.1.example.net/ready')\n"
    assert run_rule(engine, install_time_unread_request_rule, sdist(setup_py=setup_py))


IMPORT_PING = """import requests

try:
    requests.post("https://collector.example/hello", data={"text": "installed"})
except Exception:
    pass
"""


def test_an_empty_package_whose_import_makes_a_request(engine: Engine) -> None:
    archive = sdist({"tidy_strings/__init__.py": IMPORT_PING})
    evidence = run_rule(engine, empty_package_request_rule, archive)
    assert evidence == [
        {
            "file": "tidy-strings-0.4.0/tidy_strings/__init__.py",
            "line": 4,
            "code": 'requests.post("https://collector.example/hello", data={"text": "installed"})',
        }
    ]
    assert engine.analyze(archive).flagged


def test_requests_in_functions_in_packages_with_code_or_to_this_machine_do_not_count(
    engine: Engine,
) -> None:
    in_function = "import requests\n\ndef ping():\n    requests.get('https://api.example/')\n"
    local = IMPORT_PING.replace("https://collector.example", "http://127.0.0.1:8080")
    library = "".join(f"def helper_{n}(value):\n    return value * {n}\n\n" for n in range(120))
    for files in (
        {"tidy_strings/__init__.py": in_function},
        {"tidy_strings/__init__.py": local},
        {"tidy_strings/__init__.py": IMPORT_PING, "tidy_strings/core.py": library},
        {"tidy_strings/tools/util.py": IMPORT_PING},
    ):
        assert run_rule(engine, empty_package_request_rule, sdist(files)) is None
