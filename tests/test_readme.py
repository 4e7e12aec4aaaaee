"""The README's Python blocks run as written, and the quick start's numbers are the model's own.

Every ```python block of README.md runs on its own, in a fresh namespace, with the working directory in
pytest's tmp_path (anything a block writes lands there) and its figures closed afterwards. The quick start
is then read back from its namespace (`attr`, `model`, `data`) and the arguments of its `whybox.explain`
call, so the README text itself is what is checked: its attributions add up to the classifier's own
`decision_function`, its base value is the mean margin over the background it names, its values equal
Shapley values enumerated without whybox, and the drivers it prints are the mean |value| of its rows.
"""

from __future__ import annotations

import ast
import re
from decimal import Decimal
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pytest

from reference_shapley import interventional_shapley

README = Path(__file__).resolve().parents[1] / "README.md"
FENCE = re.compile(r"^```python[ \t]*\n(.*?)^```[ \t]*$", re.M | re.S)
ATOL = 1e-6  # the additivity promise of the README, in float64


def python_blocks() -> list[tuple[int, str]]:
    """(line of the first code line, source) of every ```python block of the README, in order."""
    text = README.read_text(encoding="utf-8")
    return [(text.count("\n", 0, m.start(1)) + 1, m.group(1)) for m in FENCE.finditer(text)]


BLOCKS = python_blocks()


def run_block(line: int, source: str) -> dict:
    """Run one block in a fresh namespace; a traceback points at the README's own line numbers."""
    code = compile("\n" * (line - 1) + source, str(README), "exec")
    namespace: dict = {"__name__": "__readme__"}
    try:
        exec(code, namespace)
    finally:
        plt.close("all")
    return namespace


@pytest.fixture(scope="module")
def ran(tmp_path_factory: pytest.TempPathFactory) -> dict[int, tuple[dict | None, str, BaseException | None]]:
    """Each block run once, in its own namespace and its own empty working directory: line -> (namespace,
    what it printed, the exception it raised or None)."""
    import contextlib
    import io
    import os

    results = {}
    for line, source in BLOCKS:
        cwd = tmp_path_factory.mktemp(f"readme_block_{line}")
        out = io.StringIO()
        before = os.getcwd()
        os.chdir(cwd)
        try:
            with contextlib.redirect_stdout(out):
                results[line] = (run_block(line, source), out.getvalue(), None)
        except Exception as e:  # reported by test_block_runs, with the README line
            results[line] = (None, out.getvalue(), e)
        finally:
            os.chdir(before)
    return results


def test_the_readme_has_python_blocks_and_a_quick_start():
    assert BLOCKS, f"no ```python blocks found in {README}"
    assert any("whybox.explain(" in source for _, source in BLOCKS)


@pytest.mark.parametrize("line", [line for line, _ in BLOCKS], ids=[f"README.md:{line}" for line, _ in BLOCKS])
def test_block_runs(line, ran):
    namespace, printed, error = ran[line]
    if error is not None:
        raise error


# --------------------------------------------------------------------------- the quick start

def _explain_call(source: str) -> ast.Call:
    """The `whybox.explain(...)` call of a block."""
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "explain" \
                and isinstance(node.func.value, ast.Name) and node.func.value.id == "whybox":
            return node
    raise AssertionError("the quick start has no whybox.explain(...) call")


@pytest.fixture(scope="module")
def quick_start(ran) -> dict:
    """The quick start's namespace, with the rows it explained (X), its background and its output setting
    evaluated from the text of its whybox.explain call, and what it printed."""
    line, source = next((line, s) for line, s in BLOCKS if "whybox.explain(" in s)
    namespace, printed, error = ran[line]
    if error is not None:
        raise error
    call = _explain_call(source)
    keywords = {k.arg: ast.get_source_segment(source, k.value) for k in call.keywords}
    env = dict(namespace)
    return {**namespace, "X": eval(ast.get_source_segment(source, call.args[1]), env),
            "background": eval(keywords["background"], env), "output": ast.literal_eval(keywords["output"]),
            "printed": printed}


def test_quick_start_explains_the_log_odds(quick_start):
    """The checks below compare with decision_function: the classifier's log-odds of the positive class."""
    assert quick_start["output"] == "log_odds"
    assert len(quick_start["model"].classes_) == 2


def test_quick_start_adds_up_to_the_models_own_decision_function(quick_start):
    attr, model, X = quick_start["attr"], quick_start["model"], quick_start["X"]
    margin = model.decision_function(X)
    np.testing.assert_allclose(attr.base_values + attr.values.sum(axis=1), margin, rtol=0, atol=ATOL)
    np.testing.assert_allclose(attr.output, margin, rtol=0, atol=ATOL)


def test_quick_start_base_value_is_the_mean_margin_over_the_background(quick_start):
    attr, model = quick_start["attr"], quick_start["model"]
    expected = model.decision_function(quick_start["background"]).mean()
    np.testing.assert_allclose(attr.base_values, expected, rtol=0, atol=ATOL)


def test_quick_start_values_are_the_enumerated_shapley_values(quick_start):
    """Every 10th explained row against Shapley values over all 512 coalitions, computed with the model alone."""
    attr, model, X = quick_start["attr"], quick_start["model"], quick_start["X"]
    rows = np.arange(0, len(X), 10)
    base, phi = interventional_shapley(model.decision_function, X.iloc[rows], quick_start["background"])
    np.testing.assert_allclose(base + phi.sum(axis=1), model.decision_function(X.iloc[rows]), rtol=0, atol=1e-9)
    np.testing.assert_allclose(attr.values[rows], phi, rtol=0, atol=ATOL)
    np.testing.assert_allclose(attr.base_values[rows], base, rtol=0, atol=ATOL)


def test_quick_start_prints_the_mean_absolute_values_strongest_first(quick_start):
    """The printed drivers (4 significant digits) are the mean |value| over the explained rows, in order."""
    attr = quick_start["attr"]
    first_line = quick_start["printed"].splitlines()[0]
    printed = re.findall(r"(\w+)=(-?[\d.]+(?:e[-+]?\d+)?)", first_line)
    assert len(printed) >= 3, first_line
    names = list(attr.feature_names)
    truth = np.abs(attr.values).mean(axis=0)
    for name, token in printed:
        half_unit = 0.5 * 10.0 ** Decimal(token).as_tuple().exponent
        assert abs(float(token) - truth[names.index(name)]) <= half_unit + 1e-12, (name, token)
    shown = [truth[names.index(name)] for name, _ in printed]
    assert shown == sorted(shown, reverse=True)
    assert shown[0] == truth.max()


# --------------------------------------------------------------------------- the standard-error block

@pytest.fixture(scope="module")
def with_errors(ran) -> dict:
    """The namespace of the block that prints standard errors (its `attr` came from KernelShap)."""
    line = next(line for line, s in BLOCKS if "standard_error" in s)
    namespace, printed, error = ran[line]
    if error is not None:
        raise error
    return {**namespace, "printed": printed}


def test_standard_error_block_stops_each_row_for_a_stated_reason(with_errors):
    attr, explainer = with_errors["attr"], with_errors["explainer"]
    tolerance, budget = 0.02, 400                      # as the block asks
    assert attr.method == "kernel_shap" and attr.standard_error.shape == attr.values.shape
    for i, (why, used) in enumerate(zip(attr.meta["stopped"], attr.meta["coalitions"])):
        assert why in ("tolerance", "max_evals") and used <= budget
        assert (attr.standard_error[i].max() <= tolerance) == (why == "tolerance")
    assert explainer.n_players == 9 and budget < 2 ** 9 - 2   # below full enumeration: a sampled estimate
    assert "tolerance" in attr.meta["stopped"]                # the example shows rows stopping early
    # the printed table is row 0's values and standard errors
    for name, value, se in zip(attr.feature_names, attr.values[0], attr.standard_error[0]):
        line = next(ln for ln in with_errors["printed"].splitlines() if ln.split()[:1] == [name])
        assert np.allclose([float(t) for t in line.split()[1:3]], [value, se], rtol=1e-5, atol=1e-6)


def test_standard_error_block_adds_up_and_its_errors_cover_the_exact_values(with_errors):
    attr, model, X = with_errors["attr"], with_errors["model"], with_errors["X"]
    rows = X[500:505]
    np.testing.assert_allclose(attr.base_values + attr.values.sum(axis=1), model.decision_function(rows),
                               rtol=0, atol=ATOL)
    _, exact = interventional_shapley(model.decision_function, rows, X[:30])
    # 45 values: each within 4 standard errors (a miss by chance has probability ~3e-3 over all 45)
    assert (np.abs(attr.values - exact) <= 4 * attr.standard_error + 1e-12).all()
