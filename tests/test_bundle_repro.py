"""Failure bundles written by the plugin on the host VM target, read back, and rerun with
``hilrig repro`` on a real board (the host VM)."""

from __future__ import annotations

import json
import shlex
import shutil
from dataclasses import replace
from pathlib import Path

import pytest
from projects import hil_project

from hilrig.boards.hostvm import host_vm_command
from hilrig.cli import main
from hilrig.errors import ConfigError
from hilrig.gate.bundle import bundle_dir, read_bundle
from hilrig.gate.repro import describe_change
from hilrig.gate.target_diff import differences, host_actions
from hilrig.results import Outcome, RunResult
from hilrig.run.program import Program
from hilrig.run.reference import HostReference
from hilrig.targets.find import BUILTIN_DIR
from hilrig.targets.load import parse_target

pytest_plugins = ["pytester"]

WRONG = "print('a')\nprint(6 * 7)\nraise ValueError('late')\n"


@pytest.fixture
def project(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> pytest.Pytester:
    """A unix-target project with a program that fails against its .exp file."""
    monkeypatch.chdir(pytester.path)
    hil_project(pytester, "unix")
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


# A bundle is data, never code for the host: the project's target runs, the copy is compared.


def _edit_copy(folder: Path, text: str) -> None:
    (folder / "unix.toml").write_text((folder / "unix.toml").read_text() + text)


def _marker_command(marker: Path) -> str:
    """A [hostvm] command that leaves ``marker`` behind, then starts the real host VM."""
    argv = ["sh", "-c", f'touch {marker}; exec "$0" "$@"', *host_vm_command()]
    return f"\n[hostvm]\ncommand = {json.dumps(argv)}\n"


def test_repro_refuses_a_bundle_whose_target_copy_runs_a_host_command(
    project: pytest.Pytester, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = _failing_run(project)
    marker = project.path / "MARKER"
    _edit_copy(folder, _marker_command(marker))
    capsys.readouterr()
    assert main(["repro", str(folder)]) == 2
    captured = capsys.readouterr()
    assert not marker.exists()  # the command never ran
    assert "run 1" not in captured.out and "Board:" not in captured.out
    err = captured.err
    assert "the bundle's copy of target unix differs from yours in what it starts" in err
    assert '  hostvm.command: bundle ["sh", "-c", "touch ' in err and ", local (not set)" in err
    assert "pass --target unix to rerun on your target file, or --trust-bundle-target" in err
    # --target: the user's own file runs; the copy's command is only a note.
    assert main(["repro", str(folder), "--target", "unix"]) == 0
    out = capsys.readouterr().out
    assert not marker.exists()
    assert "note: the bundle's target file differs: hostvm.command: bundle" in out
    assert "the local value is used" in out and "reproduced 1 of 1 run(s)" in out


def test_trust_bundle_target_runs_the_copy_and_says_what_runs_first(
    project: pytest.Pytester, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = _failing_run(project)
    marker = project.path / "MARKER"
    _edit_copy(folder, _marker_command(marker))
    capsys.readouterr()
    assert main(["repro", str(folder), "--trust-bundle-target"]) == 0
    out = capsys.readouterr().out
    assert marker.exists()
    told = out.index("Trusting the bundle's target file (--trust-bundle-target); this run:")
    assert out.index(f"  runs the host VM command: sh -c 'touch {marker}; exec") > told
    assert out.index("Board:") > told and "reproduced 1 of 1 run(s)" in out
    assert main(["repro", str(folder), "--trust-bundle-target", "--target", "unix"]) == 2
    assert "--target and --trust-bundle-target exclude each other" in capsys.readouterr().err


def test_harmless_differences_are_notes_and_the_local_target_runs(
    project: pytest.Pytester, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = _failing_run(project)
    _edit_copy(folder, "timeout_s = 3\n[compare]\nfloats = false\n")
    capsys.readouterr()
    assert main(["repro", str(folder)]) == 0
    out = capsys.readouterr().out
    assert "note: the bundle's target file differs: compare.floats: bundle false, local true" in out
    assert "note: the bundle's target file differs: timeout_s: bundle 3.0, local (not set)" in out
    assert "Trusting" not in out and "reproduced 1 of 1 run(s)" in out


def test_a_target_the_project_lacks_is_named_with_the_way_on(
    project: pytest.Pytester, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = _failing_run(project)
    manifest = json.loads((folder / "bundle.json").read_text())
    manifest["target"] = "bench-rig-7"
    (folder / "bundle.json").write_text(json.dumps(manifest))
    capsys.readouterr()
    assert main(["repro", str(folder)]) == 2
    err = capsys.readouterr().err
    assert err == (
        f"hilrig: the bundle was made on target 'bench-rig-7', which neither this project "
        f"({project.path / 'targets'}) nor hilrig's built-in targets have; pass "
        f"--target NAME or --target PATH.toml to choose the board to rerun it on.\n"
    )
    assert main(["repro", str(folder), "--target", "unix"]) == 0
    assert "note: rerun on target unix, not bench-rig-7" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("target_file", "../../targets/unix.toml"),
        ("target_file", "/etc/hostname"),
        ("files", {"../outside.txt": "x"}),
        ("target", "../targets/unix"),
        ("target", "/tmp/evil.toml"),
    ],
)
def test_paths_in_a_manifest_never_leave_the_bundle(
    project: pytest.Pytester, capsys: pytest.CaptureFixture[str], key: str, value: object
) -> None:
    folder = _failing_run(project)
    manifest = json.loads((folder / "bundle.json").read_text())
    manifest[key] = value
    (folder / "bundle.json").write_text(json.dumps(manifest))
    with pytest.raises(ConfigError, match="outside the bundle|is not a target name"):
        read_bundle(folder)
    capsys.readouterr()
    assert main(["repro", str(folder), "--target", "unix"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "was not used." in err


@pytest.mark.parametrize("name", ["program.py", "unix.toml", "board.stdout", "repro"])
def test_a_link_out_of_the_bundle_is_refused(
    project: pytest.Pytester, capsys: pytest.CaptureFixture[str], name: str
) -> None:
    folder = _failing_run(project)
    outside = project.path / "outside"
    outside.mkdir()
    (outside / "secret.txt").write_text("print('secret')\n")
    shutil.rmtree(folder / name, ignore_errors=True)
    (folder / name).unlink(missing_ok=True)
    (folder / name).symlink_to(outside if name == "repro" else outside / "secret.txt")
    capsys.readouterr()
    assert main(["repro", str(folder)]) == 2
    err = capsys.readouterr().err
    assert f"{folder / name}" in err and "is a link that leads outside the bundle" in err
    assert not (outside / "unix").exists()  # nothing was written through the link


def test_differences_sort_host_fields_first() -> None:
    path = BUILTIN_DIR / "t.toml"
    base = {"kind": "qemu", "qemu": {"machine": "microbit", "firmware": "fw.hex"}}
    local = parse_target(base, path)
    edited = {
        "kind": "qemu",
        "description": "changed",
        "timeout_s": 5,
        "qemu": {"machine": "microbit", "firmware": "/tmp/other.hex", "args": ["-s"]},
        "flash": {"tool": "pyocd", "target_type": "nrf51"},
        "boards": [{"probe_id": "0240"}],
        "compare": {"ints": False},
    }
    found = {d.field: d.host for d in differences(parse_target(edited, path), local)}
    assert found == {
        "qemu.firmware": True,
        "qemu.args": True,
        "flash.tool": True,
        "flash.pyocd.target_type": True,
        "flash.pyocd.frequency_hz": True,
        "boards[0].probe_id": True,
        "description": False,
        "timeout_s": False,
        "compare.ints": False,
    }
    order = [d.host for d in differences(parse_target(edited, path), local)]
    assert order == [True] * 6 + [False] * 3  # what reaches the host is listed first
    actions = host_actions(parse_target(edited, path))
    assert actions[1] == "boots the firmware file /tmp/other.hex"
    assert "-device loader,file=/tmp/other.hex" in actions[0] and actions[0].endswith(
        "-display none -s (SOCKET: a socket in a new temporary folder)"
    )


def test_an_unreadable_copy_is_a_note_and_never_used(
    project: pytest.Pytester, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = _failing_run(project)
    _edit_copy(folder, "[hostvm]\ncommand = 7\n")
    capsys.readouterr()
    assert main(["repro", str(folder)]) == 0
    out = capsys.readouterr().out
    assert f"note: the bundle's target file is not valid: {folder / 'unix.toml'}: field" in out
    assert "It was not compared with" in out and "reproduced 1 of 1 run(s)" in out
    assert main(["repro", str(folder), "--trust-bundle-target"]) == 2
    assert "the bundle's target file is not valid" in capsys.readouterr().err
