"""The verdict-soundness corpus (tests/soundness.py): wrong board output never passes, legitimate
differences never fail. No board needed; the references come from one host VM run."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest
from reference_runs import reference_results
from soundness import Wrong, cases, judge

from hilrig.results import RunResult


@pytest.fixture(scope="module")
def references(tmp_path_factory: pytest.TempPathFactory) -> dict[str, RunResult]:
    return reference_results(tmp_path_factory.mktemp("ref-cache"))


def test_corpus_has_no_false_pass_and_no_false_failure(references: dict[str, RunResult]) -> None:
    counts: Counter[str] = Counter()
    wrong: list[Wrong] = []
    for name, ref in references.items():
        for case in cases(name, ref):
            counts["legitimate" if case.must_pass else "wrong"] += 1
            counts[case.kind.split(",")[0]] += 1
            bad = judge(case, ref)
            if bad is not None:
                wrong.append(bad)
    assert not wrong, f"{len(wrong)} wrong verdicts:\n" + "\n".join(str(w) for w in wrong[:10])
    # The corpus covers every suite program and every kind of change.
    assert len(references) == len(list(Path(__file__).parents[1].glob("suites/**/*.py")))
    assert counts["wrong"] > 10_000 and counts["legitimate"] > 150
    for kind in ("digit", "word", "float reformatted", "line", "output added", "framing byte"):
        assert counts[kind] > 0, kind
    for kind in ("exception", "crlf", "micro:bit floats", "terse VM message"):
        assert counts[kind] > 0, kind
