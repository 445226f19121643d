"""The ``board`` fixture: the run's leased board for tests that drive it themselves.

It hands out the session the suite programs use (one connection per board, never a second one
on the same port), starts a fresh transcript for each test, and attaches that transcript to the
test's report: always as a report section (shown with a failure), and as a file named in the
junit properties when the test fails (or always, with ``--hil-keep-transcripts``).
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest

from hilrig.errors import HilrigError
from hilrig.plugin.state import STATE, known
from hilrig.run.live import LeasedBoard

LIVE = pytest.StashKey[LeasedBoard]()
WIRING_MARK = "hilrig_wiring"
_UNSAFE = re.compile(r"[^A-Za-z0-9_.-]+")


@pytest.fixture
def board(request: pytest.FixtureRequest) -> Iterator[LeasedBoard]:
    """The board this run (or xdist worker) leased; see hilrig.LeasedBoard for what it can do."""
    state = request.config.stash[STATE]
    if state.spec is None:
        pytest.skip(f"no --target given: run pytest --target=NAME (targets: {known(state)})")
    try:
        session = state.ensure_session()
    except HilrigError as exc:
        pytest.fail(f"board not available: {exc}", pytrace=False)
    live = LeasedBoard(session)
    _skip_without_wiring(request, live)
    live.begin(request.node.nodeid)
    request.node.stash[LIVE] = live
    yield live
    live.end()


def _skip_without_wiring(request: pytest.FixtureRequest, live: LeasedBoard) -> None:
    """``@pytest.mark.hilrig_wiring("uart_loopback_args")``: skip naming what the target lacks."""
    needed = [name for mark in request.node.iter_markers(WIRING_MARK) for name in mark.args]
    missing = [name for name in needed if name not in live.wiring]
    if missing:
        spec = live.session.spec
        pytest.skip(f"target {spec.name} lacks wiring {', '.join(missing)} ({spec.path}, [wiring])")


def attach_transcript(item: pytest.Item, report: pytest.TestReport) -> None:
    """Put the transcript of a test that used ``board`` into its report (and a file if kept)."""
    live = item.stash.get(LIVE, None)
    if live is None or report.when != "call":
        return
    try:
        transcript = live.transcript
    except HilrigError:
        return
    report.sections.append(("hilrig transcript", transcript.render()))
    options = live.session.options
    if not (report.failed or options.keep_transcripts):
        return
    name = _UNSAFE.sub("_", item.nodeid).strip("_")
    path = options.results_folder / live.session.spec.name / "transcripts" / f"{name}.txt"
    try:
        transcript.save(path)
    except OSError:
        return
    item.user_properties.append(("transcript", str(path)))
    report.user_properties.append(("transcript", str(path)))
