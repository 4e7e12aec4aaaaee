"""A row's explanation depends only on (that row, the seed, the settings), never on the rest of its batch.

Each row is explained in one batch, alone, and in the batch reversed; the values (and standard errors,
and the per-row meta) must be identical. The models are small neural networks, whose outputs for a
row do change in the last bits with the size of the batch they are computed in (BLAS), so the test
also catches an explainer that evaluates f(x) for the whole batch at once.
"""

import warnings

import numpy as np
import pytest
from sklearn.neural_network import MLPClassifier, MLPRegressor

from whybox.maskers import TextMasker
from whybox.shapley import KernelShap, PartitionShap, PermutationShap
from whybox.surrogates import Lime

M = 8  # 2^8 - 2 = 254 coalitions: the budgets below sample


@pytest.fixture(scope="module")
def table():
    rng = np.random.default_rng(11)
    X = rng.normal(size=(300, M))
    y = np.sin(X[:, 0]) + X[:, 1] * X[:, 2] - X[:, 3] * X[:, 4] * X[:, 5] + 0.5 * X[:, 6] - X[:, 7] ** 2
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        reg = MLPRegressor(hidden_layer_sizes=(24,), max_iter=300, random_state=0).fit(X[:200], y[:200])
        clf = MLPClassifier(hidden_layer_sizes=(12,), max_iter=300, random_state=0).fit(
            X[:200], np.digitize(y[:200], [-1.0, 1.0]))
    return X, {"regressor": reg, "classifier": clf}


def three_ways(explain, rows):
    """(the batch, each row alone, the batch reversed)."""
    return explain(rows), [explain(rows[i:i + 1]) for i in range(len(rows))], explain(rows[::-1])


def assert_independent(explain, rows, same=np.array_equal):
    """Row i of the batch, row i alone and row i of the reversed batch agree (attr[i] drops a text's padding)."""
    together, alone, backwards = three_ways(explain, rows)
    n = len(rows)
    for i in range(n):
        mine, solo, back = together[i], alone[i][0], backwards[n - 1 - i]
        for name in ("values", "standard_error", "base_values"):
            if getattr(mine, name, None) is not None:
                assert same(getattr(mine, name), getattr(solo, name)), (name, i)
                assert same(getattr(mine, name), getattr(back, name)), (name, i)
        for key in together.meta.get("per_row", []):
            a, b, c = mine.meta[key][0], solo.meta[key][0], back.meta[key][0]
            if isinstance(a, str) or a is None or np.asarray(a).dtype.kind not in "fc":
                assert a == b == c, key
            else:
                assert same(np.asarray(a), np.asarray(b)) and same(np.asarray(a), np.asarray(c)), key
    return together


CASES = {
    "kernel": lambda model, bg: lambda R: KernelShap(model, bg, seed=4).explain(R, max_evals=100),
    "plain kernel": lambda model, bg: lambda R: KernelShap(model, bg, seed=4, adjusted=False).explain(R, max_evals=100),
    "permutation": lambda model, bg: lambda R: PermutationShap(model, bg, seed=4).explain(R, max_evals=100),
    "partition": lambda model, bg: lambda R: PartitionShap(model, bg, seed=4).explain(R, max_evals=40),
}


@pytest.mark.parametrize("model", ["regressor", "classifier"])
@pytest.mark.parametrize("method", sorted(CASES))
def test_shapley_rows_are_bit_for_bit_independent_of_their_batch(table, model, method):
    X, models = table
    assert_independent(CASES[method](models[model], X[200:215]), X[250:256])


@pytest.mark.parametrize("explainer", [KernelShap, PermutationShap])
def test_rows_stopping_after_different_rounds_are_independent_too(table, explainer):
    X, models = table
    rows = X[250:257]
    probe = explainer(models["regressor"], X[200:215], seed=4).explain(rows, max_evals=240, tolerance=1.0)
    tolerance = float(np.median(probe.standard_error.max(axis=1))) / 2

    def explain(R):
        return explainer(models["regressor"], X[200:215], seed=4).explain(R, max_evals=240, tolerance=tolerance)

    together = assert_independent(explain, rows)
    assert len(set(together.meta["coalitions"])) > 1  # the rows really did stop after different rounds


def test_partition_texts_are_independent_of_their_batch():
    """The hierarchy, budget and credits of a text are its own. (A row-wise toy model: PartitionShap asks a
    text model for f(x) once per batch, and a float32 transformer rounds a text differently in another
    batch by about 1e-6, which the values follow.)"""
    def model(texts):
        return np.array([[len(t) / 10.0, t.count("good") - t.count("bad") + 0.1 * t.count(" ")] for t in texts])

    texts = np.array(["good film, bad ending", "bad", "a good good day out in the rain", "nothing to say here"])
    assert_independent(lambda T: PartitionShap(model, TextMasker(), seed=1).explain(list(T), max_evals=20,
                                                                                    target="all"), texts)


def test_lime_rows_are_independent_of_their_batch(table):
    """LIME draws one pool of perturbations from (seed, num_samples) alone, evaluates it in a call of its own
    and each explained row alone, and fits each row on it: bit-equal whatever the batch, for a network too."""
    X, models = table
    rows = X[250:256]
    for name in ("regressor", "classifier"):
        assert_independent(lambda R: Lime(models[name], X[:200], seed=2).explain(R, num_samples=400), rows)
