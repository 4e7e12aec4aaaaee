"""Anchors (Ribeiro, Singh & Guestrin, 2018): an IF-THEN rule that locks a classifier's decision at x.

An anchor A is a set of predicates x satisfies with precision(A) = P(f(z) = f(x) | z ~ D(.|A)) >= tau
and coverage(A) = P(z satisfies A | z ~ D). The search is a beam search over anchors of growing size:
at each size, KL-LUCB (`_kl_lucb.py`) picks the `beam_size` candidates with the highest precision,
and each pick is sampled until its KL confidence bounds decide it; the first size with an accepted
anchor wins, and among those the one with the highest coverage. The candidate predicates and the
perturbation distribution D(.|A) for tables and texts are in `_anchor_samplers.py`.

Accepted means: estimated precision >= tau and its (1 - delta) KL lower bound >= tau - epsilon_stop
(the acceptance rule of the paper's reference implementation, whose default slack is 0.05; ours is
0.02). `meta["meets_threshold"]` says whether the returned rule was accepted. `meta["stopped"]` says
why the search ended: "found" (an anchor was accepted), "budget" (max_evals spent), "max_size"
(max_anchor_size reached) or "exhausted" (no longer anchor to try). When it ends without an accepted
anchor, the candidate with the highest precision lower bound comes back with meets_threshold False.
Other meta: precision_lb/ub, samples (of the returned rule), model_evals (including f(x)), candidates,
samples_per_candidate, tau, delta, epsilon, seed, class_index.

The decision anchored is the class the model picks: argmax over several outputs, p >= 0.5 for one
probability, score >= 0 for one log-odds or classifier margin, and the value itself for a model that
returns integer labels. Regressors are refused: wrap a function that turns the prediction into classes.
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from .._progress import progress
from ..errors import InputError
from ..maskers.text import TextMasker
from ..models.base import Model, wrap
from ..results import Rule
from ._anchor_samplers import TabularSampler, TextSampler, quantiles_of
from ._anchor_search import AnchorSearch

__all__ = ["Anchors"]

_MODES = ("auto", "tabular", "text")


def _is_texts(X: Any) -> bool:
    if isinstance(X, str):
        return True
    if isinstance(X, (list, tuple)) or (isinstance(X, np.ndarray) and X.ndim == 1 and X.dtype.kind in "OU"):
        return len(X) > 0 and all(isinstance(t, (str, np.str_)) for t in X)
    return False


def _check_unit(name: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)) \
            or not 0 < float(value) < 1:
        raise InputError(f"{name} must be a number strictly between 0 and 1, got {value!r}")
    return float(value)


def _check_count(name: str, value: Any, minimum: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise InputError(f"{name} must be a whole number >= {minimum}, got {value!r}")
    return int(value)


class Anchors:
    """Explain a classifier's decision at one input with an anchor rule (a `Rule`).

    Arguments:
      model       anything `whybox.models.wrap` accepts (a classifier, or f(X) -> class labels)
      data        training rows (DataFrame/array): the quantiles and the perturbation distribution of
                  tabular anchors; not needed (and ignored) for text
      mode        "tabular", "text", or "auto" (text when `data` or the explained input is strings)
      masker      a `TextMasker` for text (default TextMasker("UNK"): dropped words become "UNK")
      discretize  numeric cut points: "quartile", "decile" or a list of probabilities
      threshold   tau: the precision an anchor must reach, in (0, 1)
      delta       error probability of the confidence bounds; epsilon: KL-LUCB tolerance on precision
      epsilon_stop  an anchor is accepted when precision >= tau and its lower bound >= tau - epsilon_stop
      beam_size   B: anchors kept per size
      batch_size  samples per candidate per bandit pull
      coverage_samples  size of the coverage sample drawn from D
      keep_prob   text: chance that a word outside the anchor is kept in a perturbed text
      seed        the only source of randomness: same seed, same rule
    """

    method = "anchors"

    def __init__(self, model: Any, data: Any = None, *, mode: str = "auto", masker: TextMasker | None = None,
                 discretize: str | Sequence[float] = "quartile", threshold: float = 0.95, delta: float = 0.1,
                 epsilon: float = 0.15, epsilon_stop: float = 0.02, beam_size: int = 2, batch_size: int = 100,
                 coverage_samples: int = 10_000, keep_prob: float = 0.5, seed: int = 0) -> None:
        if mode not in _MODES:
            raise InputError(f"unknown mode {mode!r}; use 'auto', 'tabular' or 'text'")
        self.threshold = _check_unit("threshold", threshold)
        self.delta = _check_unit("delta", delta)
        self.epsilon = _check_unit("epsilon", epsilon)
        if isinstance(epsilon_stop, bool) or not isinstance(epsilon_stop, (int, float)) or \
                not 0 <= epsilon_stop < self.threshold:
            raise InputError(f"epsilon_stop must be a number in [0, threshold), got {epsilon_stop!r}")
        self.epsilon_stop = float(epsilon_stop)
        self.keep_prob = _check_unit("keep_prob", keep_prob)
        self.beam_size = _check_count("beam_size", beam_size)
        self.batch_size = _check_count("batch_size", batch_size)
        self.coverage_samples = _check_count("coverage_samples", coverage_samples)
        self.quantiles = quantiles_of(discretize)
        self.discretize = discretize if isinstance(discretize, str) else list(self.quantiles)
        self.seed = int(seed)
        if masker is not None and not isinstance(masker, TextMasker):
            raise InputError(f"masker must be a TextMasker (text anchors), got {type(masker).__name__}; tabular "
                             "anchors sample from the training data: pass it as data=")
        self.model: Model = wrap(model)
        if mode == "auto":
            mode = "text" if masker is not None or (data is not None and _is_texts(data)) else (
                "tabular" if data is not None else "auto")
        if mode == "tabular" and data is None:
            raise InputError("tabular anchors need training data to discretise and sample from; pass "
                             "Anchors(model, data=X_train)")
        if mode == "tabular" and _is_texts(data):
            raise InputError("mode='tabular' was given texts as data; use mode='text' to explain texts")
        self.mode = mode
        self.masker = masker if masker is not None else TextMasker("UNK")
        self._tab: TabularSampler | None = None
        if mode == "tabular":
            train = self.model.prepare(data, what="data")
            if train.shape[0] < 2:
                raise InputError(f"data has {train.shape[0]} rows; anchors sample from the training data — pass "
                                 "at least a few hundred rows")
            schema = self.model.schema
            self._tab = TabularSampler(train, schema.names, list(schema.categories), self.quantiles,
                                       self.coverage_samples, self.seed)

    # ----------------------------------------------------------------- decisions
    def _decide(self, out: np.ndarray) -> np.ndarray:
        """The class the model picks, per row of its (n, outputs) output."""
        if out.shape[1] > 1:
            return np.argmax(out, axis=1)
        v = out[:, 0]
        space = self.model.output
        if space == "probability":
            return (v >= 0.5).astype(np.int64)
        if space == "log_odds" or (space == "raw" and hasattr(self.model.native, "classes_")):
            return (v >= 0).astype(np.int64)
        labels = np.rint(v)
        if not np.allclose(v, labels, rtol=0, atol=1e-9):
            raise InputError(f"the model returns one continuous score (e.g. {v[np.argmax(np.abs(v - labels))]:g}), "
                             "not a class; anchors explain a classifier's decision. For a regressor wrap a function "
                             "that returns classes, e.g. lambda X: (reg.predict(X) > 100).astype(int); if the "
                             "score is the probability of the positive class, pass "
                             "whybox.models.wrap(f, output='probability')")
        return labels.astype(np.int64)

    def _label(self, out: np.ndarray, k: int) -> Any:
        names = self.model.output_names
        if out.shape[1] > 1 and names is not None and len(names) == out.shape[1]:
            return names[k]
        return int(k)

    # ----------------------------------------------------------------- explain
    def explain(self, X: Any, max_evals: int = 50_000, max_anchor_size: int | None = None,
                show_progress: bool | None = None) -> Rule | list[Rule]:
        """Find the anchor of each input: a `Rule` for one row (1-D array, Series) or one text, a list of
        Rules for a table of rows (2-D array, DataFrame) or a list of texts.

        Arguments:
          X                one input or a batch (see above)
          max_evals        most model evaluations per input (perturbed samples, plus 1 for x itself)
          max_anchor_size  most predicates in the rule (None: no limit)
          show_progress    progress bar over the batch (default: when interactive)
        """
        max_evals = _check_count("max_evals", max_evals)
        if max_anchor_size is not None:
            max_anchor_size = _check_count("max_anchor_size", max_anchor_size)
        texts = _is_texts(X)
        if texts and not isinstance(X, str) and self._tab is not None and self._tab.is_cat.all() \
                and len(X) == len(self._tab.names):
            texts = False  # one row of a table whose columns are all categorical
        mode = self.mode if self.mode != "auto" else ("text" if texts else "tabular")
        if mode == "tabular":
            if texts:
                raise InputError("this Anchors explainer is tabular (built with training data) but was given "
                                 "text; build Anchors(model, mode='text') to explain texts")
            if self._tab is None:
                raise InputError("tabular anchors need training data to discretise and sample from; pass "
                                 "Anchors(model, data=X_train)")
            single = np.ndim(X) == 1
            inputs = list(self.model.prepare(X, what="X"))
        else:
            if not texts:
                raise InputError(f"this Anchors explainer is for text but was given {type(X).__name__}; pass a "
                                 "string or a list of strings, or build Anchors(model, data=X_train) for tables")
            single = isinstance(X, str)
            inputs = [X] if single else [str(t) for t in X]
        rules = [self._explain_one(x, mode, max_evals, max_anchor_size)
                 for x in progress(inputs, total=len(inputs), desc="anchors", show=show_progress)]
        return rules[0] if single else rules

    def _explain_one(self, x: Any, mode: str, max_evals: int, max_anchor_size: int | None) -> Rule:
        rng = np.random.default_rng(self.seed)  # every input sees the same stream: inputs stay independent
        evals_before = self.model.n_evals
        if mode == "tabular":
            sampler: TabularSampler | TextSampler = self._tab
            evaluate = self.model.evaluate
            out_x = evaluate(x[None, :])
        else:
            sampler = TextSampler(x, self.masker, self.keep_prob, self.coverage_samples, rng)
            evaluate = self.model.evaluate_raw
            out_x = evaluate([x])
        target = int(self._decide(out_x)[0])
        preds = sampler.predicates(x)
        search = AnchorSearch(self, sampler, x, preds, lambda z: self._decide(evaluate(z)), target, rng,
                              budget=max_evals - 1)
        search.run(len(preds) if max_anchor_size is None else min(max_anchor_size, len(preds)))
        return search.result(self._label(out_x, target), self.model.n_evals - evals_before, mode,
                             self.model.feature_names if mode == "tabular" else None)

    def __repr__(self) -> str:
        return (f"Anchors(mode={self.mode!r}, threshold={self.threshold}, delta={self.delta}, "
                f"epsilon={self.epsilon}, beam_size={self.beam_size}, seed={self.seed})")
