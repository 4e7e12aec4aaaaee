import numpy as np
import pandas as pd
import pytest
from sklearn.compose import make_column_transformer
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.linear_model import LinearRegression, LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder

from whybox.errors import InputError, ModelError
from whybox.models import wrap


@pytest.fixture(scope="module")
def table():
    rng = np.random.default_rng(0)
    X = pd.DataFrame({"income": rng.normal(50, 10, 300), "debt": rng.normal(size=300),
                      "housing": pd.Categorical(rng.choice(["rent", "own", "mortgage"], 300))})
    y = ((X.income > 50) ^ (X.housing == "rent")).astype(int)
    return X, y


def test_classifier_outputs(table):
    X, y = table
    num = X[["income", "debt"]].to_numpy()
    clf = LogisticRegression().fit(num, y)
    p = wrap(clf)(num[:10])
    np.testing.assert_allclose(p, clf.predict_proba(num[:10]))
    lo = wrap(clf, output="log_odds")(num[:10])
    assert lo.shape == (10, 1)
    np.testing.assert_allclose(lo[:, 0], clf.decision_function(num[:10]), atol=1e-8)
    np.testing.assert_allclose(wrap(clf, output="raw")(num[:10])[:, 0], clf.decision_function(num[:10]))
    assert wrap(clf).output_names == ("0", "1")
    with pytest.raises(InputError, match="class labels"):
        wrap(clf, output="predict")


def test_regressor_and_counting(table):
    X, y = table
    num = X[["income", "debt"]].to_numpy()
    reg = LinearRegression().fit(num, y)
    m = wrap(reg, batch_size=7)
    out = m(num[:30])
    np.testing.assert_allclose(out[:, 0], reg.predict(num[:30]))
    assert m.n_evals == 30 and m.n_calls == 5
    with pytest.raises(InputError, match="regressor"):
        wrap(reg, output="probability")


def test_categorical_pipeline_end_to_end(table):
    X, y = table
    pipe = make_pipeline(make_column_transformer((OneHotEncoder(), ["housing"]), remainder="passthrough"),
                         LogisticRegression(max_iter=1000)).fit(X, y)
    m = wrap(pipe)
    np.testing.assert_allclose(m(X.iloc[:20]), pipe.predict_proba(X.iloc[:20]))
    # columns in another order are put back in the model's order
    np.testing.assert_allclose(m(X[["housing", "debt", "income"]].iloc[:5]), pipe.predict_proba(X.iloc[:5]))
    with pytest.raises(InputError, match="unknown category 'castle' in column 'housing'"):
        bad = X.iloc[:3].astype({"housing": object})
        bad.iloc[0, 2] = "castle"
        m(bad)


def test_native_categorical_hgb(table):
    X, y = table
    hgb = HistGradientBoostingClassifier(max_iter=20, categorical_features="from_dtype").fit(X, y)
    m = wrap(hgb)
    arr = m.prepare(X.iloc[:15])
    assert arr.dtype == object
    np.testing.assert_allclose(m.evaluate(arr), hgb.predict_proba(X.iloc[:15]))


def test_bad_input_messages(table):
    X, y = table
    num = X[["income", "debt"]].to_numpy()
    clf = LogisticRegression().fit(num, y)
    m = wrap(clf)
    with pytest.raises(InputError, match="3 columns but the model expects 2"):
        m(np.ones((2, 3)))
    with pytest.raises(InputError, match="missing values"):
        m(np.array([[np.nan, 1.0]]))
    df_model = wrap(LogisticRegression().fit(X[["income", "debt"]], y))
    with pytest.raises(InputError, match=r"unknown columns \['age'\]"):
        df_model(X[["income", "debt"]].assign(age=1))
    with pytest.raises(InputError, match=r"missing columns \['debt'\]"):
        df_model(X[["income"]])
    with pytest.raises(ModelError, match="no predict"):
        wrap(object())
    with pytest.raises(InputError, match="unknown output"):
        wrap(clf, output="odds")


def test_callable_outputs_checked():
    m = wrap(lambda X: np.where(np.asarray(X)[:, 0] > 0, "yes", "no"))
    with pytest.raises(ModelError, match="returned strings"):
        m(np.ones((2, 2)))
    with pytest.raises(ModelError, match="non-finite"):
        wrap(lambda X: np.full(len(X), np.nan))(np.ones((2, 2)))
    with pytest.raises(ModelError, match="returned 1 rows for 2 inputs"):
        wrap(lambda X: np.zeros(1))(np.ones((2, 2)))
    m = wrap(lambda X: np.asarray(X).sum(axis=1), feature_names=["a", "b"])
    assert m(np.ones((3, 2)))[:, 0].tolist() == [2, 2, 2] and m.feature_names == ("a", "b")


def test_numpy_of_wrong_width_for_a_dataframe_fitted_model(table):
    X, y = table
    clf = LogisticRegression().fit(X[["income", "debt"]], y)
    with pytest.raises(InputError, match=r"3 columns but the model expects 2 \(income, debt\)"):
        wrap(clf)(np.ones((2, 3)))
    np.testing.assert_allclose(wrap(clf)(X[["income", "debt"]].to_numpy()[:4]),
                               clf.predict_proba(X[["income", "debt"]].iloc[:4]))


def test_user_adapter_wins_over_builtin():
    from whybox.models import Prediction, register_adapter
    from whybox.models.base import _ADAPTERS

    class Special:
        def predict(self, X):
            return np.zeros(len(X))

        def fit(self, X, y):
            return self

    register_adapter(lambda m: isinstance(m, Special),
                     lambda m, out: Prediction(predict=lambda X: np.ones(len(X)), kind="special"))
    try:
        assert wrap(Special())(np.zeros((2, 1)))[:, 0].tolist() == [1.0, 1.0]
    finally:
        del _ADAPTERS[[i for i, a in enumerate(_ADAPTERS) if a[0] == 0][0]]


def test_evaluate_raw_passes_texts_through_in_counted_batches():
    seen = []

    def score(texts):
        seen.append(len(texts))
        return np.array([[t.count("good"), t.count("bad")] for t in texts], dtype=float)

    m = wrap(score, batch_size=2)
    out = m.evaluate_raw(["good good", "bad", "good bad", "meh", "good"])
    assert out.tolist() == [[2, 0], [0, 1], [1, 1], [0, 0], [1, 0]]
    assert seen == [2, 2, 1] and m.n_evals == 5 and m.n_calls == 3


def test_wrap_takes_a_torch_module_and_leaves_its_state_alone():
    import torch
    net = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.Dropout(0.5), torch.nn.Linear(4, 2))
    net.train()
    X = np.random.default_rng(0).normal(size=(5, 3))
    with torch.no_grad():
        net.eval()
        logits = net(torch.as_tensor(X, dtype=torch.float32)).numpy()
        net.train()
    m = wrap(net)
    np.testing.assert_allclose(m(X), logits, rtol=1e-6)          # eval mode: dropout off
    assert net.training and all(mod.training for mod in net.modules())
    assert all(p.grad is None for p in net.parameters())
    probs = wrap(net, output="probability")(X)
    np.testing.assert_allclose(probs, np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True), rtol=1e-5)
    assert m.kind.startswith("torch:")
    with pytest.raises(InputError, match="PyTorch"):
        wrap(net, output="log_odds")


def test_a_wrapped_torch_module_takes_an_image_batch_as_it_is():
    import torch
    net = torch.nn.Sequential(torch.nn.Conv2d(3, 2, 3), torch.nn.AdaptiveAvgPool2d(1), torch.nn.Flatten())
    x = np.random.default_rng(1).uniform(size=(4, 3, 8, 8))
    with torch.no_grad():
        expected = net(torch.as_tensor(x, dtype=torch.float32)).numpy()
    np.testing.assert_allclose(wrap(net)(x), expected, rtol=1e-5, atol=1e-7)
