"""`batch_invariant` is a promise: every row of a batched call gets exactly what it gets alone.

Explanations ask for f(x) row by row so that a row's values never depend on its batch
(`Model.evaluate_each`); for models that declare themselves batch invariant they make one call
instead. Each model that declares it is checked here bit for bit, and models that cannot promise it
(networks, linear models through BLAS, forests with parallel jobs) must not declare it.
"""

import warnings

import catboost as cb
import lightgbm as lgb
import numpy as np
import pandas as pd
import pytest
import xgboost as xgb
from sklearn.ensemble import (ExtraTreesRegressor, GradientBoostingClassifier, HistGradientBoostingClassifier,
                              RandomForestClassifier)
from sklearn.linear_model import LogisticRegression
from sklearn.neural_network import MLPClassifier
from sklearn.tree import DecisionTreeRegressor

from whybox.models import wrap
from whybox.surrogates import Lime


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(0)
    X = pd.DataFrame(rng.normal(size=(400, 5)), columns=list("abcde"))
    y = (X["a"] * X["b"] + X["c"] > 0).astype(int).to_numpy()
    return X, y


INVARIANT = {
    "DecisionTree": lambda X, y: DecisionTreeRegressor(max_depth=6, random_state=0).fit(X, X["a"] * X["b"]),
    "RandomForest": lambda X, y: RandomForestClassifier(n_estimators=30, random_state=0).fit(X, y),
    "ExtraTrees": lambda X, y: ExtraTreesRegressor(n_estimators=20, random_state=0).fit(X, X["a"]),
    "GradientBoosting": lambda X, y: GradientBoostingClassifier(n_estimators=30, random_state=0).fit(X, y),
    "HistGradientBoosting": lambda X, y: HistGradientBoostingClassifier(max_iter=30).fit(X, y),
    "XGBoost": lambda X, y: xgb.XGBClassifier(n_estimators=30, nthread=2).fit(X, y),
    "XGBoost gblinear": lambda X, y: xgb.XGBClassifier(booster="gblinear", n_estimators=30, nthread=2).fit(X, y),
    "LightGBM": lambda X, y: lgb.LGBMClassifier(n_estimators=30, verbose=-1).fit(X, y),
    "CatBoost": lambda X, y: cb.CatBoostClassifier(iterations=30, verbose=0, allow_writing_files=False).fit(X, y),
}


@pytest.mark.parametrize("name", list(INVARIANT))
def test_a_model_declared_batch_invariant_gives_each_row_what_it_gets_alone(data, name):
    X, y = data
    model = wrap(INVARIANT[name](X, y))
    assert model.prediction.batch_invariant
    rows = model.prepare(X.iloc[:300])
    batched = model.evaluate(rows)
    alone = np.concatenate([model.evaluate(rows[i:i + 1]) for i in range(len(rows))])
    assert np.array_equal(batched, alone)
    assert np.array_equal(model.evaluate(rows[::-1])[::-1], batched)


def test_models_that_cannot_promise_it_do_not_declare_it(data):
    X, y = data
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        network = MLPClassifier(hidden_layer_sizes=(16,), max_iter=50, random_state=0).fit(X, y)
    for model in (network, LogisticRegression().fit(X, y),
                  RandomForestClassifier(n_estimators=10, n_jobs=2, random_state=0).fit(X, y),
                  lambda Z: np.asarray(Z, dtype=float).sum(axis=1)):
        assert not wrap(model).prediction.batch_invariant


def test_lime_makes_one_call_for_the_rows_of_a_batch_invariant_model(data):
    X, y = data
    explainer = Lime(RandomForestClassifier(n_estimators=30, random_state=0).fit(X, y), X, seed=0)
    calls = explainer.model.n_calls
    together = explainer.explain(X.iloc[300:306], num_samples=500)
    assert explainer.model.n_calls == calls + 2           # the shared perturbations, then the six rows
    for i in range(6):
        alone = explainer.explain(X.iloc[300 + i:301 + i], num_samples=500)
        assert np.array_equal(together[i].values, alone[0].values)
