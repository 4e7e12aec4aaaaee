import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LinearRegression, LogisticRegression

from whybox import InputError
from whybox.surrogates import Lime

BETA = np.array([3.0, -2.0, 1.0, 0.5, 0.0])
SCALE = np.array([1.0, 2.0, 0.5, 3.0, 1.0])


@pytest.fixture(scope="module")
def linear():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(2000, 5)) * SCALE
    return LinearRegression().fit(X, X @ BETA), X


def test_normal_sampling_recovers_linear_coefficients_per_standard_deviation(linear):
    model, X = linear
    attr = Lime(model, X, sampling="normal", num_features=None).explain(X[:3], num_samples=2000)
    expected = BETA * X.std(axis=0)      # a standardised feature moves the output by beta_j * sd_j
    np.testing.assert_allclose(attr.values, np.tile(expected, (3, 1)), atol=0.03 * np.abs(expected).max())
    assert attr.values.shape == (3, 5) and not attr.has_outputs
    assert np.all(np.asarray(attr.meta["local_fidelity"]) > 0.999)
    np.testing.assert_allclose(attr.meta["surrogate_prediction"], model.predict(X[:3]), atol=0.05)
    np.testing.assert_allclose(attr.meta["model_prediction"], model.predict(X[:3]))


def test_quartile_weights_follow_the_coefficients_and_flip_below_the_median():
    rng = np.random.default_rng(1)
    X = rng.normal(size=(3000, 5))
    coef = np.array([2.0, -1.2, 0.6, 0.25, 0.0])
    y = (X @ coef + 0.3 * rng.normal(size=3000) > 0).astype(int)
    clf = LogisticRegression().fit(X, y)
    high, low = np.full(5, 1.3), np.full(5, -1.3)        # every feature in its top / bottom quartile
    attr = Lime(clf, X, seed=3).explain(np.vstack([high, low]), num_samples=3000)
    assert attr.has_outputs and attr.values.shape == (2, 5, 2) and attr.output_names == ("0", "1")
    w_hi, w_lo = attr.values[0, :, 1], attr.values[1, :, 1]
    true = clf.coef_[0]
    # being in x's (top) bin pushes P(class 1) the way the coefficient points; in the bottom bin, the other way
    assert np.all(np.sign(w_hi[:4]) == np.sign(true[:4]))
    assert np.all(np.sign(w_lo[:4]) == -np.sign(true[:4]))
    assert list(np.argsort(-np.abs(w_hi))[:4]) == list(np.argsort(-np.abs(true))[:4])
    # probabilities sum to one and both classes share the design: the class-0 surrogate is the mirror image
    np.testing.assert_allclose(attr.values[..., 0], -attr.values[..., 1], atol=1e-9)
    assert attr.meta["interpretable"][0][0] == f"x0 > {np.quantile(X[:, 0], 0.75):.4g}"
    assert attr.meta["interpretable"][1][1] == f"x1 <= {np.quantile(X[:, 1], 0.25):.4g}"


def test_binary_surrogate_adds_up_to_its_prediction_at_x(linear):
    model, X = linear
    attr = Lime(model, X, num_features=3).explain(X[:4], num_samples=1000)
    # binary interpretable features are all 1 at x: intercept + sum of weights is the surrogate's prediction
    np.testing.assert_allclose(attr.base_values + attr.values.sum(axis=1), attr.meta["surrogate_prediction"])
    np.testing.assert_allclose(attr.base_values, attr.meta["intercept"])
    assert all(np.count_nonzero(v) <= 3 for v in attr.values)


def test_categorical_column_weight_matches_the_frequency_argument():
    rng = np.random.default_rng(2)
    n = 2000
    colour = rng.choice(["red", "blue", "green"], size=n, p=[0.5, 0.3, 0.2])
    df = pd.DataFrame({"x0": rng.normal(size=n), "colour": pd.Categorical(colour)})

    def model(frame):
        return 2.0 * (frame["colour"].astype(str) == "red").to_numpy() + 0.0 * frame["x0"].to_numpy()

    rows = pd.DataFrame({"x0": [0.0, 0.0],
                         "colour": pd.Categorical(["red", "blue"], categories=df.colour.cat.categories)})
    attr = Lime(model, df, num_features=None).explain(rows, num_samples=4000)
    p = pd.Series(colour).value_counts(normalize=True)
    # red row: "colour == red" switches the +2 on and off exactly
    assert attr.values[0, 1] == pytest.approx(2.0, rel=0.02)
    # blue row: "colour == blue" off means red with probability P(red) / (1 - P(blue))
    assert attr.values[1, 1] == pytest.approx(-2.0 * p["red"] / (1 - p["blue"]), rel=0.05)
    assert abs(attr.values[0, 0]) < 0.05
    assert attr.meta["interpretable"][1][1] == "colour == blue"


def test_feature_selection_keeps_the_dominant_features(linear):
    model, X = linear
    x = np.full((1, 5), 1.5) * SCALE
    for how in ("forward", "lasso", "highest_weights"):
        attr = Lime(model, X, sampling="normal", feature_selection=how, num_features=2).explain(x, num_samples=1000)
        assert sorted(attr.meta["selected"][0]) == [0, 1], how     # |beta * sd|: 4 (x1), 3 (x0), then 1.5
        assert np.count_nonzero(attr.values[0]) == 2
        assert attr.meta["selection_used"] == [how]
    auto = Lime(model, X, num_features=4).explain(x, num_samples=500)
    assert auto.meta["selection_used"] == ["forward"]          # lime's rule: forward up to 6 features


def test_same_seed_same_answer_and_rows_do_not_depend_on_the_batch(linear):
    model, X = linear
    a = Lime(model, X, seed=7).explain(X[:5], num_samples=500)
    b = Lime(model, X, seed=7).explain(X[:5], num_samples=500)
    c = Lime(model, X, seed=8).explain(X[:5], num_samples=500)
    alone = Lime(model, X, seed=7).explain(X[3:4], num_samples=500)
    np.testing.assert_array_equal(a.values, b.values)
    np.testing.assert_array_equal(a.values[3], alone.values[0])
    assert not np.array_equal(a.values, c.values)


def test_the_shared_perturbations_cost_one_model_call_for_the_whole_batch(linear):
    model, X = linear
    ex = Lime(model, X)
    calls = ex.model.n_calls
    attr = ex.explain(X[:6], num_samples=800)
    assert ex.model.n_calls == calls + 1 + 6         # the shared perturbations once, then each row on its own
    assert attr.meta["model_evals"] == 799 + 6       # the shared perturbations and the explained rows


def test_labels_pick_outputs_by_index_or_name():
    rng = np.random.default_rng(4)
    X = rng.normal(size=(300, 3))
    y = np.digitize(X[:, 0], [-0.5, 0.5])
    clf = LogisticRegression().fit(X, y)
    ex = Lime(clf, X)
    one = ex.explain(X[:2], num_samples=300, labels=2)
    both = ex.explain(X[:2], num_samples=300, labels=["0", 2])
    assert not one.has_outputs and one.values.shape == (2, 3)
    assert both.output_names == ("0", "2")
    np.testing.assert_allclose(both.values[..., 1], one.values)
    with pytest.raises(InputError, match="label 5"):
        ex.explain(X[:1], num_samples=300, labels=5)


def test_bad_input_fails_with_a_message_naming_the_fix(linear):
    model, X = linear
    with pytest.raises(InputError, match="unknown mode 'tables'"):
        Lime(model, X, mode="tables")
    with pytest.raises(InputError, match="num_features must be"):
        Lime(model, X, num_features=0)
    with pytest.raises(InputError, match="unknown sampling"):
        Lime(model, X, sampling="uniform")
    with pytest.raises(InputError, match="data=X_train"):
        Lime(model, mode="tabular")
    ex = Lime(model, X)
    with pytest.raises(InputError, match="X is text.*mode='text'"):
        ex.explain(["a text"])
    with pytest.raises(InputError, match="num_samples must be a whole number >= 10"):
        ex.explain(X[:1], num_samples=5)
    with pytest.raises(InputError, match="3 columns but the model expects 5"):
        ex.explain(X[:1, :3])
    with pytest.raises(InputError, match="data=X_train"):
        Lime(model).explain(X[:1])
