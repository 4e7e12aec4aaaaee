"""The scaffolding attack (Slack et al. 2020) planted on credit(): the check flags it and not honest models."""

from __future__ import annotations

import json

import numpy as np
import pytest
from sklearn.ensemble import RandomForestClassifier

import whybox.datasets as datasets
from whybox.errors import InputError
from whybox.evaluate.scaffold import (ScaffoldCheck, make_scaffolded_model, perturbation_samples,
                                      scaffold_check)
from whybox.shapley import KernelShap
from whybox.surrogates import Lime

NUMERIC = ["income", "debt", "prior_defaults", "credit_age", "employment_years", "noise"]


@pytest.fixture(scope="module")
def planted():
    """Real rows with the protected attribute as a column; a biased rule, an innocuous rule, and the scaffold
    that routes rows its detector takes for LIME / Kernel SHAP perturbations to the innocuous rule."""
    c = datasets.credit(1500, seed=0)
    X = c.X[NUMERIC].astype(float)
    X["region"] = c.X["postcode_region"].cat.codes.astype(float)  # where people live: a proxy of the group
    X["protected"] = c.protected.astype(float)
    A = X.to_numpy()
    p, z = list(X.columns).index("protected"), list(X.columns).index("noise")

    def biased(Z):          # approves by group membership
        return np.where(np.asarray(Z, dtype=float)[:, p] > 0.5, 0.1, 0.9)

    def innocuous(Z):       # approves on a column with no meaning
        return np.where(np.asarray(Z, dtype=float)[:, z] > 0, 0.9, 0.1)

    # the attacker's detector: real rows vs the samples LIME (normal sampling) and Kernel SHAP would draw
    lime_pool = Lime(biased, data=X, sampling="normal").sampler.pool(np.random.default_rng(100), 3000)[0]
    shap_pool, _ = perturbation_samples(KernelShap(biased, X.iloc[:50]), A, 3000, seed=101)
    fake = np.vstack([lime_pool.astype(float), shap_pool.astype(float)])
    detector = RandomForestClassifier(n_estimators=200, random_state=0, n_jobs=1).fit(
        np.vstack([A, fake]), np.r_[np.zeros(len(A)), np.ones(len(fake))])
    adversarial = make_scaffolded_model(biased, innocuous, lambda Z: detector.predict(np.asarray(Z, dtype=float)))
    return X, A, p, z, biased, innocuous, adversarial


def _explainers(f, X):
    return {"lime": Lime(f, data=X, sampling="normal", seed=1), "kernel": KernelShap(f, X.iloc[100:150], seed=1)}


def test_the_attack_works_explanations_hide_the_protected_attribute(planted):
    X, A, p, z, biased, _, adv = planted
    # real decisions are the biased ones and hinge on the protected column
    assert (adv(A) == biased(A)).mean() > 0.95
    group = A[:, p] > 0.5
    assert adv(A)[~group].mean() - adv(A)[group].mean() > 0.6   # approval rate gap between the groups
    # ...while LIME and Kernel SHAP rank the innocuous column first
    rows = X.iloc[:20]
    lime = _explainers(adv, X)["lime"].explain(rows, num_samples=1000)
    shap = _explainers(adv, X)["kernel"].explain(rows)
    for attr in (lime, shap):
        mean_abs = np.abs(attr.values).mean(axis=0)
        assert int(np.argmax(mean_abs)) == z
        assert mean_abs[z] > 1.5 * mean_abs[p]


@pytest.mark.parametrize("kind", ["lime", "kernel"])
def test_scaffold_check_flags_the_adversarial_model(planted, kind):
    X, *_, adv = planted
    res = scaffold_check(adv, _explainers(adv, X)[kind], X, seed=2)
    assert isinstance(res, ScaffoldCheck)
    assert res.flagged, res
    assert res.verdict.startswith("flagged")
    assert res.top_real[0] == "protected"
    assert res.source == {"lime": "lime", "kernel": "background mixing"}[kind]
    d = res.to_dict()
    json.dumps(d)
    assert d["flagged"] is True and len(d["importance_real"]) == X.shape[1]


@pytest.mark.parametrize("kind", ["lime", "kernel"])
@pytest.mark.parametrize("honest", ["biased", "innocuous", "forest"])
def test_scaffold_check_does_not_flag_honest_models(planted, kind, honest):
    X, A, p, z, biased, innocuous, _ = planted
    if honest == "forest":   # a plain model trained on the outcome
        c = datasets.credit(1500, seed=0)
        forest = RandomForestClassifier(n_estimators=50, max_depth=6, random_state=0, n_jobs=1).fit(X, c.y)
        f = forest
    else:
        f = {"biased": biased, "innocuous": innocuous}[honest]
    res = scaffold_check(f, _explainers(f, X)[kind], X, seed=2)
    assert not res.flagged, res
    assert res.verdict.startswith("not flagged")
    assert res.dependence_shift < 0.3


def test_scaffold_check_takes_perturbation_rows_directly(planted):
    X, *_, adv = planted
    pool = Lime(adv, data=X, sampling="normal").sampler.pool(np.random.default_rng(7), 800)[0]
    res = scaffold_check(adv, pool, X, seed=3)
    assert res.source == "given" and res.flagged
    # real rows given as "perturbations" are indistinguishable, so nothing is flagged
    same = scaffold_check(adv, X.iloc[750:].to_numpy(), X.iloc[:750], seed=3)
    assert same.ood_auc < 0.7 and not same.flagged
    assert "look like real rows" in same.verdict


def test_scaffold_check_errors(planted):
    X, *_, adv = planted
    with pytest.raises(InputError, match="perturbation samples"):
        scaffold_check(adv, type("NoSampler", (), {"explain": lambda self, X: None})(), X)
    with pytest.raises(InputError, match="at least 20 real rows"):
        scaffold_check(adv, X.to_numpy(), X.iloc[:5])
    with pytest.raises(InputError, match="auc_threshold"):
        scaffold_check(adv, X.to_numpy(), X, auc_threshold=2)
    with pytest.raises(InputError, match="n_perturbations"):
        scaffold_check(adv, _explainers(adv, X)["lime"], X, n_perturbations=3)
    with pytest.raises(InputError, match="columns"):
        scaffold_check(adv, X.to_numpy()[:, :3], X)
