"""Code run once deciphered, on small synthetic npm packages (the ciphertext is random
bytes, nothing is ever deciphered or run), and on libraries that decipher data only."""

from __future__ import annotations

import base64
import random

import pytest

from tests.analysis.builders import npm_tarball, run_rule
from threatfeed.analysis import Engine
from threatfeed.analysis.rules.decrypted import decrypted_code_exec_rule

BLOB = base64.b64encode(random.Random(7).randbytes(3000)).decode()
DECRYPT = (
    "const crypto = require('crypto');\n\n"
    "function unseal(data, secret, salt, iv) {\n"
    "  const key = crypto.pbkdf2Sync(secret, Buffer.from(salt, 'base64'), 1000, 32, 'sha512');\n"
    "  const d = crypto.createDecipheriv('aes-256-cbc', key, Buffer.from(iv, 'base64'));\n"
    "  let out = d.update(data, 'base64', 'utf8');\n"
    "  out += d.final('utf8');\n"
    "  return out;\n"
    "}\n\n"
)

RUNS = {
    "a helper's result assigned, then run by Function": (
        DECRYPT + f"const body = unseal('{BLOB}', 'k', 'c2FsdA==', 'aXY=');\n"
        "new Function('require', body)(require);\n"
    ),
    "a helper's call run by eval": DECRYPT + f"eval(unseal('{BLOB}', 'k', 's', 'i'));\n",
    "the decipher's own text compiled as a module": (
        "var c = require('crypto').createDecipher('aes256', process.env.npm_package_description);\n"
        f"var code = c.update('{BLOB}', 'hex', 'utf8');\n"
        "code += c.final('utf8');\n"
        "var m = new module.constructor();\n"
        "m.paths = module.paths;\n"
        "m._compile(code, '');\n"
    ),
    "the decipher's call handed to vm": (
        "const vm = require('vm'), crypto = require('crypto');\n"
        "const d = crypto.createDecipheriv('aes-128-cbc', KEY, IV);\n"
        f"vm.runInThisContext(d.update('{BLOB}', 'base64', 'utf8') + d.final('utf8'));\n"
    ),
}


@pytest.mark.parametrize("code", RUNS.values(), ids=RUNS.keys())
def test_running_what_a_decipher_returns_flags(engine: Engine, code: str) -> None:
    archive = npm_tarball({"index.js": code})
    evidence = run_rule(engine, decrypted_code_exec_rule, archive)
    assert [item["file"] for item in evidence] == ["package/index.js"]
    assert engine.analyze(archive).flagged


def test_the_evidence_points_at_the_call_that_runs_it(engine: Engine) -> None:
    evidence = run_rule(
        engine,
        decrypted_code_exec_rule,
        npm_tarball({"index.js": RUNS["a helper's call run by eval"]}),
    )
    assert evidence[0]["line"] == 11
    assert evidence[0]["code"].startswith("eval(unseal(")


LIBRARIES = {
    "deciphered text parsed as JSON, eval elsewhere on other data": (
        DECRYPT + "const config = JSON.parse(unseal(process.env.BLOB, 'k', 's', 'i'));\n"
        "function compileTemplate(source) { return new Function('data', source); }\n"
        "module.exports = { config, compileTemplate };\n"
    ),
    "a decipher in a comment and a runner on a literal": (
        "// createDecipheriv(...) is used by the vault module\n"
        "const out = 'x';\n"
        "module.exports = new Function('return 1');\n"
    ),
    "a variable of the same name run in a file with no decipher": (
        "let out = load();\nout += more();\neval(out);\n"
    ),
}


@pytest.mark.parametrize("code", LIBRARIES.values(), ids=LIBRARIES.keys())
def test_libraries_that_decipher_data_or_run_other_text_are_not_reported(
    engine: Engine, code: str
) -> None:
    archive = npm_tarball({"index.js": code})
    assert run_rule(engine, decrypted_code_exec_rule, archive) is None


def test_a_decrypting_loader_in_the_tests_is_not_reported(engine: Engine) -> None:
    archive = npm_tarball({"test/fixtures/loader.js": RUNS["a helper's call run by eval"]})
    assert run_rule(engine, decrypted_code_exec_rule, archive) is None
