"""Release gating: baseline files, gate decisions, and the plugin's --hil-baseline / --hil-count
on the real host VM target."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from projects import hil_project

from hilrig.compare.judge import Verdict
from hilrig.errors import ConfigError
from hilrig.gate.baseline import (
    Baseline,
    GateDecision,
    GateStatus,
    decide,
    load_baseline,
    summary_lines,
    updated,
    write_baseline,
)

pytest_plugins = ["pytester"]

M, X, S = Verdict.MATCH, Verdict.MISMATCH, Verdict.SKIP


def test_decide_tells_new_known_fixed_and_intermittent_apart() -> None:
    assert decide([M], None, "").status is GateStatus.PASSED
    assert decide([S], None, "no floats").status is GateStatus.SKIPPED
    assert decide([S], "known", "no floats").status is GateStatus.SKIPPED
    failed = decide([X], None, "stdout differs")
    assert (failed.status, failed.headline) == (GateStatus.FAILED, "stdout differs")
    assert decide([X, X], None, "why").headline == "why (2 of 2 runs failed)"
    flaky = decide([M, X, M, X, M], None, "stdout differs")
    assert flaky.status is GateStatus.INTERMITTENT and flaky.status.fails_run
    assert flaky.headline == "intermittent: 2 of 5 runs failed: stdout differs"
    known = decide([X], "recorded note", "stdout differs")
    assert known.status is GateStatus.KNOWN and not known.status.fails_run
    assert known.headline == "known failure: stdout differs"
    assert decide([M, X], "n", "r").headline == "known failure (1 of 2 runs failed): r"
    fixed = decide([M, M], "n", "")
    assert fixed.status is GateStatus.FIXED and not fixed.status.failing


def _d(status: GateStatus, headline: str = "", runs: int = 1, failed: int = 0) -> GateDecision:
    return GateDecision(status, headline, runs, failed)


def test_summary_names_fixed_intermittent_and_known_programs() -> None:
    lines = summary_lines(
        {
            "suites/b.py": _d(GateStatus.FIXED),
            "suites/a.py": _d(GateStatus.INTERMITTENT, "x", 5, 2),
            "suites/c.py": _d(GateStatus.KNOWN, "x", 1, 1),
            "suites/d.py": _d(GateStatus.PASSED),
        }
    )
    assert lines == [
        "intermittent: suites/a.py (2 of 5 runs failed)",
        "fixed: suites/b.py \N{EM DASH} remove it from the baseline",
        "known failure: suites/c.py",
    ]


@pytest.mark.parametrize("suffix", [".toml", ".json"])
def test_baseline_round_trips_and_updates_only_what_ran(tmp_path: Path, suffix: str) -> None:
    path = tmp_path / f"known{suffix}"
    start = Baseline(
        {
            "micro:bit": {"suites/old.py": "was failing", "suites/fixed.py": "was failing"},
            "esp32": {"suites/x.py": 'quotes " and \\ and ünïcode'},
        }
    )
    decisions = {
        "suites/fixed.py": _d(GateStatus.FIXED),
        "suites/new.py": _d(GateStatus.FAILED, "stdout differs\nsecond line"),
        "suites/flaky.py": _d(GateStatus.INTERMITTENT, "intermittent: 1 of 3 runs failed"),
    }
    write_baseline(updated(start, "micro:bit", decisions), path)
    back = load_baseline(path)
    assert dict(back.known("micro:bit")) == {
        "suites/flaky.py": "intermittent: 1 of 3 runs failed",
        "suites/new.py": "stdout differs",
        "suites/old.py": "was failing",  # did not run: kept
    }
    assert back.note("esp32", "suites/x.py") == 'quotes " and \\ and ünïcode'
    emptied = updated(back, "esp32", {"suites/x.py": _d(GateStatus.FIXED)})
    assert "esp32" not in emptied.targets


def test_toml_baseline_is_readable_by_hand(tmp_path: Path) -> None:
    path = tmp_path / "known.toml"
    path.write_text(
        '# known failures\nversion = 1\n\n[targets.microbit-qemu]\n"suites/a.py" = "why"\n'
    )
    assert load_baseline(path).note("microbit-qemu", "suites/a.py") == "why"
    assert load_baseline(path).note("unix", "suites/a.py") is None


@pytest.mark.parametrize(
    ("name", "text", "complaint"),
    [
        ("b.toml", "targets = 3\n", "expected a table 'targets'"),
        ("b.toml", "[targets.unix]\n'a.py' = 1\n", "targets.unix must map program paths"),
        ("b.json", '{"version": 2, "targets": {}}', "version = 2; this hilrig reads version 1"),
        ("b.json", "{", "is not valid JSON"),
        ("b.toml", "[targets\n", "is not valid TOML"),
    ],
)
def test_bad_baselines_name_file_and_problem(
    tmp_path: Path, name: str, text: str, complaint: str
) -> None:
    (tmp_path / name).write_text(text)
    with pytest.raises(ConfigError, match=complaint):
        load_baseline(tmp_path / name)
    with pytest.raises(ConfigError, match="--hil-update-baseline"):
        load_baseline(tmp_path / "missing.toml")


FLAKY = """\
n = 0
try:
    with open({path!r}) as f:
        n = int(f.read())
except OSError:
    pass
with open({path!r}, "w") as f:
    f.write(str(n + 1))
print("even" if n % 2 == 0 else "odd")
"""


@pytest.fixture
def project(pytester: pytest.Pytester) -> pytest.Pytester:
    """The unix target, one passing program and one that fails against its .exp file."""
    suites = hil_project(pytester, "unix")
    (suites / "good.py").write_text("print(6 * 7)\n")
    (suites / "wrong.py").write_text("print(6 * 7)\n")
    (suites / "wrong.py.exp").write_text("41\n")
    return pytester


def _baseline(project: pytest.Pytester, *programs: str) -> Path:
    path = project.path / "known.json"
    notes = {p: "known" for p in programs}
    path.write_text(json.dumps({"version": 1, "targets": {"unix": notes}}))
    return path


def test_known_failure_passes_the_run_and_a_new_failure_fails_it(project: pytest.Pytester) -> None:
    baseline = _baseline(project, "suites/wrong.py")
    result = project.runpytest("--target=unix", f"--hil-baseline={baseline}", "-rx")
    result.assert_outcomes(passed=1, xfailed=1)
    assert result.ret == pytest.ExitCode.OK
    result.stdout.fnmatch_lines(
        ["*hilrig gate*", "*XFAIL*wrong - *known failure: stdout line 1 differs*"]
    )
    result.stdout.fnmatch_lines(["known failure: suites/wrong.py"])
    (project.path / "suites" / "new.py").write_text("print(1)\n")
    (project.path / "suites" / "new.py.exp").write_text("2\n")
    result = project.runpytest("--target=unix", f"--hil-baseline={baseline}")
    result.assert_outcomes(passed=1, xfailed=1, failed=1)
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines(["FAILED suites/new.py::new*"])


def test_fixed_known_failure_is_named_in_the_summary(project: pytest.Pytester) -> None:
    baseline = _baseline(project, "suites/good.py", "suites/wrong.py")
    result = project.runpytest("--target=unix", f"--hil-baseline={baseline}")
    result.assert_outcomes(passed=1, xfailed=1)
    result.stdout.fnmatch_lines(
        ["*= hilrig gate =*", "fixed: suites/good.py \N{EM DASH} remove it from the baseline"]
    )


def test_update_baseline_records_this_runs_failures(project: pytest.Pytester) -> None:
    path = project.path / "firmware" / "known.toml"
    result = project.runpytest("--target=unix", f"--hil-baseline={path}", "--hil-update-baseline")
    result.assert_outcomes(passed=1, failed=1)  # judged against the baseline as it was
    result.stdout.fnmatch_lines([f"baseline {path} updated: 1 known failure(s) for target unix"])
    notes = dict(load_baseline(path).known("unix"))
    assert notes == {"suites/wrong.py": "stdout line 1 differs: board '42', reference '41'"}
    result = project.runpytest("--target=unix", f"--hil-baseline={path}")
    result.assert_outcomes(passed=1, xfailed=1)


def test_count_reports_intermittent_programs(project: pytest.Pytester) -> None:
    (project.path / "suites" / "wrong.py").unlink()
    flaky = project.path / "suites" / "flaky.py"
    flaky.write_text(FLAKY.format(path=str(project.path / "counter")))
    (project.path / "suites" / "flaky.py.exp").write_text("even\n")
    result = project.runpytest("--target=unix", "--hil-count=5")
    result.assert_outcomes(passed=1, failed=1)
    out = result.stdout.str()
    assert "intermittent: 2 of 5 runs failed: stdout line 1 differs: board 'odd'" in out
    result.stdout.fnmatch_lines(["*= hilrig gate =*", "intermittent: suites/flaky.py (2 of 5*"])
    assert (project.path / "counter").read_text() == "5"


@pytest.mark.parametrize(
    ("args", "complaint"),
    [
        (["--hil-update-baseline"], "*--hil-update-baseline needs --hil-baseline FILE*"),
        (["--hil-baseline=nope.toml"], "*cannot read baseline nope.toml*--hil-update-baseline*"),
        (["--hil-count=0"], "*--hil-count = 0 is not allowed: use a whole number from 1*"),
    ],
)
def test_gate_usage_errors(project: pytest.Pytester, args: list[str], complaint: str) -> None:
    result = project.runpytest("--target=unix", *args)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([complaint])
