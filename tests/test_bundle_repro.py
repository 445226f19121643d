"""Failure bundles written by the plugin on the host VM target, read back, and rerun with
``hilrig repro`` on a real board (the host VM)."""

from __future__ import annotations

import json
import shlex
from dataclasses import replace
from pathlib import Path

import pytest

from hilrig.bundle import bundle_dir, read_bundle
from hilrig.cli import main
from hilrig.errors import ConfigError
from hilrig.reference import HostReference
from hilrig.repro import describe_change
from hilrig.results import Outcome, RunResult
from hilrig.runner import Program
from hilrig.targets import BUILTIN_DIR

pytest_plugins = ["pytester"]

WRONG = "print('a')\nprint(6 * 7)\nraise ValueError('late')\n"


@pytest.fixture
def project(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> pytest.Pytester:
    """A unix-target project with a program that fails against its .exp file."""
    monkeypatch.setenv("HILRIG_LOCK_DIR", str(pytester.path / "locks"))
    monkeypatch.chdir(pytester.path)
    pytester.makeconftest('pytest_plugins = ["hilrig.plugin"]\n')
    (pytester.path / "targets").mkdir()
    (pytester.path / "targets" / "unix.toml").write_text((BUILTIN_DIR / "unix.toml").read_text())
    (pytester.path / "suites").mkdir()
    (pytester.path / "suites" / "good.py").write_text("print(1)\n")
    (pytester.path / "suites" / "wrong.py").write_text(WRONG)
    (pytester.path / "suites" / "wrong.py.exp").write_text(
        'b\n42\nTraceback (most recent call last):\n  File "suites/wrong.py", line 3, in <module>\n'
        "ValueError: late\n"
    )
    return pytester


def _failing_run(project: pytest.Pytester) -> Path:
    result = project.runpytest("--target=unix")
    result.assert_outcomes(passed=1, failed=1)
    bundle = bundle_dir(project.path / ".hilrig" / "results", "unix", "suites/wrong.py")
    result.stdout.fnmatch_lines([f"bundle: {bundle} (rerun it: hilrig repro {bundle})"])
    return bundle


def test_a_failing_program_leaves_a_complete_bundle(project: pytest.Pytester) -> None:
    folder = _failing_run(project)
    names = {p.name for p in folder.iterdir()}
    assert names >= {
        "bundle.json", "program.py", "program.py.exp", "program.mpy", "command.txt", "unix.toml",
        "identity.json", "transcript.txt", "board.stdout", "board.traceback", "diff.txt",
    }  # fmt: skip
    manifest = json.loads((folder / "bundle.json").read_text())
    assert manifest["program"] == "suites/wrong.py" and manifest["target"] == "unix"
    assert manifest["mode"] == "mpy" and manifest["board"]["outcome"] == "exception"
    assert set(manifest["files"]) == names - {"bundle.json"}
    command = shlex.split((folder / "command.txt").read_text())
    assert "mpy-cross" in command[0] and "suites/wrong.py" in command
    assert (folder / "program.mpy").read_bytes()[:1] == b"M"
    assert json.loads((folder / "identity.json").read_text())["target"] == "unix"
    assert (folder / "board.stdout").read_bytes().replace(b"\r", b"") == b"a\n42\n"
    assert b"ValueError: late" in (folder / "board.traceback").read_bytes()
    assert "stdout line 1 differs" in (folder / "diff.txt").read_text()
    assert (folder / "transcript.txt").read_text().startswith("# hilrig transcript: suites/wrong")
    bundle = read_bundle(folder)
    assert bundle.program.name == "suites/wrong.py" and bundle.mpy is not None
    assert bundle.program.expected is not None and bundle.reference is None
    # Once the program passes, its bundle goes: a stale bundle would mislead.
    (project.path / "suites" / "wrong.py.exp").unlink()
    project.runpytest("--target=unix").assert_outcomes(passed=2)
    assert not folder.exists()


def test_repro_reruns_the_bundle_and_says_it_reproduced(
    project: pytest.Pytester, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = _failing_run(project)
    capsys.readouterr()
    assert main(["repro", str(folder), "--count", "2"]) == 0
    out = capsys.readouterr().out
    assert "Board:   unix VM (target unix)" in out
    assert "run 1: reproduced: stdout line 1 differs" in out
    assert "run 2: reproduced" in out and "same output as the recorded board run" in out
    assert "reproduced 2 of 2 run(s)" in out
    assert "note:" not in out  # the exact .mpy loaded on the same firmware


class CountingReference:
    """Counts the host reference's runs; ``change`` rewrites what it prints (to force a
    mismatch against the board, which is the same VM)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, change: bytes | None = None) -> None:
        self.calls = 0
        self.change = change
        real = HostReference.run

        def run(ref: HostReference, program: Program, timeout_s: float) -> RunResult:
            self.calls += 1
            result = real(ref, program, timeout_s)
            return result if change is None else replace(result, stdout=change)

        monkeypatch.setattr(HostReference, "run", run)


def test_the_bundle_keeps_the_reference_result_the_run_had(
    project: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    (project.path / "suites" / "wrong.py.exp").unlink()
    counter = CountingReference(monkeypatch, change=b"a\n41\n")
    result = project.runpytest("--target=unix", "suites/wrong.py")
    result.assert_outcomes(failed=1)
    assert counter.calls == 1  # the comparison's run; the bundle did not run it again
    folder = bundle_dir(project.path / ".hilrig" / "results", "unix", "suites/wrong.py")
    bundle = read_bundle(folder)
    assert bundle.reference is not None and bundle.reference.stdout == b"a\n41\n"


def test_a_hang_runs_no_reference_and_repro_reproduces_it(
    project: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # A timeout is judged without a reference; the bundle used to run one, costing a second
    # full timeout when the program hangs on the reference too.
    (project.path / "suites" / "bad.py").write_text("while True:\n    pass\n")
    counter = CountingReference(monkeypatch)
    result = project.runpytest("--target=unix", "--hil-timeout=0.5", "suites/bad.py")
    result.assert_outcomes(failed=1)
    assert counter.calls == 0
    folder = bundle_dir(project.path / ".hilrig" / "results", "unix", "suites/bad.py")
    bundle = read_bundle(folder)
    assert bundle.board is not None and bundle.board.outcome is Outcome.TIMEOUT
    assert bundle.reference is None and not (folder / "reference.stdout").exists()
    capsys.readouterr()
    assert main(["repro", str(folder)]) == 0
    out = capsys.readouterr().out
    assert "run 1: reproduced: timeout after 0.5 s" in out
    # A rerun that finishes has nothing to be compared with, and says so.
    (folder / "program.py").write_text("print('done')\n")
    (folder / "program.mpy").unlink()
    assert main(["repro", str(folder)]) == 1
    out = capsys.readouterr().out
    assert "did not reproduce: skipped (this run finished, and the bundle holds no reference" in out
    assert counter.calls == 0


def test_repro_exit_one_when_it_does_not_reproduce(
    project: pytest.Pytester, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = _failing_run(project)
    exp = folder / "program.py.exp"
    exp.write_text(exp.read_text().replace("b\n", "a\n", 1))  # the recorded expectation, fixed
    (folder / "board.stdout").write_text("a\n43\n")
    capsys.readouterr()
    assert main(["repro", str(folder)]) == 1
    out = capsys.readouterr().out
    assert "run 1: did not reproduce: the output matches the recorded reference" in out
    assert "-43\n    +42" in out.replace("\r", "")
    assert "did not reproduce in 1 run(s)" in out


def test_repro_exit_two_for_a_missing_bundle_or_target(
    project: pytest.Pytester, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["repro", str(project.path / "nothing")]) == 2
    assert "is not a complete hilrig bundle" in capsys.readouterr().err
    folder = _failing_run(project)
    assert main(["repro", str(folder), "--target", "nonesuch"]) == 2
    assert "unknown target 'nonesuch'" in capsys.readouterr().err


def test_read_bundle_rejects_other_versions(tmp_path: Path) -> None:
    (tmp_path / "bundle.json").write_text('{"version": 99}')
    with pytest.raises(ConfigError, match="bundle version 99"):
        read_bundle(tmp_path)


def test_describe_change() -> None:
    ok = RunResult(Outcome.OK, b"1\r\n2\r\n")
    assert describe_change(ok, RunResult(Outcome.OK, b"1\n2\n")) == ""
    diff = describe_change(ok, RunResult(Outcome.OK, b"1\n3\n"))
    assert "--- recorded board" in diff and "-2" in diff and "+3" in diff
    hung = RunResult(Outcome.TIMEOUT, detail="timeout after 1 s")
    assert describe_change(hung, RunResult(Outcome.TIMEOUT)) == ""
    assert describe_change(hung, ok) == "recorded: timeout (timeout after 1 s); this run: ok"
