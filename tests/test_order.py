"""Under xdist, longest programs first: times recorded by a run, read back by every worker."""

from __future__ import annotations

import json

import pytest

from hilrig.plugin.order import durations_file, load, longest_first
from hilrig.targets.find import BUILTIN_DIR

pytest_plugins = ["pytester"]

# About a quarter of a second of work on the host VM, and no word that would mark it as slow.
BUSY = "n = 0\nfor i in range(300000):\n    n += i\nprint(n)\n"


@pytest.fixture
def project(pytester: pytest.Pytester) -> pytest.Pytester:
    pytester.makeconftest('pytest_plugins = ["hilrig.plugin"]\n')
    (pytester.path / "targets").mkdir()
    unix = (BUILTIN_DIR / "unix.toml").read_text()
    (pytester.path / "targets" / "unix.toml").write_text(unix)
    suites = pytester.path / "suites"
    suites.mkdir()
    (suites / "a_fast.py").write_text("print('a')\n")
    (suites / "b_busy.py").write_text(BUSY)
    (suites / "c_fast.py").write_text("print('c')\n")
    return pytester


UNITS = (
    "import unittest\n\nclass T(unittest.TestCase):\n"
    "    def test_one(self):\n        pass\n\n"
    "    def test_two(self):\n        pass\n\nunittest.main()\n"
)


def _order(project: pytest.Pytester, times: dict[str, float] | None = None) -> list[str]:
    items, _ = project.inline_genitems("--target=unix")
    if times is None:
        times = load(durations_file(project.path / ".hilrig" / "cache", "unix"))
    ordered = longest_first(items, times)
    assert ordered is not None
    return [item.nodeid for item in ordered]


def test_a_run_records_times_and_the_longest_program_goes_first(project: pytest.Pytester) -> None:
    assert _order(project) == [  # nothing recorded yet, nothing sleeps: collection order
        "suites/a_fast.py::a_fast",
        "suites/b_busy.py::b_busy",
        "suites/c_fast.py::c_fast",
    ]
    project.runpytest("--target=unix").assert_outcomes(passed=3)
    times = json.loads(durations_file(project.path / ".hilrig" / "cache", "unix").read_text())
    assert set(times) == {f"suites/{name}.py" for name in ("a_fast", "b_busy", "c_fast")}
    assert times["suites/b_busy.py"] == max(times.values())
    order = _order(project)
    assert order[0] == "suites/b_busy.py::b_busy"
    assert sorted(order[1:]) == ["suites/a_fast.py::a_fast", "suites/c_fast.py::c_fast"]


def test_a_programs_items_stay_together(project: pytest.Pytester) -> None:
    (project.path / "suites" / "d_units.py").write_text(UNITS)
    assert _order(project, {"suites/d_units.py": 2.0, "suites/b_busy.py": 1.0}) == [
        "suites/d_units.py::d_units",
        "suites/d_units.py::T::test_one",
        "suites/d_units.py::T::test_two",
        "suites/b_busy.py::b_busy",
        "suites/a_fast.py::a_fast",
        "suites/c_fast.py::c_fast",
    ]


def test_with_no_times_a_program_that_sleeps_goes_first(project: pytest.Pytester) -> None:
    (project.path / "suites" / "c_fast.py").write_text("import time\ntime.sleep(0.01)\n")
    assert _order(project)[0] == "suites/c_fast.py::c_fast"


def test_with_no_times_the_longer_sleeps_go_first(project: pytest.Pytester) -> None:
    """Constant sleeps add up, a sleep in a loop counts ten times; a program that only
    mentions sleeping counts a second."""
    suites = project.path / "suites"
    (suites / "a_fast.py").write_text("import time\nfor i in range(3):\n    time.sleep_ms(150)\n")
    (suites / "c_fast.py").write_text("import time\ntime.sleep(1)\ntime.sleep(1)\n")
    (suites / "d_async.py").write_text("import asyncio\nasyncio.run(asyncio.sleep(0))\n")
    (suites / "e_loop.py").write_text("import time\nwhile True:\n    time.sleep(0.18)\n")
    assert _order(project) == [
        "suites/c_fast.py::c_fast",  # 2 s
        "suites/e_loop.py::e_loop",  # 10 x 0.18 s
        "suites/a_fast.py::a_fast",  # 10 x 0.15 s
        "suites/d_async.py::d_async",  # asyncio, nothing longer: 1 s
        "suites/b_busy.py::b_busy",  # sleeps nowhere
    ]


def test_a_collection_with_other_tests_keeps_pytests_order(project: pytest.Pytester) -> None:
    project.makepyfile(test_plain="def test_x():\n    pass\n")
    items, _ = project.inline_genitems("--target=unix")
    assert longest_first(items, {}) is None


def test_workers_collect_the_same_order_run_after_run(project: pytest.Pytester) -> None:
    pytest.importorskip("xdist")
    for _ in range(2):  # the second run orders by the first one's times
        result = project.runpytest("--target=unix", "-n", "2")
        result.assert_outcomes(passed=3)


@pytest.mark.parametrize(("given", "used"), [([], "1"), (["--maxschedchunk", "5"], "5")])
def test_xdist_hands_out_programs_one_at_a_time_unless_told(
    project: pytest.Pytester, given: list[str], used: str
) -> None:
    pytest.importorskip("xdist")
    project.makeconftest(
        'pytest_plugins = ["hilrig.plugin"]\n\n'
        "def pytest_report_header(config):\n"
        "    return f'chunk={config.option.maxschedchunk}'\n"
    )
    result = project.runpytest("--target=unix", "-n", "2", *given)
    result.assert_outcomes(passed=3)
    result.stdout.fnmatch_lines([f"chunk={used}"])
