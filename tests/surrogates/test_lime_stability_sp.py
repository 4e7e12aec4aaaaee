import numpy as np
import pytest

from whybox import InputError
from whybox.surrogates import Lime, stability, submodular_pick


def bumpy(X):
    """A nonlinear model over 8 features with graded effects and interactions."""
    X = np.asarray(X, dtype=float)
    return (2.0 * np.tanh(X[:, 0]) - 1.5 * X[:, 1] + X[:, 2] * X[:, 3] + 0.8 * np.sin(2 * X[:, 4])
            + 0.5 * X[:, 5] + 0.2 * X[:, 6] ** 2)


@pytest.fixture(scope="module")
def data():
    return np.random.default_rng(0).normal(size=(1000, 8))


def test_stability_is_lower_with_few_samples_than_with_many(data):
    ex = Lime(bumpy, data)
    x = data[:1] + 0.5
    few = stability(ex, x, seeds=range(8), top_k=4, num_samples=40)
    many = stability(ex, x, seeds=range(8), top_k=4, num_samples=4000)
    assert many.jaccard > few.jaccard and many.spearman > few.spearman
    assert many.jaccard >= 0.9 and many.spearman > 0.9
    assert len(many.top_features) == 8 and all(len(t) == 4 for t in many.top_features)
    assert set(many.top_features[0]) <= {f"x{j}" for j in range(8)}
    assert many.weights.shape == (8, 8) and np.allclose(many.pairwise_jaccard, many.pairwise_jaccard.T)
    assert ex.seed == 0                               # the explainer itself is left as it was


def test_stability_of_a_text_explanation_picks_the_predicted_class():
    def model(texts):
        p = np.array([0.8 if "awful" in t else 0.3 for t in texts])
        return np.column_stack([p, 1 - p])

    res = stability(Lime(model, mode="text"), "the soup was awful and cold", seeds=[0, 1, 2], top_k=1,
                    num_samples=300)
    assert res.output == "output_0" and res.top_features == [["awful"]] * 3 and res.jaccard == 1.0
    with pytest.raises(InputError, match="at least 2 seeds"):
        stability(Lime(model, mode="text"), "awful", seeds=[0])
    with pytest.raises(InputError, match="holds 2 inputs"):
        stability(Lime(model, mode="text"), ["awful", "fine"], seeds=[0, 1], num_samples=50)


def test_submodular_pick_covers_both_planted_subpopulations():
    rng = np.random.default_rng(1)
    # group A (x0 < 0) is driven by x1, group B (x0 > 0) by x2; x3 and x4 are noise
    X = rng.normal(size=(1000, 5))

    def model(A):
        A = np.asarray(A, dtype=float)
        return np.where(A[:, 0] < 0, 3.0 * A[:, 1], 3.0 * A[:, 2])

    cand = np.vstack([rng.normal(size=(6, 5)) * 0.3 + [-1.5, 1.5, 0, 0, 0],
                      rng.normal(size=(6, 5)) * 0.3 + [1.5, 0, 1.5, 0, 0]])
    # one feature per explanation: the one that drives the row's own group
    res = submodular_pick(Lime(model, X, num_features=1), cand, budget=2, num_samples=1500)
    groups = {int(i >= 6) for i in res.indices}
    assert groups == {0, 1}, res.indices
    W = res.weights
    assert (W[:6, 1] != 0).all() and (W[6:, 2] != 0).all() and (W[:6, 2] == 0).all() and (W[6:, 1] == 0).all()
    # coverage is sqrt(sum |W|) over the features the picked rows use: here every used feature
    imp = np.sqrt(np.abs(W).sum(axis=0))
    assert res.coverage == pytest.approx(imp[(W != 0).any(axis=0)].sum())
    assert res.coverage_fraction == pytest.approx(1.0)
    assert len(res.explanations) == 2
    np.testing.assert_array_equal(res.explanations.values, res.all_explanations.values[res.indices])
    assert res.explanations.meta["local_fidelity"] == [res.all_explanations.meta["local_fidelity"][i]
                                                       for i in res.indices]
    with pytest.raises(InputError, match="budget=20 but X has only 12"):
        submodular_pick(Lime(model, X), cand, budget=20, num_samples=100)


def test_submodular_pick_on_texts_counts_words_not_positions():
    def model(texts):
        return np.array([[2.0 * ("refund" in t) + 1.0 * ("late" in t)] for t in texts])

    texts = ["refund now please", "please refund", "delivery was late", "late again", "refund late"]
    res = submodular_pick(Lime(model, mode="text", num_features=1), texts, budget=2, num_samples=200)
    assert "refund" in res.feature_names and "late" in res.feature_names
    # the first pick covers the heavier word, the second the other one
    used = [set(np.asarray(res.feature_names)[res.weights[i] != 0]) for i in res.indices]
    assert used[0] == {"refund"} and used[1] == {"late"}


def test_taking_rows_keeps_each_rows_own_meta():
    from whybox.plots import lime_bar
    from whybox.surrogates import Lime

    X = np.random.default_rng(5).normal(size=(300, 4))
    attr = Lime(lambda Z: np.sin(Z[:, 0]) * 3 + Z[:, 1] ** 2, X, seed=0).explain(X[:5], num_samples=500)
    fid = attr.meta["local_fidelity"]
    assert len(set(np.round(fid, 12))) > 1          # rows really differ
    assert attr[3].meta["local_fidelity"] == [fid[3]]
    assert attr[[4, 1]].meta["local_fidelity"] == [fid[4], fid[1]]
    assert attr[:, 0].meta["local_fidelity"] == fid
    assert f"{fid[3]:.3f}" in lime_bar(attr[3]).axes[0].get_title(loc="left")
