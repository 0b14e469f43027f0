"""Pickles that run programs when loaded, written here with ``pickle.dumps`` (which only
records the callables' names) or byte by byte; no pickle is ever loaded."""

from __future__ import annotations

import collections
import pickle
import subprocess
from typing import Any

import pytest

from tests.analysis.builders import run_rule, wheel, zip_bytes
from threatfeed.analysis import Engine
from threatfeed.analysis.rules.pickles import imports, is_pickle, pickle_code_execution_rule


class _Runs:
    """Pickled as a call of ``subprocess.check_output``: what a poisoned model holds."""

    def __reduce__(self) -> tuple[Any, ...]:
        return subprocess.check_output, (["true"],)


class _Calls:
    """Pickled as a call of ``subprocess.call``: the module's name comes from the memo."""

    def __reduce__(self) -> tuple[Any, ...]:
        return subprocess.call, (["true"],)


POISONED = pickle.dumps({"weights": [0.1, 0.2], "hook": _Runs()}, protocol=4)
PROTOCOL_0 = b"cos\nsystem\n(S'id'\ntR."
LOADER = (
    "import os, pickle\n"
    "with open(os.path.join(os.path.dirname(__file__), 'assets', 'weights.pkl'), 'rb') as f:\n"
    "    MODEL = pickle.load(f)\n"
)


def test_the_callables_a_pickle_imports_are_read_without_loading_it() -> None:
    assert list(imports(POISONED)) == [("subprocess", "check_output")]
    assert list(imports(PROTOCOL_0)) == [("os", "system")]


def test_names_taken_from_the_memo_are_read_too() -> None:
    both = pickle.dumps([_Runs(), _Calls()], protocol=4)
    assert both.count(b"subprocess") == 1
    assert list(imports(both)) == [("subprocess", "check_output"), ("subprocess", "call")]


def test_pickles_are_recognised_by_their_bytes_or_by_name_and_first_opcode() -> None:
    assert is_pickle("assets/weights.bin", POISONED)
    assert is_pickle("assets/weights.pkl", PROTOCOL_0)
    assert not is_pickle("notes.txt", PROTOCOL_0)
    assert not is_pickle("image.png", b"\x89PNG\r\n\x1a\n")


@pytest.mark.parametrize(
    ("name", "data"),
    [("weights.pkl", POISONED), ("weights.pkl", PROTOCOL_0)],
    ids=["protocol 4", "protocol 0"],
)
def test_a_model_file_that_runs_a_command_when_loaded_flags(
    engine: Engine, name: str, data: bytes
) -> None:
    archive = wheel({"sentiment/__init__.py": LOADER, f"sentiment/assets/{name}": data})
    evidence = run_rule(engine, pickle_code_execution_rule, archive)
    expected = [f"{module}.{callable_}" for module, callable_ in imports(data)]
    assert evidence == [{"file": f"sentiment/assets/{name}", "imports": expected}]
    assert engine.analyze(archive).flagged


def test_a_poisoned_pytorch_checkpoint_is_read_inside_its_zip(engine: Engine) -> None:
    checkpoint = zip_bytes({"archive/data.pkl": POISONED, "archive/version": "3\n"})
    archive = wheel({"vision/__init__.py": "", "vision/model.pt": checkpoint})
    evidence = run_rule(engine, pickle_code_execution_rule, archive)
    assert evidence == [
        {"file": "vision/model.pt!/archive/data.pkl", "imports": ["subprocess.check_output"]}
    ]


def test_data_pickles_are_not_reported(engine: Engine) -> None:
    data = pickle.dumps(
        {
            "vocabulary": collections.OrderedDict(a=1, b=2),
            "counts": collections.Counter("pickle"),
            "method": [].append,  # pickled as builtins.getattr
            "set": {1, 2},
        },
        protocol=4,
    )
    assert ("builtins", "getattr") in set(imports(data))
    archive = wheel({"sentiment/__init__.py": LOADER, "sentiment/assets/weights.pkl": data})
    assert run_rule(engine, pickle_code_execution_rule, archive) is None


def test_a_broken_pickle_is_read_up_to_where_it_breaks() -> None:
    cut = POISONED[: POISONED.index(b"\x93") + 1] + b"\x8c\x10trunc"
    assert list(imports(cut)) == [("subprocess", "check_output")]
    assert list(imports(b"\x80\x04\x95\xff\xff")) == []


def test_a_scanner_s_test_fixture_does_not_flag(engine: Engine) -> None:
    archive = wheel({"picklescan/__init__.py": "", "tests/data/malicious.pkl": POISONED})
    assert run_rule(engine, pickle_code_execution_rule, archive) is not None
    assert not engine.analyze(archive).flagged


#: ``STACK_GLOBAL`` with other pushes and pops between its two strings, a dotted name,
#: and a harmless opcode in front of ``PROTO``: each loads as ``os.system`` or ``exec``.
INTERLEAVED = b"\x80\x04\x8c\x02os\x94)0\x8c\x06system\x94\x93\x8c\x02id\x85R."
DOTTED = b"\x80\x04\x8c\x08builtins\x8c\x0dexec.__call__\x93\x8c\x01x\x85R."
PREFIXED = b"N0" + INTERLEAVED


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (INTERLEAVED, ("os", "system")),
        (DOTTED, ("builtins", "exec.__call__")),
        (PREFIXED, ("os", "system")),
        (b"N0" * 90_000 + PROTOCOL_0, ("os", "system")),
    ],
    ids=["pushes between the strings", "dotted name", "opcode before PROTO", "padding"],
)
def test_pickles_shaped_to_slip_past_a_reader_are_read(
    engine: Engine, data: bytes, expected: tuple[str, str]
) -> None:
    assert expected in set(imports(data))
    archive = wheel({"sentiment/__init__.py": "", "sentiment/assets/model.bin": data})
    assert run_rule(engine, pickle_code_execution_rule, archive)
