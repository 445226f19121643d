"""The verdict-soundness corpus: every suite program's reference output, made wrong in one small
way (each must FAIL) and made different in a legitimate way (each must PASS).

The comparison runs directly on RunResults, so the corpus covers thousands of cases in seconds;
``tests/test_soundness.py`` runs it, and ``python tests/soundness.py`` prints the counts.
"""

from __future__ import annotations

import re
import struct
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path

from hilrig.capabilities import Capabilities, ErrorReporting
from hilrig.compare.judge import Comparison, Verdict, compare_runs
from hilrig.compare.normalise import FLOAT_TOKEN, is_float_repr
from hilrig.compare.tracebacks import Traceback, format_traceback, parse_traceback
from hilrig.compare.vm_messages import TABLE
from hilrig.results import Outcome, RunResult
from hilrig.targets.spec import CompareSpec

ROOT = Path(__file__).resolve().parents[1]
SPEC = CompareSpec()
HOST = Capabilities(
    platform="linux",
    version=(1, 29, 0),
    banner="MicroPython v1.29.0-preview on linux",
    float_bits=64,
    small_int_bits=63,
    error_reporting=ErrorReporting.DETAILED,
)
# Boards that differ from the host in the ways the normalisers exist for.
SINGLE = replace(HOST, platform="rp2", float_bits=32, small_int_bits=31)
MICROBIT = Capabilities(
    platform="microbit",
    version=(1, 9, 2),
    banner="MicroPython v1.9.2-34-gd64154c73 on 2017-09-01; micro:bit",
    float_bits=30,
    small_int_bits=31,
    error_reporting=ErrorReporting.NORMAL,
)
MAX_PER_KIND = 12  # mutations of one kind per program (spread over the output)


@dataclass(frozen=True)
class Case:
    """One board result to judge against a reference, and the verdict it must get."""

    program: str
    kind: str  # what was changed: "digit", "crlf", ...
    board: RunResult
    caps: Capabilities
    must_pass: bool


@dataclass(frozen=True)
class Wrong:
    """A case that got the wrong verdict."""

    case: Case
    comparison: Comparison

    def __str__(self) -> str:
        want = "PASS" if self.case.must_pass else "FAIL"
        return (
            f"{self.case.program} [{self.case.kind}] must {want}, got "
            f"{self.comparison.verdict.value}: {self.comparison.reason}\n"
            f"  board stdout {self.case.board.stdout[-200:]!r}\n"
            f"  board traceback {self.case.board.traceback[-200:]!r}"
        )


def programs() -> list[Path]:
    """Every suite program."""
    return sorted((ROOT / "suites").rglob("*.py"))


def judge(case: Case, reference: RunResult) -> Wrong | None:
    """None when the case gets the verdict it must get."""
    result = compare_runs(case.board, reference, case.caps, HOST, SPEC)
    passed = result.verdict is Verdict.MATCH
    return None if passed == case.must_pass else Wrong(case, result)


def cases(name: str, ref: RunResult) -> Iterator[Case]:
    """Every wrong and every legitimate variant of one program's reference result."""
    for kind, mutate in WRONG.items():
        for board in _spread(mutate(ref)):
            if board != ref:
                yield Case(name, kind, board, HOST, must_pass=False)
                yield Case(name, f"{kind} at single precision", board, SINGLE, must_pass=False)
    for kind, legit, caps in LEGIT:
        allowed = legit(ref)
        if allowed is not None:
            yield Case(name, kind, allowed, caps, must_pass=True)
            for wrong_kind, mutate in WRONG.items():
                for mutated in _spread(mutate(allowed)):
                    if mutated != allowed:
                        yield Case(name, f"{kind}, then {wrong_kind}", mutated, caps, False)


def _spread(variants: Iterator[RunResult]) -> list[RunResult]:
    """At most MAX_PER_KIND of the variants, taken evenly from all of them."""
    found = list(variants)
    step = max(1, len(found) // MAX_PER_KIND)
    return found[::step][:MAX_PER_KIND]


# ---- wrong in one small way -----------------------------------------------------------------


def _with_stdout(run: RunResult, text: bytes) -> RunResult:
    return replace(run, stdout=text)


def digit_changed(run: RunResult) -> Iterator[RunResult]:
    """Each digit of stdout, one at a time, replaced by the next one."""
    out = run.stdout
    for match in re.finditer(rb"\d", out):
        i = match.start()
        digit = str((int(out[i : i + 1]) + 1) % 10).encode()
        yield _with_stdout(run, out[:i] + digit + out[i + 1 :])


def word_changed(run: RunResult) -> Iterator[RunResult]:
    """Each word of stdout, one at a time, replaced by another word."""
    out = run.stdout
    for match in re.finditer(rb"[A-Za-z]{2,}", out):
        word = match.group()
        other = b"high" if word != b"high" else b"low"
        yield _with_stdout(run, out[: match.start()] + other + out[match.end() :])


def float_reformatted(run: RunResult) -> Iterator[RunResult]:
    """Each float of stdout written another way a formatter would: '3.5' as '3.50', '3.5e+00'."""
    text = run.stdout.decode("utf-8", "surrogateescape")
    for match in FLOAT_TOKEN.finditer(text):
        token = match.group()
        try:
            value = float(token)
        except ValueError:
            continue
        for other in (token + "0", f"{value:e}", f"{value:.2f}", f"{value:.3g}"):
            if other != token:
                changed = text[: match.start()] + other + text[match.end() :]
                yield _with_stdout(run, changed.encode("utf-8", "surrogateescape"))


def lines_changed(run: RunResult) -> Iterator[RunResult]:
    """A line dropped, a line duplicated, two different neighbouring lines swapped."""
    lines = run.stdout.splitlines(keepends=True)
    for i, line in enumerate(lines):
        yield _with_stdout(run, b"".join(lines[:i] + lines[i + 1 :]))
        yield _with_stdout(run, b"".join(lines[: i + 1] + [line] + lines[i + 1 :]))
        if i + 1 < len(lines) and lines[i + 1] != line:
            swapped = lines[:i] + [lines[i + 1], line] + lines[i + 2 :]
            yield _with_stdout(run, b"".join(swapped))


def output_added(run: RunResult) -> Iterator[RunResult]:
    """Trailing output, a blank line, a trailing space, a missing final newline."""
    out = run.stdout
    yield _with_stdout(run, out + b"extra\n")
    yield _with_stdout(run, out + b"\n")
    if out.endswith(b"\n"):
        yield _with_stdout(run, out[:-1] + b" \n")
        yield _with_stdout(run, out[:-1])


def framing_injected(run: RunResult) -> Iterator[RunResult]:
    """A raw REPL framing byte (or a raw non-UTF-8 byte) inside stdout."""
    out = run.stdout
    for at in sorted({0, len(out) // 2, len(out)}):
        for byte in (b"\x04", b"\x04\x04>", b"\xff"):
            yield _with_stdout(run, out[:at] + byte + out[at:])


def exception_changed(run: RunResult) -> Iterator[RunResult]:
    """The type, the message, a frame's line; an exception added or taken away."""
    tb = _traceback(run)
    if tb is None:
        yield replace(
            run,
            outcome=Outcome.EXCEPTION,
            traceback=b"Traceback (most recent call "
            b'last):\n  File "x.py", line 1, in <module>\nValueError: x\n',
        )
        return
    yield replace(run, outcome=Outcome.OK, traceback=b"")
    other_type = "TypeError" if tb.exc_type != "TypeError" else "ValueError"
    yield _with_tb(run, replace(tb, exc_type=other_type))
    yield _with_tb(run, replace(tb, message=tb.message + "x"))
    yield _with_tb(run, replace(tb, message=""))
    for word in re.finditer(r"[A-Za-z]{2,}|\d", tb.message):
        other = "high" if word.group() != "high" else "low"
        if word.group().isdigit():
            other = str((int(word.group()) + 1) % 10)
        message = tb.message[: word.start()] + other + tb.message[word.end() :]
        yield _with_tb(run, replace(tb, message=message))
    for i, frame in enumerate(tb.frames):
        if frame.line is not None:
            frames = tb.frames[:i] + (replace(frame, line=frame.line + 1),) + tb.frames[i + 1 :]
            yield _with_tb(run, replace(tb, frames=frames))
        frames = tb.frames[:i] + tb.frames[i + 1 :]
        yield _with_tb(run, replace(tb, frames=frames))


def _traceback(run: RunResult) -> Traceback | None:
    if run.outcome is not Outcome.EXCEPTION:
        return None
    return parse_traceback(run.traceback.decode("utf-8", "surrogateescape"))


def _with_tb(run: RunResult, tb: Traceback) -> RunResult:
    return replace(run, traceback=format_traceback(tb).encode("utf-8", "surrogateescape"))


WRONG: dict[str, Callable[[RunResult], Iterator[RunResult]]] = {
    "digit": digit_changed,
    "word": word_changed,
    "float reformatted": float_reformatted,
    "line": lines_changed,
    "output added": output_added,
    "framing byte": framing_injected,
    "exception": exception_changed,
}


# ---- different in a legitimate way ----------------------------------------------------------


def crlf(run: RunResult) -> RunResult:
    """Line endings as a UART board sends them."""
    return replace(
        run,
        stdout=run.stdout.replace(b"\n", b"\r\n"),
        traceback=run.traceback.replace(b"\n", b"\r\n"),
    )


def _f32(x: float) -> float:
    try:
        return float(struct.unpack("<f", struct.pack("<f", x))[0])
    except OverflowError:
        return float("inf") if x > 0 else float("-inf")


def _f30(x: float) -> float:
    f32 = _f32(x)
    if f32 != f32 or f32 in (float("inf"), float("-inf")):
        return f32
    (bits,) = struct.unpack("<I", struct.pack("<f", f32))
    return float(struct.unpack("<f", struct.pack("<I", bits & ~3))[0])


def _reprint_floats(run: RunResult, show: Callable[[float], str]) -> RunResult | None:
    text = run.stdout.decode("utf-8", "surrogateescape")

    def sub(match: re.Match[str]) -> str:
        token = match.group()
        return show(float(token)) if is_float_repr(token) else token

    changed = FLOAT_TOKEN.sub(sub, text)
    if changed == text:
        return None
    return replace(run, stdout=changed.encode("utf-8", "surrogateescape"))


def _g(value: float, digits: int) -> str:
    text = f"{value:.{digits}g}"
    return text if any(c in text for c in ".en") else text + ".0"


def microbit_floats(run: RunResult) -> RunResult | None:
    """Floats as MicroPython 1.9.2 with 30-bit floats prints them: %.6g, then \\r\\n endings."""
    reprinted = _reprint_floats(run, lambda x: _g(_f30(x), 6))
    return crlf(reprinted if reprinted is not None else run)


def single_floats_old(run: RunResult) -> RunResult | None:
    """Floats as single-precision firmware before 1.26 prints them: %.7g of the float32."""
    return _reprint_floats(run, lambda x: _g(_f32(x), 7))


def single_floats_new(run: RunResult) -> RunResult | None:
    """Floats as single-precision firmware since 1.26 prints them: shortest round trip."""

    def shortest(x: float) -> str:
        stored = _f32(x)
        for digits in range(1, 10):
            if _f32(float(f"{stored:.{digits}g}")) == stored:
                return repr(float(f"{stored:.{digits}g}"))
        return repr(stored)

    return _reprint_floats(run, shortest)


TERSE_BOARD = Capabilities(
    platform="samd",
    version=(1, 22, 0),
    banner="",
    float_bits=32,
    small_int_bits=31,
    error_reporting=ErrorReporting.TERSE,
)


def _fill(template: str, numbers: list[str], names: list[str]) -> str | None:
    """A template with its %d fields from ``numbers`` and its other fields from ``names``."""
    out, numbers, names = "", list(numbers), list(names)
    for i, part in enumerate(re.split(r"(%[dqscx])", template)):
        if i % 2 == 0:
            out += part
        elif part == "%d" and numbers:
            out += numbers.pop(0)
        elif part in ("%q", "%s") and names:
            out += names.pop(0)
        else:
            return None
    return out


def _vm_message(run: RunResult, column: int) -> RunResult | None:
    """The traceback's message as the VM prints it at another level or version (a column of
    hilrig.compare.vm_messages.TABLE), when the reference's message is one the VM wrote."""
    tb = _traceback(run)
    if tb is None:
        return None
    for line in TABLE.splitlines():
        cells = line.split(" | ")
        if cells[0] != tb.exc_type:
            continue
        for detailed in cells[1].split(" OR "):
            match = _template_regex(detailed).fullmatch(tb.message)
            if match is None:
                continue
            values = list(match.groups())
            numbers = [v for v in values if v.lstrip("-").isdigit()]
            names = [v for v in values if not v.lstrip("-").isdigit()]
            text = _fill(cells[column].split(" OR ")[0], numbers, names)
            if text is not None and cells[column] != "-":
                return _with_tb(run, replace(tb, message="" if text == "(none)" else text))
    return None


def _template_regex(template: str) -> re.Pattern[str]:
    parts = re.split(r"%[dqscx]", template)
    return re.compile(r"(.*?)".join(re.escape(part) for part in parts))


def terse_message(run: RunResult) -> RunResult | None:
    """The VM's own message as a TERSE board (1.10 and later) prints it."""
    return _vm_message(run, 4)


def microbit_message(run: RunResult) -> RunResult | None:
    """The VM's own message as MicroPython 1.9.2 at NORMAL prints it, with its floats and \r\n."""
    reworded = _vm_message(run, 3)
    return microbit_floats(reworded) if reworded is not None else None


LEGIT: list[tuple[str, Callable[[RunResult], RunResult | None], Capabilities]] = [
    ("crlf", crlf, HOST),
    ("terse VM message", terse_message, TERSE_BOARD),
    ("micro:bit VM message", microbit_message, MICROBIT),
    ("micro:bit floats", microbit_floats, MICROBIT),
    ("single floats before 1.26", single_floats_old, SINGLE),
    ("single floats since 1.26", single_floats_new, SINGLE),
]


def main() -> int:
    """Run the reference of every suite program on the host VM and print the corpus counts."""
    from reference_runs import reference_results

    refs = reference_results(Path(".hilrig/soundness-cache"))
    counts = {"pass": 0, "fail": 0}
    wrong: list[Wrong] = []
    for name, ref in refs.items():
        for case in cases(name, ref):
            counts["pass" if case.must_pass else "fail"] += 1
            bad = judge(case, ref)
            if bad is not None:
                wrong.append(bad)
    false_pass = sum(not w.case.must_pass for w in wrong)
    print(
        f"{len(refs)} programs, {counts['fail']} wrong variants, {counts['pass']} legitimate: "
        f"{false_pass} false passes, {len(wrong) - false_pass} false failures"
    )
    for w in wrong[:20]:
        print(w)
    return 1 if wrong else 0


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).parent))
    raise SystemExit(main())
