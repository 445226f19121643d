"""labgrid targets: a real ``labgrid-coordinator`` and ``labgrid-exporter`` on 127.0.0.1
exporting two QEMU micro:bits through ser2net (:mod:`tests.labgrid_farm`), and the parts of the
farm lease that need no farm (which places fit, when a holder is stale, flashing refusals)."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from importlib import metadata
from pathlib import Path

import pytest
from labgrid_farm import PLACES, Farm, require_farm
from real_targets import ROOT, descendants

from hilrig.boards.labgrid_client import (
    LEASE_TAG,
    FarmResource,
    PlaceState,
    holder_name,
    lease_value,
    parse_holder,
)
from hilrig.boards.labgrid_place import held_place
from hilrig.boards.serial_origin import serial_origin
from hilrig.errors import ConfigError, LinkError
from hilrig.flash.farm import farm_board
from hilrig.gate.farm_lease import fits, stale
from hilrig.targets.load import parse_target
from hilrig.targets.spec import LabgridSpec

pytest_plugins = ["pytester"]

PROGRAMS = {f"p{n}.py": f"for i in range(3):\n    print({n}, i * {n})\n" for n in range(6)}
SLEEPER = "import time\nprint('start')\ntime.sleep(60)\nprint('end')\n"
TARGET = """kind = "labgrid"
timeout_s = 20
instances = {instances}

[labgrid]
coordinator = "{address}"
lease_s = {lease_s}
{where}
"""
SERIAL = FarmResource("e", "g", "NetworkSerialPort", "s", {"host": "lab1", "port": 4001}, True)


# -- the parts that need no farm ------------------------------------------------------------


def _spec(**fields: object) -> LabgridSpec:
    data = {"kind": "labgrid", "labgrid": {"coordinator": "farm:20408", **fields}}
    spec = parse_target(data, Path("t.toml")).labgrid
    assert spec is not None
    return spec


def test_labgrid_target_files_are_checked() -> None:
    spec = _spec(tags={"board": "microbit"}, lease_s=30)
    assert spec.tags == (("board", "microbit"),) and spec.lease_s == 30
    with pytest.raises(ConfigError, match="needs place = .NAME. or \\[labgrid.tags\\]"):
        _spec()
    with pytest.raises(ConfigError, match="tag labgrid.tags.board = 'Micro:bit' cannot match"):
        _spec(tags={"board": "Micro:bit"})
    with pytest.raises(ConfigError, match="lease_s = 1 is not allowed"):
        _spec(place="mb-0", lease_s=1)
    with pytest.raises(ConfigError, match="unknown field labgrid.plce"):
        _spec(plce="mb-0")


def test_labgrid_places_fit_by_name_or_every_tag() -> None:
    place = PlaceState("mb-0", {"board": "microbit", "rack": "a"})
    assert fits(place, _spec(tags={"board": "microbit"}))
    assert fits(place, _spec(place="mb-0", tags={"rack": "a"}))
    assert not fits(place, _spec(place="mb-1"))
    assert not fits(place, _spec(tags={"board": "microbit", "rack": "b"}))


def test_labgrid_holder_is_stale_only_when_hilrig_holds_it_and_shows_no_life() -> None:
    now = 1_000_000.0
    me = holder_name("here", "ci", os.getpid())
    dead = holder_name("here", "ci", _dead_pid())
    elsewhere = holder_name("there", "ci", 1234)
    renewed = {LEASE_TAG: lease_value(elsewhere, now + 10)}
    expired = {LEASE_TAG: lease_value(elsewhere, now - 1)}
    assert parse_holder(me) is not None and parse_holder("here/alice") is None
    assert stale(PlaceState("p", acquired=me, changed=now), now, "here", 60) is None
    assert "process" in str(stale(PlaceState("p", acquired=dead, changed=now), now, "here", 60))
    assert stale(PlaceState("p", renewed, elsewhere, changed=0), now, "here", 60) is None
    assert "ran out" in str(
        stale(PlaceState("p", expired, elsewhere, changed=now), now, "here", 60)
    )
    # no tag yet: the time since the place changed hands counts
    assert stale(PlaceState("p", acquired=elsewhere, changed=now - 30), now, "here", 60) is None
    assert "no lease tag" in str(stale(PlaceState("p", acquired=elsewhere), now, "here", 60))
    # a person's acquisition is never stale, whatever tags are left on the place
    assert stale(PlaceState("p", expired, "there/alice"), now, "here", 60) is None
    # a tag left by an earlier hilrig holder says nothing about the current one
    assert (
        stale(PlaceState("p", expired, holder_name("there", "ci", 99), changed=now), now, "x", 60)
        is None
    )


def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_labgrid_place_needs_a_serial_port_and_one_power_switch() -> None:
    spec = _spec(place="mb-0")
    place = held_place("mb-0", [SERIAL], spec, {"mac": "aabbccddeeff"})
    assert place.serial_url() == "rfc2217://lab1:4001" and place.power is None
    with pytest.raises(LinkError, match="has no NetworkSerialPort hilrig can use"):
        held_place("mb-0", [], spec)
    power = [FarmResource("e", "g", "NetworkPowerPort", n, {"model": "rest"}, True) for n in "ab"]
    with pytest.raises(LinkError, match="several resources that could be its power switch"):
        held_place("mb-0", [SERIAL, *power], spec)
    assert held_place("mb-0", [SERIAL, *power], _spec(place="x", power="b")).power == power[1]


def test_labgrid_flashing_goes_through_the_serial_port_or_names_what_is_missing() -> None:
    esp = {"kind": "labgrid", "labgrid": {"coordinator": "f:1", "place": "esp"}}
    esp["flash"] = {"tool": "esptool", "chip": "esp32", "offset": 4096}
    spec = parse_target(esp, Path("esp.toml"))
    place = held_place("esp", [SERIAL], _spec(place="esp"), {"mac": "aabbccddeeff"})
    board = farm_board(spec, place)
    assert board.port == "rfc2217://lab1:4001" and board.mac == "aa:bb:cc:dd:ee:ff"
    stm = dict(esp, flash={"tool": "pyocd", "target_type": "stm32f429xi"})
    spec = parse_target(stm, Path("stm.toml"))
    with pytest.raises(ConfigError, match="the place has no debug probe \\(NetworkUSBDebugger\\)"):
        farm_board(spec, place)
    probe = FarmResource("lab1", "g", "NetworkUSBDebugger", "p", {"host": "lab1"}, True)
    with pytest.raises(ConfigError, match="only reaches probes attached to this machine"):
        farm_board(spec, held_place("esp", [SERIAL, probe], _spec(place="esp")))


def test_the_unix_target_does_not_import_labgrid(pytester: pytest.Pytester) -> None:
    pytester.makeconftest(
        'pytest_plugins = ["hilrig.plugin"]\n'
        "import sys\n"
        "def pytest_unconfigure(config):\n"
        "    open('modules.txt', 'w').write(' '.join(sorted(sys.modules)))\n"
    )
    (pytester.path / "suites").mkdir()
    (pytester.path / "suites" / "one.py").write_text("print(1)\n")
    # -p no:labgrid: labgrid's own pytest plugin, which pytest loads wherever labgrid is installed
    result = pytester.runpytest_subprocess("--target=unix", "-p", "no:labgrid")
    result.assert_outcomes(passed=1)
    modules = (pytester.path / "modules.txt").read_text().split()
    assert "hilrig.run.session" in modules
    assert not [m for m in modules if m.startswith(("labgrid", "grpc"))]


# -- a real coordinator and exporter --------------------------------------------------------


@pytest.fixture(scope="module")
def farm(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Farm]:
    """Coordinator, exporter and two QEMU micro:bits for this module's tests."""
    require_farm()
    running = Farm(tmp_path_factory.mktemp("farm"))
    try:
        yield running.start()
    finally:
        running.stop()


@pytest.fixture
def project(pytester: pytest.Pytester, farm: Farm) -> Iterator[pytest.Pytester]:
    """A project with a labgrid target ``farm`` (both places); every place free afterwards."""
    pytester.makeconftest('pytest_plugins = ["hilrig.plugin"]\n')
    (pytester.path / "targets").mkdir()
    _target(pytester, farm, "farm", 'tags = { board = "microbit" }', instances=2)
    (pytester.path / "suites").mkdir()
    for name, text in PROGRAMS.items():
        (pytester.path / "suites" / name).write_text(text)
    try:
        yield pytester
        assert farm.holders() == dict.fromkeys(PLACES), "a run left a place acquired"
    finally:
        farm.release_all()


def _target(
    pytester: pytest.Pytester,
    farm: Farm,
    name: str,
    where: str,
    instances: int = 1,
    lease_s: int = 60,
) -> None:
    text = TARGET.format(instances=instances, address=farm.address, lease_s=lease_s, where=where)
    (pytester.path / "targets" / f"{name}.toml").write_text(text)


def _junit(path: Path) -> tuple[dict[str, str], list[dict[str, str]]]:
    root = ET.parse(path).getroot()
    suite = root.find("testsuite")
    assert suite is not None
    props = suite.find("properties")
    run = {p.get("name", ""): p.get("value", "") for p in (props if props is not None else [])}
    cases = [
        {p.get("name", ""): p.get("value", "") for p in case.iter("property")}
        for case in root.iter("testcase")
    ]
    return run, cases


def test_labgrid_two_workers_run_the_programs_on_both_places(project: pytest.Pytester) -> None:
    result = project.runpytest_subprocess("--target=farm", "-n", "2", "--junitxml=out.xml")
    result.assert_outcomes(passed=len(PROGRAMS))
    run, cases = _junit(project.path / "out.xml")
    assert {case["hilrig_place"] for case in cases} == set(PLACES), cases
    assert {case["hilrig_exporter"] for case in cases} == {"farm-exporter (127.0.0.1)"}
    assert sorted(run["hilrig_place"].split("; ")) == list(PLACES)
    assert run["hilrig_firmware"].startswith("MicroPython v1.9.2")
    assert run["hilrig_pyserial"].startswith("pyserial")


def test_labgrid_the_suites_run_on_two_places(project: pytest.Pytester) -> None:
    """The project's own suites, as CI runs them on the QEMU micro:bits, here through the farm."""
    shutil.rmtree(project.path / "suites")
    shutil.copytree(ROOT / "suites", project.path / "suites")
    result = project.runpytest_subprocess("--target=farm", "-n", "2", "--junitxml=out.xml", "-q")
    outcomes = result.parseoutcomes()
    assert result.ret == pytest.ExitCode.OK, result.stdout.str()[-3000:]
    assert outcomes.get("passed", 0) > 40 and not outcomes.get("failed")
    _, cases = _junit(project.path / "out.xml")
    assert {case.get("hilrig_place") for case in cases} == set(PLACES)


def test_labgrid_one_run_shows_place_and_exporter_in_the_header(project: pytest.Pytester) -> None:
    result = project.runpytest_subprocess("--target=farm", "suites/p1.py")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(
        ["hilrig: place: mb-*", "hilrig: exporter: farm-exporter (127.0.0.1)"]
    )


def test_labgrid_place_held_by_a_person_makes_hilrig_wait_then_fail(
    project: pytest.Pytester, farm: Farm
) -> None:
    for place in PLACES:
        farm.client("-p", place, "acquire", env={"LG_USERNAME": "alice"})
    started = time.monotonic()
    result = project.runpytest_subprocess("--target=farm", "--hil-lock-timeout=2", "suites/p1.py")
    waited = time.monotonic() - started
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines(
        [
            "hilrig: waiting up to 2 s for a place with tags board=microbit of labgrid "
            "coordinator *: mb-0 is acquired by */alice (not a hilrig run*",
            "*no labgrid place for target farm (a place with tags board=microbit of *) became "
            "free within 2 s: mb-0 is acquired by */alice*; mb-1 is acquired by */alice*",
        ]
    )
    assert waited >= 2
    # hilrig never touched them
    assert all(
        holder is not None and holder.endswith("/alice") for holder in farm.holders().values()
    )
    for place in PLACES:
        farm.client("-p", place, "release", env={"LG_USERNAME": "alice"})


def _start_sleeper(
    project: pytest.Pytester, farm: Farm, env: dict[str, str]
) -> subprocess.Popen[bytes]:
    (project.path / "suites" / "sleeper.py").write_text(SLEEPER)
    _target(project, farm, "one", 'place = "mb-0"', lease_s=3)
    argv = [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "--target=one"]
    return subprocess.Popen(
        [*argv, "suites/sleeper.py"],
        cwd=project.path,
        env={**os.environ, "PYTHONPATH": str(ROOT), **env},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def _wait_until_held(farm: Farm, proc: subprocess.Popen[bytes]) -> str:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and proc.poll() is None:
        holder = farm.holders()["mb-0"]
        if holder is not None:
            time.sleep(2)  # the program is running on the board
            return holder
        time.sleep(0.2)
    pytest.fail("the killed run never acquired mb-0")


@pytest.mark.parametrize("host", ["this host", "another host"])
def test_labgrid_sigkilled_run_does_not_keep_its_place(
    project: pytest.Pytester, farm: Farm, host: str
) -> None:
    env = {"LG_HOSTNAME": "elsewhere"} if host == "another host" else {}
    killed = _start_sleeper(project, farm, env)
    try:
        holder = _wait_until_held(farm, killed)
        children = descendants(killed.pid)
        killed.send_signal(signal.SIGKILL)
        killed.wait(10)
    finally:
        if killed.poll() is None:
            killed.kill()
    assert farm.holders()["mb-0"] == holder  # labgrid itself keeps a dead holder's place
    result = project.runpytest_subprocess("--target=one", "--hil-lock-timeout=30", "suites/p2.py")
    result.assert_outcomes(passed=1)
    why = "has ended" if host == "this host" else "lease ran out"
    result.stdout.fnmatch_lines([f"hilrig: taking labgrid place mb-0 back from {holder}: *{why}*"])
    time.sleep(0.5)
    assert not [pid for pid in children if Path(f"/proc/{pid}").exists()]


def test_labgrid_serial_origin_names_the_files_on_disk() -> None:
    import serial

    origin = serial_origin()
    assert origin.split()[1] == serial.__version__, origin


def test_labgrid_serial_origin_refuses_a_damaged_mix(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "serial").mkdir()
    (tmp_path / "serial" / "__init__.py").write_text("# overwritten\n")
    info = tmp_path / "pyserial-3.5.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Name: pyserial\nVersion: 3.5\n")
    digest = "MsWCnObc0hpQqhbm7TVwdyCa-XJrdm0KoqYkZ3CoL8w"  # another file's sha256
    (info / "RECORD").write_text(f"serial/__init__.py,sha256={digest},3216\n")
    fake = metadata.PathDistribution(info)

    def distribution(name: str) -> metadata.Distribution:
        if name == "pyserial":
            return fake
        raise metadata.PackageNotFoundError(name)

    monkeypatch.setattr(metadata, "distribution", distribution)
    with pytest.raises(ConfigError, match="match none of the installed distributions"):
        serial_origin()


def test_labgrid_hilrig_info_leases_a_place_and_gives_it_back(project: pytest.Pytester) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "hilrig.cli", "info", "--target", "farm"],
        cwd=project.path,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert "MicroPython v1.9.2" in done.stdout and "micro:bit" in done.stdout
