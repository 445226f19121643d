"""Running the next program while this one is judged: the board's order, the results, and what
a board-fixture test in between sees (real host VM with one instance, through pytest)."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from projects import hil_project

pytest_plugins = ["pytester"]

# Each program appends to a log on the host (the VM's files are the host's), so the log shows
# the order in which the board ran them.
PROGRAM = "f = open({log!r}, 'a')\nf.write('{name} ran\\n')\nf.close()\nprint('{name}')\n"

# The project's conftest logs each report and (when asked to) for a1 first waits until a2 has
# run: that happens only if a2 ran while a1 was still being judged and reported.
CONFTEST = """
pytest_plugins = ["hilrig.plugin"]
import os, time
LOG = {log!r}

def pytest_runtest_logreport(report):
    if report.when != "call":
        return
    name = report.nodeid.rsplit("/", 1)[-1].split(".py")[0]
    if name == "a1" and os.path.exists(LOG + ".wait"):
        waited = time.monotonic() + 10
        while "a2 ran" not in open(LOG).read() and time.monotonic() < waited:
            time.sleep(0.01)
    with open(LOG, "a") as f:
        f.write(name + " reported\\n")
"""

FIXTURE_TEST = """
def test_between(board):
    board.exec("f = open({log!r}, 'a')\\nf.write('fixture ran\\\\n')\\nf.close()")
"""


@pytest.fixture
def project(pytester: pytest.Pytester) -> pytest.Pytester:
    suites = hil_project(pytester, "unix")
    # one VM: the board runs one program at a time (several side by side: tests/test_lanes.py)
    unix = pytester.path / "targets" / "unix.toml"
    unix.write_text(unix.read_text().replace("instances = 8", "instances = 1"))
    log = str(pytester.path / "board.log")
    Path(log).write_text("")
    pytester.makeconftest(CONFTEST.format(log=log))
    for name in ("a1", "a2", "a3", "a4"):
        (suites / f"{name}.py").write_text(PROGRAM.format(log=log, name=name))
        (suites / f"{name}.py.exp").write_text(f"{name}\n")  # no reference VM runs it too
    (pytester.path / "test_fixture.py").write_text(FIXTURE_TEST.format(log=log))
    return pytester


def board_log(project: pytest.Pytester) -> list[str]:
    return (project.path / "board.log").read_text().splitlines()


def test_the_next_program_runs_while_this_one_is_reported_in_order(
    project: pytest.Pytester,
) -> None:
    (project.path / "board.log.wait").touch()
    args = ["suites/a1.py", "suites/a2.py", "test_fixture.py", "suites/a3.py", "suites/a4.py"]
    result = project.runpytest("--target=unix", "--hil-reference=exp", *args)
    result.assert_outcomes(passed=5)
    log = board_log(project)
    ran = [line for line in log if line.endswith(" ran")]
    # The board ran everything once, in the order pytest reports it.
    assert ran == ["a1 ran", "a2 ran", "fixture ran", "a3 ran", "a4 ran"]
    # a2 had run before a1 was reported (a1's report waited up to 10 s for it) ...
    assert log.index("a2 ran") < log.index("a1 reported")
    # ... but nothing ran ahead of a board-fixture test: it came after a2 was reported.
    assert log.index("a2 reported") < log.index("fixture ran") < log.index("a3 ran")


def test_a_program_that_times_out_ahead_is_recovered_and_the_next_passes(
    project: pytest.Pytester,
) -> None:
    suites = project.path / "suites"
    (suites / "a2.py").write_text("# hilrig: timeout_s=1\nwhile True:\n    pass\n")
    (suites / "a2.py.exp").unlink()
    xml = project.path / "junit.xml"
    result = project.runpytest(
        "--target=unix", "--hil-reference=exp", "suites", f"--junitxml={xml}"
    )
    result.assert_outcomes(passed=3, failed=1)
    result.stdout.fnmatch_lines(["*a2.py*timeout after 1 s*recovered*"])
    cases = {c.get("name"): c for c in ET.parse(xml).getroot().iter("testcase")}
    assert cases["a2"].find("failure") is not None
    assert all(cases[n].find("failure") is None for n in ("a1", "a3", "a4"))
    ran = [line for line in board_log(project) if line.endswith(" ran")]
    assert ran == ["a1 ran", "a3 ran", "a4 ran"]


def test_count_two_runs_each_program_twice_in_turn(project: pytest.Pytester) -> None:
    # With --hil-count a program's runs follow each other: nothing runs ahead.
    result = project.runpytest("--target=unix", "--hil-reference=exp", "--hil-count=2", "suites")
    result.assert_outcomes(passed=4)
    ran = [line for line in board_log(project) if line.endswith(" ran")]
    assert ran == ["a1 ran", "a1 ran", "a2 ran", "a2 ran", "a3 ran", "a3 ran", "a4 ran", "a4 ran"]


PLAN_LOGGER = """
import hilrig.run.session as session

_plan = session.HilSession.plan

def plan(self, programs):
    import os
    worker = os.environ.get("PYTEST_XDIST_WORKER", "alone")
    with open({log!r}, "a") as f:
        f.write("planned " + worker + " " + " ".join(p.path.stem for p in programs) + "\\n")
    _plan(self, programs)

session.HilSession.plan = plan
"""


@pytest.mark.parametrize("workers", [0, 2])
def test_the_rest_of_the_run_or_a_workers_share_is_queued_at_the_first_program(
    project: pytest.Pytester, workers: int
) -> None:
    log = project.path / "board.log"
    with (project.path / "conftest.py").open("a") as conftest:
        conftest.write(PLAN_LOGGER.format(log=str(log)))
    if workers:
        unix = project.path / "targets" / "unix.toml"
        unix.write_text(unix.read_text().replace("instances = 1", f"instances = {workers}"))
    args = ["suites/a1.py", "test_fixture.py", "suites/a2.py", "suites/a3.py", "suites/a4.py"]
    xdist = ["-n", str(workers)] if workers else []
    result = project.runpytest("--target=unix", "--hil-reference=exp", *xdist, *args)
    result.assert_outcomes(passed=5)
    planned = [line for line in board_log(project) if line.startswith("planned")]
    if workers:
        # Each worker queues, once, the programs at its index modulo 2 in the run's order
        # (a1, test_fixture, a2, a3, a4), without the program it runs first.
        plans = {line.split()[1]: line.split()[2:] for line in planned}
        assert 1 <= len(planned) == len(plans) <= 2  # once per worker that ran a program
        shares = {"gw0": ["a1", "a2", "a4"], "gw1": ["a3"]}
        for worker, names in plans.items():
            assert set(names) <= set(shares[worker])
            assert len(names) >= len(shares[worker]) - 1  # less the one it runs first at most
            assert names == sorted(names)  # in the run's order
    else:
        # once, in the run's order, programs only (the worker field is an outer xdist's, if any)
        assert [line.split()[2:] for line in planned] == [["a2", "a3", "a4"]]
