"""quality_card: verdicts checked against truths known in advance (a linear model, a reversed attribution,
deterministic vs sampling methods), JSON round trip of the attached card, and checks that cannot run."""

import dataclasses
import json

import numpy as np
import pandas as pd
import pytest

import whybox.evaluate as ev
from whybox.errors import InputError
from whybox.evaluate import QualityCard, quality_card
from whybox.results import Attribution
from whybox.shapley import ExactShapley
from whybox.surrogates import Lime

W = np.array([3.0, -2.0, 0.5, 1.5, 0.0, -1.0])


def linear(X):
    return np.asarray(X, dtype=float) @ W + 0.7


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(0)
    return rng.normal(size=(40, W.size)), rng.normal(size=(10, W.size))


@pytest.fixture(scope="module")
def exact(data):
    bg, X = data
    ex = ExactShapley(linear, bg)
    return ex, ex.explain(X)


def test_exact_shapley_is_faithful_and_a_reversed_attribution_is_not(data, exact):
    bg, X = data
    ex, attr = exact
    card = quality_card(ex, attr, linear, X, baseline=bg)
    line = card["faithfulness"]
    assert line.ok is True and line.verdict.startswith("faithful")
    assert line.details["rows_beating_random"] >= 0.9 * len(X)
    # reversed: the least important features go first, so removing them changes the output least
    reversed_attr = dataclasses.replace(attr, values=-attr.values)
    bad = quality_card(ex, reversed_attr, linear, X, baseline=bg, checks=("faithfulness",))
    assert bad["faithfulness"].ok is False and bad["faithfulness"].verdict.startswith("not better than random")
    assert bad["faithfulness"].value < 0 < line.value
    assert bad.checks == ["faithfulness"]


def test_exact_shapley_is_deterministic_and_stable_on_a_linear_model(data, exact):
    bg, X = data
    ex, attr = exact
    card = quality_card(ex, attr, linear, X)
    assert card["seeds"].verdict.startswith("deterministic") and card["seeds"].ok is True
    # interventional Shapley of a linear model: e(x) = W * (x - mean bg), so |e(x) - e(x')| <= max|W| |x - x'|
    st = card["stability"]
    assert st.value <= np.abs(W).max() + 1e-9 and np.isfinite(st.details["ratio"])
    assert st.verdict.startswith("stable")
    assert card.meta["model_evals"] > 0


def test_lime_card_reports_seed_variation(data):
    bg, X = data
    lime = Lime(linear, bg, seed=0)
    attr = lime.explain(X[:4], num_samples=300)
    card = quality_card(lime, attr, linear, X[:4], checks=("seeds",))
    line = card["seeds"]
    assert "deterministic" not in line.verdict and "seed variation" in line.verdict
    assert line.value is not None and line.value > 0 and len(line.details["seeds"]) == 3
    assert card.meta["explain_kwargs"] == {"num_samples": 300}   # re-explained with the attribution's own budget


def test_attach_gives_a_json_round_trippable_copy(data, exact):
    bg, X = data
    ex, attr = exact
    card = quality_card(ex, attr, linear, X, checks=("faithfulness", "seeds"))
    with_card = card.attach(attr)
    assert "quality" not in attr.meta and with_card.meta["quality"] == card.to_dict()
    back = Attribution.from_dict(json.loads(json.dumps(with_card.to_dict())))
    assert back.meta["quality"] == card.to_dict()
    assert QualityCard.from_dict(back.meta["quality"]).to_dict() == card.to_dict()


def test_text_holds_every_verdict(data, exact):
    bg, X = data
    ex, attr = exact
    card = quality_card(ex, attr, linear, X)
    text = str(card)
    assert card.checks == ["faithfulness", "stability", "seeds", "sanity"]
    for line in card.lines:
        assert line.verdict in text and line.check in text
    assert card["sanity"].verdict.startswith("not run")        # not a torch model


def test_categorical_columns_skip_lipschitz_with_a_reason():
    rng = np.random.default_rng(1)
    df = pd.DataFrame({"a": rng.normal(size=30), "b": rng.normal(size=30),
                       "c": rng.choice(["x", "y"], size=30)})

    def f(X):
        X = pd.DataFrame(X, columns=["a", "b", "c"]) if not isinstance(X, pd.DataFrame) else X
        return 2 * X["a"].astype(float).to_numpy() - X["b"].astype(float).to_numpy() + (X["c"] == "x").to_numpy()

    ex = ExactShapley(f, df)
    attr = ex.explain(df.iloc[:5])
    card = quality_card(ex, attr, f, df.iloc[:5], checks=("faithfulness", "stability"))
    assert card["stability"].verdict.startswith("not run") and "categor" in card["stability"].verdict
    assert card["stability"].ok is None and card["faithfulness"].ok is not None


def test_bad_arguments_name_the_problem(data, exact):
    bg, X = data
    ex, attr = exact
    with pytest.raises(InputError, match="unknown checks"):
        quality_card(ex, attr, linear, X, checks=("faith",))
    with pytest.raises(InputError, match="unknown budget keys"):
        quality_card(ex, attr, linear, X, budget={"n_rand": 3})
    with pytest.raises(InputError, match="Attribution"):
        quality_card(ex, attr.values, linear, X)


def _torch_case():
    import torch
    from whybox.gradients import Saliency
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Conv2d(1, 4, 3, padding=1), torch.nn.ReLU(), torch.nn.Flatten(),
                              torch.nn.Linear(4 * 6 * 6, 3))
    X = torch.randn(3, 1, 6, 6)
    ex = Saliency(net, abs=False)
    return net, X, ex, ex.explain(X)


def test_gradient_card_on_images_says_what_it_cannot_do(monkeypatch):
    net, X, ex, attr = _torch_case()
    monkeypatch.delattr(ev, "randomization_check", raising=False)
    card = quality_card(ex, attr, net, X, budget={"n_random": 3, "k": 10})
    assert card["faithfulness"].ok is not None and card["faithfulness"].details["rows"] == 3
    assert card["stability"].verdict.startswith("not run")
    assert card["seeds"].verdict.startswith("deterministic")
    assert card["sanity"].verdict.startswith("not available")


def test_sanity_line_uses_randomization_check_when_present(monkeypatch):
    import torch
    import copy
    net, X, ex, attr = _torch_case()
    seen = {}

    def fake(explain_fn, model, x, *, seed=0):
        other = copy.deepcopy(model)
        with torch.no_grad():
            for p in other.parameters():
                p.mul_(-1.0)                           # the gradient flips sign with every weight
        same = explain_fn(model, x, np.zeros(len(x), dtype=int)).values
        flipped = explain_fn(other, x, np.zeros(len(x), dtype=int)).values
        seen["rebound"] = not np.allclose(same, flipped)
        seen["args"] = (model is net, seed)
        return {"verdict": "fails", "verdict_metric": "spearman", "full_mean": {"spearman": 0.97}}

    monkeypatch.setattr(ev, "randomization_check", fake, raising=False)
    card = quality_card(ex, attr, net, X, checks=("sanity",), seed=3)
    assert seen == {"rebound": True, "args": (True, 3)}     # the explainer was re-pointed at the copy
    line = card["sanity"]
    assert line.ok is False and line.value == pytest.approx(0.97) and line.verdict.startswith("fails")


def test_sanity_line_with_the_real_check():
    net, X, ex, attr = _torch_case()
    line = quality_card(ex, attr, net, X, checks=("sanity",))["sanity"]
    assert line.ok in (True, False) and line.verdict.split(":")[0] in ("passes", "fails")
    assert line.value is not None and np.isfinite(line.value)
    json.dumps(line.to_dict())


def test_text_card_runs_faithfulness_and_seeds_and_skips_lipschitz():
    good = {"great": 2.0, "fine": 1.0, "awful": -2.0}

    def f(texts):
        return np.array([[sum(good.get(w, 0.0) for w in t.split())] for t in texts])

    texts = ["a great and fine day", "an awful film", "great acting but awful plot"]
    lime = Lime(f, mode="text", seed=0)
    card = quality_card(lime, lime.explain(texts, num_samples=200), f, texts)
    assert card["faithfulness"].ok is True                      # the sentiment words carry the whole score
    assert card["stability"].verdict.startswith("not run") and "texts" in card["stability"].verdict
    assert "seed variation" in card["seeds"].verdict
