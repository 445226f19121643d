"""Comparing two boards (``--hil-reference=target:NAME``): the host ↔ board normalisers apply only
where the two firmwares actually differ in what each one makes up for.

- floats: only when the float precision differs, and then at the lower of the two;
- big ints: only when one side has arbitrary-precision ints and the other does not, or their
  small ints differ in width;
- error messages: only when the error-reporting levels differ (terse against detailed);
- handler frames: only when exactly one side is MicroPython 1.9, which records a frame per
  exception handler passed.

Two builds of the same board agree on all four, so they compare exactly: a float printed with one
digit more, a reworded exception message, is a difference.
"""

from __future__ import annotations

from dataclasses import replace

from hilrig.capabilities import Capabilities
from hilrig.compare.judge import Comparison, Verdict, compare_runs
from hilrig.compare.normalise import align_floats, normalise_line_endings
from hilrig.results import RunResult
from hilrig.targets.spec import CompareSpec

_OLD_HANDLER_FRAMES = (1, 10, 0)  # below this, one traceback entry per handler passed


def gap_spec(spec: CompareSpec, caps: Capabilities, ref_caps: Capabilities) -> CompareSpec:
    """``spec`` with each normaliser kept only where the two firmwares differ in it."""
    ints_differ = caps.bigint != ref_caps.bigint or caps.small_int_bits != ref_caps.small_int_bits
    old = (caps.version < _OLD_HANDLER_FRAMES, ref_caps.version < _OLD_HANDLER_FRAMES)
    return replace(
        spec,
        floats=spec.floats and caps.float_bits != ref_caps.float_bits,
        ints=spec.ints and ints_differ,
        error_messages=spec.error_messages and caps.error_reporting != ref_caps.error_reporting,
        handler_frames=spec.handler_frames and old[0] != old[1],
    )


def firmware_name(caps: Capabilities) -> str:
    """One line naming a firmware: its banner, else its version and platform."""
    return caps.banner or f"MicroPython {caps.version_text} on {caps.platform}"


def compare_targets(
    board: RunResult,
    reference: RunResult,
    caps: Capabilities,
    ref_caps: Capabilities,
    spec: CompareSpec,
) -> Comparison:
    """A board run against another board's run of the same program; a difference names both
    firmwares."""
    narrowed = gap_spec(spec, caps, ref_caps)
    notes: tuple[str, ...] = ()
    if narrowed.floats and 0 < ref_caps.float_bits < caps.float_bits:
        # the reference is the less precise one: its floats are read at its own precision
        reference, notes = _reference_floats_aligned(
            board, reference, ref_caps.float_bits, spec.line_endings
        )
        narrowed = replace(narrowed, floats=False)
    found = compare_runs(board, reference, caps, ref_caps, narrowed)
    off = [
        name
        for name in ("floats", "ints", "error_messages", "handler_frames")
        if getattr(spec, name) and not getattr(gap_spec(spec, caps, ref_caps), name)
    ]
    notes = (*notes, *found.notes)
    if off:
        notes = (*notes, f"compared exactly where both firmwares agree: {', '.join(off)}")
    if found.verdict is not Verdict.MISMATCH:
        return replace(found, notes=notes)
    names = f"board firmware: {firmware_name(caps)}\nreference firmware: {firmware_name(ref_caps)}"
    return Comparison(found.verdict, found.reason, f"{names}\n{found.diff}", notes)


def _reference_floats_aligned(
    board: RunResult, reference: RunResult, bits: int, line_endings: bool
) -> tuple[RunResult, tuple[str, ...]]:
    """The reference's stdout with each float it printed at ``bits`` replaced by the board's
    more precise float where that is exactly what a ``bits`` board prints for it."""
    ref_text = reference.stdout.decode("utf-8", "surrogateescape")
    board_text = board.stdout.decode("utf-8", "surrogateescape")
    if line_endings:  # as compare_runs will: a board's \r\n must not keep lines from pairing
        ref_text, board_text = normalise_line_endings(ref_text), normalise_line_endings(board_text)
    aligned = align_floats(ref_text, board_text, bits)
    if not aligned.matched:
        return reference, ()
    stdout = aligned.text.encode("utf-8", "surrogateescape")
    plural = "s" if aligned.matched > 1 else ""
    note = f"{aligned.matched} reference float{plural} matched at its {bits}-bit precision"
    return replace(reference, stdout=stdout), (note,)
