"""The raw REPL client against scripted byte streams, then against the real host VM and QEMU."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from real_targets import start_host_vm, start_microbit
from scripted_link import PasteBoard, ScriptedLink, raw_prompt_board

from hilrig.boards.board import Connection
from hilrig.boards.hostvm import HostVM
from hilrig.deadline import Deadline
from hilrig.errors import LinkTimeout, ProgramTimeout, ReplError
from hilrig.forkserver import ForkedChild
from hilrig.transport.rawrepl import PLAIN_CHUNK, RAW_BANNER, RAW_PROMPT, RawRepl
from hilrig.transport.transcript import RecordingLink

SOON = Deadline.after  # scripted boards never sleep; deadlines only bound real ones

TRACEBACK = (
    b"Traceback (most recent call last):\r\n"
    b'  File "<stdin>", line 1\r\n'
    b"SyntaxError: invalid syntax\r\n"
)


def plain(link: ScriptedLink, pacing_s: float = 0.0) -> RawRepl:
    return RawRepl(link, raw_paste=False, pacing_s=pacing_s)


# -- entering, leaving, resetting -------------------------------------------------------------


def test_enter_interrupts_then_asks_for_the_raw_repl() -> None:
    link = ScriptedLink((b"\r\x01", b"\r\n" + RAW_PROMPT))
    link.say(b"output of whatever ran\r\n>>> ")
    said = RawRepl(link).enter(SOON(1))
    assert bytes(link.written) == b"\r\x03\r\x01"
    assert said.startswith(b"output of whatever ran") and said.endswith(RAW_PROMPT)


def test_enter_on_a_silent_board_says_what_it_saw() -> None:
    link = ScriptedLink()
    link.say(b"\x00garbage")
    with pytest.raises(ReplError, match=r"did not enter the raw REPL.*garbage.*MicroPython"):
        RawRepl(link).enter(SOON(0.1))


def test_friendly_banner_is_read_and_the_raw_repl_re_entered() -> None:
    link = ScriptedLink(
        (b"\x02", b'\r\nMicroPython v1.9.2-34 on 2017-09-01; micro:bit\r\nType "help()"\r\n>>> '),
        (b"\x01", b"\r\n" + RAW_PROMPT),
    )
    assert (
        RawRepl(link).friendly_banner(SOON(1)) == "MicroPython v1.9.2-34 on 2017-09-01; micro:bit"
    )
    assert not link.queue


def test_soft_reset_returns_boot_output() -> None:
    link = ScriptedLink((b"\x04", b"OK\r\nMPY: soft reboot\r\nboot.py here\r\n" + RAW_PROMPT))
    assert b"boot.py here" in RawRepl(link).soft_reset(SOON(1))
    assert link.caught == [1]  # at the raw prompt the board has read all input: no pause next


def test_the_board_has_caught_up_only_at_a_prompt() -> None:
    link = ScriptedLink((b"\x04", b"OK" + b"1\r\n\x04\x04>"))
    repl = plain(link)
    repl.send(b"print(1)", SOON(1))
    assert link.caught == []  # took the program ("OK"), but it runs: nothing is known
    repl.read_until(b"\x04\x04", SOON(1))
    assert repl.read_prompt() is False
    assert link.caught == [len(b"print(1)\x04")]  # its prompt: everything sent has been read


# -- plain raw mode and the framing -----------------------------------------------------------


@pytest.mark.parametrize("chunk", [0, 1, 3])
def test_framing_ok_stdout_eot_exception_eot_prompt(chunk: int) -> None:
    link = ScriptedLink(
        (b"\x04", b"OK" + b"1\r\n\x04" + TRACEBACK + b"\x04>"),
        (b"\x04", b"OK" + b"2\r\n\x04\x04>"),
        chunk=chunk,
    )
    repl = plain(link)
    first = repl.exec(b"print(1)\nx = (", SOON(1))
    assert (first.stdout, first.exception) == (b"1\r\n", TRACEBACK)
    assert not first.truncated and not first.exited
    second = repl.exec(b"print(2)", SOON(1))
    assert (second.stdout, second.exception) == (b"2\r\n", b"")
    assert bytes(link.written) == b"print(1)\nx = (\x04print(2)\x04"


def test_plain_mode_sends_chunks_with_pauses_between_them_only(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    link = ScriptedLink((b"\x04", b"OK\x04\x04>"))
    code = b"#" * (2 * PLAIN_CHUNK + 10)
    pauses: list[float] = []
    monkeypatch.setattr("hilrig.transport.rawrepl.time.sleep", pauses.append)
    plain(link, pacing_s=0.02).exec(code, SOON(1))
    # the end (Ctrl-D) goes with the last chunk: a paced link waits once less
    assert [len(w) for w in link.writes] == [PLAIN_CHUNK, PLAIN_CHUNK, 11]
    assert link.writes[-1].endswith(b"#\x04")
    assert pauses == [0.02, 0.02]  # two pauses, none after the last chunk
    assert not link.flow_control  # plain raw mode keeps whatever pacing the link does


def test_no_ok_after_the_code_is_a_repl_error() -> None:
    link = ScriptedLink((b"\x04", b"raw REPL; CTRL-B to exit\r\n>"))
    with pytest.raises(ReplError, match=r"expected OK after code, got b'ra"):
        plain(link).exec(b"print(1)", SOON(1))


def test_board_that_never_acknowledges_the_code_is_a_repl_error() -> None:
    # micro:bit 1.9.2 with ~12 KB of source: the raw REPL's line buffer does not fit its heap.
    with pytest.raises(ReplError, match=r"did not take the program \(12000 bytes\)"):
        plain(ScriptedLink()).exec(b"#" * 12000, SOON(0.1))


# -- raw-paste mode -----------------------------------------------------------------------------


def test_raw_paste_respects_window_credits() -> None:
    code = bytes(ord("a") + i % 26 for i in range(1000))
    board = PasteBoard(b"hi\n\x04\x04>", window=128)
    repl = RawRepl(board)
    reply = repl.exec(code, SOON(1))
    assert reply.stdout == b"hi\n" and repl.raw_paste is True
    assert bytes(board.code) == code and not board.overrun
    assert board.written.startswith(b"\x05A\x01") and board.written.endswith(b"\x04")
    assert board.flow_control  # the link was told to stop pacing: the window paces now


@pytest.mark.parametrize("window", [32, 128])
def test_raw_paste_survives_one_byte_reads_and_small_windows(window: int) -> None:
    code = b"x = 1\n" * 200
    board = PasteBoard(b"\x04\x04>", window=window, chunk=1)
    RawRepl(board).exec(code, SOON(1))
    assert bytes(board.code) == code and not board.overrun


def test_raw_paste_abort_mid_paste_stops_sending() -> None:
    # The board's parser hit "1 1 1" after 200 bytes: it sends Ctrl-D and stops reading.
    code = b"1 1 1\n" + b"y = 2\n" * 300
    board = PasteBoard(b"\x04" + TRACEBACK + b"\x04>", abort_after=200)
    reply = RawRepl(board).exec(code, SOON(1))
    assert reply.stdout == b"" and b"SyntaxError" in reply.exception
    assert board.after_abort <= 2 * 128  # what the host had credit for, no more
    assert board.written.count(b"\x04") == 1 and len(board.written) < len(code)


def test_raw_paste_abort_after_everything_was_sent() -> None:
    board = PasteBoard(b"\x04" + TRACEBACK + b"\x04>", abort_after=10)
    reply = RawRepl(board).exec(b"1 1 1\n" + b"#" * 100, SOON(1))
    assert b"SyntaxError" in reply.exception


@pytest.mark.parametrize(
    "answer",
    [RAW_PROMPT, b"R\x00>"],  # MicroPython 1.9.x reprints the banner; 1.14+ without paste
    ids=["raw-banner", "R-00"],
)
def test_raw_paste_refused_falls_back_to_plain_once(answer: bytes) -> None:
    link = ScriptedLink(
        (b"\x05A\x01", answer),
        (b"\x04", b"OKone\x04\x04>"),
        (b"\x04", b"OKtwo\x04\x04>"),
    )
    repl = RawRepl(link)
    assert repl.exec(b"print('one')", SOON(1)).stdout == b"one"
    assert repl.raw_paste is False and not link.queue
    assert repl.exec(b"print('two')", SOON(1)).stdout == b"two"
    assert bytes(link.written) == b"\x05A\x01print('one')\x04print('two')\x04"


class NoisyPasteBoard(PasteBoard):
    """Sends '?' where a credit should be."""

    def before_read(self) -> None:
        if self.state == "paste":
            self.say(b"?")


def test_unexpected_byte_during_raw_paste_is_a_repl_error() -> None:
    with pytest.raises(ReplError, match=r"unexpected b'\?' during raw-paste"):
        RawRepl(NoisyPasteBoard(b"")).exec(b"#" * 1000, SOON(1))


# -- how programs end -----------------------------------------------------------------------


def test_system_exit_on_a_board_is_a_soft_reboot() -> None:
    link = raw_prompt_board(
        (b"\x04", b"OK\x04\x04soft reboot\r\n" + RAW_PROMPT),
        (b"\x04", b"OKnext\x04\x04>"),
    )
    repl = RawRepl(link)
    reply = repl.exec(b"raise SystemExit", SOON(1))
    assert reply.exited and reply.stdout == b"" and reply.exception == b""
    after = repl.exec(b"print('next')", SOON(1))
    assert (after.stdout, after.exited) == (b"next", False)


def test_system_exit_on_the_unix_port_ends_the_process() -> None:
    link = ScriptedLink((b"\x04", b"OK\x04\x04"), hangup=True)
    assert plain(link).exec(b"import sys\nsys.exit(3)", SOON(1)).exited


def test_output_limit_truncates_reports_and_keeps_the_framing() -> None:
    big = b"0123456789abcdef" * (3 * 65536)  # 3 MiB
    link = ScriptedLink(
        (b"\x04", b"OK" + big + b"\x04\x04>"), (b"\x04", b"OKok\x04\x04>"), chunk=65536
    )
    repl = plain(link)
    reply = repl.exec(b"...", SOON(5), max_output=1000)
    assert reply.truncated and reply.stdout == big[:1000]
    assert repl.exec(b"print('ok')", SOON(1)).stdout == b"ok"


@pytest.mark.parametrize(
    "stream",
    [
        b"OKa\x04b\r\n\x04\x04>",
        b"OK\x04\x04x\r\n\x04\x04>",
        b"OK\x00\x01\x02\x03\x04\x05\xff\x04\x04>",
    ],
    ids=["one-ctrl-d", "two-ctrl-d", "binary"],
)
def test_ctrl_d_inside_output_loses_the_framing(stream: bytes) -> None:
    link = ScriptedLink((b"\x04", stream))
    started = time.monotonic()
    with pytest.raises(ReplError, match="lost the raw REPL framing"):
        plain(link).exec(b"print(chr(4))", SOON(5))
    assert time.monotonic() - started < 1


def test_missing_prompt_is_a_repl_error() -> None:
    link = ScriptedLink((b"\x04", b"OKx\x04\x04"))
    with pytest.raises(ReplError, match="no prompt"):
        plain(link).exec(b"print('x')", SOON(1))


def test_deadline_raises_program_timeout_with_partial_stdout() -> None:
    link = ScriptedLink((b"\x04", b"OKpartial\r\n"))
    with pytest.raises(ProgramTimeout, match=r"^timeout after 0.2 s$") as caught:
        plain(link).exec(b"print('partial')\nwhile True: pass", SOON(0.2))
    assert caught.value.stdout == b"partial\r\n"


def test_link_timeout_carries_the_bytes_received() -> None:
    link = ScriptedLink()
    link.say(b"abc")
    repl = RawRepl(link)
    with pytest.raises(LinkTimeout, match=r"for b'>'.*got b'abc'") as caught:
        repl.read_until(b">", SOON(0.1))
    assert caught.value.received == b"abc"
    link.say(b"xy")
    with pytest.raises(LinkTimeout, match=r"for 3 bytes") as caught:
        repl.read_exactly(3, SOON(0.1))
    assert caught.value.received == b"xy"


def test_bytes_after_a_marker_are_kept_for_the_next_read() -> None:
    link = ScriptedLink()
    link.say(RAW_BANNER + b">OK")
    repl = RawRepl(link)
    assert repl.read_until(RAW_PROMPT, SOON(1)) == RAW_PROMPT
    assert repl.read_exactly(2, SOON(1)) == b"OK"


# -- the real host VM and the real QEMU micro:bit --------------------------------------------

Real = tuple[str, Connection, RawRepl]


@pytest.fixture(scope="module", params=["host", "microbit"])
def real(request: pytest.FixtureRequest) -> Iterator[Real]:
    """A raw REPL on a freshly started host VM or QEMU micro:bit, one per module."""
    start = start_host_vm if request.param == "host" else start_microbit
    with start() as (connection, repl):
        yield request.param, connection, repl


def newline(kind: str) -> bytes:
    return b"\n" if kind == "host" else b"\r\n"  # boards cook \n into \r\n


def test_real_framing_and_exceptions(real: Real) -> None:
    kind, _, repl = real
    reply = repl.exec(b"print('a')\nprint('b')\n1/0", SOON(5))
    nl = newline(kind)
    assert reply.stdout == b"a" + nl + b"b" + nl
    assert reply.exception.startswith(b"Traceback (most recent call last):")
    assert b"ZeroDivisionError" in reply.exception
    assert repl.raw_paste is (kind == "host")  # micro:bit 1.9.2 has no raw-paste


def sent(repl: RawRepl) -> int:
    assert isinstance(repl.link, RecordingLink)
    return sum(len(data) for _, way, data in repl.link.transcript.chunks if way == ">")


def test_real_syntax_error_mid_program(real: Real) -> None:
    kind, _, repl = real
    code = b"1 1 1\n" + b"y = 2\n" * 200
    assert isinstance(repl.link, RecordingLink)
    repl.link.begin("syntax error")
    reply = repl.exec(code, SOON(5))
    assert b"SyntaxError" in reply.exception and b"line 1" in reply.exception
    if kind == "host":  # the parser stopped at line 1 and aborted the raw-paste
        assert sent(repl) < len(code)
    assert repl.exec(b"print(6 * 7)", SOON(5)).stdout.strip() == b"42"


def test_real_large_program_is_sent_whole(real: Real) -> None:
    kind, _, repl = real
    lines = 3000 if kind == "host" else 150  # ~1 KB of source fits the micro:bit's 9 KB heap
    code = b"n = 0\n" + b"n += 1\n" * lines + b"print(n)\n"
    assert repl.exec(code, SOON(10)).stdout.strip() == str(lines).encode()


def test_real_megabytes_of_output_are_truncated(real: Real) -> None:
    kind, _, repl = real
    lines = 30000 if kind == "host" else 3000  # 3 MB / 300 KB through the emulated UART
    code = b"s = 'x' * 99\nfor i in range(%d):\n    print(s)\nprint('end')" % lines
    reply = repl.exec(code, SOON(30), max_output=5000)
    assert reply.truncated and len(reply.stdout) == 5000
    assert repl.exec(b"print('usable')", SOON(5)).stdout.strip() == b"usable"


def test_real_deadline_carries_partial_output_and_ctrl_c_ends_it(real: Real) -> None:
    _, connection, repl = real
    with pytest.raises(ProgramTimeout) as caught:
        repl.exec(b"print('started')\nwhile True:\n    pass\n", SOON(0.5))
    assert caught.value.stdout.strip() == b"started"
    connection.interrupt(repl.link)  # SIGINT for the host VM, Ctrl-C on the micro:bit's UART
    assert b"KeyboardInterrupt" in repl.read_until(b"\x04>", SOON(2))
    assert repl.exec(b"print('usable')", SOON(5)).stdout.strip() == b"usable"


def test_real_ctrl_d_in_output_loses_the_framing_at_once(real: Real) -> None:
    _, _, repl = real
    started = time.monotonic()
    with pytest.raises(ReplError, match="lost the raw REPL framing"):
        repl.exec(b"print('a' + chr(4) + 'b')", SOON(5))
    assert time.monotonic() - started < 1  # no waiting for a prompt that will not come
    repl.enter(SOON(5))
    assert repl.exec(b"print('back')", SOON(5)).stdout.strip() == b"back"


def test_real_soft_reset_clears_state(real: Real) -> None:
    kind, _, repl = real
    if kind == "host":
        pytest.skip("the unix port ends its process on a soft reset (see test_hostvm)")
    repl.exec(b"leak = 1", SOON(5))
    assert b"soft reboot" in repl.soft_reset(SOON(5))
    reply = repl.exec(b"print('leak' in globals())", SOON(5))
    assert reply.stdout.strip() == b"False"


def test_real_system_exit(real: Real) -> None:
    # Last: on the host VM it ends the process.
    kind, connection, repl = real
    reply = repl.exec(b"import sys\nprint('bye')\nsys.exit(3)", SOON(5))
    assert reply.stdout.strip() == b"bye" and reply.exception == b""
    if kind == "host":
        assert reply.exited
        assert isinstance(connection, HostVM) and connection.current is not None
        vm = connection.current.proc
        if isinstance(vm, ForkedChild):
            vm.wait(5)  # ended (its exit status stays with the fork server)
        else:
            assert vm.wait(5) == 3
    else:
        # The micro:bit's 1.9.2 firmware stays at the raw prompt after SystemExit (seen in
        # QEMU); hilrig soft-resets after every program anyway.
        assert not reply.exited
        assert repl.exec(b"print('still here')", SOON(5)).stdout.strip() == b"still here"


def test_sync_hands_over_output_that_follows_its_token_once_the_prompt_is_back() -> None:
    """A callback the program scheduled runs during the check line, after its token: sync
    returns all of it at the prompt, not after waiting out its deadline for a clean answer."""
    with start_host_vm() as (_, repl):
        program = b"import micropython\ndef f(_):\n print('late')\n"
        program += b"micropython.schedule(f, None)\nmicropython.schedule(f, None)\n"
        reply = repl.exec(program, SOON(5))
        assert reply.stdout == b"late\n" and reply.exception == b""  # one ran at the end
        started = time.monotonic()
        said = repl.sync(Deadline.after(60))
        assert time.monotonic() - started < 30  # the deadline is 60 s; the prompt is back at once
        assert said.startswith(b"OKhilrig-sync-")
        assert said.endswith(b"\nlate\n\x04\x04>")
        assert repl.sync(SOON(5)) == b"OK"  # idle now: a clean answer, and nothing left over
