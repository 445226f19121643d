"""``hilrig report``: junit files to a Markdown program x target matrix."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from hilrig.cli import main
from hilrig.errors import ConfigError
from hilrig.gate.summary import Mark, build_matrix, read_junit, render_markdown
from hilrig.targets.find import BUILTIN_DIR

pytest_plugins = ["pytester"]


JUNIT = """<?xml version="1.0" encoding="utf-8"?>
<testsuites name="pytest tests"><testsuite name="pytest" tests="5">
<properties><property name="hilrig_target" value="stm32" /></properties>
<testcase classname="suites.basics.adder" name="adder" time="0.1" />
<testcase classname="suites.basics.floats" name="floats" time="0.1">
  <properties><property name="hilrig_program" value="suites/basics/floats.py" />
  <property name="hilrig_gate" value="intermittent" />
  <property name="hilrig_reason" value="intermittent: 1 of 3 runs failed: stdout differs" />
  </properties><failure message="intermittent: 1 of 3 runs failed">diff</failure></testcase>
<testcase classname="suites.basics.big" name="big"><failure message="a|b &lt;x&gt;" /></testcase>
<testcase classname="suites.basics.known" name="known">
  <skipped type="pytest.xfail" message="known failure: board raised SyntaxError" /></testcase>
<testcase classname="suites.basics.nofloat" name="nofloat">
  <skipped type="pytest.skip" message="target lacks module math" /></testcase>
</testsuite></testsuites>
"""


def test_read_junit_marks_each_program(tmp_path: Path) -> None:
    path = tmp_path / "stm32.xml"
    path.write_text(JUNIT)
    cases = {c.program: c for c in read_junit(path)}
    assert {c.target for c in cases.values()} == {"stm32"}
    assert cases["suites/basics/adder.py"].mark is Mark.PASSED
    assert cases["suites/basics/floats.py"].mark is Mark.INTERMITTENT
    assert cases["suites/basics/floats.py"].reason.startswith("intermittent: 1 of 3")
    assert cases["suites/basics/big.py"].mark is Mark.FAILED
    assert cases["suites/basics/known.py"].mark is Mark.KNOWN
    assert cases["suites/basics/nofloat.py"].reason == "target lacks module math"


def test_matrix_markdown_has_marks_totals_and_failures(tmp_path: Path) -> None:
    (tmp_path / "stm32.xml").write_text(JUNIT)
    other = JUNIT.replace('value="stm32"', 'value="esp32"').replace(
        '<failure message="a|b &lt;x&gt;" />', ""
    )
    (tmp_path / "esp32.xml").write_text(other)
    cases = read_junit(tmp_path / "stm32.xml") + read_junit(tmp_path / "esp32.xml")
    text = render_markdown(build_matrix(cases))
    lines = text.splitlines()
    assert lines[0] == "## hilrig results"
    assert lines[2].startswith("**failed**: 5 programs on 2 target(s); 1 failed, 2 intermittent")
    assert "| program | `stm32` | `esp32` |" in lines
    assert "| `suites/basics/big.py` | ❌ | ✅ |" in lines
    assert "| `suites/basics/known.py` | ⚠️ | ⚠️ |" in lines
    assert "| **total** | 1❌ 1🔁 1⚠️ 1⏭️ 1✅ | 1🔁 1⚠️ 1⏭️ 2✅ |" in lines
    assert "- ❌ `stm32` `suites/basics/big.py`: a\\|b &lt;x&gt;" in lines
    assert "</details>" in lines


def test_repeated_cells_keep_the_worst_mark_and_missing_cells_show_a_dash(tmp_path: Path) -> None:
    one = tmp_path / "a.xml"
    one.write_text(
        '<testsuite><testcase classname="s.x" name="x" /><testcase classname="s.y" name="y" />'
        "</testsuite>"
    )
    two = tmp_path / "b.xml"
    two.write_text(
        '<testsuite><testcase classname="s.x" name="x"><failure /></testcase></testsuite>'
    )
    three = tmp_path / "c.xml"
    three.write_text('<testsuite><testcase classname="s.z" name="z" /></testsuite>')
    matrix = build_matrix(read_junit(one) + read_junit(one.with_name("a.xml")) + read_junit(three))
    assert matrix.targets == ("a", "c")  # no hilrig_target: the file name
    text = render_markdown(build_matrix([*read_junit(one), *read_junit(two)]))
    assert "| `s/x.py` | ✅ | ❌ |" in text
    assert "| `s/y.py` | ✅ | — |" in text
    assert render_markdown(build_matrix([])).endswith("No test results found.\n")


def test_bad_junit_is_a_config_error(tmp_path: Path) -> None:
    (tmp_path / "bad.xml").write_text("<testsuite>")
    with pytest.raises(ConfigError, match="is not a junit XML file"):
        read_junit(tmp_path / "bad.xml")
    with pytest.raises(ConfigError, match="cannot read junit file"):
        read_junit(tmp_path / "missing.xml")


def test_report_command_from_real_runs(
    pytester: pytest.Pytester, capsys: pytest.CaptureFixture[str]
) -> None:
    pytester.makeconftest('pytest_plugins = ["hilrig.plugin"]\n')
    (pytester.path / "targets").mkdir()
    unix = (BUILTIN_DIR / "unix.toml").read_text()
    (pytester.path / "targets" / "unix.toml").write_text(unix)
    (pytester.path / "targets" / "vm2.toml").write_text(unix)
    suites = pytester.path / "suites"
    suites.mkdir()
    (suites / "good.py").write_text("print(1)\n")
    (suites / "wrong.py").write_text("print(1)\n")
    (suites / "wrong.py.exp").write_text("2\n")
    baseline = pytester.path / "known.json"
    baseline.write_text(json.dumps({"targets": {"vm2": {"suites/wrong.py": "known"}}}))
    pytester.runpytest("--target=unix", "--junitxml=results/unix.xml")
    pytester.runpytest("--target=vm2", "--junitxml=results/vm2.xml", f"--hil-baseline={baseline}")
    files = sorted(str(p) for p in (pytester.path / "results").glob("*.xml"))
    capsys.readouterr()
    assert main(["report", *files]) == 0
    out = capsys.readouterr().out
    assert "| `suites/wrong.py` | ❌ | ⚠️ |" in out
    assert "| `suites/good.py` | ✅ | ✅ |" in out
    summary = pytester.path / "summary.md"
    summary.write_text("# CI\n")
    assert main(["report", *files, "--output", str(summary), "--append"]) == 0
    assert summary.read_text() == "# CI\n" + out
    assert main(["report", str(pytester.path / "none.xml")]) == 1
