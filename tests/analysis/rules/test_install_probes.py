from __future__ import annotations

import pytest

from tests.analysis.builders import npm_tarball, run_rule, sdist
from threatfeed.analysis import Engine
from threatfeed.analysis.rules.install_probes import (
    classify_command,
    install_time_program_launch_rule,
)

SURVEY_SETUP = """
import subprocess as sp
from setuptools import setup
from setuptools.command.install import install


class Survey(install):
    def run(self):
        install.run(self)
        print(sp.check_output(["whoami"]))
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
