import matplotlib

matplotlib.use("Agg")

from typing import Any

import pytest

# pytester runs small inner pytest sessions; tests/test_skip_policy.py uses it to prove the hook below
pytest_plugins = ["pytester"]

#: the one skip reason allowed to pass a run: hardware this machine lacks, e.g. "hardware: no CUDA device"
HARDWARE_PREFIX = "hardware:"


@pytest.fixture(autouse=True, scope="session")
def _one_openmp_thread():
    """Keep OpenMP libraries (HistGradientBoosting, ...) to one thread: small models on 2 shared cores
    run far faster that way."""
    from threadpoolctl import threadpool_limits

    with threadpool_limits(1):
        yield


# --------------------------------------------------------------------------- a skip is a failure
#
# A skipped test is a test that did not run, and `make test` on a machine missing a dependency would
# otherwise pass green. So a session in which anything was skipped, xfailed or xpassed ends with exit
# status 1 and says why; the one exception is a skip whose reason starts with HARDWARE_PREFIX (a GPU test
# on a machine without one). A missing Python package is an error, not a skip: `make test` installs them.

def _skip_reason(report: pytest.TestReport | pytest.CollectReport) -> str:
    """The reason a skip report gives, without pytest's "Skipped: " prefix."""
    longrepr = report.longrepr
    reason = longrepr[2] if isinstance(longrepr, tuple) and len(longrepr) == 3 else str(longrepr)
    return reason.removeprefix("Skipped: ").strip()


def _hidden_outcome(report: pytest.TestReport | pytest.CollectReport) -> str | None:
    """How a report hides a result ("skipped: ...", "xfailed: ...", "xpassed: ..."), or None if it does not."""
    if hasattr(report, "wasxfail"):
        if report.skipped:
            return f"xfailed: {report.wasxfail or 'no reason given'}"
        return f"xpassed: {report.wasxfail or 'no reason given'}" if report.passed else None
    if report.skipped:
        reason = _skip_reason(report)
        return None if reason.startswith(HARDWARE_PREFIX) else f"skipped: {reason}"
    return None


class SkipPolicy:
    """Collects the results a session hid and fails the session when there are any."""

    def __init__(self) -> None:
        self.hidden: list[tuple[str, str]] = []

    def _record(self, report: pytest.TestReport | pytest.CollectReport) -> None:
        outcome = _hidden_outcome(report)
        if outcome is not None:
            self.hidden.append((report.nodeid, outcome))

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        self._record(report)

    def pytest_collectreport(self, report: pytest.CollectReport) -> None:
        self._record(report)

    @pytest.hookimpl(trylast=True)
    def pytest_sessionfinish(self, session: pytest.Session, exitstatus: int) -> None:
        """Turn a green run (or one whose every test skipped at collection) that hid results into a failed one;
        pytest returns session.exitstatus."""
        if self.hidden and exitstatus in (pytest.ExitCode.OK, pytest.ExitCode.NO_TESTS_COLLECTED):
            session.exitstatus = pytest.ExitCode.TESTS_FAILED

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        """List what did not run, and say that it fails the run."""
        if not self.hidden:
            return
        terminalreporter.section("tests that did not run (skip policy: tests/conftest.py)", sep="=", red=True)
        for nodeid, outcome in self.hidden:
            terminalreporter.line(f"{nodeid}: {outcome}")
        terminalreporter.line(f"FAILED by the skip policy: {len(self.hidden)} skipped or xfailed; only a skip whose "
                              f"reason starts with {HARDWARE_PREFIX!r} may pass a run", red=True, bold=True)


def pytest_configure(config: pytest.Config) -> None:
    """Every session, including pytester's inner ones that copy this file, runs under the skip policy."""
    config.pluginmanager.register(SkipPolicy(), "whybox-skip-policy")
