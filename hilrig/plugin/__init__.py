"""The pytest plugin: suite programs as test items, ``--target`` and the ``--hil-*`` options.

Only this package imports pytest. Every ``.py`` under the suites folder (ini ``hilrig_suites``) is
one :class:`ProgramItem`; CPython never imports it. Each run, or each xdist worker, leases one
board of the target (:mod:`hilrig.gate.lease`) and starts it once (at the header, or at the first
program); it is stopped and released at session end, Ctrl-C included. Gating on a baseline,
``--hil-count`` and failure bundles are :mod:`hilrig.gate.policy`'s; this module maps them onto
pytest.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from hilrig.errors import ConfigError, HilrigError
from hilrig.gate.lease import DEFAULT_LOCK_TIMEOUT_S
from hilrig.gate.policy import GateOptions, Ledger
from hilrig.gate.target_reference import target_name
from hilrig.limits import COUNT, LOCK_TIMEOUT, TIMEOUT, Limit
from hilrig.plugin.fixture import WIRING_MARK, attach_transcript, board
from hilrig.plugin.items import MultiProgramItem, ProgramItem, SuiteFile, _NoTests
from hilrig.plugin.results_json import ResultsJson
from hilrig.plugin.state import STATE, GateRecorder, _State, known
from hilrig.run.differential import LOAD_CHOICES
from hilrig.run.mptests import TestTree, find_tree
from hilrig.run.program import Program
from hilrig.run.session import DEFAULT_TIMEOUT_S, Options
from hilrig.run.timing import SLOWER
from hilrig.targets.load import load_target
from hilrig.targets.spec import TargetSpec

__all__ = ["MultiProgramItem", "ProgramItem", "SuiteFile", "board"]


def pytest_addoption(parser: pytest.Parser) -> None:
    """The --target and --hil-* options and the hilrig_* ini values."""
    group = parser.getgroup("hilrig", "hilrig: MicroPython boards")
    group.addoption(
        "--target",
        default=None,
        metavar="NAME",
        help="run suite programs on targets/NAME.toml, else the built-in NAME (or a .toml path); "
        "NAME,NAME2: instance 1 of multi-board programs runs on NAME2",
    )
    group.addoption(
        "--hil-timeout",
        default=None,
        metavar="S",
        help="wall-clock limit per program in seconds (default: target, then ini)",
    )
    group.addoption(
        "--hil-reference",
        default=None,
        metavar="{auto,host,cpython,exp,target:NAME}",
        help=f"what board output is compared with (default {Options.reference}); target:NAME: "
        "the same programs on a board of target NAME",
    )
    group.addoption(
        "--hil-reference-firmware",
        default=None,
        metavar="FILE",
        help="with --hil-reference=target:NAME: flash (QEMU: boot) this firmware on the "
        "reference board first",
    )
    group.addoption(
        "--hil-emit",
        default=None,
        choices=("bytecode", "native", "viper"),
        help="mpy-cross emitter for all programs (default: the target's)",
    )
    group.addoption(
        "--hil-load",
        default=None,
        choices=LOAD_CHOICES,
        help="send programs as .mpy or source (default: the target's); both: each program "
        "as .mpy and as source on the board, failing where the runs differ",
    )
    group.addoption(
        "--hil-slower",
        default=None,
        metavar="X",
        help="with --hil-reference=target:NAME: fail a program more than X times slower on "
        "the board than on the reference (and slower by more than 0.05 s)",
    )
    group.addoption(
        "--hil-mpy-cross",
        default=None,
        metavar="PATH",
        help="use this mpy-cross (checked against the firmware first)",
    )
    group.addoption(
        "--hil-results",
        default=None,
        metavar="DIR",
        help="where transcripts and bundles go (default .hilrig/results)",
    )
    group.addoption(
        "--hil-firmware",
        default=None,
        metavar="FILE",
        help="flash this firmware first (skipped if the board already runs it); "
        "QEMU targets boot it",
    )
    group.addoption(
        "--hil-results-json",
        default=None,
        metavar="FILE",
        help="write the verdicts in run-tests.py's _results.json shape",
    )
    group.addoption(
        "--hil-reflash",
        action="store_true",
        default=False,
        help="flash --hil-firmware even if the board already runs it",
    )
    group.addoption(
        "--hil-keep-transcripts",
        action="store_true",
        default=False,
        help="keep transcripts of passing programs too",
    )
    group.addoption(
        "--hil-baseline",
        default=None,
        metavar="FILE",
        help="known failures per target (.toml or .json): only new failures fail",
    )
    group.addoption(
        "--hil-update-baseline",
        action="store_true",
        default=False,
        help="write this run's failures into the --hil-baseline file",
    )
    group.addoption(
        "--hil-count",
        default=1,
        metavar="N",
        help="run each program N times; programs failing some runs are intermittent",
    )
    group.addoption(
        "--hil-lock-timeout",
        default=DEFAULT_LOCK_TIMEOUT_S,
        metavar="S",
        help=f"how long to wait for a board other runs hold (default {DEFAULT_LOCK_TIMEOUT_S:g} s)",
    )
    parser.addini(
        "hilrig_suites", "folder of suite programs, relative to rootdir", default="suites"
    )
    parser.addini(
        "hilrig_timeout", "default per-program limit in seconds", default=str(DEFAULT_TIMEOUT_S)
    )


def read_options(config: pytest.Config) -> Options:
    """Command line and ini, read once into a typed Options."""
    root = Path(config.rootpath)
    trees = test_trees(config, root)
    timeout = config.getoption("hil_timeout")
    ini_value = _checked(TIMEOUT, str(config.getini("hilrig_timeout")), "ini option hilrig_timeout")
    results = config.getoption("hil_results")
    mpy_cross = config.getoption("hil_mpy_cross")
    reference = config.getoption("hil_reference")
    firmware = config.getoption("hil_firmware")
    ref_firmware = config.getoption("hil_reference_firmware")
    _check_reference(reference, ref_firmware)
    slower = config.getoption("hil_slower")
    if slower is not None and target_name(reference or "") is None:
        raise pytest.UsageError(
            "--hil-slower compares the board's time with a reference board's: add "
            "--hil-reference=target:NAME"
        )
    return Options(
        rootdir=root,
        timeout_s=_checked(TIMEOUT, timeout, "--hil-timeout") if timeout is not None else None,
        ini_timeout_s=ini_value,
        reference=reference if reference is not None else Options.reference,
        emit=config.getoption("hil_emit"),
        mpy_cross=Path(mpy_cross) if mpy_cross is not None else None,
        results_dir=Path(results) if results is not None else None,
        keep_transcripts=bool(config.getoption("hil_keep_transcripts")),
        firmware=Path(firmware) if firmware is not None else None,
        reflash=bool(config.getoption("hil_reflash")),
        module_path=tuple(p for tree in trees for p in tree.module_path()),
        load=config.getoption("hil_load"),
        slower=_checked(SLOWER, slower, "--hil-slower") if slower is not None else None,
        reference_firmware=Path(ref_firmware) if ref_firmware is not None else None,
    )


def _check_reference(reference: str | None, firmware: str | None) -> None:
    if reference is not None and reference not in _REFERENCES and ":" not in reference:
        raise pytest.UsageError(
            f"--hil-reference={reference}: use auto, host, cpython, exp or target:NAME"
        )
    try:
        name = target_name(reference or "")
    except ConfigError as exc:
        raise pytest.UsageError(str(exc)) from None
    if reference is not None and ":" in reference and name is None:
        raise pytest.UsageError(f"--hil-reference={reference}: the only prefix is target:NAME")
    if firmware is not None and name is None:
        raise pytest.UsageError(
            "--hil-reference-firmware is for --hil-reference=target:NAME; add that option "
            "or drop this one"
        )


_REFERENCES = ("auto", "host", "cpython", "exp")


def test_trees(config: pytest.Config, root: Path) -> list[TestTree]:
    """MicroPython test trees named on the command line or holding the suites folder."""
    suites = root / str(config.getini("hilrig_suites"))
    found = [find_tree(Path(arg.split("::")[0])) for arg in (*config.args, str(suites))]
    return list({tree.root: tree for tree in found if tree is not None}.values())


def _worker_index(config: pytest.Config) -> int:
    worker = getattr(config, "workerinput", None)
    if worker is None:
        return 0
    return int(str(worker.get("workerid", "gw0")).lstrip("gw") or 0)


def read_gate_options(config: pytest.Config) -> GateOptions:
    """The gating and leasing options, checked."""
    baseline = config.getoption("hil_baseline")
    update = bool(config.getoption("hil_update_baseline"))
    if update and baseline is None:
        raise pytest.UsageError("--hil-update-baseline needs --hil-baseline FILE to write")
    return GateOptions(
        baseline=Path(baseline) if baseline is not None else None,
        update=update,
        count=int(_checked(COUNT, config.getoption("hil_count"), "--hil-count")),
        lock_timeout_s=_checked(
            LOCK_TIMEOUT, config.getoption("hil_lock_timeout"), "--hil-lock-timeout"
        ),
    )


def _checked(limit: Limit, value: object, what: str) -> float:
    """A numeric option in its range, else the usage error naming option, value and range."""
    try:
        return limit.check(value, what)
    except ConfigError as exc:
        raise pytest.UsageError(str(exc)) from None


def pytest_configure(config: pytest.Config) -> None:
    """Load the target file and the baseline; a bad one stops the run with its sentence."""
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
        options, suites.resolve(), spec, gate, baseline, _worker_index(config), _announcer(config)
    )
    state.trees = tuple(tree.root for tree in test_trees(config, options.rootdir))
    state.more_specs = tuple(specs[1:])
    config.stash[STATE] = state
    if not _is_worker(config):
        config.pluginmanager.register(GateRecorder(Ledger(gate, baseline)), "hilrig-gate")
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
    per core)."""
    target = config.getoption("target")
    if target is None:
        return None
    try:
        first = str(target).split(",")[0].strip()
        return load_target(first, Path(config.rootpath)).board_count()
    except ConfigError:
        return None  # pytest_configure reports it


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
    resolved = path.resolve()
    return resolved.is_relative_to(state.suites) or any(
        _is_test_program(resolved, root) for root in state.trees
    )


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


PREFETCH_DEPTH = 4  # programs whose compile and reference are warmed ahead of the board


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_protocol(item: pytest.Item, nextitem: pytest.Item | None) -> None:
    """While this program runs on the board, compile the next ones and run their references;
    the next one, if it is a program, may start on the board as soon as this one is done."""
    state = item.config.stash.get(STATE, None)
    if state is None or state.session is None:
        return
    following = _program_of(state, nextitem)
    # Under xdist only the next item is known to be this worker's; alone, the next few are.
    after = [] if _is_worker(item.config) else _items_after(item, PREFETCH_DEPTH)
    upcoming = [p for p in (following, *(_program_of(state, i) for i in after)) if p is not None]
    state.session.prefetch(upcoming, following)


def _program_of(state: _State, item: pytest.Item | None) -> Program | None:
    """The program of a single-board program item (None for anything else or an unreadable one:
    its own turn reports it)."""
    if not isinstance(item, ProgramItem) or isinstance(item, MultiProgramItem):
        return None
    try:
        return state.program(item.path)
    except (OSError, HilrigError):
        return None


def _items_after(item: pytest.Item, count: int) -> list[pytest.Item]:
    """The ``count`` items after the next one, in the order pytest runs them."""
    items = item.session.items
    index = item.stash.get(_INDEX, None)
    if index is None:
        for i, each in enumerate(items):
            each.stash[_INDEX] = i
        index = item.stash.get(_INDEX, 0)
    return items[index + 2 : index + 2 + count - 1]


_INDEX = pytest.StashKey[int]()


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
