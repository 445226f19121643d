"""A target that cannot start fails the run (never a skip, CI or not): exit status non-zero,
every program failed with the reason in one sentence, junit written."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest

pytest_plugins = ["pytester"]

WRONG_FIRMWARE = """\
kind = "qemu"

[qemu]
machine = "microbit"
firmware = "/nonexistent/firmwar.hex"
"""


@pytest.mark.parametrize("ci", ["", "true"])
def test_a_wrong_firmware_path_fails_every_program(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, ci: str
) -> None:
    monkeypatch.setenv("CI", ci)
    pytester.makeconftest('pytest_plugins = ["hilrig.plugin"]\n')
    (pytester.path / "targets").mkdir()
    (pytester.path / "targets" / "mb.toml").write_text(WRONG_FIRMWARE)
    (pytester.path / "suites").mkdir()
    (pytester.path / "suites" / "a.py").write_text("print(1)\n")
    (pytester.path / "suites" / "b.py").write_text("print(2)\n")
    junit = pytester.path / "junit.xml"
    result = pytester.runpytest("--target=mb", f"--junitxml={junit}")
    result.assert_outcomes(failed=2)
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    reason = (
        "board not available: target mb needs the firmware file /nonexistent/firmwar.hex, "
        "which is missing."
    )
    result.stdout.fnmatch_lines([f"*{reason}*"])
    assert "Traceback" not in result.stdout.str()
    failures = ET.parse(junit).getroot().findall(".//testcase/failure")
    assert len(failures) == 2
    assert all(reason in (f.get("message") or "") for f in failures)


def test_stm32_qemu_without_a_firmware_says_how_to_build_one(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("HILRIG_STM32_QEMU_FIRMWARE", raising=False)
    pytester.makeconftest('pytest_plugins = ["hilrig.plugin"]\n')
    (pytester.path / "suites").mkdir()
    (pytester.path / "suites" / "a.py").write_text("print(1)\n")
    result = pytester.runpytest("--target=stm32-qemu")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [
            "*target stm32-qemu boots a firmware file you build: pass --hil-firmware FILE or set "
            "HILRIG_STM32_QEMU_FIRMWARE.*make -C ports/qemu BOARD=NETDUINO2*"
        ]
    )
