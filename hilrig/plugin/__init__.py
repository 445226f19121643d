"""The pytest plugin: suite programs as test items, ``--target`` and the ``--hil-*`` options.

Only this package imports pytest. Every ``.py`` under the suites folder (ini ``hilrig_suites``) is
one :class:`ProgramItem`; CPython never imports it. Each run, or each xdist worker, leases one
board of the target (:mod:`hilrig.gate.lease`) and starts it once (at the header, or at the first
program); it is stopped and released at session end, Ctrl-C included. Gating on a baseline,
``--hil-count`` and failure bundles are :mod:`hilrig.gate.policy`'s; this module maps them onto
pytest. The options themselves are read and checked in :mod:`hilrig.plugin.options`.
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from hilrig.errors import ConfigError, HilrigError
from hilrig.gate.policy import Ledger
from hilrig.plugin.fixture import WIRING_MARK, attach_transcript, board
from hilrig.plugin.items import MultiProgramItem, ProgramItem, SuiteFile, _NoTests
from hilrig.plugin.methods import MethodItem
from hilrig.plugin.options import (
    pytest_addoption,
    read_gate_options,
    read_options,
    test_trees,
    worker_count,
    worker_index,
)
from hilrig.plugin.order import (
    DurationRecorder,
    durations_file,
    load,
    longest_first,
    one_at_a_time,
)
from hilrig.plugin.results_json import ResultsJson
from hilrig.plugin.state import STATE, GateRecorder, _State, known
from hilrig.run.lanes import WINDOW_PER_LANE, lane_count
from hilrig.run.program import Program
from hilrig.targets.load import load_target
from hilrig.targets.spec import TargetSpec

# pytest finds the hooks by name here, pytest_addoption included
__all__ = ["MultiProgramItem", "ProgramItem", "SuiteFile", "board", "pytest_addoption"]


def pytest_configure(config: pytest.Config) -> None:
    """Load the target file and the baseline; a bad one stops the run with its sentence."""
    _real_folder.cache_clear()  # one process may hold several sessions (pytester)
    config.addinivalue_line(
        "markers", f"{WIRING_MARK}(*names): skip unless the target's [wiring] has these names"
    )
    options = read_options(config)
    gate = read_gate_options(config)
    target = config.getoption("target")
    specs: list[TargetSpec] = []
    try:
        if target is not None:
            specs = [load_target(name.strip(), options.rootdir) for name in target.split(",")]
        baseline = gate.load_baseline()
    except ConfigError as exc:
        raise pytest.UsageError(str(exc)) from None
    spec = specs[0] if specs else None
    if spec is not None:
        _check_workers(config, spec)
    suites = options.rootdir / str(config.getini("hilrig_suites"))
    state = _State(
        options, suites.resolve(), spec, gate, baseline, worker_index(config), _announcer(config)
    )
    state.trees = tuple(tree.root for tree in test_trees(config, options.rootdir))
    state.lanes = lane_count(spec, _is_worker(config)) if spec is not None else 1
    state.more_specs = tuple(specs[1:])
    config.stash[STATE] = state
    if not _is_worker(config):
        config.pluginmanager.register(GateRecorder(Ledger(gate, baseline)), "hilrig-gate")
        if spec is not None:
            times = DurationRecorder(durations_file(options.cache_folder, spec.name))
            config.pluginmanager.register(times, "hilrig-durations")
            one_at_a_time(config)
        results_json = config.getoption("hil_results_json")
        if results_json is not None:
            args = {"test_instance": spec.name if spec else None, "hilrig": True}
            recorder = ResultsJson(Path(results_json), args)
            config.pluginmanager.register(recorder, "hilrig-results-json")


def _check_workers(config: pytest.Config, spec: TargetSpec) -> None:
    """More xdist workers than boards would leave the extra workers waiting for a lease."""
    workers = getattr(config.option, "numprocesses", None)
    if isinstance(workers, int) and workers > spec.board_count() and not _is_worker(config):
        raise pytest.UsageError(
            f"-n {workers} starts {workers} workers, but target {spec.name} has "
            f"{spec.board_count()} board(s) ({spec.path}: [[boards]] or instances); "
            f"use -n {spec.board_count()} or -n auto"
        )


def _announcer(config: pytest.Config) -> Callable[[str], None]:
    def say(text: str) -> None:
        reporter = config.pluginmanager.get_plugin("terminalreporter")
        if reporter is not None:
            reporter.write_line(f"hilrig: {text}")

    return say


def _is_worker(config: pytest.Config) -> bool:
    return hasattr(config, "workerinput")


@pytest.hookimpl(optionalhook=True, tryfirst=True)
def pytest_xdist_auto_num_workers(config: pytest.Config) -> int | None:
    """``-n auto`` starts one worker per board of the target (before xdist's own answer, one
    per core); none on the host VM, whose one process runs programs on all its VMs at once
    (:mod:`hilrig.run.lanes`): cheaper than a pytest process per VM."""
    target = config.getoption("target")
    if target is None:
        return None
    try:
        first = str(target).split(",")[0].strip()
        spec = load_target(first, Path(config.rootpath))
    except ConfigError:
        return None  # pytest_configure reports it
    return 0 if lane_count(spec, under_xdist=False) > 1 else spec.board_count()


def _is_controller(config: pytest.Config) -> bool:
    return config.pluginmanager.has_plugin("dsession")


def pytest_report_header(config: pytest.Config) -> list[str]:
    """Target, firmware, .mpy ABI and compiler, read from the board itself."""
    state = config.stash[STATE]
    if state.spec is None:
        return [f"hilrig: no --target; suite programs skip (targets: {known(state)})"]
    lines = [f"hilrig: target {state.spec.name} ({state.spec.path})"]
    lines += [
        f"hilrig: multi-board instances also on {s.name} ({s.path})" for s in state.more_specs
    ]
    if state.lanes > 1:
        lines.append(f"hilrig: programs run on {state.lanes} VMs side by side, reported in order")
    if config.option.collectonly or _is_controller(config):
        return lines
    try:
        state.ensure_session()
    except HilrigError as exc:
        return lines + [f"hilrig: board not available: {exc}"]
    return lines + [f"hilrig: {k}: {v}" for k, v in state.properties.items() if k != "target"]


def _in_suites(state: _State, path: Path) -> bool:
    if path.suffix != ".py" or path.name in ("__init__.py", "conftest.py"):
        return False
    resolved = path.resolve() if path.is_symlink() else _real_folder(path.parent) / path.name
    return resolved.is_relative_to(state.suites) or any(
        _is_test_program(resolved, root) for root in state.trees
    )


@functools.lru_cache(maxsize=1024)
def _real_folder(folder: Path) -> Path:
    """A folder's real path, worked out once a collection (it holds hundreds of programs)."""
    return folder.resolve()


# Folders of MicroPython's tests/ that hold no programs run-tests.py runs one by one.
_NOT_PROGRAMS = {
    "feature_check",
    "target_wiring",
    "tools",
    "internal_bench",
    "perf_bench",
    "cmdline",  # run-tests.py starts the unix executable with each one's own options
}


def _is_test_program(path: Path, root: Path) -> bool:
    """A program of MicroPython's test tree at ``root`` (not run-tests.py and its helpers)."""
    if not path.is_relative_to(root):
        return False
    parts = path.relative_to(root).parts
    if parts[0] in _NOT_PROGRAMS or parts[0].startswith("multi_"):
        return False
    # run-tests.py globs DIR/*.py: basics/x.py, and ports/unix/x.py or inlineasm/thumb/x.py;
    # files deeper down are modules those programs import
    return len(parts) == 2 or (len(parts) == 3 and parts[0] in ("ports", "inlineasm"))


def pytest_collect_file(file_path: Path, parent: pytest.Collector) -> pytest.Collector | None:
    """Every program under the suites folder is a SuiteFile."""
    if _in_suites(parent.config.stash[STATE], file_path):
        return SuiteFile.from_parent(parent, path=file_path)
    return None


@pytest.hookimpl(tryfirst=True)
def pytest_pycollect_makemodule(module_path: Path, parent: pytest.Collector) -> Any:
    """Keep pytest's Python collector away from suite programs (CPython must not import them)."""
    if _in_suites(parent.config.stash[STATE], module_path):
        return _NoTests.from_parent(parent, path=module_path)
    return None


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Under xdist, or where one process runs programs on several boards at once (the host
    VM's lanes), longest programs first (hilrig.plugin.order): every xdist worker reads the same
    times, so every worker collects the same order."""
    state = config.stash.get(STATE, None)
    if state is None or state.spec is None or not (_is_worker(config) or state.lanes > 1):
        return
    ordered = longest_first(
        items, load(durations_file(state.options.cache_folder, state.spec.name))
    )
    if ordered is not None:
        items[:] = ordered


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_protocol(item: pytest.Item, nextitem: pytest.Item | None) -> None:
    """While this program runs on the board, compile the next ones and run their references;
    the next one, if it is a program, may start on the board as soon as this one is done (with
    lanes, the next programs up to the window, each on the first free board).

    At the first program the rest of the run is queued (see :mod:`hilrig.run.pipeline`):
    alone, all of it; under xdist, where only the next item is known to be this worker's, the
    worker's share of it (:func:`_worker_share`).
    """
    state = item.config.stash.get(STATE, None)
    if state is not None and state.session is None and state.lanes > 1 and state.spec:
        # with lanes, start the board here, so that the first program's turn already has the
        # programs after it to start on the other lanes (a failure is its turn's to report)
        if _program_of(state, item) is not None:
            with contextlib.suppress(HilrigError):
                state.ensure_session()
    if state is None or state.session is None:
        return
    following = _program_of(state, nextitem)
    if not state.planned:
        state.planned = True
        if _is_worker(item.config):
            planned = [_program_of(state, i) for i in _worker_share(item)]
        else:
            planned = [following, *(_program_of(state, i) for i in _items_after(item))]
        state.session.plan([p for p in planned if p is not None])
    upcoming = [following] if following is not None else []
    ahead: list[Program] | None = upcoming
    if following is not None and state.lanes > 1:
        # named already, with the rest of its stretch, or named now
        named = state.session.expecting(following)
        ahead = None if named else _programs_from(state, nextitem, WINDOW_PER_LANE * state.lanes)
    state.session.prefetch(upcoming, ahead)


def _programs_from(state: _State, item: pytest.Item | None, limit: int) -> list[Program]:
    """The programs of ``item`` and the items after it, up to ``limit`` of them and up to the
    first item that may want the board itself (a test, a multi-board program, a program that
    cannot be read); a unittest method's item only reads its program's run."""
    if item is None:
        return []
    items = item.session.items
    if not state.positions:
        state.positions = {each.nodeid: index for index, each in enumerate(items)}
    start = state.positions.get(item.nodeid)
    found: list[Program] = []
    for each in items[start:] if start is not None else [item]:
        if isinstance(each, MethodItem):
            continue
        program = _program_of(state, each)
        if program is None or len(found) == limit:
            break
        found.append(program)
    return found


def _program_of(state: _State, item: pytest.Item | None) -> Program | None:
    """The program of a single-board program item (None for anything else or an unreadable one:
    its own turn reports it)."""
    if not isinstance(item, ProgramItem) or isinstance(item, MultiProgramItem):
        return None
    try:
        return state.program(item.path)
    except (OSError, HilrigError):
        return None


def _worker_share(item: pytest.Item) -> list[pytest.Item]:
    """Under xdist, this worker's share of the run to warm: the items whose place in the run's
    order is this worker's index modulo the number of workers. xdist may hand any worker any
    item, but every worker collects the same order and the caches are shared on disk: between
    them the workers warm the whole run, once, from its start."""
    workers = worker_count(item.config)
    share = item.session.items[worker_index(item.config) % workers :: workers]
    return [i for i in share if i is not item]


def _items_after(item: pytest.Item) -> list[pytest.Item]:
    """The items after the next one, in the order pytest runs them (asked once a run)."""
    items = item.session.items
    try:
        return items[items.index(item) + 2 :]
    except ValueError:  # not in the session's list
        return []


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    """Skips of suite programs point at the program, not at hilrig's code; a test that used
    the ``board`` fixture gets its transcript."""
    report = yield
    attach_transcript(item, report)
    if isinstance(item, ProgramItem) and report.skipped and isinstance(report.longrepr, tuple):
        report.longrepr = (str(item.path), None, report.longrepr[2])
    return report


@pytest.hookimpl(tryfirst=True)
def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Update the baseline, put run properties into junit (before it is written; an xdist
    worker hands them to the controller), then stop the board and free its lease."""
    config = session.config
    state = config.stash.get(STATE, None)
    if state is None:
        return
    recorder = config.pluginmanager.get_plugin("hilrig-gate")
    if isinstance(recorder, GateRecorder):
        if state.spec is not None:
            recorder.ledger.finish(state.spec.name)
        _junit_properties(config, recorder.ledger.run_properties(state.properties))
    elif _is_worker(config):  # the controller writes junit
        config.workeroutput["hilrig_properties"] = dict(state.properties)  # type: ignore[attr-defined]
    state.close()


def _junit_properties(config: pytest.Config, properties: dict[str, str]) -> None:
    try:
        from _pytest.junitxml import xml_key
    except ImportError:  # pragma: no cover - pytest moved it
        return
    xml = config.stash.get(xml_key, None)
    if xml is not None:
        for name, value in properties.items():
            xml.add_global_property(f"hilrig_{name}", value)
