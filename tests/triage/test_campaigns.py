from __future__ import annotations

from dataclasses import replace

from threatfeed.analysis import Location
from threatfeed.store import Database
from threatfeed.triage.campaigns import fingerprints, related

from .factory import Sample, add


def member(name: str) -> Sample:
    return Sample(
        name,
        files=(
            ("package/package.json", 300 + len(name)),
            ("package/index.js", 4711),
            (f"package/lib/{name}.js", 999),
        ),
        indicators={
            "npm_hooks_rule": ["node index.js"],
            "suspicious_url_references_rule": [
                {"file": "package/index.js", "urls": ["https://collector.example.invalid/x"]}
            ],
        },
    )


def test_versions_sharing_files_and_payloads_are_related(database: Database) -> None:
    first, second, third, _ = add(
        database,
        member("colors-pro"),
        member("colours-plus"),
        member("color-tools"),
        Sample(
            "unrelated",
            files=(("package/main.js", 123),),
            indicators={"obfuscation_rule": True},
            locations=(),
        ),
    )
    with database.session() as session:
        found = related(session, first)
    assert sorted(r.package_id for r in found) == [second, third]
    # two files (index.js, lib/{name}.js), the hook, the URL and two code excerpts
    assert [r.shared for r in found] == [6, 6]
    assert "index.js (4711 bytes)" in found[0].labels


def test_generic_traits_alone_do_not_make_a_campaign(database: Database) -> None:
    generic = Sample(
        "a",
        files=(("package/index.js", 10),),
        indicators={"npm_hooks_rule": ["node index.js"]},
        locations=(),
    )
    one, _ = add(database, generic, replace(generic, name="b"))
    with database.session() as session:
        assert related(session, one) == []  # one shared trait and tiny files: not enough


def test_fingerprints_ignore_the_package_root_name_and_version() -> None:
    wheel = fingerprints(
        "evil-pkg",
        "1.2.3",
        {"decode_and_execute_rule": True},
        [Location("r", "x", 1, "exec(base64.b64decode(blob))").__dict__],
        [("evil_pkg/__init__.py", 500), ("evil_pkg-1.2.3.dist-info/METADATA", 900)],
    )
    other = fingerprints(
        "other-pkg",
        "4.5.6",
        {"decode_and_execute_rule": True},
        [Location("r", "y", 7, "exec(base64.b64decode(blob))").__dict__],
        [("other_pkg/__init__.py", 500), ("other_pkg-4.5.6.dist-info/METADATA", 930)],
    )
    assert {f.digest for f in wheel} == {f.digest for f in other}
    assert {f.label for f in wheel} == {
        "{name}/__init__.py (500 bytes)",
        "r: exec(base64.b64decode(blob))",
    }


def test_only_archives_where_a_rule_fired_are_fingerprinted_and_boundedly() -> None:
    files = [(f"package/lib/m{n}.js", 100 + n) for n in range(5000)]
    assert fingerprints("quiet", "1.0.0", {}, [], files) == []
    prints = fingerprints("busy", "1.0.0", {"npm_hooks_rule": ["node index.js"]}, [], files)
    kept = [p.label for p in prints if p.kind == "file"]
    assert len(kept) == 200
    assert kept[0] == "lib/m4999.js (5099 bytes)"  # the largest members are kept
