"""Failure bundles: everything needed to rerun a failing program on a board, in one folder.

``<results>/<target>/bundles/<program>/`` holds::

    bundle.json          the manifest: program, target, load mode, outcomes, reason, file list
    program.py           the program as run (program.py.exp: its expected output, if it had one)
    program.mpy          the exact .mpy sent (mpy mode); command.txt: the mpy-cross command line
    <target>.toml        the target file, copied
    identity.json        firmware, .mpy ABI, compiler and reference of the run
    transcript.txt       every byte to and from the board
    reference.stdout     the reference's output, and reference.traceback its uncaught exception
                         (only when the run had one: a board timeout needs none, none is run)
    board.stdout         the board's output, and board.traceback
    diff.txt             the failure as the test report showed it

``hilrig repro`` reads a bundle back with :func:`read_bundle`. A bundle is data that travels: every
path it names is resolved inside its folder (:func:`inside`), and its copy of the target file is
never run unless the user says so (:mod:`hilrig.gate.repro`).
"""

from __future__ import annotations

import json
import re
import shlex
import shutil
import time
from dataclasses import dataclass, replace
from pathlib import Path, PurePosixPath
from typing import Any

from hilrig import __version__
from hilrig.capabilities import Capabilities, ErrorReporting
from hilrig.errors import ConfigError
from hilrig.limits import TIMEOUT
from hilrig.results import Outcome, RunResult
from hilrig.run.program import Program, read_program
from hilrig.run.session import HilSession, ProgramRun

BUNDLE_VERSION = 1
MANIFEST = "bundle.json"
_TARGET_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*")


@dataclass(frozen=True)
class Bundle:
    """A bundle read back: the program as run, what the board and the reference printed."""

    path: Path
    program: Program  # path: the bundle's program.py; name: the name the run gave it
    target: str
    target_file: Path  # the copy in the bundle: compared with the project's, run only if trusted
    mode: str  # "mpy" | "source"
    mpy: bytes | None
    command: tuple[str, ...]
    reference: RunResult | None  # None: compared with program.expected, or no reference ran
    reference_caps: Capabilities | None
    board: RunResult | None  # None: the program never ran (mpy-cross rejected it)
    reason: str


def bundle_dir(results_dir: Path, target: str, program_name: str) -> Path:
    """Where the bundle of a program's failure on a target goes."""
    return results_dir / target / "bundles" / program_name.replace("/", "__")


def remove_bundle(results_dir: Path, target: str, program_name: str) -> None:
    """Drop the bundle of a program that no longer fails (a stale one would mislead)."""
    shutil.rmtree(bundle_dir(results_dir, target, program_name), ignore_errors=True)


def write_bundle(
    session: HilSession, report: ProgramRun, identity: dict[str, str], failure: str
) -> Path:
    """Write the bundle of a failing program (replacing an older one) and return its folder."""
    spec, program = session.spec, report.program
    folder = bundle_dir(session.options.results_folder, spec.name, program.name)
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    reference, ref_caps = _reference(session, report)
    files = _write_files(folder, session, report, reference, identity, failure)
    manifest = {
        "version": BUNDLE_VERSION,
        "hilrig": __version__,
        "created": time.strftime("%Y-%m-%dT%H:%M:%S"),
        "program": program.name,
        "target": spec.name,
        "target_file": spec.path.name,
        "mode": session.mode,
        "timeout_s": session.timeout_for(program),
        "verdict": report.comparison.verdict.value,
        "reason": report.comparison.reason,
        "board": _result_json(report.board),
        "reference": _result_json(reference),
        "reference_caps": caps_to_json(ref_caps) if ref_caps is not None else None,
        **_check_json(report),
        "files": files,
    }
    (folder / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    return folder


def _reference(
    session: HilSession, report: ProgramRun
) -> tuple[RunResult | None, Capabilities | None]:
    """The reference result the run already has, never a new run.

    A board that timed out, crashed or broke was judged without a reference; running one now
    for the bundle would cost a second full timeout when the program hangs everywhere.
    """
    if report.reference is None or session.reference is None:
        return None, None
    return report.reference, session.reference.caps


def _write_files(
    folder: Path,
    session: HilSession,
    report: ProgramRun,
    reference: RunResult | None,
    identity: dict[str, str],
    failure: str,
) -> dict[str, str]:
    program, prepared = report.program, report.prepared
    files: dict[str, bytes | str] = {"program.py": program.source, "diff.txt": failure + "\n"}
    if program.expected is not None:
        files["program.py.exp"] = program.expected
    if prepared is not None and prepared.mpy is not None:
        files["program.mpy"] = prepared.mpy
        files["command.txt"] = shlex.join(prepared.command) + "\n"
    else:
        files["command.txt"] = "# source mode: the program was sent as text, not compiled\n"
    files[session.spec.path.name] = session.spec.path.read_bytes()
    files["identity.json"] = json.dumps(identity, indent=2) + "\n"
    for side, result in (("board", report.board), ("reference", reference)):
        if result is not None:
            files[f"{side}.stdout"] = result.stdout
            files[f"{side}.traceback"] = result.traceback
    if report.transcript is not None and report.transcript.is_file():
        files["transcript.txt"] = report.transcript.read_bytes()
    if report.source_check is not None:
        files.update(_source_check_files(report))
    for name, data in files.items():
        path = folder / name
        path.write_bytes(data) if isinstance(data, bytes) else path.write_text(data, "utf-8")
    return {name: _describe(name) for name in sorted(files)}


def _source_check_files(report: ProgramRun) -> dict[str, bytes | str]:
    """--hil-load=both: the source run beside the .mpy run, and ``hilrig mpy inspect`` of the
    .mpy that was sent."""
    from hilrig.errors import HilrigError
    from hilrig.mpy.reader import format_summary, read_mpy

    files: dict[str, bytes | str] = {}
    check, prepared = report.source_check, report.prepared
    if check is not None and check.run is not None:
        files["source.stdout"] = check.run.stdout
        files["source.traceback"] = check.run.traceback
    if check is not None and check.transcript is not None and check.transcript.is_file():
        files["transcript-source.txt"] = check.transcript.read_bytes()
    if prepared is not None and prepared.mpy is not None:
        text = report.program.source.decode("utf-8", errors="replace")
        try:
            files["program.mpy.txt"] = format_summary(read_mpy(prepared.mpy, "program.mpy"), text)
        except HilrigError as exc:
            files["program.mpy.txt"] = f"hilrig mpy inspect cannot read it: {exc}\n"
    return files


def _describe(name: str) -> str:
    known = {
        "program.py": "the program as run",
        "program.py.exp": "its expected output",
        "program.mpy": "the exact .mpy sent to the board",
        "command.txt": "the mpy-cross command line",
        "identity.json": "firmware and tools of the run",
        "transcript.txt": "every byte to and from the board",
        "transcript-source.txt": "every byte of the source run (--hil-load=both)",
        "program.mpy.txt": "hilrig mpy inspect of program.mpy",
        "diff.txt": "the failure as reported",
    }
    if name.endswith(".toml"):
        return "the target file"
    side, _, part = name.partition(".")
    return known.get(name, f"{side} {part}")


def _check_json(report: ProgramRun) -> dict[str, Any]:
    check = report.source_check
    if check is None:
        return {}
    return {
        "source_run": _result_json(check.run),
        "source_check": {
            "verdict": check.comparison.verdict.value,
            "reason": check.comparison.reason,
        },
    }


def _result_json(result: RunResult | None) -> dict[str, Any] | None:
    if result is None:
        return None
    return {
        "outcome": result.outcome.value,
        "duration_s": round(result.duration_s, 4),
        "truncated": result.truncated,
        "detail": result.detail,
    }


def caps_to_json(caps: Capabilities) -> dict[str, Any]:
    """Capabilities as plain JSON values."""
    return {
        "platform": caps.platform,
        "version": list(caps.version),
        "banner": caps.banner,
        "mpy": caps.mpy,
        "float_bits": caps.float_bits,
        "small_int_bits": caps.small_int_bits,
        "bigint": caps.bigint,
        "error_reporting": caps.error_reporting.name,
    }


def caps_from_json(data: dict[str, Any]) -> Capabilities:
    """The inverse of :func:`caps_to_json` (fields it does not keep take their defaults)."""
    major, minor, micro = (int(p) for p in data["version"])
    return Capabilities(
        platform=str(data["platform"]),
        version=(major, minor, micro),
        banner=str(data["banner"]),
        mpy=data["mpy"],
        float_bits=int(data["float_bits"]),
        small_int_bits=int(data["small_int_bits"]),
        bigint=bool(data["bigint"]),
        error_reporting=ErrorReporting[data["error_reporting"]],
    )


def read_bundle(path: Path) -> Bundle:
    """Read a bundle folder (or its bundle.json); ConfigError says what is missing or which
    path would lead out of the bundle."""
    folder = path.parent if path.name == MANIFEST else path
    try:
        manifest = json.loads(inside(folder, MANIFEST).read_text(encoding="utf-8"))
        return _bundle(folder, manifest)
    except OSError as exc:
        raise ConfigError(f"{folder} is not a complete hilrig bundle: {exc}.") from exc
    except (ValueError, KeyError, TypeError) as exc:
        raise ConfigError(f"{folder / MANIFEST} is not a hilrig bundle manifest: {exc!r}.") from exc


def _bundle(folder: Path, manifest: dict[str, Any]) -> Bundle:
    if manifest.get("version") != BUNDLE_VERSION:
        raise ConfigError(
            f"{folder / MANIFEST}: bundle version {manifest.get('version')!r}; "
            f"this hilrig reads version {BUNDLE_VERSION}."
        )
    for name in manifest.get("files", {}):  # every name the manifest gives stays inside
        inside(folder, str(name))
    inside(folder, "program.py.exp")  # read_program reads it next to program.py
    program = replace(
        read_program(inside(folder, "program.py"), folder),
        name=str(manifest["program"]),
        timeout_s=TIMEOUT.check(manifest["timeout_s"], f"{folder / MANIFEST}: timeout_s"),
    )
    mpy = inside(folder, "program.mpy")
    ref_caps = manifest.get("reference_caps")
    return Bundle(
        path=folder,
        program=program,
        target=_target_name(folder, str(manifest["target"])),
        target_file=inside(folder, str(manifest["target_file"])),
        mode=str(manifest["mode"]),
        mpy=mpy.read_bytes() if mpy.is_file() else None,
        command=_command(inside(folder, "command.txt")),
        reference=_read_result(folder, "reference", manifest.get("reference")),
        reference_caps=caps_from_json(ref_caps) if ref_caps is not None else None,
        board=_read_result(folder, "board", manifest.get("board")),
        reason=str(manifest["reason"]),
    )


def inside(folder: Path, name: str) -> Path:
    """``folder / name``; ConfigError when the name, or a symbolic link on the way, leads out of
    the bundle (a bundle is shared data: it must not make hilrig read or write elsewhere)."""
    relative = PurePosixPath(name)
    if not name or relative.is_absolute() or ".." in relative.parts:
        raise ConfigError(
            f"{folder / MANIFEST} names {name!r}, a path outside the bundle; a bundle's files "
            f"must be inside its folder, so it was not used."
        )
    path = folder / relative
    real = path.resolve()
    if not real.is_relative_to(folder.resolve()):
        raise ConfigError(
            f"{path} is a link that leads outside the bundle (to {real}); a bundle's files must "
            f"be inside its folder, so it was not used."
        )
    return path


def _target_name(folder: Path, name: str) -> str:
    """The manifest's target: a name to look up in the project, never a path."""
    if not _TARGET_NAME.fullmatch(name) or name.endswith(".toml"):
        raise ConfigError(
            f"{folder / MANIFEST}: target {name!r} is not a target name (a bundle names its "
            f"target, never a file); the bundle was not used."
        )
    return name


def _command(path: Path) -> tuple[str, ...]:
    text = path.read_text(encoding="utf-8") if path.is_file() else ""
    return () if text.startswith("#") else tuple(shlex.split(text))


def _read_result(folder: Path, side: str, data: dict[str, Any] | None) -> RunResult | None:
    if data is None:
        return None
    return RunResult(
        Outcome(data["outcome"]),
        inside(folder, f"{side}.stdout").read_bytes(),
        inside(folder, f"{side}.traceback").read_bytes(),
        float(data["duration_s"]),
        bool(data["truncated"]),
        str(data["detail"]),
    )
