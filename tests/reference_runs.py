"""Reference results of every suite program on the host VM, for the soundness corpus."""

from __future__ import annotations

from pathlib import Path

from hilrig.results import RunResult
from hilrig.run.program import read_program
from hilrig.run.reference import HostReference

ROOT = Path(__file__).resolve().parents[1]


def reference_results(cache: Path) -> dict[str, RunResult]:
    """Program name -> its host VM result (cached by content in ``cache``)."""
    reference = HostReference(cache, max_output=1_000_000)
    try:
        reference.start()
        results = {}
        for path in sorted((ROOT / "suites").rglob("*.py")):
            program = read_program(path, ROOT)
            results[program.name] = reference.run(program, timeout_s=30)
        return results
    finally:
        reference.close()
