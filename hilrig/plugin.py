"""The pytest plugin: suite programs as test items, ``--target`` and the ``--hil-*`` options.

Only this module imports pytest. Every ``.py`` under the suites folder (ini ``hilrig_suites``) is
one :class:`ProgramItem`; CPython never imports it. The board starts once per run (at the header,
or at the first program) and is stopped at session end, Ctrl-C included.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from hilrig.compare import Verdict
from hilrig.errors import ConfigError, HilrigError, ToolMissing
from hilrig.excerpt import annotate
from hilrig.runner import Program, read_program
from hilrig.session import DEFAULT_TIMEOUT_S, HilSession, Options, ProgramReport, identity
from hilrig.targets import TargetSpec, known_targets, load_target


@dataclass
class _State:
    """Per-run plugin state, kept in ``config.stash``."""

    options: Options
    suites: Path
    spec: TargetSpec | None
    session: HilSession | None = None
    start_error: HilrigError | None = None
    properties: dict[str, str] = field(default_factory=dict)

    def ensure_session(self) -> HilSession:
        """Start the board on first use; later calls re-raise the first failure."""
        if self.start_error is not None:
            raise self.start_error
        if self.session is None:
            assert self.spec is not None
            session = HilSession(self.spec, self.options)
            try:
                session.start()
            except HilrigError as exc:
                session.close()
                self.start_error = exc
                raise
            self.session = session
            self.properties.update(identity(session))
        return self.session


STATE = pytest.StashKey[_State]()


def pytest_addoption(parser: pytest.Parser) -> None:
    """The --target and --hil-* options and the hilrig_* ini values."""
    group = parser.getgroup("hilrig", "hilrig: MicroPython boards")
    group.addoption("--target", default=None, metavar="NAME",
                    help="run suite programs on targets/NAME.toml (or a path to a .toml)")
    group.addoption("--hil-timeout", type=float, default=None, metavar="S",
                    help="wall-clock limit per program in seconds (default: target, then ini)")
    group.addoption("--hil-reference", default=None, choices=("host", "cpython", "exp"),
                    help="what board output is compared with (default host)")
    group.addoption("--hil-emit", default=None, choices=("bytecode", "native", "viper"),
                    help="mpy-cross emitter for all programs (default: the target's)")
    group.addoption("--hil-mpy-cross", default=None, metavar="PATH",
                    help="use this mpy-cross (checked against the firmware first)")
    group.addoption("--hil-results", default=None, metavar="DIR",
                    help="where transcripts and bundles go (default .hilrig/results)")
    group.addoption("--hil-firmware", default=None, metavar="FILE",
                    help="flash this firmware first (skipped if the board already runs it); "
                    "QEMU targets boot it")
    group.addoption("--hil-reflash", action="store_true", default=False,
                    help="flash --hil-firmware even if the board already runs it")
    group.addoption("--hil-keep-transcripts", action="store_true", default=False,
                    help="keep transcripts of passing programs too")
    parser.addini("hilrig_suites", "folder of suite programs, relative to rootdir",
                  default="suites")
    parser.addini("hilrig_timeout", "default per-program limit in seconds",
                  default=str(DEFAULT_TIMEOUT_S))


def read_options(config: pytest.Config) -> Options:
    """Command line and ini, read once into a typed Options."""
    root = Path(config.rootpath)
    ini_timeout = str(config.getini("hilrig_timeout"))
    try:
        ini_value = float(ini_timeout)
    except ValueError as exc:
        raise pytest.UsageError(f"ini option hilrig_timeout = {ini_timeout!r} is not a number")
    results = config.getoption("hil_results")
    mpy_cross = config.getoption("hil_mpy_cross")
    reference = config.getoption("hil_reference")
    firmware = config.getoption("hil_firmware")
    return Options(
        rootdir=root,
        timeout_s=config.getoption("hil_timeout"),
        ini_timeout_s=ini_value,
        reference=reference if reference is not None else "host",
        emit=config.getoption("hil_emit"),
        mpy_cross=Path(mpy_cross) if mpy_cross is not None else None,
        results_dir=Path(results) if results is not None else root / ".hilrig" / "results",
        cache_dir=root / ".hilrig" / "cache",
        keep_transcripts=bool(config.getoption("hil_keep_transcripts")),
        board_index=_worker_index(config),
        firmware=Path(firmware) if firmware is not None else None,
        reflash=bool(config.getoption("hil_reflash")),
    )


def _worker_index(config: pytest.Config) -> int:
    worker = getattr(config, "workerinput", None)
    if worker is None:
        return 0
    return int(str(worker.get("workerid", "gw0")).lstrip("gw") or 0)


def pytest_configure(config: pytest.Config) -> None:
    """Load the target file; a bad one stops the run with its sentence."""
    options = read_options(config)
    target = config.getoption("target")
    spec = None
    if target is not None:
        try:
            spec = load_target(target, options.rootdir)
        except ConfigError as exc:
            raise pytest.UsageError(str(exc)) from None
    suites = options.rootdir / str(config.getini("hilrig_suites"))
    config.stash[STATE] = _State(options, suites.resolve(), spec)


def _is_controller(config: pytest.Config) -> bool:
    return config.pluginmanager.has_plugin("dsession")


def pytest_report_header(config: pytest.Config) -> list[str]:
    """Target, firmware, .mpy ABI and compiler, read from the board itself."""
    state = config.stash[STATE]
    if state.spec is None:
        return [f"hilrig: no --target; suite programs skip (targets: {_known(state)})"]
    lines = [f"hilrig: target {state.spec.name} ({state.spec.path})"]
    if config.option.collectonly or _is_controller(config):
        return lines
    try:
        state.ensure_session()
    except HilrigError as exc:
        return lines + [f"hilrig: board not available: {exc}"]
    return lines + [f"hilrig: {k}: {v}" for k, v in state.properties.items() if k != "target"]


def _known(state: _State) -> str:
    return ", ".join(known_targets(state.options.rootdir)) or "none"


def _in_suites(state: _State, path: Path) -> bool:
    return path.suffix == ".py" and path.name != "__init__.py" and path.name != "conftest.py" \
        and path.resolve().is_relative_to(state.suites)


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


class _NoTests(pytest.File):
    def collect(self) -> list[pytest.Item]:
        return []


class SuiteFile(pytest.File):
    """A suite program file; yields one ProgramItem."""

    def collect(self) -> list[pytest.Item]:
        """One item named after the file."""
        return [ProgramItem.from_parent(self, name=self.path.stem)]


class ProgramFailed(Exception):
    """Raised by a program item whose board run did not match."""

    def __init__(self, report: ProgramReport) -> None:
        super().__init__(report.comparison.reason)
        self.report = report


class ProgramItem(pytest.Item):
    """One MicroPython program run on the target and compared with its reference."""

    def runtest(self) -> None:
        """Run on the board, compare, and pass, skip or fail."""
        state = self.config.stash[STATE]
        if state.spec is None:
            pytest.skip(f"no --target given: run pytest --target=NAME (targets: {_known(state)})")
        try:
            session = state.ensure_session()
        except ToolMissing as exc:
            if os.environ.get("CI") == "true":
                pytest.fail(f"board not available in CI: {exc}", pytrace=False)
            pytest.skip(str(exc))
        except HilrigError as exc:
            pytest.fail(f"board not available: {exc}", pytrace=False)
        program = read_program(self.path, state.options.rootdir)
        report = session.run_program(program)
        self._record(report)
        if report.comparison.verdict is Verdict.SKIP:
            pytest.skip(report.comparison.reason)
        if report.comparison.verdict is Verdict.MISMATCH:
            raise ProgramFailed(report)

    def _record(self, report: ProgramReport) -> None:
        self.user_properties.append(("verdict", report.comparison.verdict.value))
        if report.transcript is not None:
            self.user_properties.append(("transcript", str(report.transcript)))
        self.hil_report = report

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException],
                     style: Any = None) -> str | Any:
        """The diff for a mismatch; one sentence for a hilrig error; pytest's view otherwise."""
        if isinstance(excinfo.value, ProgramFailed):
            return format_failure(excinfo.value.report)
        if isinstance(excinfo.value, HilrigError):
            return str(excinfo.value)
        return super().repr_failure(excinfo, style=style)

    def reportinfo(self) -> tuple[Path, int | None, str]:
        """Where the program is."""
        return self.path, None, f"program {self.name}"


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    """Skips of suite programs point at the program, not at hilrig's code."""
    report = yield
    if isinstance(item, ProgramItem) and report.skipped and isinstance(report.longrepr, tuple):
        report.longrepr = (str(item.path), None, report.longrepr[2])
    return report


def format_failure(report: ProgramReport) -> str:
    """Reason, diff, notes and where the transcript is."""
    c = report.comparison
    parts = [c.reason]
    if c.diff:
        parts.append(c.diff.rstrip())
    board = report.board
    if board is not None and board.traceback:
        mpy = report.prepared.mpy if report.prepared is not None else None
        source = annotate(board.traceback_text(), report.program.name, report.program.source, mpy)
        if source:
            parts.append(source)
    parts += [f"note: {n}" for n in c.notes]
    if report.transcript is not None:
        parts.append(f"transcript: {report.transcript}")
    return "\n".join(parts)


@pytest.hookimpl(tryfirst=True)
def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Put run properties into junit, then stop the board (before junit is written)."""
    state = session.config.stash.get(STATE, None)
    if state is None:
        return
    _junit_properties(session.config, state.properties)
    if state.session is not None:
        state.session.close()


def _junit_properties(config: pytest.Config, properties: dict[str, str]) -> None:
    try:
        from _pytest.junitxml import xml_key
    except ImportError:  # pragma: no cover - pytest moved it
        return
    xml = config.stash.get(xml_key, None)
    if xml is not None:
        for name, value in properties.items():
            xml.add_global_property(f"hilrig_{name}", value)
