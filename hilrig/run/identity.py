"""What identifies a run: the firmware and its .mpy ABI, the compiler, how programs are loaded,
the reference (header lines and junit properties)."""

from __future__ import annotations

from hilrig.run import differential as both
from hilrig.run.session import HilSession

_LOAD_TEXT = {
    "mpy": "mpy (the board imports .mpy from RAM)",
    "source": "source (the firmware cannot import .mpy; programs are sent as text)",
}


def identity(session: HilSession) -> dict[str, str]:
    """What identifies the firmware and tools of a run (header lines and junit properties)."""
    caps = session.caps
    assert caps is not None
    abi = "absent (firmware cannot say which .mpy it loads)"
    if caps.mpy is not None:
        abi = f"{caps.mpy} = .mpy v{caps.mpy_version}.{caps.mpy_sub_version}, " + (
            f"native arch {caps.arch}" if caps.arch else "no native code"
        )
    runner = session.runner
    compiler = runner.compiler.mpy_cross.label if runner and runner.compiler else "none"
    ref_runner = getattr(session.reference, "runner", None)
    if compiler == "none" and ref_runner is not None and ref_runner.compiler is not None:
        compiler = f"none on the board; the reference uses {ref_runner.compiler.mpy_cross.label}"
    ref = session.reference.label if session.reference else "exp files only"
    if session.options.reference == "auto":
        ref = f"auto: a .exp file, else CPython for MicroPython's own tests, else {ref}"
    return {
        "target": session.spec.name,
        "firmware": caps.banner or caps.sys_version,
        "implementation": f"micropython {caps.version_text} on {caps.platform}",
        "mpy_abi": abi,
        "mpy_cross": compiler,
        "load": both.load_text(session.options.load, _LOAD_TEXT[session.mode], caps),
        "numbers": f"float {caps.float_bits}-bit, small int {caps.small_int_bits}-bit",
        "errors": caps.error_reporting.name.lower(),
        "reference": ref,
        **({"flash": session.flashed} if session.flashed else {}),
    }
