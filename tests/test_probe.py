"""The capability probe: what the host VM and the QEMU micro:bit report, and bad answers."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from real_targets import started_board

from hilrig.boards.board import Board
from hilrig.boards.capability_probe import (
    FEATURES,
    MODULES,
    PROBE_SCRIPT,
    error_level,
    parse_probe,
    probe_code,
)
from hilrig.capabilities import Capabilities, ErrorReporting
from hilrig.errors import ReplError

MICROBIT_ANSWER = (
    b"('microbit', (1, 9, 2), '3.4.0', None, '', '', 30, 31, True, 37, 8208, "
    b"['micropython', 'gc', 'array', 'struct', 'ustruct', 'collections', 'ucollections', "
    b"'math', 'os', 'utime', 'random', 'machine'], "
    b"['int_big', 'int_64', 'bytearray', 'set', 'slice', 'const', 'reverse_ops', 'complex'], "
    b"'little')\r\n"
)


def test_probe_is_plain_old_micropython() -> None:
    code = probe_code()
    assert not re.search(rb"[\x01-\x05]", code)  # sendable in plain raw mode
    # MicroPython 1.9 has no f-strings; the feature checks hold some, as strings given to exec()
    assert not re.search(r"(?<!\w)[fF][rR]?['\"]", PROBE_SCRIPT)
    assert all(repr(source).encode() in code for _, source in FEATURES)
    compile(code, "<probe>", "exec")
    for module in MODULES:
        assert repr(module).encode() in code


def test_parse_a_micro_bit_answer() -> None:
    caps = parse_probe(MICROBIT_ANSWER, "MicroPython v1.9.2-34-gd64154c73 on 2017-09-01", False)
    assert caps.platform == "microbit" and caps.version == (1, 9, 2)
    assert (caps.float_bits, caps.small_int_bits, caps.mpy) == (30, 31, None)
    assert caps.error_reporting is ErrorReporting.TERSE
    assert not caps.can_import_mpy and not caps.raw_paste
    assert "utime" in caps.modules and "io" not in caps.modules


def test_only_the_last_line_counts() -> None:
    caps = parse_probe(b"a warning from boot.py\r\n" + MICROBIT_ANSWER, "", False)
    assert caps.platform == "microbit"


@pytest.mark.parametrize(
    "output, complaint",
    [
        (b"", r"printed '', not its answer"),
        (b"Traceback (most recent call last):", r"not its answer"),
        (b"('linux', (1, 2))", r"not its answer"),  # too few values
        (b"[1, 2, 3]", r"not its answer"),
        (MICROBIT_ANSWER.replace(b"(1, 9, 2)", b"192"), r"version is 192"),
        (MICROBIT_ANSWER.replace(b"(1, 9, 2)", b"('1', 9, 2)"), r"not its answer"),
        (MICROBIT_ANSWER.replace(b", 30, 31,", b", '30', 31,"), r"float bits is '30'"),
        (MICROBIT_ANSWER.replace(b"['micropython'", b"[1"), r"not its answer"),
        (b"(" * 500 + b")" * 500, r"not its answer"),
    ],
)
def test_bad_answers_are_repl_errors(output: bytes, complaint: str) -> None:
    with pytest.raises(ReplError, match=complaint):
        parse_probe(output, "", False)


@pytest.mark.parametrize(
    "length, level",
    [
        (0, ErrorReporting.NONE),
        (39, ErrorReporting.TERSE),
        (40, ErrorReporting.NORMAL),
        (54, ErrorReporting.NORMAL),
        (55, ErrorReporting.DETAILED),
    ],
)
def test_error_level_from_the_message_length(length: int, level: ErrorReporting) -> None:
    assert error_level(length) is level


@pytest.fixture(scope="module", params=["host", "microbit"])
def caps(request: pytest.FixtureRequest) -> Iterator[tuple[str, Capabilities, Board]]:
    with started_board(request.param) as board:
        assert board.caps is not None
        yield request.param, board.caps, board


def test_real_capabilities(caps: tuple[str, Capabilities, Board]) -> None:
    kind, found, board = caps
    assert found.banner.startswith("MicroPython ")
    if kind == "host":
        assert found.platform == "linux"
        assert (found.float_bits, found.small_int_bits) == (64, 63)
        assert found.error_reporting is ErrorReporting.DETAILED
        assert found.mpy == 2822 and found.mpy_version == 6 and found.arch == "x64"
        assert found.can_import_mpy and found.raw_paste and found.bigint
        # as run-tests.py's feature checks find them on this build (no t-strings, no coverage)
        assert found.features == {
            "native",
            "int_big",
            "int_64",
            "bytearray",
            "set",
            "slice",
            "async",
            "const",
            "reverse_ops",
            "fstring",
            "complex",
        }
    else:
        assert found.platform == "microbit" and found.version == (1, 9, 2)
        assert found.banner.startswith("MicroPython v1.9.2")
        assert (found.float_bits, found.small_int_bits) == (30, 31)
        assert found.mpy is None and not found.can_import_mpy and not found.raw_paste
        assert found.mem_free is not None and found.mem_free < 10_000  # the ~9 KB heap
        # 2017 firmware: no native emitter, f-strings or bare const() (it needs the import)
        assert not {"native", "fstring", "const"} & found.features
        assert {"set", "bytearray", "int_big"} <= found.features
    assert found.byteorder == "little"
    # the probe left nothing behind: Board.start soft-resets after it
    reply = board.exec(b"print('i' in globals(), 'ms' in globals())", 5, 1000)
    assert reply.stdout.strip() == b"False False"
