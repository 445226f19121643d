"""MicroPython's own test suite as hilrig runs it: each run-tests.py convention, on a small tree of
our own programs (never MicroPython's tests) shaped like MicroPython's tests/ folder, on the real
host VM with CPython and the host VM as references."""

from __future__ import annotations

import json
import textwrap
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from hilrig.capabilities import Capabilities, ErrorReporting
from hilrig.compare.patterns import apply_patterns
from hilrig.compare.unittest_output import declared_methods, unittest_report
from hilrig.run.mptests import Conditions, find_tree, load_tree

pytest_plugins = ["pytester"]

# A run-tests.py with the lists hilrig reads from it, in run-tests.py's own shapes.
RUN_TESTS = """\
tests_with_regex_output = [
    base_path(file)
    for file in (
        "basics/patterned.py",
        "basics/patterned_wrong.py",
    )
]
platform_tests_to_skip = {
    "linux": (
        "basics/listed.py",  # needs a pin header the PC lacks
    ),
}
emitter_tests_to_skip = {"native": ("basics/plain.py",)}
error_reporting_tests_to_skip = {"terse": ("basics/terse_only.py",)}
error_reporting_tests_to_skip["none"] = error_reporting_tests_to_skip["terse"] + (
    "basics/none_only.py",
)
tests_requiring_slice = ("basics/plain.py",)


def run_tests(pyb, tests, args, result_dir, num_threads=1):
    if args.float_prec < 64:
        skip_tests.add("float/double_only.py")  # needs double precision
    if skip_slice:
        skip_tests.update(tests_requiring_slice)
"""

# The summary micropython-lib's unittest prints, and its per-method lines.
UNITTEST = """\
class SkipTest(Exception):
    pass


def skip(reason):
    def wrap(f):
        def skipped(self):
            raise SkipTest(reason)
        return skipped
    return wrap


class TestCase:
    def assertEqual(self, a, b):
        if a != b:
            raise AssertionError("%r vs (expected) %r" % (a, b))


def main():
    import sys
    module = sys.modules["__main__"]
    ran = fails = errors = skipped = 0
    details = []
    for cls in [v for v in module.__dict__.values() if isinstance(v, type)]:
        if not issubclass(cls, TestCase) or cls is TestCase:
            continue
        for name in sorted(k for k in dir(cls) if k.startswith("test")):
            print("%s (__main__.%s) ..." % (name, cls.__name__), end="")
            ran += 1
            try:
                getattr(cls(), name)()
                print(" ok")
            except SkipTest as e:
                skipped += 1
                print(" skipped:", e.args[0])
            except AssertionError as e:
                fails += 1
                print(" FAIL")
                details.append((name, cls.__name__, "AssertionError: %s" % e))
    for name, case, text in details:
        print("=" * 70)
        print("FAIL:", name, "<class '%s'>" % case)
        print("-" * 70)
        print(text)
    print("-" * 70)
    print("Ran %d tests\\n" % ran)
    if fails or errors:
        print("FAILED (failures=%d, errors=%d)" % (fails, errors))
    else:
        print("OK" + (" (skipped=%d)" % skipped if skipped else ""))
"""

PROGRAMS = {
    "basics/plain.py": "print(6 * 7)\n",
    # what only CPython says: the reference is CPython, so MicroPython's answer fails
    "basics/implementation.py": "import sys\nprint(sys.implementation.name)\n",
    # MicroPython-only: compared with the host VM instead
    "basics/uses_const.py": "from micropython import const\nX = const(3)\nprint(X * 2)\n",
    "basics/string_tstring_demo.py": "print('never run')\n",  # t-strings: the host VM has none
    "basics/listed.py": "print('never run')\n",
    "basics/too_large.py": "print('SKIP-TOO-LARGE')\n",
    "basics/skip_in_output.py": "print('a')\nprint('SKIP')\n",
    "basics/patterned.py": (
        "print('at 0x4711 (hex)')\nprint('noise 1')\nprint('noise 2')\nprint('end.')\n"
    ),
    "basics/patterned_wrong.py": "print('at 0x4711 (hex)')\nprint('noise')\nprint('endX')\n",
    "basics/by_emitter.py": "print(1)\n",
    "basics/uses_extmod.py": "import helper_mod\nprint(helper_mod.VALUE)\n",
    "basics/unit_prog.py": textwrap.dedent(
        """\
        import unittest


        class Numbers(unittest.TestCase):
            def test_add(self):
                print("adding")
                self.assertEqual(1 + 1, 2)

            def test_wrong(self):
                self.assertEqual(2 * 2, 5)

            @unittest.skip("not on this board")
            def test_later(self):
                pass


        if __name__ == "__main__":
            unittest.main()
        """
    ),
}
EXPECTED = {
    # run-tests.py's escapes: "\\[0-9\\]\\+" is the regex [0-9]+; a bare "(" or "." is literal
    "basics/patterned.py.exp": "at 0x\\[0-9\\]\\+ (hex)\n########\nend.\n",
    "basics/patterned_wrong.py.exp": "at 0x\\[0-9\\]\\+ (hex)\n########\nend.\n",
    "basics/by_emitter.py.exp": "2\n",  # the generic file is wrong ...
    "basics/by_emitter.py.bytecode.exp": "1\n",  # ... the emitter's own file wins
    "basics/uses_extmod.py.exp": "17\n",
}


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    """A MicroPython checkout in miniature: tests/ with run-tests.py, extmod/, unittest."""
    tests = tmp_path / "micropython" / "tests"
    (tests / "feature_check").mkdir(parents=True)
    (tests / "run-tests.py").write_text(RUN_TESTS)
    (tests / "feature_check" / "check.py").write_text("print('not a program')\n")
    for name, text in {**PROGRAMS, **EXPECTED}.items():
        (tests / name).parent.mkdir(parents=True, exist_ok=True)
        (tests / name).write_text(text)
    extmod = tmp_path / "micropython" / "extmod"
    extmod.mkdir()
    (extmod / "helper_mod.py").write_text("VALUE = 17\n")
    unit = tmp_path / "micropython" / "lib/micropython-lib/python-stdlib/unittest"
    unit.mkdir(parents=True)
    (unit / "unittest.py").write_text(UNITTEST)
    return tests


@pytest.fixture
def project(pytester: pytest.Pytester) -> pytest.Pytester:
    """A project of its own (its suites folder elsewhere); the tree is named on the command line."""
    pytester.makeconftest('pytest_plugins = ["hilrig.plugin"]\n')
    (pytester.path / "suites").mkdir()
    return pytester


def _results(junit: Path) -> dict[str, tuple[str, dict[str, str]]]:
    found = {}
    for case in ET.parse(junit).iter("testcase"):
        props = {p.get("name", ""): p.get("value", "") for p in case.iter("property")}
        verdict = "passed"
        if case.find("failure") is not None:
            verdict = "failed"
        elif case.find("skipped") is not None:
            verdict = "skipped"
        name = case.get("name", "")
        if "hilrig_method" in props:
            name = props["hilrig_method"]  # junit splits Case::method; hilrig names it
        found[name] = (verdict, props)
    return found


def test_the_official_suite_conventions_on_the_host_vm(
    project: pytest.Pytester, tree: Path
) -> None:
    junit = project.path / "out.xml"
    results_json = project.path / "_results.json"
    run = project.runpytest(
        "--target=unix",
        str(tree / "basics"),
        f"--junitxml={junit}",
        f"--hil-results-json={results_json}",
        "-rs",
    )
    got = _results(junit)
    verdicts = {name: verdict for name, (verdict, _) in got.items()}
    assert verdicts == {
        "plain": "passed",
        "implementation": "failed",
        "uses_const": "passed",
        "string_tstring_demo": "skipped",
        "listed": "skipped",
        "too_large": "skipped",
        "skip_in_output": "passed",
        "patterned": "passed",
        "patterned_wrong": "failed",
        "by_emitter": "passed",
        "uses_extmod": "passed",
        "unit_prog": "failed",
        "Numbers.test_add": "passed",
        "Numbers.test_wrong": "failed",
        "Numbers.test_later": "skipped",
    }
    # each program names what it was compared with
    assert "CPython" in got["plain"][1]["hilrig_reference"]
    assert "host VM" in got["uses_const"][1]["hilrig_reference"]
    assert got["by_emitter"][1]["hilrig_reference"] == "basics/by_emitter.py.bytecode.exp"
    assert got["unit_prog"][1]["hilrig_reference"] == "unittest's own summary"
    out = run.stdout.str()
    assert "needs t-strings, which the firmware lacks" in out
    assert "run-tests.py skips it on platform linux (run-tests.py's list: needs a pin header" in out
    assert "does not match the pattern in basics/patterned_wrong.py.exp" in out
    assert "unittest FAILED (unittest: 3 ran, 1 failures, 0 errors): Numbers.test_wrong" in out
    assert "AssertionError: 4 vs (expected) 5" in out
    assert "feature_check" not in out  # run-tests.py's helpers are not programs
    data = json.loads(results_json.read_text())
    rows = {name: (verdict, reason) for name, verdict, reason in data["results"]}
    assert len(rows) == len(PROGRAMS)  # programs, not unittest methods
    assert rows["basics/too_large.py"] == ("skip", "too large")
    assert rows["basics/plain.py"] == ("pass", "")
    assert rows["basics/implementation.py"][0] == "fail"
    assert sorted(data["failed_tests"]) == [
        "basics/implementation.py",
        "basics/patterned_wrong.py",
        "basics/unit_prog.py",
    ]


def test_skip_lists_are_read_from_the_trees_own_run_tests(tree: Path) -> None:
    found = load_tree(tree)
    assert found.regex_output == {"basics/patterned.py", "basics/patterned_wrong.py"}
    assert found.by_platform["linux"] == {"basics/listed.py": "needs a pin header the PC lacks"}
    assert set(found.by_error_level["none"]) == {"basics/terse_only.py", "basics/none_only.py"}
    host = Capabilities(
        platform="linux",
        version=(1, 29, 0),
        banner="",
        float_bits=64,
        features=frozenset({"slice", "int_big", "tstring"}),
        byteorder="little",
    )
    single = Capabilities(
        platform="qemu",
        version=(1, 29, 0),
        banner="",
        float_bits=32,
        error_reporting=ErrorReporting.TERSE,
        features=frozenset({"int_big"}),
        byteorder="little",
    )
    on_host, on_board = Conditions(host, "bytecode", False), Conditions(single, "bytecode", True)
    assert found.skip_reason("float/double_only.py", on_host) is None
    assert "needs double precision" in (found.skip_reason("float/double_only.py", on_board) or "")
    assert "no slice objects" in (found.skip_reason("basics/plain.py", on_board) or "")
    assert "native emitter" in (
        found.skip_reason("basics/plain.py", Conditions(host, "native", False)) or ""
    )
    assert "error reporting level terse" in (
        found.skip_reason("basics/terse_only.py", on_board) or ""
    )
    assert found.skip_reason("basics/none_only.py", on_board) is None
    assert "arbitrary-precision" not in (found.skip_reason("basics/int_big_x.py", on_board) or "")
    assert found.skip_reason("basics/string_tstring_y.py", on_host) is None
    assert find_tree(tree / "basics" / "plain.py") == found
    assert find_tree(tree.parent) is None  # the checkout's root is not the tests folder


def test_patterns_match_as_run_tests_matches_them() -> None:
    exp = b"a\\[0-9\\]\\+ b\n########\nz (end)\n"
    assert apply_patterns(b"a12 b\nx\ny\nz (end)\n", exp) == exp
    assert apply_patterns(b"a12 b\nz (end)\n", exp) == exp  # ######## is zero or more lines
    assert apply_patterns(b"aX b\nz (end)\n", exp) != exp
    assert apply_patterns(b"a1 b\nx\ny\n", exp) != exp  # the line after ######## never came
    assert apply_patterns(b"(1.5)\n", b"(1.5)\n") == b"(1.5)\n"  # brackets and dots are literal
    assert apply_patterns(b"(1x5)\n", b"(1.5)\n") != b"(1.5)\n"


def test_unittest_summary_and_methods() -> None:
    out = (
        b"test_a (__main__.T) ...printed by the test\n ok\n"
        b"test_b (__main__.T) ... skipped: later\n"
        b"test_c (__main__.T) ... FAIL\n"
        b"======================================================================\n"
        b"FAIL: test_c <class 'T'>\n"
        b"----------------------------------------------------------------------\n"
        b"AssertionError: 1 vs (expected) 2\n\n"
        b"----------------------------------------------------------------------\n"
        b"Ran 3 tests\n\nFAILED (failures=1, errors=0)\n"
    )
    report = unittest_report(out)
    assert report is not None and not report.passed and report.failures == 1
    assert [(m.method, m.status) for m in report.methods] == [
        ("test_a", "ok"),
        ("test_b", "skipped"),
        ("test_c", "FAIL"),
    ]
    assert report.methods[2].detail == "AssertionError: 1 vs (expected) 2"
    assert unittest_report(b"Ran 3 tests\n\nOK\n") is None  # not the whole summary: not unittest
    source = b"import unittest\nclass T(unittest.TestCase):\n def test_x(self): pass\n"
    assert declared_methods(source) == [("T", "test_x")]
    assert declared_methods(b"import unittest\nx = const(1) if 1 else @\n") == []


def test_modules_in_subfolders_are_not_programs(project: pytest.Pytester, tree: Path) -> None:
    helper = tree / "basics" / "helper_pkg" / "imported.py"
    helper.parent.mkdir()
    helper.write_text("raise SystemExit('not a program')\n")
    run = project.runpytest("--target=unix", str(tree / "basics"), "--collect-only", "-q")
    assert "imported.py" not in run.stdout.str()
    assert "plain" in run.stdout.str()
