"""A scikit-learn Pipeline that can take NaN is allowed NaN, decided step by step from scikit-learn's own tags.

References: the pipeline's own predict_proba on the rows with NaN (wrap must give exactly it, and Shapley values
computed through wrap must add up to it); scikit-learn raising on NaN where whybox refuses it.
"""

import numpy as np
import pandas as pd
import pytest
from sklearn.compose import make_column_selector, make_column_transformer
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from whybox.errors import InputError, ModelError
from whybox.models import wrap
from whybox.models.sklearn import allow_nan
from whybox.shapley import ExactShapley


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(1)
    n = 300
    df = pd.DataFrame({"age": rng.normal(40, 10, n), "income": rng.normal(50, 15, n),
                       "city": rng.choice(["north", "south", "east"], n).astype(object)})
    y = ((df["income"] - 50) / 15 + (df["city"] == "north") + rng.normal(0, 0.5, n) > 0.5).astype(int)
    df.loc[df.index % 7 == 0, "age"] = np.nan
    df.loc[df.index % 11 == 0, "city"] = np.nan           # NaN seen in training: a category for OneHotEncoder
    return df, y.to_numpy()


def one_hot_hgb():
    """The case issue 15 names: a one-hot ColumnTransformer in front of HistGradientBoosting."""
    encode = make_column_transformer((OneHotEncoder(handle_unknown="ignore", sparse_output=False), ["city"]),
                                     remainder="passthrough")
    return make_pipeline(encode, HistGradientBoostingClassifier(max_iter=15, random_state=0))


def impute_then_linear():
    return make_pipeline(make_column_transformer((SimpleImputer(), ["age", "income"]),
                                                 (OneHotEncoder(handle_unknown="ignore"), ["city"])),
                         LogisticRegression())


@pytest.mark.parametrize("build", [one_hot_hgb, impute_then_linear], ids=["one_hot_hgb", "impute_then_linear"])
def test_pipeline_that_takes_nan_explains_rows_with_nan(data, build):
    df, y = data
    pipe = build().fit(df, y)
    assert allow_nan(pipe) is True
    rows = df.iloc[:14]                                     # NaN in age (row 0, 7) and city (row 0, 11)
    assert rows.isna().any(axis=None)
    model = wrap(pipe)
    np.testing.assert_array_equal(model(rows), pipe.predict_proba(rows))
    attr = ExactShapley(model, df.iloc[100:130]).explain(rows)
    total = attr.base_values + attr.values.sum(axis=1)
    np.testing.assert_allclose(total, pipe.predict_proba(rows), atol=1e-10)


def test_a_search_over_the_pipeline_is_followed_too(data):
    df, y = data
    search = GridSearchCV(one_hot_hgb(), {"histgradientboostingclassifier__max_depth": [2, 3]}, cv=2).fit(df, y)
    assert allow_nan(search) is True
    np.testing.assert_array_equal(wrap(search)(df.iloc[:10]), search.predict_proba(df.iloc[:10]))


def test_nan_allowed_only_where_a_step_fills_it(data):
    df, y = data
    clean_city = df.assign(city=df["city"].fillna("east"))
    strict = make_pipeline(make_column_transformer((SimpleImputer(), ["age", "income"]), (OneHotEncoder(), ["city"])),
                           LogisticRegression()).fit(clean_city, y)  # the encoder never saw NaN and errors on it
    assert allow_nan(strict) == frozenset({"age", "income"})
    model = wrap(strict)
    rows = clean_city.iloc[:8]
    np.testing.assert_array_equal(model(rows), strict.predict_proba(rows))     # NaN in age: fine
    bad = rows.assign(city=[np.nan] + list(rows["city"].iloc[1:]))
    with pytest.raises(ValueError, match="unknown categories"):
        strict.predict_proba(bad)                                              # what scikit-learn itself does
    with pytest.raises(InputError, match=r"'city'.*only in \['age', 'income'\].*wrap\(model, allow_nan=True\)"):
        model(bad)


def test_refused_nan_names_the_override(data):
    df, y = data
    numeric = df[["age", "income"]]
    pipe = make_pipeline(StandardScaler(), LogisticRegression()).fit(numeric.fillna(0), y)
    assert allow_nan(pipe) is False
    with pytest.raises(ValueError, match="NaN"):
        pipe.predict_proba(numeric.iloc[:5])                                   # scikit-learn refuses it as well
    with pytest.raises(InputError, match=r"'age'.*wrap\(model, allow_nan=True\)"):
        wrap(pipe)(numeric.iloc[:5])
    # the override lets NaN through to the model, whose own error then surfaces
    with pytest.raises(ModelError, match="NaN"):
        wrap(pipe, allow_nan=True)(numeric.iloc[:5])


def test_steps_and_estimators_from_their_tags(data):
    df, y = data
    numeric = df[["age", "income"]]
    assert allow_nan(HistGradientBoostingClassifier(max_iter=3).fit(numeric, y)) is True
    assert allow_nan(LogisticRegression().fit(numeric.fillna(0), y)) is False
    assert allow_nan(make_pipeline(SimpleImputer(), LogisticRegression()).fit(numeric, y)) is True
    # a scaler passes NaN on: then the estimator after it decides
    assert allow_nan(make_pipeline(StandardScaler(), HistGradientBoostingClassifier(max_iter=3)).fit(numeric, y))
    # columns picked by a selector are resolved the way the fitted ColumnTransformer resolved them
    selected = make_pipeline(make_column_transformer((SimpleImputer(), make_column_selector(dtype_include="number")),
                                                     (OneHotEncoder(), make_column_selector(dtype_include=object))),
                             LogisticRegression()).fit(df.assign(city=df["city"].fillna("east")), y)
    assert allow_nan(selected) == frozenset({"age", "income"})

    class Duck:                                            # not scikit-learn: it decides on NaN itself
        def fit(self, X, y):
            return self

        def predict(self, X):
            return np.nan_to_num(np.asarray(X, dtype=float)).sum(axis=1)

    assert allow_nan(Duck()) is True
    np.testing.assert_allclose(wrap(Duck())(numeric.iloc[:3])[:, 0], numeric.iloc[:3].fillna(0).sum(axis=1))
