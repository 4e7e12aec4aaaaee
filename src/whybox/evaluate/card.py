"""One quality card per explanation: is it faithful, stable, reproducible and does it depend on the model?

`quality_card(explainer, attribution, model, X)` runs small, cheap versions of the checks in this
package and says, one line each, what it found:

  faithfulness  deletion AOPC of the attribution's order vs random orderings (per row), share of rows
                where the attribution beats chance
  stability     local Lipschitz L_e(x) = max |e(x) - e(x')| / |x - x'| of the explanation, read against
                the same quantity of the model's own output L_f(x) = max |f(x) - f(x')| / |x - x'| on the
                same neighbours (tabular numeric rows only)
  seeds         seed-to-seed variation of a sampling method (LIME, KernelShap, PermutationShap, SmoothGrad);
                "deterministic" for the others
  sanity        model-parameter randomisation (Adebayo et al.) for a torch model and a gradient explainer,
                when `whybox.evaluate.randomization_check` is available

A check that cannot run says why in its line; the card never fails because one check does not apply.
"""

from __future__ import annotations

import dataclasses
import inspect
import sys
import time
from dataclasses import dataclass, field
from typing import Any, Sequence

import numpy as np

from ..errors import InputError, WhyboxError
from ..results import Attribution, to_jsonable

__all__ = ["QualityCard", "CardLine", "quality_card", "DEFAULT_BUDGET", "CHECKS"]

CHECKS = ("faithfulness", "stability", "seeds", "sanity")

#: the small defaults that keep a card on ~10 tabular rows to a few seconds
DEFAULT_BUDGET: dict[str, Any] = {
    "n_random": 10,          # random orderings per row for the faithfulness comparison
    "k": None,               # features removed for AOPC (None: all, at most 100)
    "lipschitz_rows": 10,    # rows (the first ones) whose local Lipschitz is estimated
    "lipschitz_samples": 5,  # neighbours per row
    "epsilon": 0.1,          # neighbourhood radius, in standard deviations of each feature
    "seeds": 3,              # seeds compared for a sampling method (on the first row)
    "top_k": 5,              # top features compared across seeds
    "explain_kwargs": None,  # settings for re-explaining (default: the attribution's own budget from meta)
}

#: rule of thumb for stability: ratio L_e / L_f of the explanation's Lipschitz to the model's own
STABLE_RATIO = 2.0
UNSTABLE_RATIO = 5.0
#: faithful when the attribution's AOPC beats the random orderings' mean on at least this share of rows
FAITHFUL_SHARE = 0.8
#: seed variation: relative std of the weights below this and top-k Jaccard above JACCARD_OK is "reproducible"
SEED_REL_STD = 0.1
JACCARD_OK = 0.8

#: sampling methods (class names) whose answer depends on the seed; others with a seed are deterministic
SAMPLING = ("Lime", "KernelShap", "PermutationShap", "SmoothGrad")
DETERMINISTIC = ("ExactShapley", "LinearShap", "TreeShap", "PartitionShap")


@dataclass(frozen=True)
class CardLine:
    """One check: its name, a number, a plain verdict, whether it passed (None: not run / no judgement),
    and the details behind the number (JSON-safe)."""

    check: str
    value: float | None
    verdict: str
    ok: bool | None = None
    details: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        v = None if self.value is None or not np.isfinite(self.value) else float(self.value)
        return to_jsonable({"check": self.check, "value": v, "verdict": self.verdict, "ok": self.ok,
                            "details": self.details})


@dataclass(frozen=True)
class QualityCard:
    """How far an explanation can be trusted: one `CardLine` per check, plus what the card cost.

    lines  the checks in the order run;  meta  method, rows, model evaluations, seconds, budget
    """

    lines: tuple[CardLine, ...]
    meta: dict = field(default_factory=dict)

    def __getitem__(self, check: str) -> CardLine:
        for line in self.lines:
            if line.check == check:
                return line
        raise KeyError(f"no check {check!r} on this card; it has {[ln.check for ln in self.lines]}")

    @property
    def checks(self) -> list[str]:
        return [ln.check for ln in self.lines]

    def to_dict(self) -> dict:
        """JSON-safe form: {"type", "lines": [{check, value, verdict, ok, details}], "meta"}."""
        return {"type": "QualityCard", "lines": [ln.to_dict() for ln in self.lines], "meta": to_jsonable(self.meta)}

    @classmethod
    def from_dict(cls, d: dict) -> "QualityCard":
        if d.get("type", "QualityCard") != "QualityCard":
            raise InputError(f"expected a QualityCard dict, got type {d.get('type')!r}")
        return cls(tuple(CardLine(ln["check"], ln.get("value"), ln["verdict"], ln.get("ok"), ln.get("details", {}))
                         for ln in d["lines"]), d.get("meta", {}))

    def to_text(self) -> str:
        """A plain table: check | value | verdict."""
        rows = [(ln.check, "-" if ln.value is None or not np.isfinite(ln.value) else f"{ln.value:.4g}", ln.verdict)
                for ln in self.lines]
        w0 = max([5] + [len(r[0]) for r in rows])
        w1 = max([5] + [len(r[1]) for r in rows])
        head = (f"Quality card: {self.meta.get('method', '?')} on {self.meta.get('rows', '?')} rows "
                f"({self.meta.get('model_evals', '?')} model evaluations, {self.meta.get('seconds', 0):.2f} s)")
        out = [head, f"{'check':<{w0}}  {'value':>{w1}}  verdict", f"{'-' * w0}  {'-' * w1}  {'-' * 7}"]
        out += [f"{a:<{w0}}  {b:>{w1}}  {c}" for a, b, c in rows]
        return "\n".join(out)

    __str__ = to_text

    def attach(self, attribution: Attribution) -> Attribution:
        """A copy of `attribution` with meta["quality"] = self.to_dict() (the original is unchanged)."""
        if not isinstance(attribution, Attribution):
            raise InputError(f"attach() takes the Attribution the card judges, not a {type(attribution).__name__}")
        return dataclasses.replace(attribution, meta={**attribution.meta, "quality": self.to_dict()})


# --------------------------------------------------------------------------- helpers

def _evals(obj: Any) -> int:
    """The evaluation counter of an explainer's (or a wrapped) model, 0 when it has none."""
    m = getattr(obj, "model", obj)
    return int(getattr(m, "n_evals", 0) or 0)


def _explain_kwargs(explainer: Any, attribution: Attribution, given: dict | None) -> dict:
    """Settings to re-explain with: the given ones, else the attribution's own budget read from its meta
    (LIME's num_samples, KernelShap / PermutationShap's max_evals) when `explain` accepts them."""
    if given is not None:
        return dict(given)
    try:
        params = inspect.signature(explainer.explain).parameters
    except (TypeError, ValueError):
        return {}
    out = {}
    for key in ("num_samples", "max_evals"):
        if key in params and attribution.meta.get(key) is not None:
            out[key] = attribution.meta[key]
    return out


def _is_sampling(explainer: Any, attribution: Attribution) -> bool:
    name = type(explainer).__name__
    if name in DETERMINISTIC:
        return False
    if name in ("IntegratedGradients", "LayerIntegratedGradients"):   # random only with a "uniform" baseline
        return "uniform" in str(attribution.meta.get("baseline", ""))
    return name in SAMPLING or hasattr(explainer, "seed")


def _is_torch_model(model: Any) -> bool:
    torch = sys.modules.get("torch")      # no torch import here: a model is a torch module only if torch is loaded
    return torch is not None and isinstance(model, torch.nn.Module)


def _is_gradient(explainer: Any) -> bool:
    return type(explainer).__module__.startswith("whybox.gradients")


def _not_run(check: str, why: str) -> CardLine:
    return CardLine(check, None, f"not run: {why}", None)


def _as_numpy(X: Any) -> Any:
    return X.detach().cpu().numpy() if hasattr(X, "detach") else X


# --------------------------------------------------------------------------- the checks

def _faithfulness(model: Any, X: Any, attribution: Attribution, baseline: Any, seed: int, b: dict,
                  counter: list) -> CardLine:
    from ..models import Model
    from .faithfulness import aopc
    from ._removal import _domain

    dom = _domain(model, _as_numpy(X), baseline)
    wrapped = getattr(dom, "model", None)                  # tables and texts: a wrapped model that counts
    m = wrapped if isinstance(wrapped, Model) else model
    before = _evals(m) if isinstance(m, Model) else 0
    main, rand = aopc(m, _as_numpy(X), attribution, baseline=baseline, k=b["k"], return_random=True,
                      n_random=b["n_random"], seed=seed)
    if isinstance(m, Model):
        counter.append(_evals(m) - before)
    else:   # images: one input per (order, step) and row, plus the originals
        K = [min(d, b["k"] or 100) for d in dom.sizes]
        counter.append(int(sum((b["n_random"] + 1) * (k + 1) for k in K) + len(K)))
    scale = np.maximum(np.abs(main), np.abs(rand))
    beats = main > rand + 1e-9 * np.where(scale > 0, scale, 1.0)
    n, wins = len(main), int(beats.sum())
    share = wins / n
    gain = float(np.mean(main - rand))
    details = {"aopc_mean": float(main.mean()), "random_aopc_mean": float(rand.mean()), "improvement": gain,
               "rows_beating_random": wins, "rows": n, "share": share, "n_random": b["n_random"], "aopc": main.tolist(),
               "random_aopc": rand.tolist(), "rule": f"faithful when the attribution's deletion AOPC beats the "
               f"mean of {b['n_random']} random orderings on >= {FAITHFUL_SHARE:.0%} of rows"}
    if share >= FAITHFUL_SHARE:
        verdict, ok = f"faithful: beats random orderings on {wins}/{n} rows", True
    elif share > 0.5 and gain > 0:
        verdict, ok = f"partly faithful: beats random orderings on only {wins}/{n} rows", False
    else:
        verdict, ok = f"not better than random: beats random orderings on {wins}/{n} rows", False
    return CardLine("faithfulness", gain, verdict, ok, details)


def _stability(explainer: Any, model: Any, X: Any, attribution: Attribution, seed: int, b: dict,
               kwargs: dict, counter: list) -> CardLine:
    from ..models import wrap
    from .stability import local_lipschitz

    arr = _as_numpy(X)
    if np.ndim(arr) != 2 or isinstance(X, (list, str)):
        return _not_run("stability", "local Lipschitz is estimated for tabular numeric rows; these inputs are "
                        "images or texts (use whybox.evaluate.max_sensitivity with a fixed target)")
    if _is_torch_model(model):
        return _not_run("stability", "the card estimates local Lipschitz for tabular models; call "
                        "whybox.evaluate.local_lipschitz directly for a torch model")
    try:
        numeric = np.asarray(arr, dtype=float)
    except (TypeError, ValueError):
        return _not_run("stability", "X has categorical (non-numeric) columns, which cannot be moved within an "
                        "epsilon ball; encode them as numbers to measure local Lipschitz")
    if not np.isfinite(numeric).all():
        return _not_run("stability", "X has missing values; local Lipschitz needs finite inputs to perturb")
    if numeric.shape[0] < 2:
        return _not_run("stability", "one row gives no feature spread to scale the neighbourhood; pass more rows")
    rows = min(b["lipschitz_rows"], numeric.shape[0])
    Xs = X.iloc[:rows] if hasattr(X, "iloc") else arr[:rows]
    opts = dict(epsilon=b["epsilon"], n_samples=b["lipschitz_samples"], seed=seed, data=arr)
    wrapped = wrap(model)
    before_e, before_m = _evals(explainer), _evals(wrapped)
    le = local_lipschitz(lambda Z: explainer.explain(Z, **kwargs), Xs, **opts)
    lf = local_lipschitz(wrapped, Xs, **opts)                  # same seed: the same neighbours
    counter.append(_evals(explainer) - before_e + _evals(wrapped) - before_m)
    L = float(np.nanmedian(le))
    details = {"lipschitz": le.tolist(), "model_lipschitz": lf.tolist(), "rows": rows,
               "n_samples": b["lipschitz_samples"], "epsilon": b["epsilon"],
               "rule": f"ratio = median over rows of L_explanation / L_model on the same neighbours; stable when "
                       f"<= {STABLE_RATIO:g} (the explanation moves no faster than about twice the prediction it "
                       f"explains), unstable when > {UNSTABLE_RATIO:g}"}
    ok_rows = lf > 0
    if not ok_rows.any():
        return CardLine("stability", L, f"local Lipschitz {L:.3g} (median); no scale: the model's output does not "
                        "change near these rows", None, details)
    ratio = float(np.nanmedian(le[ok_rows] / lf[ok_rows]))
    details["ratio"] = ratio
    say = f"local Lipschitz {L:.3g}, {ratio:.2g}x the model's own {float(np.nanmedian(lf)):.3g}"
    if ratio <= STABLE_RATIO:
        return CardLine("stability", L, f"stable: {say}", True, details)
    if ratio <= UNSTABLE_RATIO:
        return CardLine("stability", L, f"somewhat sensitive: {say}", None, details)
    return CardLine("stability", L, f"unstable: {say}", False, details)


def _seeds(explainer: Any, X: Any, attribution: Attribution, b: dict, kwargs: dict, counter: list) -> CardLine:
    from .stability import seed_variation

    if not _is_sampling(explainer, attribution):
        return CardLine("seeds", 0.0, "deterministic: the method draws no random numbers", True,
                        {"method": type(explainer).__name__})
    x = X.iloc[:1] if hasattr(X, "iloc") else (X[:1] if not isinstance(X, str) else X)
    before = _evals(explainer)
    sv = seed_variation(explainer, x, seeds=range(b["seeds"]), top_k=b["top_k"], **kwargs)
    used = _evals(explainer) - before
    if used == 0 and attribution.meta.get("model_evals"):   # no counter on the explainer: its own meta's rate
        used = int(b["seeds"] * attribution.meta["model_evals"] / max(1, len(attribution.values)))
    counter.append(used)
    rel = sv.relative_std
    details = {"relative_std": rel, "mean_std": sv.mean_std, "jaccard": sv.jaccard, "spearman": sv.spearman,
               "seeds": sv.seeds, "top_k": sv.top_k, "settings": kwargs, "row": 0,
               "rule": f"reproducible when the weights' std across seeds is < {SEED_REL_STD:g} of their mean size "
                       f"and the top-{sv.top_k} features overlap (Jaccard) >= {JACCARD_OK:g}"}
    say = (f"relative std {rel:.2g} across {len(sv.seeds)} seeds, top-{sv.top_k} Jaccard {sv.jaccard:.2f}")
    if np.isfinite(rel) and rel < SEED_REL_STD and sv.jaccard >= JACCARD_OK:
        return CardLine("seeds", rel, f"seed variation small: {say}", True, details)
    return CardLine("seeds", rel, f"seed variation large: {say}; raise the sample budget", False, details)


def _rebind(explainer: Any, old: Any, new: Any) -> Any:
    """A shallow copy of a gradient explainer that explains `new` (a deep copy of `old`): its model and any
    layer of the old model it holds (Grad-CAM's, layer IG's) are swapped for the new model's own."""
    import copy

    torch = sys.modules["torch"]
    names = {id(mod): name for name, mod in old.named_modules()}
    made = copy.copy(explainer)
    for key, val in vars(explainer).items():
        if val is old:
            setattr(made, key, new)
        elif isinstance(val, torch.nn.Module) and id(val) in names:
            setattr(made, key, new.get_submodule(names[id(val)]))
        elif type(val).__module__.startswith("whybox.gradients") and hasattr(val, "explain"):
            setattr(made, key, _rebind(val, old, new))     # SmoothGrad's inner explainer
        elif isinstance(val, list) and key == "_taps":
            setattr(made, key, [])
    return made


def _sanity(explainer: Any, model: Any, X: Any, attribution: Attribution, seed: int, counter: list) -> CardLine:
    if not (_is_torch_model(model) and _is_gradient(explainer)):
        return _not_run("sanity", "the model-randomisation check needs a torch model and a gradient explainer")
    from .. import evaluate as ev
    check = getattr(ev, "randomization_check", None)
    if check is None:
        return CardLine("sanity", None, "not available: whybox.evaluate.randomization_check is not installed", None)

    def explain_fn(m: Any, x: Any, targets: Any) -> Any:
        return _rebind(explainer, model, m).explain(x, target=np.asarray(targets).tolist())

    res = check(explain_fn, model, X, seed=seed)
    d = to_jsonable(res.to_dict() if hasattr(res, "to_dict") else res if isinstance(res, dict) else {})
    get = (lambda k: getattr(res, k, None)) if not isinstance(res, dict) else res.get   # noqa: E731
    metric = get("verdict_metric")
    full = get("full_mean")
    value = None
    if isinstance(full, dict) and metric in full:
        value = float(full[metric])
    elif isinstance(get("correlation"), (int, float)):
        value = float(get("correlation"))
    passed = get("passed")
    verdict = get("verdict")
    if isinstance(passed, (bool, np.bool_)):
        passed = bool(passed)
    elif isinstance(verdict, str):
        passed = verdict.startswith("pass")
    else:
        passed = None
    say = (f"{'passes' if passed else 'fails'}: mean {metric or 'similarity'} between the trained and the "
           f"fully randomised model's explanations {value:.2f}" if value is not None and passed is not None
           else None)
    text = say or (verdict if isinstance(verdict, str) else "ran; see details")
    if passed is False and isinstance(verdict, str) and verdict != "fails" and verdict not in text:
        text = f"{text} ({verdict})"
    evals = (get("meta") or {}).get("model_evals") if isinstance(get("meta"), dict) else None
    if isinstance(evals, (int, np.integer)):
        counter.append(int(evals))
    return CardLine("sanity", value, text, passed, {"result": d})


# --------------------------------------------------------------------------- the card

def quality_card(explainer: Any, attribution: Attribution, model: Any, X: Any, *, baseline: Any = None,
                 seed: int = 0, checks: Sequence[str] = CHECKS, budget: dict | None = None) -> QualityCard:
    """Summarise how far `attribution` can be trusted: faithfulness (AOPC vs chance), stability (L_e / L_f),
    seed variation and the model-randomisation sanity check, one plain verdict each.

    Arguments:
      explainer    the explainer that made `attribution` (re-run for stability and seeds; its `seed` and
                   class tell a sampling method from a deterministic one)
      attribution  the `Attribution` of X to judge
      model        the model explained (anything `whybox.models.wrap` takes, or a torch module for images)
      X            the rows / images the attribution explains
      baseline     how a feature is removed for faithfulness (see `whybox.evaluate.deletion`; default mean)
      seed         seed of the random orderings and neighbours
      checks       which of "faithfulness", "stability", "seeds", "sanity" to run
      budget       overrides of DEFAULT_BUDGET (n_random, k, lipschitz_rows, lipschitz_samples, epsilon,
                   seeds, top_k, explain_kwargs)
    Each line's value: faithfulness  mean over rows of AOPC - random AOPC (> 0: better than chance);
    stability  median local Lipschitz of the explanation; seeds  relative std across seeds (0: deterministic);
    sanity  mean similarity of the explanations of the trained and the randomised model.
    Returns a `QualityCard`; `card.attach(attribution)` stores it in the attribution's meta["quality"].
    """
    if not isinstance(attribution, Attribution):
        raise InputError(f"quality_card judges an Attribution; got {type(attribution).__name__} (explain X "
                         "with the explainer first)")
    if not hasattr(explainer, "explain"):
        raise InputError(f"explainer must have .explain(X) (the explainer that made the attribution); got "
                         f"{type(explainer).__name__}")
    if isinstance(checks, str):
        checks = (checks,)
    unknown = [c for c in checks if c not in CHECKS]
    if unknown:
        raise InputError(f"unknown checks {unknown}; choose from {list(CHECKS)}")
    b = dict(DEFAULT_BUDGET)
    if budget is not None:
        if not isinstance(budget, dict):
            raise InputError(f"budget must be a dict overriding {sorted(DEFAULT_BUDGET)}; got {type(budget).__name__}")
        bad = sorted(set(budget) - set(DEFAULT_BUDGET))
        if bad:
            raise InputError(f"unknown budget keys {bad}; known: {sorted(DEFAULT_BUDGET)}")
        b.update(budget)
    for key in ("n_random", "lipschitz_rows", "lipschitz_samples", "top_k"):
        if isinstance(b[key], bool) or not isinstance(b[key], (int, np.integer)) or b[key] < 1:
            raise InputError(f"budget[{key!r}] must be a whole number >= 1, got {b[key]!r}")
    if isinstance(b["seeds"], bool) or not isinstance(b["seeds"], (int, np.integer)) or b["seeds"] < 2:
        raise InputError(f"budget['seeds'] must be a whole number >= 2 (seeds to compare), got {b['seeds']!r}")
    kwargs = _explain_kwargs(explainer, attribution, b["explain_kwargs"])
    counter: list[int] = []
    lines = []
    t0 = time.perf_counter()
    for check in checks:
        try:
            if check == "faithfulness":
                lines.append(_faithfulness(model, X, attribution, baseline, seed, b, counter))
            elif check == "stability":
                lines.append(_stability(explainer, model, X, attribution, seed, b, kwargs, counter))
            elif check == "seeds":
                lines.append(_seeds(explainer, X, attribution, b, kwargs, counter))
            else:
                lines.append(_sanity(explainer, model, X, attribution, seed, counter))
        except WhyboxError as e:          # a check that does not apply says why instead of failing the card
            lines.append(_not_run(check, str(e)))
    meta = {"method": attribution.method, "rows": int(attribution.values.shape[0]) if attribution.has_rows else 1,
            "model_evals": int(sum(counter)),
            "model_evals_note": "rows sent to the model by the card's checks (from the model's counter, else the "
                                "explainers' meta); backward passes of gradient explainers are not included",
            "seconds": round(time.perf_counter() - t0, 4), "seed": seed,
            "budget": {k: v for k, v in b.items()}, "explain_kwargs": kwargs}
    return QualityCard(tuple(lines), to_jsonable(meta))
