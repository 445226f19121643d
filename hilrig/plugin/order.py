"""Under xdist, the programs that take longest run first.

xdist hands items to workers in collection order, so a program that sleeps for seconds and comes
last keeps one worker busy after the others have finished. MicroPython's ``extmod`` tests are like
that. Each worker orders its collection the same way: longest first, by each program's time in the
last run (on the board and on its reference), which the controller (or the only process) records in
the cache. A program with no time yet counts as long if its source sleeps or uses asyncio: a second,
or what its constant sleeps add up to if that is more (``time.sleep(2)`` twice is 4 s; in a loop,
ten times over), so that in a first run the programs that sleep for seconds start first. A program's
items (its unittest methods) stay together, and a collection that holds anything but suite programs
keeps pytest's order. xdist's default scheduler would then hand the first worker the first quarter
of its share in one go (consecutive items keep fixtures warm; programs have none), so hilrig has it
hand out items one at a time (``--maxschedchunk 1``) unless the command line says otherwise.

The order only decides which worker runs which program when. Every program still runs on a
freshly reset board, so its verdict cannot depend on it.
"""

from __future__ import annotations

import ast
import json
import os
import re
from pathlib import Path

import pytest

from hilrig.plugin.items import SuiteFile

LIKELY_SLOW_S = 1.0  # a program with no recorded time that sleeps or uses asyncio
_SLEEPS = re.compile(rb"\bsleep|\basyncio\b")


def durations_file(cache: Path, target: str) -> Path:
    """Where the last run's time per program is kept for ``target``."""
    return cache / "durations" / f"{target}.json"


def load(path: Path) -> dict[str, float]:
    """Seconds per program file (the node id's file part); empty if unreadable."""
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    if not isinstance(data, dict):
        return {}
    return {k: float(v) for k, v in data.items() if isinstance(v, (int, float))}


def longest_first(items: list[pytest.Item], known: dict[str, float]) -> list[pytest.Item] | None:
    """``items`` with each program's items together, longest program first (ties keep their
    order); None where something else than suite programs was collected."""
    groups: list[list[pytest.Item]] = []
    for item in items:
        if not isinstance(item.parent, SuiteFile):
            return None
        if groups and groups[-1][0].parent is item.parent:
            groups[-1].append(item)
        else:
            groups.append([item])
    costs = {id(group): _cost(group[0], known) for group in groups}
    groups.sort(key=lambda group: costs[id(group)], reverse=True)
    return [item for group in groups for item in group]


def _cost(item: pytest.Item, known: dict[str, float]) -> float:
    key = item.nodeid.split("::")[0]
    if key in known:
        return known[key]
    try:
        source = item.path.read_bytes()
    except OSError:
        return 0.0
    if not _SLEEPS.search(source):
        return 0.0
    return max(LIKELY_SLOW_S, _slept_s(source))


_SLEEP_UNITS = {"sleep": 1.0, "sleep_ms": 1e-3, "sleep_us": 1e-6}
LOOP_TIMES = 10  # a sleep inside a loop counts this many times


def _slept_s(source: bytes) -> float:
    """The seconds a program's sleeps with constant arguments add up to (``time.sleep(2)``,
    ``sleep_ms(100)``, ``await asyncio.sleep(0.5)``), each counted LOOP_TIMES times per loop
    around it: an estimate for a program with no recorded time, good enough to start the
    programs that sleep for seconds before those that sleep for milliseconds."""
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError):
        return 0.0
    total = 0.0
    todo: list[tuple[ast.AST, int]] = [(tree, 1)]
    while todo:
        node, times = todo.pop()
        for child in ast.iter_child_nodes(node):
            loop = isinstance(child, ast.For | ast.AsyncFor | ast.While)
            todo.append((child, times * LOOP_TIMES if loop else times))
            if not isinstance(child, ast.Call) or not child.args:
                continue
            func = child.func
            name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", None)
            arg = child.args[0]
            if name in _SLEEP_UNITS and isinstance(arg, ast.Constant):
                if isinstance(arg.value, int | float) and not isinstance(arg.value, bool):
                    total += arg.value * _SLEEP_UNITS[name] * times
    return total


def one_at_a_time(config: pytest.Config) -> None:
    """With ``-n``, let xdist hand out programs one at a time (an explicit --maxschedchunk wins)."""
    if getattr(config.option, "numprocesses", None) and hasattr(config.option, "maxschedchunk"):
        if config.option.maxschedchunk is None:
            config.option.maxschedchunk = 1


class DurationRecorder:
    """On the controller (or the only process): each program's time, written at the end."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.seen: dict[str, float] = {}

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        """A program's time on the board and on its reference (pytest's own time for the item
        is not it: the board may have run the program ahead, while the one before was judged)."""
        props = {str(k): str(v) for k, v in report.user_properties}
        if report.when != "call" or "hilrig_program" not in props:
            return
        parts = [props.get("hilrig_duration_s"), props.get("hilrig_reference_duration_s")]
        try:
            seconds = sum(float(p) for p in parts if p is not None)
        except ValueError:
            return
        key = report.nodeid.split("::")[0]
        self.seen[key] = self.seen.get(key, 0.0) + seconds

    def pytest_sessionfinish(self) -> None:
        """Merge this run's times into the file (a program not run keeps its old time)."""
        if not self.seen:
            return
        merged = {**load(self.path), **{k: round(v, 4) for k, v in self.seen.items()}}
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            tmp = self.path.with_suffix(f".{os.getpid()}.tmp")
            tmp.write_text(json.dumps(merged, sort_keys=True))
            tmp.replace(self.path)
        except OSError:
            pass  # the order is only a speed-up: a read-only cache keeps the collection order
