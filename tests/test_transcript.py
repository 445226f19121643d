"""Transcripts: every byte both ways, timestamped, per program; kept for failures only."""

from __future__ import annotations

import ast
import re
import time
from pathlib import Path

import pytest
from projects import hil_project
from scripted_link import ScriptedLink

from hilrig.deadline import Deadline
from hilrig.transport.transcript import KEEP_BYTES, MERGE_S, TAIL_BYTES, RecordingLink, Transcript

pytest_plugins = ["pytester"]


def test_recording_link_keeps_both_directions_in_order() -> None:
    inner = ScriptedLink((b"ping", b"pong"))
    link = RecordingLink(inner)
    transcript = link.begin("suites/a.py")
    link.write(b"ping")
    assert link.read_some(Deadline.after(1)) == b"pong"
    assert [(d, data) for _, d, data in transcript.chunks] == [(">", b"ping"), ("<", b"pong")]
    times = [t for t, _, _ in transcript.chunks]
    assert times == sorted(times) and times[0] >= 0
    assert link.label == inner.label and inner.written == b"ping"


def test_begin_starts_a_fresh_transcript_per_program() -> None:
    link = RecordingLink(ScriptedLink())
    first = link.begin("one")
    link.write(b"1")
    second = link.begin("two")
    link.write(b"2")
    assert [c[2] for c in first.chunks] == [b"1"] and [c[2] for c in second.chunks] == [b"2"]
    assert second.render().startswith("# hilrig transcript: two\n")


def test_bytes_close_together_share_a_line_and_notes_split_them() -> None:
    transcript = Transcript("t")
    for byte in b"raw REPL":  # QEMU's serial socket: one byte per read
        transcript.add("<", bytes([byte]))
    transcript.add(">", b"\x04")
    transcript.note("recovery: trying Ctrl-C")
    transcript.add(">", b"\x03")
    time.sleep(MERGE_S * 2)
    transcript.add(">", b"\x03")
    assert [(d, data) for _, d, data in transcript.chunks] == [
        ("<", b"raw REPL"),
        (">", b"\x04"),
        (">", b"\x03"),
        (">", b"\x03"),
    ]
    lines = transcript.render().splitlines()[2:]
    assert [line.strip().split(" ", 1)[1] for line in lines] == [
        "< b'raw REPL'",
        "> b'\\x04'",
        "# recovery: trying Ctrl-C",
        "> b'\\x03'",
        "> b'\\x03'",
    ]


def test_megabytes_keep_the_head_and_the_tail_and_say_what_is_missing() -> None:
    transcript = Transcript("chatty")
    pieces = [b"for i in range(10**6): print(i)\x04"]
    pieces += [bytes([48 + i % 10]) * 1023 + b"\n" for i in range(3000)]  # 3 MB in 1 KB reads
    pieces += [b"END\x04\x04>"]
    for piece in pieces:
        transcript.add(">" if piece is pieces[0] else "<", piece)
    text = transcript.render()
    kept = sum(len(data) for _, _, data in transcript.chunks)
    assert kept == KEEP_BYTES + TAIL_BYTES
    assert transcript.dropped == sum(map(len, pieces)) - kept
    assert f"# ... {transcript.dropped} bytes left out" in text
    assert "for i in range" in text and text.rstrip().endswith("END\\x04\\x04>'")
    assert len(text) < 2 * (KEEP_BYTES + TAIL_BYTES)


def test_save_creates_folders(tmp_path: Path) -> None:
    transcript = Transcript("x")
    transcript.add(">", b"print(1)\x04")
    path = transcript.save(tmp_path / "deep" / "er" / "x.txt")
    assert path.read_text().splitlines()[2].endswith("> b'print(1)\\x04'")


# -- through the plugin: kept for failures, dropped for passes --------------------------------


@pytest.fixture
def project(pytester: pytest.Pytester) -> pytest.Pytester:
    suites = hil_project(pytester, "unix")
    (suites / "good.py").write_text("print('good-marker')\n")
    (suites / "good.py.exp").write_text("good-marker\n")
    (suites / "bad.py").write_text("print('bad-marker')\nraise ValueError('boom-123')\n")
    (suites / "bad.py.exp").write_text("something else\n")
    return pytester


def transcripts(project: pytest.Pytester) -> Path:
    return project.path / ".hilrig" / "results" / "unix" / "transcripts"


def chunks(text: str, direction: str) -> list[bytes]:
    """The bytes of a transcript's chunks in one direction ('>' to the board, '<' from it)."""
    found = []
    for line in text.splitlines():
        fields = line.split(maxsplit=2)
        if len(fields) == 3 and fields[1] == direction:
            found.append(ast.literal_eval(fields[2]))
    return found


def unescape(literal: bytes) -> bytes:
    """The bytes a MicroPython bytes literal's body stands for (the escapes the loader uses)."""
    simple = {b"n": b"\n", b"r": b"\r", b"'": b"'", b"\\": b"\\"}

    def one(m: re.Match[bytes]) -> bytes:
        escape = m.group(1)
        if escape[:1] == b"x":
            return bytes([int(escape[1:], 16)])
        if escape[:1].isdigit():
            return bytes([int(escape, 8)])
        return simple[escape]

    return re.sub(rb"\\(x[0-9a-f]{2}|[0-7]{1,3}|.)", one, literal, flags=re.DOTALL)


def test_failure_keeps_its_transcript_and_prints_its_path(project: pytest.Pytester) -> None:
    result = project.runpytest("--target=unix", "--hil-reference=exp")
    result.assert_outcomes(passed=1, failed=1)
    bad = transcripts(project) / "suites__bad.py.txt"
    result.stdout.fnmatch_lines([f"*transcript: {bad}*"])
    text = bad.read_text()
    assert text.startswith("# hilrig transcript: suites/bad.py\n")
    sent = b"".join(chunks(text, ">"))
    got = b"".join(chunks(text, "<")).decode(errors="replace")
    # the program went out as .mpy, its bytes in a bytes literal
    found = re.search(rb"BytesIO\(b'((?:[^'\\]|\\.)*)'\)", sent, re.DOTALL)
    assert found is not None
    mpy = unescape(found.group(1))
    assert mpy.startswith(b"M\x06") and b"bad-marker" in mpy and b"boom-123" in mpy
    assert "bad-marker" in got and "ValueError: boom-123" in got  # and the board answered
    assert not (transcripts(project) / "suites__good.py.txt").exists()


def test_keep_transcripts_keeps_passes_too(project: pytest.Pytester) -> None:
    result = project.runpytest("--target=unix", "--hil-reference=exp", "--hil-keep-transcripts")
    result.assert_outcomes(passed=1, failed=1)
    good = (transcripts(project) / "suites__good.py.txt").read_text()
    assert "good-marker" in good
