from __future__ import annotations

from tests.analysis.builders import run_rule, sdist
from threatfeed.analysis import Engine
from threatfeed.analysis.rules.protected import protected_code_stealer_dependencies_rule

#: What PyArmor output looks like; the blob is made up.
PROTECTED = (
    "from pytransform import pyarmor_runtime\npyarmor_runtime()\n"
    "__pyarmor__(__name__, __file__, b'\\x50\\x59\\x41\\x52\\x4d\\x4f\\x52\\x00\\x01')\n"
)


def _setup(requirements: list[str]) -> str:
    return (
        "from setuptools import setup\n"
        f"setup(name='tidy-strings', version='0.4.0', install_requires={requirements!r})\n"
    )


def test_protected_module_with_a_webhook_client_and_screen_capture(engine: Engine) -> None:
    archive = sdist(
        {"tidy_strings/core.py": PROTECTED},
        setup_py=_setup(["requests", "dhooks>=1.1", "mss", "pillow"]),
    )
    evidence = run_rule(engine, protected_code_stealer_dependencies_rule, archive)
    assert evidence == [
        {
            "file": "tidy-strings-0.4.0/tidy_strings/core.py",
            "dependencies": {"webhook": ["dhooks"], "screen": ["mss"]},
        }
    ]


def test_requirements_file_and_metadata_count_too(engine: Engine) -> None:
    archive = sdist(
        {
            "tidy_strings/core.py": PROTECTED,
            "requirements.txt": "pynput==1.7\nbrowser_cookie3\n",
        }
    )
    evidence = run_rule(engine, protected_code_stealer_dependencies_rule, archive)
    assert evidence[0]["dependencies"] == {"keys": ["pynput"], "browser": ["browser-cookie3"]}


def test_protected_commercial_code_with_ordinary_dependencies(engine: Engine) -> None:
    archive = sdist(
        {"tidy_strings/core.py": PROTECTED},
        setup_py=_setup(["requests", "pillow", "psutil", "pycryptodome", "numpy"]),
    )
    assert run_rule(engine, protected_code_stealer_dependencies_rule, archive) is None


def test_one_capability_is_not_a_toolkit(engine: Engine) -> None:
    archive = sdist({"tidy_strings/core.py": PROTECTED}, setup_py=_setup(["mss", "numpy"]))
    assert run_rule(engine, protected_code_stealer_dependencies_rule, archive) is None


def test_readable_code_with_the_same_dependencies_is_left_to_other_rules(engine: Engine) -> None:
    archive = sdist({"tidy_strings/core.py": "import mss\n"}, setup_py=_setup(["dhooks", "mss"]))
    assert run_rule(engine, protected_code_stealer_dependencies_rule, archive) is None
