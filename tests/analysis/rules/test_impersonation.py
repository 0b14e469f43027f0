"""A look-alike name with an empty package or a copy of the imitated package behind it."""

from __future__ import annotations

from tests.analysis.builders import npm_tarball, run_rule, sdist
from threatfeed.analysis import Engine
from threatfeed.analysis.rules.impersonation import impersonation_rule

#: Enough ordinary code that the package is not a placeholder.
LIBRARY = "".join(f"def helper_{n}(value):\n    return value * {n}\n\n" for n in range(120))


def test_an_empty_package_under_a_look_alike_name_is_a_held_name(engine: Engine) -> None:
    archive = sdist(name="reqeusts", version="0.0.1")
    assert run_rule(engine, impersonation_rule, archive) == [
        {"imitates": "requests", "as": "placeholder", "file": None}
    ]
    assert engine.analyze(archive).flagged


def test_the_imitated_package_shipped_under_its_own_import_name_is_a_copy(engine: Engine) -> None:
    archive = sdist({"requests/__init__.py": LIBRARY}, name="reqeusts", version="2.31.0")
    assert run_rule(engine, impersonation_rule, archive) == [
        {"imitates": "requests", "as": "copy", "file": "reqeusts-2.31.0/requests/__init__.py"}
    ]
    assert engine.analyze(archive).flagged
    tarball = npm_tarball({"lodash.js": LIBRARY.replace("def", "//")}, name="lodahs")
    assert run_rule(engine, impersonation_rule, tarball)[0]["as"] == "copy"


def test_a_look_alike_name_with_code_of_its_own_is_only_a_typosquat(engine: Engine) -> None:
    archive = sdist({"reqeusts/client.py": LIBRARY}, name="reqeusts", version="1.0.0")
    assert run_rule(engine, impersonation_rule, archive) is None
    assert not engine.analyze(archive).flagged


def test_popular_or_original_names_are_never_impersonations(engine: Engine) -> None:
    assert run_rule(engine, impersonation_rule, sdist(name="requests", version="0.0.1")) is None
    assert run_rule(engine, impersonation_rule, sdist(name="tidy-strings")) is None
    assert run_rule(engine, impersonation_rule, npm_tarball(name="lodash")) is None


def test_a_technique_behind_a_look_alike_name_is_what_the_name_delivers(engine: Engine) -> None:
    key_reader = "import os\n\nKEY = open(os.path.expanduser('~/.ssh/id_rsa')).read()\n"
    archive = sdist(
        {"reqeusts/__init__.py": key_reader, "reqeusts/client.py": LIBRARY},
        name="reqeusts",
        version="1.0.0",
    )
    assert run_rule(engine, impersonation_rule, archive) == [
        {"imitates": "requests", "as": "carrier", "file": "reqeusts-1.0.0/reqeusts/__init__.py"}
    ]
    # the same technique in a comment, or under an original name, is no impersonation
    commented = key_reader.replace("KEY =", "# KEY =")
    quiet = sdist(
        {"reqeusts/__init__.py": commented, "reqeusts/client.py": LIBRARY}, name="reqeusts"
    )
    assert run_rule(engine, impersonation_rule, quiet) is None
    assert run_rule(engine, impersonation_rule, sdist({"tidy_strings/keys.py": key_reader})) is None
