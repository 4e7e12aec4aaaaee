"""Every Shapley-family explanation is checked against the model's own output, and a miss is an error.

Two models whose own predictions disagree with what the explainer computed: a scikit-learn tree whose
`predict` adds a constant (Tree SHAP reads the trees, the model says otherwise), and a model that adds
noise on every call (a network left in training mode). Both must raise `AdditivityError`, and the CLI
must exit non-zero, unless the user opts out with check_additivity=False.
"""

import joblib
import numpy as np
import pandas as pd
import pytest
from sklearn.ensemble import RandomForestRegressor
from sklearn.tree import DecisionTreeRegressor

import whybox
from whybox import AdditivityError
from whybox.cli import EXIT_CHECK, main
from whybox.shapley import ExactShapley, KernelShap, PartitionShap, PermutationShap, TreeShap

SHIFT = 0.5


class ShiftedTree(DecisionTreeRegressor):
    """A tree whose predictions are its leaves plus a constant: not a sum of its trees any more."""

    def predict(self, X, check_input=True):
        return super().predict(X, check_input) + SHIFT


class NoisyModel:
    """f(x) = x0 + 2 x1 + noise on every call: what a torch network left in training mode looks like."""

    def __init__(self, seed: int = 0) -> None:
        self.rng = np.random.default_rng(seed)

    def __call__(self, X):
        X = np.asarray(X, dtype=float)
        return X[:, 0] + 2 * X[:, 1] + 0.01 * self.rng.normal(size=len(X))


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(200, 4))
    y = X[:, 0] + X[:, 1] * X[:, 2]
    return X, y


def test_tree_shap_refuses_a_model_whose_predict_is_not_its_trees(data):
    X, y = data
    model = ShiftedTree(max_depth=4, random_state=0).fit(X, y)
    with pytest.raises(AdditivityError) as info:                  # path-dependent: the explained rows miss
        TreeShap(model).explain(X[:5])
    err = info.value
    assert sorted(err.rows) == list(range(5))
    np.testing.assert_allclose(err.gaps, SHIFT, atol=1e-9)
    assert "ShiftedTree.predict" in str(err) and "check_additivity=False" in str(err)
    with pytest.raises(AdditivityError):
        TreeShap(model).explain_interactions(X[:3])
    with pytest.raises(AdditivityError) as info:                  # interventional: already the background misses
        TreeShap(model, X[:20])
    assert "background" in str(info.value) and sorted(info.value.rows) == list(range(20))
    with pytest.raises(AdditivityError):
        whybox.explain(model, X[:5], background=X[:20])


def test_the_background_behind_the_base_value_is_checked_too(data):
    X, y = data
    model = ShiftedTree(max_depth=4, random_state=0).fit(X, y)
    explainer = TreeShap(model, X[:20], check_additivity=False)
    assert explainer.background_check["additivity_gap"] == pytest.approx(SHIFT)


def test_opting_out_returns_the_values_with_the_true_gap(data):
    X, y = data
    model = ShiftedTree(max_depth=4, random_state=0).fit(X, y)
    attr = TreeShap(model, X[:20], check_additivity=False).explain(X[:5])
    assert attr.meta["additivity_gap"] == pytest.approx(SHIFT) and attr.meta["additivity_checked"] is False
    plain = DecisionTreeRegressor(max_depth=4, random_state=0).fit(X, y)
    # the values are those of the trees: the same as for the unshifted tree
    np.testing.assert_allclose(attr.values, TreeShap(plain, X[:20]).explain(X[:5]).values, atol=1e-12)


def test_an_honest_forest_passes_with_its_own_predict_as_reference(data):
    X, y = data
    model = RandomForestRegressor(n_estimators=5, max_depth=4, random_state=0).fit(X, y)
    attr = TreeShap(model, X[:20]).explain(X[:5])
    assert attr.meta["additivity_gap"] < 1e-9
    assert attr.meta["additivity_reference"] == "RandomForestRegressor.predict"
    np.testing.assert_allclose(attr.output, model.predict(X[:5]), atol=1e-9)


@pytest.mark.parametrize("make", [
    lambda m, bg: ExactShapley(m, bg),
    lambda m, bg: KernelShap(m, bg, seed=0),
    lambda m, bg: PermutationShap(m, bg, seed=0),
    lambda m, bg: PartitionShap(m, bg),
], ids=["exact", "kernel", "permutation", "partition"])
def test_a_nondeterministic_model_is_refused(data, make):
    X, _ = data
    explainer = make(NoisyModel(), X[:10])
    with pytest.raises(AdditivityError) as info:
        explainer.explain(X[:4])
    assert "not deterministic" in str(info.value) and len(info.value.rows) == 4
    # the same model without noise passes: the error is about the noise, not the method
    quiet = make(lambda Z: np.asarray(Z)[:, 0] + 2 * np.asarray(Z)[:, 1], X[:10])
    assert quiet.explain(X[:4]).meta["additivity_gap"] < 1e-9


def test_the_cli_exits_non_zero_and_writes_nothing(data, tmp_path, capsys):
    X, y = data
    frame = pd.DataFrame(X, columns=["a", "b", "c", "d"])
    model = ShiftedTree(max_depth=4, random_state=0).fit(frame, y)
    joblib.dump(model, tmp_path / "model.joblib")
    frame.iloc[:20].to_csv(tmp_path / "data.csv", index=False)
    out = tmp_path / "attr.csv"
    code = main(["explain", "--model", str(tmp_path / "model.joblib"), "--trust-pickle",
                 "--data", str(tmp_path / "data.csv"), "--out", str(out)])
    err = capsys.readouterr().err
    assert code == EXIT_CHECK != 0
    assert "failed its check" in err and not out.exists()
