"""The skip policy of tests/conftest.py: a session that skipped (or xfailed) anything fails, unless the skip is
for absent hardware. Each case runs a tiny inner pytest session under the project's real conftest."""

from pathlib import Path

import pytest

CONFTEST = Path(__file__).with_name("conftest.py")
POLICY_LINE = "*FAILED by the skip policy*"


@pytest.fixture
def inner(pytester: pytest.Pytester) -> pytest.Pytester:
    """A pytester directory whose conftest is a copy of tests/conftest.py."""
    pytester.makeconftest(CONFTEST.read_text())
    return pytester


def _run(pytester: pytest.Pytester, source: str) -> pytest.RunResult:
    pytester.makepyfile(test_inner=source)
    return pytester.runpytest("-p", "no:cacheprovider", "-rs")


def test_a_green_session_stays_green(inner):
    result = _run(inner, "def test_ok():\n    assert 1 + 1 == 2\n")
    assert result.ret == pytest.ExitCode.OK
    result.assert_outcomes(passed=1)
    result.stdout.no_fnmatch_line(POLICY_LINE)


@pytest.mark.parametrize("source, outcome", [
    ("import pytest\n\ndef test_s():\n    pytest.skip('not today')\n", "*skipped: not today*"),
    ("import pytest\n\n@pytest.mark.skip(reason='later')\ndef test_s():\n    pass\n", "*skipped: later*"),
    ("import pytest\n\n@pytest.mark.skipif(True, reason='on a whim')\ndef test_s():\n    pass\n",
     "*skipped: on a whim*"),
    ("import pytest\n\nnope = pytest.importorskip('no_such_module_anywhere')\n\ndef test_s():\n    pass\n",
     "*skipped: could not import 'no_such_module_anywhere'*"),
    ("import pytest\n\n@pytest.fixture\ndef f():\n    pytest.skip('in a fixture')\n\ndef test_s(f):\n    pass\n",
     "*skipped: in a fixture*"),
    ("import pytest\n\n@pytest.mark.xfail(reason='known bug')\ndef test_x():\n    assert False\n",
     "*xfailed: known bug*"),
    ("import pytest\n\n@pytest.mark.xfail(reason='fixed?')\ndef test_x():\n    assert True\n",
     "*xpassed: fixed?*"),
], ids=["skip", "skip-mark", "skipif", "importorskip", "fixture-skip", "xfail", "xpass"])
def test_a_hidden_result_fails_the_session_and_says_why(inner, source, outcome):
    result = _run(inner, "def test_ok():\n    pass\n\n" + source)
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines(["*tests that did not run*", outcome, POLICY_LINE])


def test_a_hardware_skip_passes(inner):
    source = ("import pytest\n\ndef test_gpu():\n    pytest.skip('hardware: no CUDA device')\n\n"
              "@pytest.mark.skipif(True, reason='hardware: no GPU')\ndef test_gpu2():\n    pass\n\n"
              "def test_ok():\n    pass\n")
    result = _run(inner, source)
    assert result.ret == pytest.ExitCode.OK
    result.assert_outcomes(passed=1, skipped=2)
    result.stdout.no_fnmatch_line(POLICY_LINE)


def test_a_real_failure_keeps_its_own_status(inner):
    """The policy only turns green into red; a failing session still reports its failures as before."""
    source = "import pytest\n\ndef test_bad():\n    assert False\n\ndef test_s():\n    pytest.skip('x')\n"
    result = _run(inner, source)
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.assert_outcomes(failed=1, skipped=1)
    result.stdout.fnmatch_lines([POLICY_LINE])


def test_the_exit_status_reaches_the_shell(inner):
    """The same rule seen from outside: the pytest process itself exits with status 1."""
    inner.makepyfile(test_inner="import pytest\n\ndef test_s():\n    pytest.skip('no reason')\n")
    result = inner.runpytest_subprocess("-p", "no:cacheprovider")
    assert result.ret == 1
    result.stdout.fnmatch_lines([POLICY_LINE])
