from itertools import permutations

import numpy as np
import pytest
from sklearn.ensemble import GradientBoostingClassifier

from whybox.errors import BudgetError
from whybox.shapley import ExactShapley


def brute_force(f, x, background):
    """Average marginal contribution over all orderings; v(S) = mean over background of f(x_S, b_-S)."""
    m = len(x)

    def v(S):
        rows = background.copy()
        rows[:, list(S)] = x[list(S)]
        return f(rows).mean(axis=0)

    phi = np.zeros((m,) + np.shape(v(())))
    orders = list(permutations(range(m)))
    for order in orders:
        present = []
        for j in order:
            before = v(tuple(present))
            present.append(j)
            phi[j] += v(tuple(present)) - before
    return phi / len(orders)


def test_hand_worked_two_feature_example():
    table = {(0, 0): 0.10, (1, 0): 0.30, (0, 1): 0.05, (1, 1): 0.32}

    def f(X):
        return np.array([table[(int(a), int(b))] for a, b in np.asarray(X)])

    attr = ExactShapley(f, np.zeros((1, 2)), feature_names=["defaults", "income"]).explain(np.ones((1, 2)))
    assert attr[0, "defaults"].values == pytest.approx(0.235, abs=1e-12)
    assert attr[0, "income"].values == pytest.approx(-0.015, abs=1e-12)
    assert float(attr.base_values[0]) == pytest.approx(0.10)


def test_matches_brute_force_over_orderings_with_interactions():
    rng = np.random.default_rng(0)

    def f(X):
        X = np.asarray(X)
        return np.column_stack([X[:, 0] * X[:, 1] + np.sin(X[:, 2]) * X[:, 3] ** 2 + X[:, 4],
                                np.maximum(X[:, 0] + X[:, 4], 0) * X[:, 2]])

    bg = rng.normal(size=(7, 5))
    X = rng.normal(size=(3, 5))
    attr = ExactShapley(f, bg).explain(X)
    assert attr.values.shape == (3, 5, 2)
    for i in range(3):
        np.testing.assert_allclose(attr.values[i], brute_force(f, X[i], bg), atol=1e-12)
    np.testing.assert_allclose(attr.base_values + attr.values.sum(axis=1), f(X), atol=1e-10)


def test_classifier_probabilities_additive():
    rng = np.random.default_rng(1)
    X = rng.normal(size=(200, 5))
    y = (X[:, 0] * X[:, 1] > 0).astype(int)
    clf = GradientBoostingClassifier(n_estimators=20, random_state=0).fit(X, y)
    attr = ExactShapley(clf, X[:20]).explain(X[100:106])
    np.testing.assert_allclose(attr.output, clf.predict_proba(X[100:106]), atol=1e-6)
    # f(x), every proper coalition over the background, and the additivity check asking f(x) again
    assert attr.meta["model_evals"] == 6 + 6 * (2 ** 5 - 2) * 20 + 6


def test_groups_equal_brute_force_over_group_players():
    rng = np.random.default_rng(2)

    def f(X):
        X = np.asarray(X)
        return X[:, 0] * X[:, 1] + X[:, 2] * X[:, 3]

    bg, x = rng.normal(size=(5, 4)), rng.normal(size=(1, 4))
    attr = ExactShapley(f, bg, groups={"ab": ["x0", "x1"], "c": ["x2"]}).explain(x)
    assert attr.feature_names == ("ab", "c", "x3")

    def g(Z):  # the same game over 3 players
        Z = np.asarray(Z)
        return f(np.column_stack([Z[:, 0], Z[:, 1], Z[:, 2], Z[:, 3]]))

    # players ab = {0,1}, c = {2}, x3 = {3}: brute force by expanding coalitions by hand
    def v(S):
        cols = [c for p in S for c in ([0, 1], [2], [3])[p]]
        rows = bg.copy()
        rows[:, cols] = x[0, cols]
        return g(rows).mean()

    ref = np.zeros(3)
    for order in permutations(range(3)):
        present = []
        for p in order:
            before = v(present)
            present.append(p)
            ref[p] += v(present) - before
    np.testing.assert_allclose(attr.values[0], ref / 6, atol=1e-12)


def test_refuses_too_many_features_with_pointer_to_sampling():
    with pytest.raises(BudgetError, match="KernelShap or PermutationShap"):
        ExactShapley(lambda X: np.asarray(X).sum(axis=1), np.zeros((2, 13)))
