"""Release gating: known failures per target, kept in a baseline file in the firmware's repo.

A baseline is TOML or JSON (by the file's suffix) and maps each target to the programs known to
fail there, each with a note (the failure's reason when it was recorded)::

    # hilrig baseline: known failures per target
    version = 1

    [targets.microbit-qemu]
    "suites/containers/array_ops.py" = "board raised SyntaxError, reference printed 6 lines"

    {"version": 1, "targets": {"microbit-qemu": {"suites/containers/array_ops.py": "..."}}}

With a baseline only *new* failures fail a run: a known failure that fails is reported as a
known failure (xfail), and one that passes every run is reported as fixed, to be removed from the
file. Running each program several times tells intermittent programs (some runs fail) from
failing ones.
"""

from __future__ import annotations

import enum
import json
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

from hilrig.compare.judge import Verdict
from hilrig.errors import ConfigError

FORMAT_VERSION = 1
_EMPTY: Mapping[str, Mapping[str, str]] = MappingProxyType({})


class GateStatus(enum.Enum):
    """What the gate made of a program's runs."""

    PASSED = "passed"
    FAILED = "failed"  # a new failure: every run failed
    INTERMITTENT = "intermittent"  # a new failure: some runs passed, some failed
    KNOWN = "known"  # in the baseline and failed at least once: does not fail the run
    FIXED = "fixed"  # in the baseline but passed every run: remove it from the baseline
    SKIPPED = "skipped"

    @property
    def failing(self) -> bool:
        """True for the statuses where the program failed at least once."""
        return self in (GateStatus.FAILED, GateStatus.INTERMITTENT, GateStatus.KNOWN)

    @property
    def fails_run(self) -> bool:
        """True for the statuses that fail the run."""
        return self in (GateStatus.FAILED, GateStatus.INTERMITTENT)


@dataclass(frozen=True)
class GateDecision:
    """The status, and the sentence that says it ("intermittent: 2 of 5 runs failed")."""

    status: GateStatus
    headline: str
    runs: int
    failed_runs: int


@dataclass(frozen=True)
class Baseline:
    """Known failures: target name -> program name -> note."""

    targets: Mapping[str, Mapping[str, str]] = field(default_factory=lambda: _EMPTY)

    def known(self, target: str) -> Mapping[str, str]:
        """The known failures of one target."""
        return self.targets.get(target, {})

    def note(self, target: str, program: str) -> str | None:
        """The note for a known failure, or None if the program is not listed."""
        return self.known(target).get(program)


def decide(verdicts: Sequence[Verdict], known_note: str | None, reason: str) -> GateDecision:
    """The gate's status for one program from the verdicts of its runs (first failure's reason)."""
    runs = len(verdicts)
    failed = sum(1 for v in verdicts if v is Verdict.MISMATCH)
    if failed == 0:
        if verdicts and all(v is Verdict.SKIP for v in verdicts):
            return GateDecision(GateStatus.SKIPPED, reason, runs, 0)
        if known_note is not None:
            return GateDecision(GateStatus.FIXED, "fixed: remove it from the baseline", runs, 0)
        return GateDecision(GateStatus.PASSED, "", runs, 0)
    counted = f"{failed} of {runs} runs failed" if runs > 1 else ""
    if known_note is not None:
        extra = f" ({counted})" if counted else ""
        return GateDecision(GateStatus.KNOWN, f"known failure{extra}: {reason}", runs, failed)
    if failed < runs:
        return GateDecision(
            GateStatus.INTERMITTENT, f"intermittent: {counted}: {reason}", runs, failed
        )
    headline = f"{reason} ({counted})" if counted else reason
    return GateDecision(GateStatus.FAILED, headline, runs, failed)


def load_baseline(path: Path) -> Baseline:
    """Read a .toml or .json baseline; ConfigError names the file and what is wrong."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(
            f"cannot read baseline {path}: {exc.strerror}. Create it with "
            f"--hil-update-baseline (it records this run's failures)."
        ) from exc
    try:
        data = json.loads(text) if _is_json(path) else tomllib.loads(text)
    except (ValueError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"baseline {path} is not valid {_format(path)}: {exc}.") from exc
    return _parse(data, path)


def _is_json(path: Path) -> bool:
    return path.suffix.lower() == ".json"


def _format(path: Path) -> str:
    return "JSON" if _is_json(path) else "TOML"


def _parse(data: Any, path: Path) -> Baseline:
    if not isinstance(data, dict) or not isinstance(data.get("targets", {}), dict):
        raise ConfigError(f"baseline {path}: expected a table 'targets' of target names.")
    version = data.get("version", FORMAT_VERSION)
    if version != FORMAT_VERSION:
        raise ConfigError(
            f"baseline {path}: version = {version!r}; this hilrig reads version {FORMAT_VERSION}."
        )
    targets: dict[str, Mapping[str, str]] = {}
    for target, programs in data.get("targets", {}).items():
        if not isinstance(programs, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in programs.items()
        ):
            raise ConfigError(
                f"baseline {path}: targets.{target} must map program paths to notes "
                f'("suites/x.py" = "why it fails").'
            )
        targets[str(target)] = MappingProxyType(dict(programs))
    return Baseline(MappingProxyType(targets))


def summary_lines(decisions: Mapping[str, GateDecision]) -> list[str]:
    """Lines for the terminal summary: fixed, intermittent and known failures, by program."""
    lines = []
    for program, d in sorted(decisions.items()):
        counted = f" ({d.failed_runs} of {d.runs} runs failed)" if d.runs > 1 else ""
        match d.status:
            case GateStatus.FIXED:
                lines.append(f"fixed: {program} \N{EM DASH} remove it from the baseline")
            case GateStatus.INTERMITTENT:
                lines.append(f"intermittent: {program}{counted}")
            case GateStatus.KNOWN:
                lines.append(f"known failure: {program}{counted}")
    return lines


def updated(baseline: Baseline, target: str, decisions: Mapping[str, GateDecision]) -> Baseline:
    """The baseline after a run: programs that ran are listed iff they failed; others stay."""
    programs = {p: n for p, n in baseline.known(target).items() if p not in decisions}
    for program, decision in decisions.items():
        if decision.status.failing:
            programs[program] = baseline.note(target, program) or _one_line(decision.headline)
    targets = dict(baseline.targets)
    targets[target] = MappingProxyType(dict(sorted(programs.items())))
    if not programs:
        del targets[target]
    return Baseline(MappingProxyType(dict(sorted(targets.items()))))


def write_baseline(baseline: Baseline, path: Path) -> None:
    """Write a baseline as TOML or JSON, by the file's suffix (atomically)."""
    if _is_json(path):
        plain = {t: dict(p) for t, p in baseline.targets.items()}
        text = json.dumps({"version": FORMAT_VERSION, "targets": plain}, indent=2) + "\n"
    else:
        text = _toml(baseline)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(path)


def _toml(baseline: Baseline) -> str:
    # json.dumps writes an ASCII-only double-quoted string, which is also a TOML basic string.
    lines = [
        "# hilrig baseline: known failures per target (program = note).",
        "# Written by pytest --hil-update-baseline; a listed program that fails does not fail",
        "# the run. Remove a program once it is fixed.",
        f"version = {FORMAT_VERSION}",
    ]
    for target, programs in baseline.targets.items():
        lines += ["", f"[targets.{json.dumps(target)}]"]
        lines += [f"{json.dumps(p)} = {json.dumps(n)}" for p, n in programs.items()]
    return "\n".join(lines) + "\n"


def _one_line(note: str) -> str:
    first = note.strip().splitlines()[0] if note.strip() else ""
    return first[:200]
