"""Board leases with real flock locks, between this process, child processes and pytest runs."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time
import tomllib
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from hilrig.errors import LeaseTimeout
from hilrig.gate.lease import acquire, acquire_file_lock, lock_dir, read_holder, slots
from hilrig.targets.find import BUILTIN_DIR
from hilrig.targets.load import parse_target
from hilrig.targets.spec import TargetSpec

pytest_plugins = ["pytester"]


def spec(text: str, name: str = "bench") -> TargetSpec:
    return parse_target(tomllib.loads(text), Path(f"/targets/{name}.toml"))


TWO_VMS = 'kind = "hostvm"\ninstances = 2\n'
SERIAL = (
    'kind = "serial"\n[[boards]]\nport = "/dev/ttyACM0"\n[[boards]]\nport = "rfc2217://lab:2217"\n'
)


def test_lock_dir_follows_the_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("HILRIG_LOCK_DIR", str(tmp_path / "locks"))
    assert lock_dir() == tmp_path / "locks"
    monkeypatch.delenv("HILRIG_LOCK_DIR")
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(tmp_path))
    assert lock_dir() == tmp_path / "hilrig-locks"
    monkeypatch.delenv("XDG_RUNTIME_DIR")
    assert lock_dir() == Path(f"/tmp/hilrig-locks-{os.getuid()}")


def test_slots_are_instances_or_physical_serial_boards() -> None:
    assert [s.key for s in slots(spec(TWO_VMS))] == ["bench-0", "bench-1"]
    keys = [s.key for s in slots(spec(SERIAL))]
    assert keys == ["serial-dev_ttyACM0", "serial-rfc2217_lab_2217"]
    # Another target file naming the same port locks the same board.
    assert slots(spec(SERIAL, "other"))[0].key == keys[0]


def test_each_lease_takes_a_free_board_then_waits_and_names_the_holder(tmp_path: Path) -> None:
    target = spec(TWO_VMS)
    first = acquire_file_lock(target, 1, folder=tmp_path)
    second = acquire(target, 1, folder=tmp_path)
    assert {first.index, second.index} == {0, 1}
    holder = read_holder(first.path)
    assert holder is not None and holder.pid == os.getpid()
    waits: list[str] = []
    started = time.monotonic()
    with pytest.raises(LeaseTimeout) as caught:
        acquire(target, 0.6, folder=tmp_path, on_wait=waits.append)
    assert 0.5 < time.monotonic() - started < 3
    message = str(caught.value)
    assert "no board of target bench became free within 0.6 s" in message
    assert f"bench #0 is held by pid {os.getpid()} on " in message
    assert "--hil-lock-timeout" in message
    assert len(waits) == 1
    assert waits[0].startswith("waiting up to 0.6 s for a board of target bench")
    second.release()
    with acquire(target, 1, folder=tmp_path) as third:
        assert third.index == second.index
    first.release()
    first.release()  # twice is harmless


def test_first_says_where_to_start_looking(tmp_path: Path) -> None:
    with acquire(spec(TWO_VMS), 1, first=1, folder=tmp_path) as lease:
        assert lease.index == 1


def test_a_lease_in_another_process_blocks_until_that_process_dies(tmp_path: Path) -> None:
    target = spec('kind = "hostvm"\n')
    holder_code = textwrap.dedent(f"""
        import sys, time, tomllib
        from pathlib import Path
        from hilrig.gate.lease import acquire
        from hilrig.targets.load import parse_target
        from hilrig.targets.spec import TargetSpec
        spec = parse_target(tomllib.loads('kind = "hostvm"'), Path("/targets/bench.toml"))
        lease = acquire(spec, 5, folder=Path({str(tmp_path)!r}))
        print("held", flush=True)
        time.sleep(60)
    """)
    proc = subprocess.Popen([sys.executable, "-c", holder_code], stdout=subprocess.PIPE)
    try:
        assert proc.stdout is not None and proc.stdout.readline() == b"held\n"
        with pytest.raises(LeaseTimeout, match=f"held by pid {proc.pid} on "):
            acquire(target, 0.3, folder=tmp_path)
        proc.kill()
        proc.wait(5)
        with acquire(target, 2, folder=tmp_path) as lease:  # the kernel dropped the dead lock
            assert lease.index == 0
    finally:
        proc.kill()
        proc.wait(5)


@pytest.fixture
def project(pytester: pytest.Pytester) -> pytest.Pytester:
    """A project with a two-VM host target and two programs; locks in a private folder."""
    pytester.makeconftest('pytest_plugins = ["hilrig.plugin"]\n')
    (pytester.path / "targets").mkdir()
    unix = (BUILTIN_DIR / "unix.toml").read_text()
    assert "instances = 8\n" in unix  # the built-in unix target has eight VMs
    (pytester.path / "targets" / "vms.toml").write_text(
        unix.replace("instances = 8", "instances = 2")
    )
    (pytester.path / "suites").mkdir()
    (pytester.path / "suites" / "one.py").write_text("print(1)\n")
    (pytester.path / "suites" / "two.py").write_text("print(2)\n")
    return pytester


def _board_indexes(junit: Path) -> set[str]:
    root = ET.parse(junit).getroot()
    return {
        p.get("value", "")
        for case in root.iter("testcase")
        for p in case.iter("property")
        if p.get("name") == "hilrig_board_index"
    }


def test_a_run_takes_the_next_board_when_the_first_is_leased(
    project: pytest.Pytester, lock_dir: Path
) -> None:
    vms = spec('kind = "hostvm"\ninstances = 2\n', "vms")
    with acquire(vms, 1, folder=lock_dir) as held:
        assert held.index == 0
        result = project.runpytest("--target=vms", "--junitxml=out.xml")
    result.assert_outcomes(passed=2)
    assert _board_indexes(project.path / "out.xml") == {"1"}


def test_a_second_run_waits_then_fails_naming_the_holder(
    project: pytest.Pytester, lock_dir: Path
) -> None:
    vms = spec('kind = "hostvm"\ninstances = 2\n', "vms")
    folder = lock_dir
    with acquire(vms, 1, folder=folder), acquire(vms, 1, folder=folder):
        result = project.runpytest("--target=vms", "--hil-lock-timeout=0.5")
    result.assert_outcomes(failed=2)
    out = result.stdout.str()
    assert "hilrig: waiting up to 0.5 s for a board of target vms" in out
    assert "board not available: no board of target vms became free within 0.5 s" in out
    assert f"vms #0 is held by pid {os.getpid()}" in out
