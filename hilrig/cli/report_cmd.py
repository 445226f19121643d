"""``hilrig report`` and ``hilrig repro``: a Markdown matrix of junit results; rerunning a
failure bundle on a board.

``hilrig repro`` exits 0 when the failure reproduced at least once, 1 when no run reproduced it,
and 2 for usage errors and boards that could not be reached (nothing was learned).
"""

from __future__ import annotations

import argparse
import sys
import textwrap
from pathlib import Path
from typing import TYPE_CHECKING

from hilrig.compare.judge import Verdict
from hilrig.errors import ConfigError, HilrigError
from hilrig.gate.lease import DEFAULT_LOCK_TIMEOUT_S
from hilrig.limits import COUNT, LOCK_TIMEOUT

if TYPE_CHECKING:
    from hilrig.gate.repro import Repro, ReproRun, TargetChoice

EXIT_REPRODUCED = 0
EXIT_NOT_REPRODUCED = 1
EXIT_ERROR = 2


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``report`` and ``repro`` commands."""
    report = subparsers.add_parser(
        "report", help="Markdown program x target matrix from junit files (for CI summaries)"
    )
    report.add_argument("junit", nargs="+", type=Path, metavar="FILE.xml", help="junit files")
    report.add_argument("--output", type=Path, metavar="FILE", help="write here, not to stdout")
    report.add_argument(
        "--append", action="store_true", help="append to --output (as $GITHUB_STEP_SUMMARY wants)"
    )
    report.add_argument(
        "--html",
        type=Path,
        metavar="OUT.html",
        help="also write the matrix as one self-contained page (diffs, transcripts, times)",
    )
    report.set_defaults(handler=run_report)
    repro = subparsers.add_parser(
        "repro", help="rerun a failure bundle on a board and say whether it reproduced"
    )
    repro.add_argument("bundle", type=Path, metavar="BUNDLE", help="a bundle folder")
    repro.add_argument(
        "--target", help="target name or .toml (default: the project's target the bundle names)"
    )
    repro.add_argument(
        "--trust-bundle-target",
        action="store_true",
        help="run the bundle's own copy of its target file, even where it starts other host "
        "commands or boots other firmware than yours (what will run is printed first)",
    )
    repro.add_argument("--count", default=1, metavar="N", help="runs (default 1)")
    repro.add_argument(
        "--lock-timeout",
        default=DEFAULT_LOCK_TIMEOUT_S,
        metavar="S",
        help=f"wait this long for a free board (default {DEFAULT_LOCK_TIMEOUT_S:g} s)",
    )
    repro.set_defaults(handler=run_repro)


def run_report(args: argparse.Namespace) -> int:
    """Print (or write) the Markdown summary of the junit files."""
    from hilrig.gate.summary import summarise

    text = summarise(args.junit)
    if args.html is not None:
        from hilrig.gate.html_report import write_html

        try:
            write_html(args.junit, args.html)
        except OSError as exc:
            raise ConfigError(f"cannot write {args.html}: {exc.strerror or exc}") from exc
    if args.output is None:
        print(text, end="")
        return 0
    with args.output.open("a" if args.append else "w", encoding="utf-8") as out:
        out.write(text)
    return 0


def run_repro(args: argparse.Namespace) -> int:
    """Rerun the bundle; exit 0 reproduced, 1 not reproduced, 2 could not tell (or refused)."""
    try:
        args.count = COUNT.check_whole(args.count, "--count")
        args.lock_timeout = LOCK_TIMEOUT.check(args.lock_timeout, "--lock-timeout")
        repro = _reproduce(args)
    except HilrigError as exc:
        if args.debug:
            raise
        print(f"hilrig: {exc}", file=sys.stderr)
        return EXIT_ERROR
    return EXIT_ERROR if repro is None else _print_repro(repro)


def _reproduce(args: argparse.Namespace) -> Repro | None:
    from hilrig.gate.bundle import inside, read_bundle
    from hilrig.gate.repro import choose_target, reproduce
    from hilrig.run.session import Options
    from hilrig.targets.find import find_rootdir

    bundle = read_bundle(args.bundle)
    root = find_rootdir(Path.cwd())
    choice = choose_target(bundle, args.target, root, trust=args.trust_bundle_target)
    print(f"Bundle:  {bundle.path}")
    print(f"Program: {bundle.program.name}, failed on {bundle.target}: {bundle.reason}")
    if choice.spec is None:
        _refuse(bundle.target, choice)
        return None
    for note in choice.notes:
        print(f"note: {note}")
    if choice.actions:
        print("Trusting the bundle's target file (--trust-bundle-target); this run:")
        for action in choice.actions:
            print(f"  {action}")
    spec = choice.spec
    inside(bundle.path, f"repro/{spec.name}/transcripts")  # what the rerun writes stays inside
    options = Options(
        rootdir=root,
        results_dir=bundle.path / "repro",
        keep_transcripts=True,
    )

    def waiting(text: str) -> None:
        print(f"hilrig: {text}", file=sys.stderr)

    return reproduce(bundle, spec, options, args.count, args.lock_timeout, on_wait=waiting)


def _refuse(target: str, choice: TargetChoice) -> None:
    """The host-reaching differences, then why nothing ran and the two ways on."""
    print(
        f"hilrig: the bundle's copy of target {target} differs from yours in what it starts "
        f"or opens on this host, so nothing was run:",
        file=sys.stderr,
    )
    for difference in choice.differences:
        if difference.host:
            print(f"  {difference.describe()}", file=sys.stderr)
    print(
        f"hilrig: pass --target {target} to rerun on your target file, or "
        f"--trust-bundle-target to run the bundle's copy (what it runs is printed first).",
        file=sys.stderr,
    )


def _print_repro(repro: Repro) -> int:
    print(f"Board:   {repro.board} (target {repro.target})")
    for note in repro.notes:
        print(f"note: {note}")
    for n, run in enumerate(repro.runs, 1):
        print(f"run {n}: {_outcome(run)}")
        if run.change:
            print("  differs from the recorded board output:")
            print(textwrap.indent(run.change, "    "))
        else:
            print("  same output as the recorded board run")
    total = len(repro.runs)
    if repro.reproduced:
        print(f"reproduced {repro.reproduced} of {total} run(s)")
        return EXIT_REPRODUCED
    print(f"did not reproduce in {total} run(s)")
    return EXIT_NOT_REPRODUCED


def _outcome(run: ReproRun) -> str:
    comparison = run.report.comparison
    if run.reproduced:
        return f"reproduced: {comparison.reason}"
    if comparison.verdict is Verdict.SKIP:
        return f"did not reproduce: skipped ({comparison.reason})"
    return "did not reproduce: the output matches the recorded reference"
