"""``hilrig report --html``: the program × target matrix as one self-contained page.

The page needs nothing but itself: styles and the few lines of script are inline, transcripts are
copied in (cut at :data:`MAX_TRANSCRIPT_CHARS`). Firmware identities of each target sit on top;
each cell is coloured by its mark and links to its section, which holds the failure text as the
test report showed it (reason, diff, traceback table) and the transcript. Failing sections are
open; the rest open when their cell is clicked. Each target's program times are drawn as bars.
"""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence
from pathlib import Path

from hilrig.gate.summary import Case, Mark, Matrix, build_matrix, read_identities, read_junit

MAX_TRANSCRIPT_CHARS = 20_000
_COLOURS = {
    Mark.FAILED: "#f8c4c4",
    Mark.INTERMITTENT: "#f8dcb0",
    Mark.KNOWN: "#f4ecb0",
    Mark.SKIPPED: "#e4e4e4",
    Mark.PASSED: "#c8ecc8",
}
_IDENTITY_KEYS = ("firmware", "reference_firmware", "reference", "load", "mpy_cross", "board")
_STYLE = """
body{font:14px system-ui,sans-serif;margin:1.5em;color:#222}
table{border-collapse:collapse}td,th{border:1px solid #bbb;padding:.25em .6em}
td.cell a{display:block;color:inherit;text-decoration:none;text-align:center}
pre{background:#f6f6f6;padding:.6em;overflow-x:auto;font-size:12px}
details{margin:.4em 0;border:1px solid #ddd;padding:.3em .6em}
details:target{outline:2px solid #36c}
.bar{background:#69c;height:.8em;display:inline-block;vertical-align:middle}
dl.id dt{font-weight:bold}dl.id dd{margin:0 0 .3em 1em}
"""
_SCRIPT = """
function openTarget(){var id=decodeURIComponent(location.hash.slice(1));
var el=id&&document.getElementById(id);if(el&&el.tagName==='DETAILS'){el.open=true;}}
window.addEventListener('hashchange',openTarget);openTarget();
console.log('hilrig report ready');
"""


def render_html(
    matrix: Matrix,
    identities: Mapping[str, Mapping[str, str]],
    title: str = "hilrig results",
) -> str:
    """The whole page."""
    ids = {key: f"cell-{n}" for n, key in enumerate(sorted(matrix.cells))}
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>{_e(title)}</title><style>{_STYLE}</style></head><body>",
        f"<h1>{_e(title)}</h1>",
        _identities(matrix.targets, identities),
        _table(matrix, ids),
        _legend(),
        "<h2>Program times on the board</h2>",
        *(_timing(matrix, target) for target in matrix.targets),
        "<h2>Results</h2>",
        *(_section(matrix.cells[key], ids[key]) for key in sorted(matrix.cells)),
        f"<script>{_SCRIPT}</script></body></html>",
    ]
    return "\n".join(parts) + "\n"


def write_html(paths: Sequence[Path], output: Path) -> None:
    """Read junit files and write their page to ``output``."""
    cases: list[Case] = []
    identities: dict[str, dict[str, str]] = {}
    for path in paths:
        cases += read_junit(path)
        identities.update(read_identities(path))
    output.write_text(render_html(build_matrix(cases), identities), encoding="utf-8")


def _identities(targets: Sequence[str], identities: Mapping[str, Mapping[str, str]]) -> str:
    rows = []
    for target in targets:
        known = identities.get(target, {})
        items = "".join(
            f"<dt>{_e(key)}</dt><dd>{_e(known[key])}</dd>" for key in _IDENTITY_KEYS if key in known
        )
        rows.append(f"<h3>target {_e(target)}</h3><dl class='id'>{items or '<dd>—</dd>'}</dl>")
    return "<h2>Firmware</h2>" + "".join(rows)


def _table(matrix: Matrix, ids: Mapping[tuple[str, str], str]) -> str:
    head = "".join(f"<th>{_e(t)}</th>" for t in matrix.targets)
    rows = [f"<table><tr><th>program</th>{head}</tr>"]
    for program in matrix.programs:
        cells = []
        for target in matrix.targets:
            case = matrix.cells.get((program, target))
            if case is None:
                cells.append("<td>—</td>")
                continue
            colour, word = _COLOURS[case.mark], case.mark.word
            link = f"<a href='#{ids[(program, target)]}' title='{_e(word)}'>{_e(word)}</a>"
            cells.append(
                f"<td class='cell {word.replace(' ', '-')}' style='background:{colour}'>{link}</td>"
            )
        rows.append(f"<tr><td><code>{_e(program)}</code></td>{''.join(cells)}</tr>")
    return "".join(rows) + "</table>"


def _legend() -> str:
    marks = " · ".join(f"<span style='background:{_COLOURS[m]}'>{m.word}</span>" for m in Mark)
    return f"<p>{marks} · — not run</p>"


def _timing(matrix: Matrix, target: str) -> str:
    timed = [
        (program, case.duration_s)
        for program in matrix.programs
        if (case := matrix.cells.get((program, target))) is not None and case.duration_s is not None
    ]
    if not timed:
        return f"<h3>{_e(target)}</h3><p>no times recorded</p>"
    longest = max(seconds for _, seconds in timed) or 1.0
    rows = "".join(
        f"<tr><td><code>{_e(program)}</code></td><td>{seconds:.3f} s</td><td>"
        f"<span class='bar' style='width:{_bar(seconds, longest)}px'></span></td></tr>"
        for program, seconds in timed
    )
    return f"<h3>{_e(target)}</h3><table class='timing'>{rows}</table>"


def _bar(seconds: float, longest: float) -> int:
    """A bar's width in pixels: 300 for the slowest program, at least 1."""
    return max(1, round(300 * seconds / longest))


def _section(case: Case, anchor: str) -> str:
    failing = case.mark in (Mark.FAILED, Mark.INTERMITTENT)
    body = [f"<p>{_e(case.reason)}</p>"] if case.reason else []
    if case.detail:
        body.append(f"<pre class='diff'>{_e(case.detail)}</pre>")
    transcript = _transcript(case.transcript)
    if transcript:
        where = f"<p>transcript ({_e(case.transcript)}):</p>"
        body.append(f"{where}<pre class='transcript'>{_e(transcript)}</pre>")
    summary = f"{case.mark.word}: <code>{_e(case.program)}</code> on {_e(case.target)}"
    return (
        f"<details id='{anchor}'{' open' if failing else ''}><summary>{summary}</summary>"
        f"{''.join(body) or '<p>passed</p>'}</details>"
    )


def _transcript(path: str) -> str:
    if not path:
        return ""
    try:
        text = Path(path).read_text(encoding="utf-8", errors="backslashreplace")
    except OSError:
        return ""
    if len(text) > MAX_TRANSCRIPT_CHARS:
        return text[:MAX_TRANSCRIPT_CHARS] + f"\n… cut after {MAX_TRANSCRIPT_CHARS} characters"
    return text


def _e(text: str) -> str:
    return html.escape(text, quote=True)
