"""--hil-reference=target:NAME and [hostvm] heap_bytes, on real host VMs and the QEMU micro:bit.

The two-firmware check on the emulated STM32 runs when both HILRIG_STM32_QEMU_FIRMWARE and
HILRIG_STM32_QEMU_REFERENCE_FIRMWARE name builds (CI has none; that test skips, saying so).
"""

from __future__ import annotations

import json
import os
import xml.etree.ElementTree as ET
from dataclasses import replace
from pathlib import Path

import pytest
from packs import records, rewrite
from real_targets import MICROBIT, microbit_spec

from hilrig.capabilities import Capabilities, ErrorReporting
from hilrig.compare.gap import compare_targets, gap_spec
from hilrig.compare.judge import Verdict
from hilrig.errors import ConfigError
from hilrig.results import Outcome, RunResult
from hilrig.targets.find import BUILTIN_DIR
from hilrig.targets.load import parse_target
from hilrig.targets.spec import CompareSpec

pytest_plugins = ["pytester"]

SMALL_HEAP = 'kind = "hostvm"\ninstances = 2\n\n[hostvm]\nheap_bytes = 16384\n'
BIG = "b = bytearray(40000)\nprint(len(b))\n"


@pytest.fixture
def project(pytester: pytest.Pytester) -> pytest.Pytester:
    pytester.makeconftest('pytest_plugins = ["hilrig.plugin"]\n')
    targets = pytester.path / "targets"
    targets.mkdir()
    for name in ("unix", MICROBIT):
        (targets / f"{name}.toml").write_text((BUILTIN_DIR / f"{name}.toml").read_text())
    (targets / "small.toml").write_text(SMALL_HEAP)
    suites = pytester.path / "suites"
    suites.mkdir()
    (suites / "sums.py").write_text("print(sum(range(100)))\nprint('abc'.upper())\n")
    return pytester


def props_of(path: Path) -> dict[str, str]:
    xml = ET.parse(path).getroot()
    return {str(p.get("name")): str(p.get("value")) for p in xml.iter("property")}


def test_board_sized_vm_as_reference_shows_the_memory_error(project: pytest.Pytester) -> None:
    (project.path / "suites" / "big.py").write_text(BIG)
    result = project.runpytest(
        "--target=unix", "--hil-reference=target:small", "--junitxml=out.xml", "-rA"
    )
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(
        [
            "*hilrig: reference_firmware: MicroPython*",
            "*hilrig: reference: target small (MicroPython*",
            "*board finished normally, reference raised MemoryError*",
            "board firmware: MicroPython*",
            "reference firmware: MicroPython*",
            "*compared exactly where both firmwares agree: floats, ints, error_messages*",
        ]
    )
    props = props_of(project.path / "out.xml")
    assert props["hilrig_firmware"].startswith("MicroPython")
    assert props["hilrig_reference_firmware"].startswith("MicroPython")
    assert props["hilrig_reference"].startswith("target small (MicroPython")


def test_heap_bytes_makes_the_board_run_out_first(project: pytest.Pytester) -> None:
    (project.path / "suites" / "big.py").write_text(BIG)
    result = project.runpytest("--target=small", "-rs")
    result.assert_outcomes(passed=1, skipped=1)
    result.stdout.fnmatch_lines(["*big.py: too large for the board's heap (MemoryError)*"])
    # the unlimited VM runs the same program
    project.runpytest("--target=unix").assert_outcomes(passed=2)


def test_heap_bytes_is_checked() -> None:
    with pytest.raises(ConfigError, match=r"heap_bytes = 10 is not allowed: use"):
        parse_target({"kind": "hostvm", "hostvm": {"heap_bytes": 10}}, Path("t.toml"))
    spec = parse_target({"kind": "hostvm", "hostvm": {"heap_bytes": 65536}}, Path("t.toml"))
    assert spec.hostvm is not None and spec.hostvm.heap_bytes == 65536


def test_reference_results_are_cached_by_firmware_and_program(project: pytest.Pytester) -> None:
    project.runpytest("--target=unix", "--hil-reference=target:small").assert_outcomes(passed=1)
    pack = project.path / ".hilrig/cache/target-ref.pack"
    assert len(records(pack)) == 1
    # a cached reference result is what the next run compares with: tamper with it to see

    def tamper(payload: bytes) -> bytes:
        data = json.loads(payload)
        data["stdout"] = "NDk1MAo="  # base64 of "4950\n": the second line is gone
        return json.dumps(data).encode()

    rewrite(pack, tamper)
    result = project.runpytest("--target=unix", "--hil-reference=target:small")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*board printed 2 lines, the reference 1*"])
    # another reference build (here: another heap) is another identity, run afresh
    (project.path / "targets" / "small.toml").write_text(SMALL_HEAP.replace("16384", "32768"))
    project.runpytest("--target=unix", "--hil-reference=target:small").assert_outcomes(passed=1)


def test_microbit_reference_floats_at_its_own_precision(project: pytest.Pytester) -> None:
    microbit_spec()  # skip (fail under CI) without QEMU
    (project.path / "suites" / "third.py").write_text("print(1 / 3)\nprint(2.5)\n")
    # a float that really differs (by platform) still fails
    (project.path / "suites" / "third_wrong.py").write_text(
        'import sys\nprint(1 / 3 if sys.platform == "linux" else 0.25)\n'
    )
    result = project.runpytest(f"--hil-reference=target:{MICROBIT}", "--target=unix", "-rA")
    result.assert_outcomes(passed=2, failed=1)
    result.stdout.fnmatch_lines(
        [
            "stdout line 1 differs: board '0.3333333333333333', reference '0.25'",
            "reference firmware: MicroPython v1.9.2*micro:bit*",
        ]
    )


@pytest.mark.parametrize(
    ("reference", "message"),
    [
        ("bogus", "--hil-reference=bogus: use auto, host, cpython, exp or target:NAME"),
        ("target:", "--hil-reference=target: needs a target name"),
        ("board:x", "--hil-reference=board:x: the only prefix is target:NAME"),
    ],
)
def test_reference_option_is_checked(
    project: pytest.Pytester, reference: str, message: str
) -> None:
    result = project.runpytest("--target=unix", f"--hil-reference={reference}")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([f"*{message}*"])


def test_reference_firmware_needs_a_target_reference(project: pytest.Pytester) -> None:
    result = project.runpytest("--target=unix", "--hil-reference-firmware=x.elf")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*--hil-reference-firmware is for --hil-reference=target:NAME*"])


def test_unknown_reference_target_fails_every_program_naming_it(project: pytest.Pytester) -> None:
    result = project.runpytest("--target=unix", "--hil-reference=target:nosuch")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*board not available: reference target nosuch: unknown target*"])


CAPS = Capabilities(
    platform="qemu",
    version=(1, 29, 0),
    banner="MicroPython v1.29.0 on netduino2",
    float_bits=32,
    small_int_bits=31,
    error_reporting=ErrorReporting.NORMAL,
)


def test_two_builds_of_one_board_compare_exactly() -> None:
    old = replace(CAPS, version=(1, 25, 0), banner="MicroPython v1.25.0 on netduino2")
    assert gap_spec(CompareSpec(), CAPS, old) == CompareSpec(
        floats=False, ints=False, error_messages=False, handler_frames=False
    )
    # 0.33333334 is what a float32 board prints for 1/3 on the host: accepted host <-> board,
    # but between two float32 builds it is a difference
    board = RunResult(Outcome.OK, b"0.33333334\n")
    ref = RunResult(Outcome.OK, b"0.3333333\n")
    found = compare_targets(board, ref, CAPS, old, CompareSpec())
    assert found.verdict is Verdict.MISMATCH
    assert "reference firmware: MicroPython v1.25.0 on netduino2" in found.diff


def test_normalisers_stay_where_firmwares_differ() -> None:
    host = replace(CAPS, float_bits=64, small_int_bits=63, error_reporting=ErrorReporting.DETAILED)
    spec = gap_spec(CompareSpec(), CAPS, host)
    assert spec.floats and spec.error_messages and spec.ints
    assert not spec.handler_frames  # neither is MicroPython 1.9
    old = replace(CAPS, version=(1, 9, 2))
    assert gap_spec(CompareSpec(), CAPS, old).handler_frames
    found = compare_targets(
        RunResult(Outcome.OK, b"0.33333334\n"),
        RunResult(Outcome.OK, b"0.3333333333333333\n"),
        CAPS,
        host,
        CompareSpec(),
    )
    assert found.verdict is Verdict.MATCH


STM32_REFERENCE_ENV = "HILRIG_STM32_QEMU_REFERENCE_FIRMWARE"


def test_stm32_two_builds(project: pytest.Pytester) -> None:
    board = os.environ.get("HILRIG_STM32_QEMU_FIRMWARE")
    reference = os.environ.get(STM32_REFERENCE_ENV)
    if not board or not reference:
        pytest.skip(
            f"needs two STM32 QEMU builds: HILRIG_STM32_QEMU_FIRMWARE (the new one) and "
            f"{STM32_REFERENCE_ENV} (one before 1.26)"
        )
    suites = project.path / "suites"
    # MicroPython 1.26 fixed '%.0e' of values that round up to the next power of ten ...
    (suites / "fmt.py").write_text('for x in (9.99, 0.999):\n    print("%.0e" % x)\n')
    # ... and gave dict views a len()
    (suites / "views.py").write_text('print(len({"a": 1, "b": 2}.keys()))\n')
    result = project.runpytest(
        "--target=stm32-qemu",
        f"--hil-firmware={board}",
        "--hil-reference=target:stm32-qemu",
        f"--hil-reference-firmware={reference}",
        "-rA",
    )
    result.assert_outcomes(passed=1, failed=2)
    result.stdout.fnmatch_lines(
        [
            "stdout line 1 differs: board '1e+01', reference '10e+00'",
            "board firmware: MicroPython v1.2*",
            "reference firmware: MicroPython v1.2*",
        ]
    )
    result.stdout.fnmatch_lines(["FAILED suites/fmt.py::fmt*", "FAILED suites/views.py::views*"])
    result.stdout.fnmatch_lines(["*views - board finished normally, reference raised Typ*"])


# Sleeps where the heap is the unix port's default 2 MiB, not on the 16 KiB reference VM.
SLOW_ON_BIG_HEAP = (
    "import gc, time\n"
    "if gc.mem_free() + gc.mem_alloc() > 100000:\n"
    "    time.sleep(0.4)\n"
    "print('done')\n"
)


def test_slower_fails_a_program_that_became_slow_showing_both_times(
    project: pytest.Pytester,
) -> None:
    (project.path / "suites" / "slow.py").write_text(SLOW_ON_BIG_HEAP)
    result = project.runpytest(
        "--target=unix", "--hil-reference=target:small", "--hil-slower=3", "--junitxml=out.xml"
    )
    # sums.py is a few ms on both: over 3 times slower perhaps, but under the 0.05 s floor
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(
        ["*times slower than on the reference: board 0.4* s, reference 0.0* s (--hil-slower 3;*"]
    )
    xml = ET.parse(project.path / "out.xml").getroot()
    cases = {case.get("name"): case for case in xml.iter("testcase")}
    times = {
        str(p.get("name")): float(str(p.get("value")))
        for p in cases["slow"].iter("property")
        if str(p.get("name")).endswith("duration_s")
    }
    assert times["hilrig_duration_s"] >= 0.4 > times["hilrig_reference_duration_s"]
    manifest = json.loads(
        (project.path / ".hilrig/results/unix/bundles/suites__slow.py/bundle.json").read_text()
    )
    assert manifest["board"]["duration_s"] >= 0.4 > manifest["reference"]["duration_s"]
    # without --hil-slower the same run passes: time is recorded, not judged
    project.runpytest("--target=unix", "--hil-reference=target:small").assert_outcomes(passed=2)


def test_slower_needs_a_target_reference_and_a_sane_factor(project: pytest.Pytester) -> None:
    result = project.runpytest("--target=unix", "--hil-slower=2")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*--hil-slower compares the board's time with a reference*"])
    result = project.runpytest("--target=unix", "--hil-reference=target:small", "--hil-slower=0.5")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*--hil-slower = 0.5 is not allowed*"])


def test_duration_is_in_junit_for_every_program(project: pytest.Pytester) -> None:
    project.runpytest("--target=unix", "--junitxml=out.xml").assert_outcomes(passed=1)
    props = props_of(project.path / "out.xml")
    assert 0 < float(props["hilrig_duration_s"]) < 10


def test_judge_time_ratio_and_floor() -> None:
    from hilrig.compare.judge import Comparison
    from hilrig.run.timing import FLOOR_S, judge_time

    match = Comparison(Verdict.MATCH, "output matches")
    ref = RunResult(Outcome.OK, b"x\n", duration_s=0.010)
    tiny = RunResult(Outcome.OK, b"x\n", duration_s=0.010 + FLOOR_S * 0.9)  # 5.5x, under floor
    assert judge_time(match, tiny, ref, 2.0) is match
    slow = RunResult(Outcome.OK, b"x\n", duration_s=0.200)
    assert judge_time(match, slow, ref, 2.0).verdict is Verdict.MISMATCH
    assert judge_time(match, slow, ref, 25.0) is match  # 20 times slower, within 25
    assert judge_time(match, slow, ref, None) is match
    mismatch = Comparison(Verdict.MISMATCH, "stdout differs")
    assert judge_time(mismatch, slow, ref, 2.0) is mismatch  # the output difference is the news


def test_a_module_the_board_lacks_is_a_difference_not_a_skip(project: pytest.Pytester) -> None:
    # Against the host VM a module the board lacks is a skip when the reference has it; against
    # another board it is what the build changed (the unix port has no microbit module)
    microbit_spec()
    (project.path / "suites" / "mb.py").write_text("import microbit\nprint('ok')\n")
    result = project.runpytest(f"--hil-reference=target:{MICROBIT}", "--target=unix", "-rA")
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(["*mb.py::mb - board raised ImportError, reference finished*"])
