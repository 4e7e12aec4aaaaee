"""Adverse-action reason codes: the features that pushed one decision toward the adverse outcome the most.

For an explained row with contributions phi_j to the favourable score (approval probability or
log-odds), the adverse contributions are -phi_j (or +phi_j when the adverse outcome is the higher
score). Features that share a code are pooled (their contributions added), the pooled codes with a
positive adverse contribution are ranked, and the first `top` are stated, as a US adverse-action
notice states its principal reasons.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping

import numpy as np

from ..errors import InputError
from ..results import Attribution
from ..results._format import format_value

__all__ = ["Reason", "reason_codes"]

DEFAULT_TEXT = "{feature} ({value}) counted against the application"


@dataclass(frozen=True)
class Reason:
    """One principal reason of an adverse decision.

    rank          1 for the strongest reason
    code          the code from the user's table (default: the feature's name)
    text          the sentence, with {feature} and {value} filled in
    features      the features pooled under this code
    contribution  how far they moved the score toward the adverse outcome (positive), in the score's units
    values        the applicant's value of each pooled feature
    """

    rank: int
    code: str
    text: str
    features: tuple[str, ...]
    contribution: float
    values: tuple[Any, ...]

    def __str__(self) -> str:
        return f"{self.rank}. [{self.code}] {self.text}"


def _entry(codes: Mapping[str, Any] | None, feature: str) -> tuple[str, str]:
    """(code, sentence template) for a feature from the user's table, or the defaults."""
    if codes is None or feature not in codes:
        return feature, DEFAULT_TEXT
    e = codes[feature]
    if isinstance(e, str):
        return feature, e
    if isinstance(e, Mapping):
        if "code" not in e:
            raise InputError(f"codes[{feature!r}] is a dict without a 'code'; give {{'code': ..., 'text': ...}}")
        return str(e["code"]), str(e.get("text", DEFAULT_TEXT))
    if isinstance(e, (tuple, list)) and len(e) == 2:
        return str(e[0]), str(e[1])
    raise InputError(f"codes[{feature!r}] must be a sentence, a (code, sentence) pair or {{'code', 'text'}}; "
                     f"got {e!r}")


def _one_row(values: np.ndarray, data: np.ndarray | None, names: tuple[str, ...], codes: Mapping[str, Any] | None,
             top: int, sign: float) -> list[Reason]:
    pooled: dict[str, dict] = {}
    for j, name in enumerate(names):
        code, template = _entry(codes, name)
        p = pooled.setdefault(code, {"code": code, "template": template, "features": [], "values": [], "adverse": 0.0})
        p["features"].append(name)
        p["values"].append(None if data is None else data[j])
        p["adverse"] += sign * float(values[j])
    ranked = sorted((p for p in pooled.values() if p["adverse"] > 0), key=lambda p: -p["adverse"])
    out = []
    for rank, p in enumerate(ranked[:top], 1):
        code = p["code"]
        shown = ", ".join(format_value(v) for v in p["values"]) if data is not None else "its value"
        try:
            text = p["template"].format(feature=" and ".join(p["features"]), value=shown)
        except (KeyError, IndexError) as e:
            raise InputError(f"the sentence for code {code!r} uses an unknown placeholder {e}; only {{feature}} "
                             "and {value} are filled in") from None
        out.append(Reason(rank=rank, code=code, text=text, features=tuple(p["features"]),
                          contribution=p["adverse"], values=tuple(p["values"])))
    return out


def reason_codes(attribution: Attribution, codes: Mapping[str, Any] | None = None, top: int = 4, *,
                 output: int | str | None = None, adverse: str = "decrease",
                 row: int | None = None) -> list[Reason] | list[list[Reason]]:
    """The principal reasons for an adverse decision, strongest first, from any `Attribution`.

    Arguments:
      attribution  contributions to the score (e.g. approval log-odds from TreeShap, LIME weights)
      codes        feature -> sentence, (code, sentence) or {"code": ..., "text": ...}; sentences may use
                   {feature} and {value}; features sharing a code are pooled. Default: the feature's name
                   as code and "<feature> (<value>) counted against the application"
      top          most reasons stated per decision (4, as adverse-action practice asks)
      output       which output to read when the attribution has several (e.g. "approved" or 1)
      adverse      "decrease": the adverse outcome is a lower score (the attribution explains approval);
                   "increase": it is a higher score (the attribution explains denial or risk)
      row          one row of a batch; None: every row
    Returns a list of `Reason` for one row, or one such list per row for a batch. Features that helped
    the applicant are never stated; a decision with no adverse contribution gets an empty list.
    """
    if not isinstance(attribution, Attribution):
        raise InputError(f"reason_codes reads an Attribution, got {type(attribution).__name__}")
    if isinstance(top, bool) or not isinstance(top, (int, np.integer)) or top < 1:
        raise InputError(f"top must be a whole number >= 1, got {top!r}")
    if adverse not in ("decrease", "increase"):
        raise InputError(f"adverse must be 'decrease' (the attribution explains the favourable score) or "
                         f"'increase' (it explains the adverse score), got {adverse!r}")
    a = attribution
    if a.has_outputs:
        if output is None:
            names = a.output_names if isinstance(a.output_names, tuple) else list(range(a.values.shape[-1]))
            raise InputError(f"this attribution has {a.values.shape[-1]} outputs {list(names)}; say which "
                             f"score the decision is about, e.g. output={names[-1]!r}")
        a = a[..., output]
    elif output is not None and output not in (0, a.output_names):
        raise InputError(f"output={output!r} given, but this attribution has a single output; leave it out")
    if a.mask is not None:
        raise InputError("reason codes are for tables; this attribution is a padded text batch")
    if a.feature_ndim != 1:
        raise InputError("reason codes need one value per named feature (a table); this attribution has "
                         f"{a.feature_ndim} feature axes")
    if row is not None:
        if not a.has_rows:
            raise InputError("row= picks a row of a batch, but this attribution is a single row already")
        a = a[row]
    if codes is not None and not isinstance(codes, Mapping):
        raise InputError(f"codes must be a mapping feature -> sentence or (code, sentence), got "
                         f"{type(codes).__name__}")
    if codes is not None and isinstance(a.feature_names, tuple):
        unknown = [f for f in codes if f not in a.feature_names]
        if unknown:
            raise InputError(f"codes name features the attribution does not have: {unknown}; its features are "
                             f"{list(a.feature_names)}")
    sign = -1.0 if adverse == "decrease" else 1.0
    n_feat = a.values.shape[-1]
    names = a.feature_names if isinstance(a.feature_names, tuple) else tuple(f"f{j}" for j in range(n_feat))
    if not a.has_rows:
        return _one_row(a.values, a.data, names, codes, int(top), sign)
    return [_one_row(a.values[i], None if a.data is None else a.data[i], names, codes, int(top), sign)
            for i in range(a.values.shape[0])]
