"""``hilrig report --html``: the page, opened in a real headless Chromium (Debian's ``chromium``).

Without Chromium these tests skip saying how to install it; under CI=true they fail instead.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from projects import hil_project

from hilrig.cli import main
from hilrig.gate.html_report import render_html
from hilrig.gate.summary import Case, Mark, build_matrix

pytest_plugins = ["pytester"]


def chromium() -> str:
    names = ("chromium", "chromium-browser", "google-chrome")  # the last on GitHub's runners
    found = next((p for p in map(shutil.which, names) if p is not None), None)
    if found is None:
        message = "headless Chromium is not installed: apt-get install chromium"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    return found


def open_in_chromium(page: Path, fragment: str = "") -> tuple[str, str]:
    """The page's DOM after its scripts ran, and Chromium's log (console lines included)."""
    args = [
        chromium(),
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--enable-logging=stderr",
        "--v=0",
        "--dump-dom",
        f"{page.resolve().as_uri()}{fragment}",
    ]
    done = subprocess.run(args, capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout, done.stderr


@pytest.fixture
def junit(pytester: pytest.Pytester) -> Path:
    """A real run on the host VM: one program fails, one passes, one skips itself."""
    suites = hil_project(pytester, "unix")
    (suites / "good.py").write_text("print(6 * 7)\n")
    (suites / "bad.py").write_text("print('<b>&', 6 * 7)\n")
    (suites / "bad.py.exp").write_text("<b>& 41\n")
    (suites / "skipper.py").write_text("print('SKIP')\n")
    pytester.runpytest("--target=unix", "--junitxml=out.xml").assert_outcomes(
        passed=1, failed=1, skipped=1
    )
    return pytester.path / "out.xml"


def test_page_opens_in_chromium_with_the_failing_diff_shown(
    junit: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    page = junit.parent / "report.html"
    assert main(["report", str(junit), "--html", str(page)]) == 0
    assert "**failed**" in capsys.readouterr().out  # the Markdown still goes to stdout
    dom, log = open_in_chromium(page)
    assert "hilrig report ready" in log  # the page's script ran to its end
    assert not re.search(r"Uncaught|ERROR:CONSOLE", log), log[-2000:]
    failing = re.search(r'<details id="(cell-\d+)" open="">(.*?)</details>', dom, re.S)
    assert failing is not None
    # the diff, escaped in the page and shown as text in the browser
    assert "-&lt;b&gt;&amp; 41" in failing.group(2) and "+&lt;b&gt;&amp; 42" in failing.group(2)
    assert "transcript (" in failing.group(2)
    assert f'href="#{failing.group(1)}"' in dom  # its cell links to it
    assert "firmware" in dom and "MicroPython" in dom
    assert dom.count('class="bar"') == 3  # a time bar per program


def test_a_clicked_cell_opens_its_section(junit: Path) -> None:
    page = junit.parent / "report.html"
    assert main(["report", str(junit), "--html", str(page)]) == 0
    closed = re.search(r"<details id=\'(cell-\d+)\'>", page.read_text())
    assert closed is not None  # a passing or skipped program's section starts closed
    dom, _ = open_in_chromium(page, f"#{closed.group(1)}")
    assert f'<details id="{closed.group(1)}" open="">' in dom


def test_render_escapes_and_marks_every_cell() -> None:
    cases = [
        Case("unix", "a.py", Mark.PASSED, duration_s=0.5),
        Case("mb", "a.py", Mark.FAILED, "x <script>", "diff <script>alert(1)</script>"),
    ]
    page = render_html(build_matrix(cases), {"unix": {"firmware": "v1 <&>"}})
    assert "<script>alert" not in page and "&lt;script&gt;alert(1)" in page
    assert "v1 &lt;&amp;&gt;" in page
    assert "no times recorded" in page  # mb has none
