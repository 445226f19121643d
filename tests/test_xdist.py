"""Several boards: ``-n 2`` on a two-instance QEMU micro:bit target runs on both boards at once,
each xdist worker on the board it leased."""

from __future__ import annotations

import os
import shutil
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from hilrig.targets.find import BUILTIN_DIR

pytest_plugins = ["pytester"]

FIRMWARE = Path("/usr/share/firmware-microbit-micropython/firmware.hex")
INSTALL = "apt-get install qemu-system-arm firmware-microbit-micropython"
PROGRAMS = {f"p{n}.py": f"for i in range(3):\n    print({n}, i * {n})\n" for n in range(8)}


def _require_qemu() -> None:
    if shutil.which("qemu-system-arm") and FIRMWARE.is_file():
        return
    if os.environ.get("CI") == "true":
        pytest.fail(f"QEMU or the micro:bit firmware is missing in CI: {INSTALL}")
    pytest.skip(f"needs QEMU and the micro:bit firmware: {INSTALL}")


@pytest.fixture
def project(pytester: pytest.Pytester) -> pytest.Pytester:
    """A two-instance micro:bit target and eight small programs; locks in a private folder."""
    _require_qemu()
    pytester.makeconftest('pytest_plugins = ["hilrig.plugin"]\n')
    (pytester.path / "targets").mkdir()
    lines = (BUILTIN_DIR / "microbit-qemu.toml").read_text().splitlines()
    top = [line for line in lines if not line.startswith("instances")]
    (pytester.path / "targets" / "mb2.toml").write_text("instances = 2\n" + "\n".join(top) + "\n")
    (pytester.path / "suites").mkdir()
    for name, text in PROGRAMS.items():
        (pytester.path / "suites" / name).write_text(text)
    return pytester


def _properties(junit: Path) -> tuple[dict[str, str], list[dict[str, str]]]:
    root = ET.parse(junit).getroot()
    suite = root.find("testsuite")
    assert suite is not None
    props = suite.find("properties")
    run = {p.get("name", ""): p.get("value", "") for p in (props if props is not None else [])}
    cases = [
        {p.get("name", ""): p.get("value", "") for p in case.iter("property")}
        for case in root.iter("testcase")
    ]
    return run, cases


def test_two_workers_run_programs_on_two_boards(project: pytest.Pytester, lock_dir: Path) -> None:
    result = project.runpytest_subprocess("--target=mb2", "-n", "2", "--junitxml=out.xml")
    result.assert_outcomes(passed=len(PROGRAMS))
    run, cases = _properties(project.path / "out.xml")
    boards = {case["hilrig_board_index"] for case in cases}
    assert boards == {"0", "1"}, cases
    assert {case["hilrig_board"] for case in cases} == {"mb2 #0", "mb2 #1"}
    assert {case["hilrig_target"] for case in cases} == {"mb2"}
    # The controller merges the workers' run properties into the global junit properties.
    assert run["hilrig_target"] == "mb2"
    assert sorted(run["hilrig_board"].split("; ")) == ["mb2 #0", "mb2 #1"]
    assert run["hilrig_firmware"].startswith("MicroPython v1.9.2")
    locks = sorted(p.name for p in lock_dir.iterdir())
    assert locks == ["mb2-0.lock", "mb2-1.lock"]


def test_auto_starts_one_worker_per_board_and_more_is_refused(project: pytest.Pytester) -> None:
    # Three boards on a machine whose core count is not three (xdist's own -n auto counts cores).
    two = (project.path / "targets" / "mb2.toml").read_text()
    (project.path / "targets" / "mb3.toml").write_text(
        two.replace("instances = 2", "instances = 3")
    )
    result = project.runpytest_subprocess("--target=mb3", "-n", "auto", "suites/p0.py")
    assert os.cpu_count() != 3
    result.stdout.fnmatch_lines(["*3 workers*"])
    result.assert_outcomes(passed=1)
    result = project.runpytest_subprocess("--target=mb2", "-n", "3")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*-n 3 starts 3 workers, but target mb2 has 2 board(s)*-n 2*"])
