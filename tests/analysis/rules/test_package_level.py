"""Rules on binaries, metadata, names and archive structure."""

from __future__ import annotations

import io
import random
import tarfile

import pytest
from rapidfuzz.distance import Levenshtein

from tests.analysis.builders import npm_tarball, run_rule, sdist, wheel
from threatfeed.analysis import Engine
from threatfeed.analysis.rules.binaries import shipped_binary_rule
from threatfeed.analysis.rules.metadata import dependency_confusion_rule, trivial_package_rule
from threatfeed.analysis.rules.structure import (
    FINDING_WEIGHTS,
    UNREAD_INSTALL_CODE_WEIGHT,
    archive_structure_rule,
)
from threatfeed.analysis.rules.typosquatting import (
    _index,
    _near,
    _pieces,
    imitated,
    typosquatting_rule,
)
from threatfeed.archives import Limits, read_archive

PE = b"MZ" + b"\x00" * 58 + b"\x80\x00\x00\x00" + b"\x00" * 64 + b"PE\x00\x00" + b"\x00" * 64
ELF = b"\x7fELF\x02\x01\x01" + b"\x00" * 64


def test_executable_is_found_by_magic_and_a_misleading_name_is_evidence(engine: Engine) -> None:
    evidence = run_rule(engine, shipped_binary_rule, npm_tarball({"lib/readme.txt": PE}))
    assert evidence == [{"file": "package/lib/readme.txt", "format": "pe", "kind": "disguised"}]
    evidence = run_rule(engine, shipped_binary_rule, npm_tarball({"bin/tool.exe": PE}))
    assert evidence == [{"file": "package/bin/tool.exe", "format": "pe", "kind": "executable"}]


def test_native_library_in_wheel_is_reported_but_weighs_nothing(engine: Engine) -> None:
    found = shipped_binary_rule(
        __import__("tests.analysis.builders", fromlist=["package"]).package(
            engine, wheel({"tidy_strings/_speed.cpython-311-x86_64-linux-gnu.so": ELF})
        )
    )
    assert found is not None
    assert found.evidence[0]["kind"] == "library"
    assert all(signal.weight == 0 for signal in found.signals)


def test_compiled_module_in_an_sdist_with_nothing_to_build_it_from_is_prebuilt(
    engine: Engine,
) -> None:
    module = "tidy_strings/core.cpython-311-x86_64-linux-gnu.so"
    archive = sdist({module: ELF})
    evidence = run_rule(engine, shipped_binary_rule, archive)
    assert evidence == [
        {"file": f"tidy-strings-0.4.0/{module}", "format": "elf", "kind": "prebuilt"}
    ]
    assert engine.analyze(archive).flagged
    # built from sources shipped beside it, or shipped in a wheel: an ordinary library
    # beside real Python code it is an odd artefact of a build, not the package itself
    library = "".join(f"def helper_{n}(value):\n    return value * {n}\n\n" for n in range(120))
    beside = sdist({module: ELF, "tidy_strings/core.py": library})
    assert run_rule(engine, shipped_binary_rule, beside)[0]["kind"] == "prebuilt"
    assert not engine.analyze(beside).flagged
    built = sdist({module: ELF, "src/core.c": "int f(void) { return 1; }\n"})
    assert run_rule(engine, shipped_binary_rule, built)[0]["kind"] == "library"
    assert not engine.analyze(built).flagged
    assert run_rule(engine, shipped_binary_rule, wheel({module: ELF}))[0]["kind"] == "library"


def test_an_executable_started_as_the_main_module_loads_is_launched(engine: Engine) -> None:
    main = (
        "const { exec } = require('child_process');\n"
        "const dir = require('path').join('node_modules', 'left-padder');\n"
        "exec(dir + '/helper.exe /dump out.html', () => {});\n"
    )
    archive = npm_tarball({"index.js": main, "helper.exe": PE})
    evidence = run_rule(engine, shipped_binary_rule, archive)
    assert evidence == [{"file": "package/helper.exe", "format": "pe", "kind": "launched"}]
    assert engine.analyze(archive).flagged


def test_a_stub_started_as_the_package_is_imported_is_launched(engine: Engine) -> None:
    init = (
        "import os, subprocess\n"
        "_STUB = os.path.join(os.path.dirname(__file__), 'bin', 'tidyd')\n"
        "subprocess.Popen([_STUB], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)\n"
    )
    archive = wheel({"tidy_strings/__init__.py": init, "tidy_strings/bin/tidyd": ELF})
    assert run_rule(engine, shipped_binary_rule, archive)[0]["kind"] == "launched"
    assert engine.analyze(archive).flagged


@pytest.mark.parametrize(
    "launch",
    [
        "try:\n    subprocess.Popen([_STUB], start_new_session=True)\nexcept OSError:\n    pass\n",
        "if os.name == 'posix':\n    _sp.Popen([_STUB])\n",
    ],
    ids=["in a top-level try", "through a module alias"],
)
def test_a_stub_started_in_a_top_level_block_or_by_an_alias_is_launched(
    engine: Engine, launch: str
) -> None:
    init = (
        "import os, subprocess\nimport subprocess as _sp\n"
        "_STUB = os.path.join(os.path.dirname(__file__), 'bin', 'tidyd')\n" + launch
    )
    archive = wheel({"tidy_strings/__init__.py": init, "tidy_strings/bin/tidyd": ELF})
    assert run_rule(engine, shipped_binary_rule, archive)[0]["kind"] == "launched"


def test_an_event_loop_run_in_a_top_level_block_launches_nothing(engine: Engine) -> None:
    init = (
        "import asyncio, os\n_STUB = os.path.join(os.path.dirname(__file__), 'bin', 'tidyd')\n"
        "if os.environ.get('TIDY_SELFTEST'):\n    asyncio.run(selftest())\n"
    )
    archive = wheel({"tidy_strings/__init__.py": init, "tidy_strings/bin/tidyd": ELF})
    assert run_rule(engine, shipped_binary_rule, archive)[0]["kind"] == "executable"


def test_an_executable_started_in_a_top_level_javascript_try_is_launched(engine: Engine) -> None:
    main = (
        "const cp = require('child_process');\n"
        "try {\n  cp.spawn(__dirname + '/helper.exe', [], { detached: true });\n} catch (e) {}\n"
    )
    archive = npm_tarball({"index.js": main, "helper.exe": PE})
    assert run_rule(engine, shipped_binary_rule, archive)[0]["kind"] == "launched"


def test_a_bundled_helper_started_from_a_function_is_not_launched(engine: Engine) -> None:
    init = (
        "import os, subprocess\n"
        "_STUB = os.path.join(os.path.dirname(__file__), 'bin', 'tidyd')\n\n"
        "def kill(pid):\n    subprocess.run([_STUB, str(pid)], check=True)\n"
    )
    archive = wheel({"tidy_strings/__init__.py": init, "tidy_strings/bin/tidyd": ELF})
    assert run_rule(engine, shipped_binary_rule, archive)[0]["kind"] == "executable"
    assert not engine.analyze(archive).flagged


def test_no_binary_no_evidence(engine: Engine) -> None:
    assert run_rule(engine, shipped_binary_rule, sdist()) is None


def test_dependency_confusion_versions(engine: Engine) -> None:
    assert run_rule(engine, dependency_confusion_rule, npm_tarball(version="99.10.9")) == {
        "version": "99.10.9"
    }
    assert run_rule(engine, dependency_confusion_rule, npm_tarball(version="2024.3.1")) is None
    assert run_rule(engine, dependency_confusion_rule, npm_tarball(version="4.17.21")) is None


def test_trivial_package(engine: Engine) -> None:
    assert run_rule(engine, trivial_package_rule, npm_tarball()) is True
    big = "function f(x) { return x * 2; }\n" * 200
    assert run_rule(engine, trivial_package_rule, npm_tarball({"lib.js": big})) is None


def test_typosquatting_names_the_imitated_package(engine: Engine) -> None:
    assert run_rule(engine, typosquatting_rule, sdist(name="reqeusts")) == ["requests"]
    assert run_rule(engine, typosquatting_rule, npm_tarball(name="lodahs")) == ["lodash"]


def test_popular_packages_and_legit_families_are_not_typosquats() -> None:
    assert imitated("requests", "pypi") == []
    assert imitated("python-dateutil", "pypi") == []
    assert imitated("requests2", "pypi") == []
    assert imitated("tidy-strings", "pypi") == []


def test_the_piece_index_keeps_every_target_within_the_edits() -> None:
    targets = _index("pypi").targets
    rng = random.Random(7)
    for edits in (2, 3):
        for target in rng.sample(targets, 200):
            name = list(target)
            for _ in range(rng.randint(1, edits)):
                at = rng.randrange(len(name))
                name[at : at + rng.randint(0, 1)] = rng.choice(["", "x", "1", "-", name[at - 1]])
            wanted = "".join(name)
            within = {
                rank: t
                for rank, t in enumerate(targets)
                if Levenshtein.distance(wanted, t) <= edits
            }
            near = _near(wanted, "pypi", edits)
            assert {rank: t for rank, t in near.items() if rank in within} == within


def test_a_name_longer_than_every_target_builds_no_pieces() -> None:
    built = _pieces.cache_info().currsize
    assert _near("x" * 500, "pypi", 3) == {}
    assert _pieces.cache_info().currsize == built


def test_separators_and_homoglyphs_are_folded() -> None:
    assert "python-dateutil" in imitated("pythondateutil", "pypi")
    assert "requests" in imitated("reque5ts", "pypi")


def _tar_with_link(target: str) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        data = b'{"name": "left-padder", "version": "1.0.0"}'
        info = tarfile.TarInfo("package/package.json")
        info.size = len(data)
        archive.addfile(info, io.BytesIO(data))
        link = tarfile.TarInfo("package/config")
        link.type = tarfile.SYMTYPE
        link.linkname = target
        archive.addfile(link)
    return buffer.getvalue()


def test_link_outside_the_package_is_evidence(engine: Engine) -> None:
    kinds = {
        item["kind"]
        for item in run_rule(engine, archive_structure_rule, _tar_with_link("/etc/passwd"))
    }
    assert "link_outside" in kinds or "absolute_path" in kinds


def test_an_install_script_cut_at_the_member_limit_weighs_more_than_any_large_file(
    engine: Engine,
) -> None:
    limits = Limits(max_member_bytes=64 * 1024)
    padding = "".join(f"var v{i} = {i * 7919 % 104729};\n" for i in range(8000))
    files = {"setup.js": padding, "dist/bundle.js": padding}

    def weights(scripts: dict[str, str]) -> list[float]:
        archive = npm_tarball(files, scripts=scripts)
        found = archive_structure_rule(engine.prepare(read_archive(archive, limits=limits)))
        assert found is not None
        return sorted(signal.weight for signal in found.signals)

    assert weights({}) == [FINDING_WEIGHTS["member_too_large"]] * 2
    hooked = weights({"postinstall": "node setup.js"})
    assert hooked == [*[FINDING_WEIGHTS["member_too_large"]] * 2, UNREAD_INSTALL_CODE_WEIGHT]


def test_clean_archive_has_no_structure_evidence(engine: Engine) -> None:
    assert run_rule(engine, archive_structure_rule, npm_tarball()) is None


def test_disguised_binary_in_a_package_with_install_hooks_weighs_as_install(engine: Engine) -> None:
    from tests.analysis.builders import package

    hooked = npm_tarball({"src/sass.js": PE}, scripts={"postinstall": "npm run build"})
    plain = npm_tarball({"src/sass.js": PE})
    contexts = [
        {s.context for s in found.signals}
        for found in (shipped_binary_rule(package(engine, a)) for a in (hooked, plain))
        if found is not None
    ]
    assert contexts[0] == {"install"}
    assert "install" not in contexts[1]


def test_high_version_with_network_at_install_is_the_probe(engine: Engine) -> None:
    from tests.analysis.builders import package
    from threatfeed.analysis.scoring import rule_points

    probe = (
        "import socket\nfrom setuptools import setup\n"
        "socket.gethostbyname('probe.x.example.net')\n"
        "setup(name='tidy-strings', version='99.0.0')\n"
    )
    plain = "from setuptools import setup\nsetup(name='tidy-strings', version='99.0.0')\n"
    points = []
    for setup_py in (probe, plain):
        found = dependency_confusion_rule(
            package(engine, sdist(version="99.0.0", setup_py=setup_py))
        )
        assert found is not None
        assert found.evidence == {"version": "99.0.0"}
        points.append(rule_points(found))
    assert points[0] >= points[1] + 4
