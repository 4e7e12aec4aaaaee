"""LightGBM trees -> `TreeEnsemble`.

Reads the booster's text model (`Booster.model_to_string()`, the format of a saved model file),
whose per-tree lines are flat arrays that numpy parses at once. `dump_model()` holds the same
numbers as nested dicts, which are slower to walk. The scikit-learn estimators (`LGBMClassifier`,
`LGBMRegressor`, ...) and native `lightgbm.Booster`s, including ones loaded from a file, are read
the same way.

Conventions (checked against LightGBM 4.7 in tests/models/test_tree_parsers_xgb_lgbm.py):

- Numeric splits go left when `x <= threshold` (`strict=False`), in float64 as LightGBM does.
- The zero band: LightGBM reads every non-NaN |x| <= 1e-35f (`ZERO`) as 0.0 before predicting,
  so the whole band [-ZERO, ZERO] goes one way, which can differ from a plain `x <= t` when t
  lies inside the band (LightGBM puts thresholds at +-ZERO for splits at zero). Such
  thresholds are moved to the band's edge on the side the band goes (`x <= ZERO`, or
  `x < -ZERO` with `strict=True`).
- Missing values depend on the node's missing type:
    NaN   NaN takes the default direction (`default_left`); the band goes where 0 goes.
    None  LightGBM turns NaN into 0.0, so NaN goes where 0 goes: `default_left = 0 <= threshold`.
    Zero  (zero_as_missing=True) NaN becomes 0, and the band takes the default direction. If
          that is where the band goes anyway, or the threshold lies within the band, one node
          still says it exactly. Otherwise the format cannot say "the band goes the other way
          from its neighbours" in one node, so the node is rewritten as three splits on the same
          feature, with copies of both subtrees:
              x <= t  ->  x < -ZERO  ->  x <= ZERO   (the band to the default side)
          Predictions are exact. Covers of both copies, and of the original subtrees, are halved,
          which leaves every path-dependent expectation, and so Tree SHAP, unchanged, but the
          node count and leaf ids differ from LightGBM's own.
- Categorical splits: `threshold` names a bitset of the codes that go LEFT, used as is.
  NaN, negative codes and codes outside the set go right, so categorical nodes get
  `default_left=False`. Unseen pandas categories become NaN in LightGBM, so they also go right
  (`unseen_as_missing=False`; code -1 is in no set).
- `categories` come from `pandas_categorical`, matched to the categorical feature indices
  recorded in the model's parameters.
- Leaf values are used as stored (shrinkage already applied; the first trees carry the
  boost-from-average score, so `base_offset` is 0). Random-forest mode (`average_output`)
  divides them by the number of iterations used.
- cover is `internal_count` / `leaf_count` (training rows reaching the node, after bagging),
  which is what LightGBM's own `pred_contrib` uses.
- Links: binary / cross_entropy -> logistic, multiclass -> softmax, multiclassova -> logistic
  per class, identity otherwise (including poisson/gamma/tweedie, whose `predict` is exp(margin)).
  If the sigmoid parameter is not 1, the link is identity: LightGBM's p = 1/(1+exp(-sigmoid*raw))
  is not the plain logistic of the raw score.
- Iterations: `num_iteration=None` takes what `Booster.predict` takes by default: up to
  `best_iteration` after early stopping, else all.
- Column names: LightGBM stores "income ($)" as "income_($)" (spaces -> "_"); `rename` lets a frame
  with the names the user trained on through, and LightGBM's own predict gets the stored names.
"""

from __future__ import annotations

import json
from typing import Any, Mapping, Sequence

import numpy as np

from ...errors import ModelError
from . import given_categories
from ..trees import TreeEnsemble, stack_trees

__all__ = ["parse", "supports", "why_not", "stored_name"]

#: LightGBM's kZeroThreshold (a float 1e-35 compared as double)
ZERO = float(np.float32(1e-35))

_SOFTMAX = {"multiclass", "softmax"}
_LINEAR_TREES = ("LightGBM linear_tree=True models (linear models in the leaves) are not supported by Tree SHAP; "
                 "explain them with KernelShap or PermutationShap")
_OVA = {"multiclassova", "multiclass_ova", "ova", "ovr"}


def _booster(model: Any) -> tuple[Any, Any]:
    """(native booster, scikit-learn estimator or None)."""
    if hasattr(model, "booster_") or hasattr(model, "fit"):
        try:
            return model.booster_, model
        except (ValueError, AttributeError) as e:  # (LGBM)NotFittedError is both; other failures propagate
            raise ModelError(f"{type(model).__name__} is not fitted ({e}); fit it before explaining it") from e
    if hasattr(model, "model_to_string"):
        return model, None
    raise ModelError(f"{type(model).__name__} is not a LightGBM model whybox can read; pass an LGBMClassifier, "
                     "LGBMRegressor or a lightgbm.Booster")


def why_not(model: Any) -> str | None:
    """None when `parse(model)` can read this model (a fitted booster without linear trees), else the reason.

    Only refusals (not LightGBM, not fitted, linear trees) become reasons; a failing LightGBM call propagates.
    """
    try:
        booster, _ = _booster(model)
    except ModelError as e:
        return str(e)
    if "is_linear=1" in booster.model_to_string(num_iteration=-1):
        return _LINEAR_TREES
    return None


def supports(model: Any) -> bool:
    """True when `parse(model)` can read this model: `why_not(model) is None`."""
    return why_not(model) is None


def parse(model: Any, *, num_iteration: int | None = None,
          categories: Mapping[Any, Sequence] | None = None) -> TreeEnsemble:
    """Read a fitted LightGBM model (scikit-learn API or `lightgbm.Booster`) into a `TreeEnsemble`.

    num_iteration   boosting rounds to use, as in `Booster.predict`: None takes the best iteration
                    after early stopping (else all), <= 0 takes all
    categories      {column index or name: category values in code order}, replacing what the
                    model's `pandas_categorical` says (needed when integer columns were declared
                    categorical next to pandas category columns)
    """
    booster, estimator = _booster(model)
    text = booster.model_to_string(num_iteration=num_iteration)
    header, blocks, tail = _split(text)
    if header.get("version", "v4") not in ("v2", "v3", "v4"):
        raise ModelError(f"LightGBM model format {header.get('version')!r} is not one whybox knows (v2-v4)")
    k = int(header.get("num_tree_per_iteration", "1"))
    n_features = int(header.get("max_feature_idx", "-1")) + 1
    objective_line = header.get("objective", "custom") or "custom"
    objective = objective_line.split()[0]
    average = "average_output" in header

    trees = []
    for i, block in enumerate(blocks):
        tree = _tree(block, i)
        tree["output"] = i % k
        trees.append(tree)
    if average and trees:
        n_iter = len(trees) // k
        for tree in trees:
            tree["value"] = tree["value"] / n_iter

    names = _feature_names(booster, header)
    feature_names = None if (not names or names == [f"Column_{j}" for j in range(len(names))]
                             or len(names) != n_features) else tuple(names)
    if categories is not None:
        categories = given_categories(categories, feature_names or names, n_features)
    else:
        categories = _categories(booster, header, tail, n_features)
    classes = getattr(estimator, "classes_", None) if estimator is not None else None
    owner = estimator if estimator is not None else booster

    def library_output(X: Any) -> Any:
        return owner.predict(X, raw_score=True, num_iteration=num_iteration)

    return stack_trees(trees, np.zeros(k), k, link=_link(objective, objective_line, k), n_features=n_features,
                       feature_names=feature_names, output_names=_output_names(estimator, objective, k),
                       categories=categories, unseen_as_missing=False,
                       source=f"lightgbm:{objective}" + (":rf" if average else ""),
                       classes=None if classes is None else tuple(str(c) for c in classes),
                       library_output=library_output, library_name=f"{type(owner).__name__}.predict(raw_score=True)",
                       rename=stored_name)


def stored_name(column: str) -> str:
    """The name LightGBM stores a column under: its C++ `set_feature_names` turns each space into "_" (and
    refuses JSON's special characters), so a frame named as in training is found by `TreeEnsemble.align`."""
    return str(column).replace(" ", "_")


def _feature_names(booster: Any, header: dict[str, str]) -> list[str]:
    """The booster's column names as LightGBM reports them (the model text splits names on whitespace)."""
    names = booster.feature_name() if hasattr(booster, "feature_name") else None
    return [str(n) for n in names] if names else header.get("feature_names", "").split()


# ---------------------------------------------------------------------------- text model

def _split(text: str) -> tuple[dict[str, str], list[dict[str, str]], str]:
    """(header key=values, one key=value dict per tree, the rest of the file)."""
    head, _, rest = text.partition("\nTree=")
    header = _pairs(head)
    for line in head.splitlines():
        if "=" not in line and line.strip():
            header[line.strip()] = ""
    trees_part, _, tail = ("Tree=" + rest).partition("end of trees")
    blocks = []
    for chunk in trees_part.split("Tree=")[1:]:
        blocks.append(_pairs(chunk))
    return header, blocks, tail


def _pairs(chunk: str) -> dict[str, str]:
    out = {}
    for line in chunk.splitlines():
        key, sep, value = line.partition("=")
        if sep:
            out[key.strip()] = value.strip()
    return out


def _floats(s: str) -> np.ndarray:
    return np.array(s.split(), dtype=np.float64) if s else np.zeros(0)


def _ints(s: str) -> np.ndarray:
    return np.array(s.split(), dtype=np.int64) if s else np.zeros(0, dtype=np.int64)


def _tree(block: dict[str, str], index: int) -> dict:
    if block.get("is_linear", "0") not in ("0", ""):
        raise ModelError(_LINEAR_TREES)
    n_leaves = int(block["num_leaves"])
    leaf_value = _floats(block.get("leaf_value", ""))
    leaf_count = _floats(block.get("leaf_count", ""))
    if len(leaf_count) != n_leaves:
        leaf_count = np.zeros(n_leaves)
    n_inner = n_leaves - 1
    n = n_inner + n_leaves
    if n_inner == 0:
        return dict(left=[-1], right=[-1], feature=[-1], threshold=[0.0], cover=leaf_count, value=leaf_value,
                    strict=[False], default_left=[True], categorical=[False])

    feature = _ints(block["split_feature"])
    threshold = _floats(block["threshold"])
    dtype = _ints(block["decision_type"])
    lc, rc = _ints(block["left_child"]), _ints(block["right_child"])
    internal_count = _floats(block.get("internal_count", ""))
    if len(internal_count) != n_inner:
        internal_count = np.zeros(n_inner)

    def node_id(c: np.ndarray) -> np.ndarray:  # LightGBM: >= 0 inner node, ~leaf for leaves
        return np.where(c >= 0, c, n_inner + ~c)

    left = np.full(n, -1, dtype=np.int64)
    right = np.full(n, -1, dtype=np.int64)
    left[:n_inner], right[:n_inner] = node_id(lc), node_id(rc)
    feat = np.full(n, -1, dtype=np.int64)
    feat[:n_inner] = feature
    thr = np.zeros(n)
    thr[:n_inner] = threshold
    cover = np.concatenate([internal_count, leaf_count])
    value = np.concatenate([np.zeros(n_inner), leaf_value])

    categorical = np.zeros(n, dtype=bool)
    categorical[:n_inner] = (dtype & 1).astype(bool)
    dleft = (dtype & 2).astype(bool)
    missing = (dtype >> 2) & 3
    if np.any(missing == 3):
        raise ModelError(f"LightGBM tree {index}: unknown missing type 3 in decision_type")
    num = ~categorical[:n_inner]
    # LightGBM reads every |x| <= ZERO as 0.0 (the "zero band"), and NaN as 0.0 unless the missing
    # type is NaN. The band goes where 0 goes (0 <= t), or the default way for missing type Zero.
    band_left = np.where(missing == 1, dleft, threshold >= 0.0)
    nan_left = np.where(missing == 2, dleft, band_left)
    in_band = (threshold >= -ZERO) & (threshold < ZERO)
    default_left = np.zeros(n, dtype=bool)
    strict = np.zeros(n, dtype=bool)
    default_left[:n_inner] = nan_left & num
    # a threshold inside the band: move it to the band's edge on the side the band goes
    moved = num & in_band
    thr[:n_inner] = np.where(moved, np.where(band_left, ZERO, -ZERO), threshold)
    strict[:n_inner] = moved & ~band_left
    # the band goes against its neighbours (only with missing type Zero): one node cannot say it
    rewrite = np.flatnonzero(num & ~in_band & ((threshold >= ZERO) != band_left))

    cat_sets = None
    if categorical.any():
        bounds = _ints(block["cat_boundaries"])
        words = np.array(block["cat_threshold"].split(), dtype=np.uint64).astype(np.uint32)
        cat_sets = [None] * n
        for node in np.flatnonzero(categorical[:n_inner]):
            idx = int(threshold[node])
            bits = np.unpackbits(words[bounds[idx]:bounds[idx + 1]].astype("<u4").view(np.uint8),
                                 bitorder="little")
            cat_sets[node] = np.flatnonzero(bits).tolist()
            thr[node] = 0.0

    tree = dict(left=left, right=right, feature=feat, threshold=thr, strict=strict, default_left=default_left,
                categorical=categorical, cover=cover, value=value)
    if cat_sets is not None:
        tree["cat_sets"] = cat_sets
    if len(rewrite):
        _band_to_default(tree, rewrite)
    return tree


# ---------------------------------------------------------------------------- missing type Zero

def _band_to_default(tree: dict, nodes: np.ndarray) -> None:
    """Rewrite nodes `x <= t` whose zero band goes the other way from its neighbours into three
    splits on the same feature, with copies of both subtrees (see the module docstring)."""
    cols = {k: list(np.asarray(tree[k])) for k in ("left", "right", "feature", "threshold", "strict",
                                                    "default_left", "categorical", "cover", "value")}
    sets = tree.get("cat_sets") or [None] * len(cols["left"])
    sets = list(sets)

    def add(**kw: Any) -> int:
        for k in cols:
            cols[k].append(kw[k])
        sets.append(kw.get("cat_set"))
        return len(cols["left"]) - 1

    def scale(node: int, f: float) -> None:
        stack = [node]
        while stack:
            m = stack.pop()
            cols["cover"][m] *= f
            if cols["left"][m] >= 0:
                stack.extend((cols["left"][m], cols["right"][m]))

    def copy(node: int) -> int:
        kids = (copy(cols["left"][node]), copy(cols["right"][node])) if cols["left"][node] >= 0 else (-1, -1)
        return add(left=kids[0], right=kids[1], **{k: cols[k][node] for k in cols if k not in ("left", "right")},
                   cat_set=sets[node])

    for node in sorted((int(v) for v in nodes), reverse=True):  # children have larger ids: copy rewritten subtrees
        f, t = cols["feature"][node], cols["threshold"][node]
        lo, hi = cols["left"][node], cols["right"][node]
        lo2, hi2 = copy(lo), copy(hi)
        for m in (lo, hi, lo2, hi2):
            scale(m, 0.5)
        c_lo, c_hi = cols["cover"][lo], cols["cover"][hi]
        split = dict(feature=f, categorical=False, value=0.0)
        if t >= ZERO:  # zero lies left of t but must go right (the default)
            n3 = add(left=hi2, right=lo2, threshold=ZERO, strict=False, default_left=False, cover=c_lo + c_hi,
                     **split)
            n2 = add(left=lo, right=n3, threshold=-ZERO, strict=True, default_left=False, cover=2 * c_lo + c_hi,
                     **split)
            cols["left"][node], cols["default_left"][node] = n2, False
        else:  # t < -ZERO: zero lies right of t but must go left (the default)
            n3 = add(left=lo2, right=hi2, threshold=ZERO, strict=False, default_left=True, cover=c_lo + c_hi,
                     **split)
            n2 = add(left=hi, right=n3, threshold=-ZERO, strict=True, default_left=True, cover=c_lo + 2 * c_hi,
                     **split)
            cols["right"][node], cols["default_left"][node] = n2, True
        cols["strict"][node] = False
    for k, v in cols.items():
        tree[k] = np.asarray(v)
    if any(s is not None for s in sets):
        tree["cat_sets"] = sets


# ---------------------------------------------------------------------------- model-level facts

def _categories(booster: Any, header: dict, tail: str, n_features: int) -> dict[int, list]:
    pandas_cats = getattr(booster, "pandas_categorical", None)
    if pandas_cats is None:
        _, sep, rest = tail.partition("pandas_categorical:")
        if sep:
            try:
                pandas_cats = json.loads(rest.strip().splitlines()[0])
            except (ValueError, IndexError):
                pandas_cats = None
    if not pandas_cats:
        return {}
    cat_features = _categorical_features(header, tail, n_features)
    if len(cat_features) != len(pandas_cats):
        raise ModelError(f"LightGBM model lists {len(pandas_cats)} pandas categorical columns but "
                         f"{len(cat_features)} categorical features ({cat_features}); whybox cannot tell which "
                         "column each category list belongs to: build the ensemble with "
                         "whybox.models.tree_parsers.lightgbm.parse(model, categories={column: [values in code "
                         "order]}) and explain that")
    return {j: list(values) for j, values in zip(cat_features, pandas_cats)}


def _categorical_features(header: dict, tail: str, n_features: int) -> list[int]:
    """Indices of the categorical features, in order: from the saved parameters, else from feature_infos."""
    _, sep, rest = tail.partition("[categorical_feature:")
    if sep:
        spec = rest.split("]", 1)[0].strip()
        if spec:
            try:
                return sorted({int(v) for v in spec.split(",") if v.strip()})
            except ValueError:
                pass  # names: fall through to feature_infos
    infos = header.get("feature_infos", "").split()
    return [j for j, info in enumerate(infos[:n_features]) if info != "none" and not info.startswith("[")]


def _link(objective: str, line: str, k: int) -> str:
    sigmoid = 1.0
    for part in line.split()[1:]:
        key, _, value = part.partition(":")
        if key == "sigmoid":
            sigmoid = float(value)
    if objective in _SOFTMAX:
        return "softmax"
    if objective in ("cross_entropy", "xentropy"):
        return "logistic"
    if objective == "binary" or objective in _OVA:
        return "logistic" if sigmoid == 1.0 else "identity"  # p = 1 / (1 + exp(-sigmoid * raw))
    return "identity"


def _output_names(estimator: Any, objective: str, k: int) -> tuple[str, ...] | None:
    classes = getattr(estimator, "classes_", None) if estimator is not None else None
    if objective in _SOFTMAX or objective in _OVA:
        if classes is not None and len(classes) == k:
            return tuple(str(c) for c in classes)
        return tuple(str(i) for i in range(k))
    if objective == "binary":
        if classes is not None and len(classes) == 2:
            return (str(classes[1]),)
        return ("1",)
    if k == 1:
        return ("prediction",)
    return None
