"""--hil-load=both, the persistent-code check: each program as .mpy and as source on one board.

On the real host VM (which imports .mpy), the QEMU micro:bit (which cannot: the check is not
made, and says so), and with an mpy-cross wrapper that corrupts a string constant in what it
writes, which the check must catch while the source run stays right.
"""

from __future__ import annotations

import json
import shutil
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from real_targets import MICROBIT, microbit_spec

from hilrig.capabilities import Capabilities
from hilrig.compare.judge import Verdict
from hilrig.results import Outcome, RunResult
from hilrig.run.differential import DIFFERS, judge_pair
from hilrig.targets.find import BUILTIN_DIR

pytest_plugins = ["pytester"]

CANARY = "hilrig-canary"
# Reads mpy-cross's arguments, runs the real one, then rewrites the canary string constant in
# the .mpy it wrote (same length, so the file stays well formed): a loader-visible corruption.
CORRUPTER = """\
import subprocess, sys
real = {real!r}
rc = subprocess.call([real, *sys.argv[1:]])
if rc == 0 and "-o" in sys.argv:
    out = sys.argv[sys.argv.index("-o") + 1]
    data = open(out, "rb").read()
    open(out, "wb").write(data.replace(b"{canary}", b"{canary_upper}"))
sys.exit(rc)
"""


@pytest.fixture
def project(pytester: pytest.Pytester) -> pytest.Pytester:
    pytester.makeconftest('pytest_plugins = ["hilrig.plugin"]\n')
    (pytester.path / "targets").mkdir()
    for name in ("unix", MICROBIT):
        source = BUILTIN_DIR / f"{name}.toml"
        (pytester.path / "targets" / f"{name}.toml").write_text(source.read_text())
    suites = pytester.path / "suites"
    suites.mkdir()
    (suites / "plain.py").write_text(f"print('{CANARY}')\nprint([i * i for i in range(5)])\n")
    (suites / "raises.py").write_text("def f(x):\n    return 1 // x\n\nprint('before')\nf(0)\n")
    return pytester


def corrupting_mpy_cross(folder: Path) -> Path:
    real = shutil.which("mpy-cross")
    if real is None:
        pytest.skip("mpy-cross is not installed")
    script = folder / "corrupting-mpy-cross"
    body = CORRUPTER.format(real=real, canary=CANARY, canary_upper=CANARY.upper())
    script.write_text(f"#!{sys.executable}\n{body}")
    script.chmod(0o755)
    return script


def test_host_vm_runs_each_program_both_ways_and_they_agree(project: pytest.Pytester) -> None:
    result = project.runpytest("--target=unix", "--hil-load=both", "--junitxml=out.xml", "-v")
    result.assert_outcomes(passed=2)
    result.stdout.fnmatch_lines(["*load: both (each program as .mpy, then again as source*"])
    transcripts = project.path / ".hilrig/results/unix/transcripts"
    assert not list(transcripts.glob("*.txt"))  # passing programs keep no transcripts
    xml = ET.parse(project.path / "out.xml").getroot()
    props = {p.get("name"): p.get("value", "") for p in xml.iter("property")}
    assert str(props["hilrig_load"]).startswith("both")


def test_source_runs_really_happen(project: pytest.Pytester) -> None:
    result = project.runpytest("--target=unix", "--hil-load=both", "--hil-keep-transcripts")
    result.assert_outcomes(passed=2)
    folder = project.path / ".hilrig/results/unix/transcripts"
    source = (folder / "suites__raises.py.source.txt").read_text(errors="replace")
    mpy = (folder / "suites__raises.py.txt").read_text(errors="replace")
    assert "return 1 // x" in source  # sent as text
    assert "return 1 // x" not in mpy  # sent as .mpy bytes
    assert "ZeroDivisionError" in source and "ZeroDivisionError" in mpy


def test_corrupted_mpy_fails_the_check_and_is_bundled(project: pytest.Pytester) -> None:
    wrapper = corrupting_mpy_cross(project.path)
    result = project.runpytest(
        "--target=unix", "--hil-load=both", f"--hil-mpy-cross={wrapper}", "--hil-reference=exp"
    )
    # --hil-reference=exp: no reference at all (no .exp files), so only the check can fail it
    result.assert_outcomes(failed=1, skipped=1)
    result.stdout.fnmatch_lines(
        [
            f"*{DIFFERS}: stdout line 1 differs*",
            "*here the reference is the source run, the board the .mpy run*",
            f"*-{CANARY}*",
            f"*+{CANARY.upper()}*",
        ]
    )
    bundle = project.path / ".hilrig/results/unix/bundles/suites__plain.py"
    assert (bundle / "source.stdout").read_text().startswith(CANARY)
    assert (bundle / "board.stdout").read_text().startswith(CANARY.upper())
    assert CANARY.upper().encode() in (bundle / "program.mpy").read_bytes()
    inspect = (bundle / "program.mpy.txt").read_text()
    assert CANARY.upper() in inspect and "mpy" in inspect
    manifest = json.loads((bundle / "bundle.json").read_text())
    assert manifest["source_check"]["verdict"] == "mismatch"
    assert manifest["source_run"]["outcome"] == "ok"


def test_corruption_fails_even_where_the_reference_agrees_with_nothing(
    project: pytest.Pytester,
) -> None:
    # with the host reference, the corrupted .mpy run also differs from the reference; the
    # persistent-code difference is the reason given, being the one that explains it
    wrapper = corrupting_mpy_cross(project.path)
    result = project.runpytest("--target=unix", "--hil-load=both", f"--hil-mpy-cross={wrapper}")
    result.assert_outcomes(failed=1, passed=1)
    result.stdout.fnmatch_lines([f"*{DIFFERS}*"])


def test_microbit_cannot_import_mpy_so_the_check_is_not_made(project: pytest.Pytester) -> None:
    microbit_spec()  # skip (fail under CI) without QEMU
    result = project.runpytest(
        f"--target={MICROBIT}", "--hil-load=both", "--junitxml=out.xml", "-v", "-rA"
    )
    result.assert_outcomes(passed=2)
    result.stdout.fnmatch_lines(
        ["*load: source*--hil-load=both: persistent-code check not made: firmware 1.9*"]
    )
    xml = ET.parse(project.path / "out.xml").getroot()
    props = {p.get("name"): p.get("value", "") for p in xml.iter("property")}
    assert "cannot import .mpy" in str(props["hilrig_load"])


def _run(stdout: bytes, traceback: bytes = b"") -> RunResult:
    outcome = Outcome.EXCEPTION if traceback else Outcome.OK
    return RunResult(outcome, stdout, traceback)


CAPS = Capabilities(
    platform="linux", version=(1, 29, 0), banner="MicroPython v1.29.0", float_bits=64
)
TB = b'Traceback (most recent call last):\n  File "p.py", line {n}, in f\nValueError: {m}\n'


def test_pair_rule_exact_output_and_traceback() -> None:
    same = judge_pair(_run(b"1.5\n"), _run(b"1.5\n"), CAPS)
    assert same.verdict is Verdict.MATCH
    # floats are not aligned: the same firmware prints the same digits both ways
    floats = judge_pair(_run(b"1.5000001\n"), _run(b"1.5\n"), CAPS)
    assert floats.verdict is Verdict.MISMATCH and floats.reason.startswith(DIFFERS)
    line = judge_pair(
        _run(b"", TB.replace(b"{n}", b"3").replace(b"{m}", b"x")),
        _run(b"", TB.replace(b"{n}", b"4").replace(b"{m}", b"x")),
        CAPS,
    )
    assert line.verdict is Verdict.MISMATCH and "frame 1" in line.reason
    message = judge_pair(
        _run(b"", TB.replace(b"{n}", b"3").replace(b"{m}", b"x")),
        _run(b"", TB.replace(b"{n}", b"3").replace(b"{m}", b"y")),
        CAPS,
    )
    assert message.verdict is Verdict.MISMATCH and ".mpy run" in message.reason


def test_pair_rule_firmware_compiler_rejecting_source_is_not_a_persistent_code_fault() -> None:
    syntax = (
        b'Traceback (most recent call last):\n  File "p.py", line 2\n'
        b"SyntaxError: invalid micropython decorator\n"
    )
    check = judge_pair(_run(b"3\n"), _run(b"", syntax), CAPS)
    assert check.verdict is Verdict.SKIP
    assert "firmware's own compiler rejected the source" in check.reason
