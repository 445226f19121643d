"""Per-run plugin state in ``config.stash``, and the recorder behind the gate's summary."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from hilrig.boards.board import Board
from hilrig.errors import HilrigError
from hilrig.gate import policy as gating
from hilrig.gate.baseline import Baseline
from hilrig.gate.lease import Held
from hilrig.gate.policy import GateOptions, Ledger
from hilrig.gate.pool import BoardPool
from hilrig.gate.target_reference import TargetReference, start_target_reference, target_name
from hilrig.run.identity import identity
from hilrig.run.multicheck import HostFleet
from hilrig.run.program import Program, read_program
from hilrig.run.session import HilSession, Options, ProgramRun
from hilrig.targets.find import known_targets
from hilrig.targets.spec import TargetSpec


@dataclass
class _State:
    """Per-run plugin state, kept in ``config.stash``."""

    options: Options
    suites: Path
    spec: TargetSpec | None
    gate: GateOptions = field(default_factory=GateOptions)
    baseline: Baseline = field(default_factory=Baseline)
    worker: int = 0  # xdist worker number: where this worker starts looking for a free board
    say: Callable[[str], None] = lambda text: None
    session: HilSession | None = None
    lease: Held | None = None
    start_error: HilrigError | None = None
    properties: dict[str, str] = field(default_factory=dict)
    trees: tuple[Path, ...] = ()  # MicroPython test trees whose programs are collected too
    program_runs: dict[Path, ProgramRun] = field(default_factory=dict)  # for unittest methods
    programs: dict[Path, Program] = field(default_factory=dict)
    planned: bool = False  # the rest of the run (a worker: its share) is queued for the prefetch
    lanes: int = 1  # boards one session runs programs on at once (hilrig.run.lanes)
    positions: dict[str, int] = field(default_factory=dict)  # item nodeid -> place in the run

    def program(self, path: Path) -> Program:
        """The program at ``path``, read once a run (the prefetch reads the next one early)."""
        if path not in self.programs:
            self.programs[path] = read_program(path, self.options.rootdir)
        return self.programs[path]

    more_specs: tuple[TargetSpec, ...] = ()  # --target=a,b: where instances 1, 2, … run
    pool: BoardPool | None = None
    fleet: HostFleet | None = None
    target_reference: TargetReference | None = None  # --hil-reference=target:NAME

    def ensure_session(self) -> HilSession:
        """Lease a board and start it on first use; later calls re-raise the first failure."""
        if self.start_error is not None:
            raise self.start_error
        if self.session is None:
            assert self.spec is not None
            try:
                self.session, self.lease = gating.start_leased(
                    self.spec,
                    self.options,
                    self.gate.lock_timeout_s,
                    first=self.worker,
                    on_wait=self.say,
                )
            except HilrigError as exc:
                self.start_error = exc
                raise
            # one run a program: the board may start the next one while this one is judged
            self.session.run_ahead = self.gate.count == 1 and self.session.source_runner is None
            if self.session.run_ahead:
                self.session.open_lanes(self.lanes)
            self._pin_target_reference(self.session)
            self.properties.update(identity(self.session))
            self.properties.update(gating.board_properties(self.session))
        return self.session

    def _pin_target_reference(self, session: HilSession) -> None:
        """--hil-reference=target:NAME: lease and start that board, compare with it."""
        name = target_name(self.options.reference)
        if name is None:
            return
        try:
            self.target_reference = start_target_reference(
                name, self.options, self.gate.lock_timeout_s, on_wait=self.say
            )
        except HilrigError as exc:
            self.start_error = HilrigError(f"reference target {name}: {exc}")
            raise self.start_error from exc
        session.pin_reference(self.target_reference)
        self.properties["reference_firmware"] = self.target_reference.firmware

    def extra_boards(self, count: int) -> list[Board]:
        """Boards for instances 1 … ``count`` of a multi-board program (leased on first use)."""
        if self.pool is None:
            assert self.spec is not None
            specs = (self.spec, *self.more_specs)
            self.pool = BoardPool(specs, self.gate.lock_timeout_s)
        return self.pool.boards(count)

    def reference_fleet(self) -> HostFleet | None:
        """Host VMs for multi-board references; None with --hil-reference=exp."""
        if self.options.reference == "exp":
            return None
        if self.fleet is None:
            self.fleet = HostFleet()
        return self.fleet

    def close(self) -> None:
        """Stop the boards, then give their leases back."""
        for part in (self.fleet, self.pool, self.target_reference, self.session):
            if part is not None:
                part.close()
        if self.lease is not None:
            self.lease.release()


STATE = pytest.StashKey[_State]()


def known(state: _State) -> str:
    """The target names in the rootdir, for messages."""
    return ", ".join(known_targets(state.options.rootdir)) or "none"


class GateRecorder:
    """Registered on the controller (or the only process): learns each program's gate status
    from its test report, then prints the gate's terminal summary."""

    def __init__(self, ledger: Ledger) -> None:
        self.ledger = ledger

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        """Remember the gate decision a program item recorded in its user properties."""
        if report.when == "call":
            self.ledger.record(report.user_properties)

    @pytest.hookimpl(optionalhook=True)
    def pytest_testnodedown(self, node: Any, error: object | None) -> None:
        """Collect a finished xdist worker's run properties (its board, firmware)."""
        output = getattr(node, "workeroutput", None) or {}
        props = output.get("hilrig_properties")
        if props:
            self.ledger.worker_properties.append(dict(props))

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        """Fixed, intermittent and known failures, and what happened to the baseline."""
        lines = self.ledger.summary()
        if lines:
            terminalreporter.section("hilrig gate")
            for line in lines:
                terminalreporter.write_line(line)
