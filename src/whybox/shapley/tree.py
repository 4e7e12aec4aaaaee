"""Tree SHAP: exact Shapley values of tree ensembles in polynomial time, compiled with numba.

Two definitions of "removing" a feature:
  path-dependent (no background)  a removed feature sends the row down both children, weighted by the
                                  training cover (the conditional expectation the trees themselves encode);
                                  this is what XGBoost, LightGBM and CatBoost compute natively.
  interventional (background)     a removed feature takes background values; equal to the brute-force
                                  interventional Shapley values of `ExactShapley` with the same background.

Which algorithm, and why (see `_tree_common.py` for the maths): on one root-to-leaf path the
path-dependent game is a product game, so a leaf's contribution depends on the explained row only
through the bitmask of path features the row follows. Shallow leaves get a table of coefficients for all
2^d masks, built once and cached (FastTreeSHAP v2's precomputation: O(T L D) per row instead of the
O(T L D^2) of the original algorithm); deeper leaves compute the coefficients per row from elementary
symmetric polynomials in O(k^2), k the number of path features the row follows, which avoids v2's
exponential memory. Linear TreeSHAP reaches O(T L D) without tables but through polynomial arithmetic
with larger constants; GPUTreeShap's path decomposition is what the per-leaf mask formulation mirrors,
on CPU. Interventional values use per-leaf background masks, merged when equal, so a row costs one pass
over each leaf's distinct background patterns instead of one tree traversal per background row.
Interaction values condition each path on one of its features (on minus off, halved), O(d^3) per leaf.
Everything runs in numba, parallel over rows, with no Python loop over rows or nodes.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import numpy as np
import pandas as pd

from ..errors import InputError, ModelError
from ..models.schema import TabularSchema
from ..models.trees import TreeEnsemble
from ..results import Attribution, Interactions
from . import _tree_common as C
from . import _tree_interventional as I
from . import _tree_path as P
from ._additivity import TOLERANCE, additivity_meta

__all__ = ["TreeShap", "supports"]

#: default memory for cached coefficient tables (bytes)
TABLE_MEMORY = 256 * 2 ** 20
#: deepest path (distinct features) that gets a table
TABLE_MAX_DEPTH = 12


def supports(model: Any) -> bool:
    """True when TreeShap can read this model."""
    if isinstance(model, TreeEnsemble):
        return True
    from ..models.tree_parsers import supports as parser_supports
    return parser_supports(model)


class TreeShap:
    """Exact Shapley values for tree ensembles (scikit-learn, XGBoost, LightGBM, CatBoost).

    Arguments:
      model         a fitted tree model, or a `TreeEnsemble`
      background    None: path-dependent Tree SHAP; rows (DataFrame/array): interventional Tree SHAP
      output        "raw" (the margin; "auto" and "log_odds" for a logistic model mean the same) or
                    "probability": for forests (whose trees average class probabilities) the same as "raw",
                    one column per class; for a binary logistic model (interventional only) each background
                    row's margin attribution is rescaled by (p(x) - p(b)) / (m(x) - m(b)), additive in
                    probability, as shap does, and the result has two columns (p0, p1)
      table_memory  bytes allowed for cached per-leaf coefficient tables (0 disables them)
      check_additivity  True (default): base_values + values.sum(features) must equal the output the model's
                    own library computes (decision_function, predict_proba, predict(output_margin=True),
                    raw_score, RawFormulaVal) on the explained rows, and the base value its mean over the
                    background, or `AdditivityError` is raised; False: the gap is only recorded in meta
    """

    method = "tree_shap"

    def __init__(self, model: Any, background: Any = None, *, output: str = "raw",
                 table_memory: int = TABLE_MEMORY, seed: int | None = None, check_additivity: bool = True) -> None:
        self.ensemble = model if isinstance(model, TreeEnsemble) else TreeEnsemble.from_model(model)
        ens = self.ensemble
        self.check_additivity = bool(check_additivity)
        self.output, self.rescale = _output_space(ens, output, background is not None)
        self.table_memory = int(table_memory)
        self.rounding = float(ens.sum_tolerance().max())   # how far the library's own sum may round
        # the kernels' split arrays: thresholds made non-strict so a split is one `x <= t` test
        self.split_arrays = (ens.left, ens.right, ens.feature, C.non_strict_thresholds(ens.threshold, ens.strict),
                             ens.default_left, ens.categorical, ens.cat_offsets, ens.cat_codes)
        max_slots = min(max(ens.n_features, 1), max(ens.max_depth, 1), C.MAX_SLOTS)
        if ens.max_depth > C.MAX_DEPTH:
            raise ModelError(f"a tree is {ens.max_depth} levels deep; Tree SHAP supports up to {C.MAX_DEPTH}")
        (self.slot, self.leaf_index, self.leaf_nodes, self.leaf_depth, self.leaf_feat, self.leaf_z,
         ok) = C.path_info(ens.left, ens.right, ens.feature, ens.cover, max_slots)
        if not ok:
            raise ModelError(f"a path tests more than {C.MAX_SLOTS} distinct features; not supported")
        self.weights = C.shapley_weights(self.leaf_feat.shape[1] + 1)
        nz = ens.value != 0
        self.leaf_out = np.where(nz.sum(axis=1) == 1, nz.argmax(axis=1), -1).astype(np.int64)
        self._tables: tuple[int, np.ndarray, np.ndarray] | None = None
        self.background = None
        if background is None:
            leaf_values = ens.value[self.leaf_nodes]
            reach = np.prod(self.leaf_z, axis=1)
            self.expected_value = ens.base_offset + reach @ leaf_values
            self.mode = "path_dependent"
        else:
            self.mode = "interventional"
            bg = ens.encode(background)
            if bg.shape[0] == 0:
                raise InputError("the background is empty; pass at least one row")
            self.background = bg
            self.bg_weight = np.full(bg.shape[0], 1.0 / bg.shape[0])
            self.bg_masks = C.follow_masks(bg, *self.split_arrays, ens.roots, self.slot, self.leaf_index,
                                           self.leaf_depth, len(self.leaf_nodes))
            self.merged = C.merge_masks(self.bg_masks, self.bg_weight)
            self.pair_wx, self.pair_wb = C.pair_weights(self.leaf_feat.shape[1] + 1)
            self.bg_margin = ens.margin(bg)
            self.background_check = self._check(self.bg_margin, background, bg, "the background rows (whose mean "
                                                "output is the base value)")
            if self.rescale:
                self.expected_value = self.bg_weight @ _link(self.bg_margin, ens.link)
            else:
                self.expected_value = self.bg_weight @ self.bg_margin

    # ------------------------------------------------------------------ helpers
    def _tables_for(self, n_rows: int) -> tuple[np.ndarray, np.ndarray]:
        """Cached coefficient tables for leaves shallow enough that tabulating pays off for n_rows rows."""
        # a table costs about 2^d row-evaluations of a leaf to build: worth it when 2^d <= n_rows / 2
        depth_cap = int(min(TABLE_MAX_DEPTH, np.floor(np.log2(max(n_rows, 1))) - 1))
        if self.table_memory <= 0:
            depth_cap = 0
        if self._tables is not None and self._tables[0] >= depth_cap:
            return self._tables[1], self._tables[2]
        d = self.leaf_depth
        sizes = np.where(d <= depth_cap, (1 << np.minimum(d, 62)) * d, 0)
        # shallowest leaves first until the memory budget is spent
        order = np.argsort(d, kind="stable")
        cum = np.cumsum(sizes[order]) * 8
        chosen = np.zeros(len(d), dtype=bool)
        chosen[order[(cum <= self.table_memory) & (sizes[order] > 0)]] = True
        offsets = np.full(len(d), -1, dtype=np.int64)
        offsets[chosen] = np.concatenate([[0], np.cumsum(sizes[chosen])[:-1]]) if chosen.any() else []
        total = max(int(sizes[chosen].sum()), 1)
        if self.mode == "path_dependent":
            table = P.build_tables(self.leaf_depth, self.leaf_z, self.weights, offsets, total)
        else:
            merged_offsets, masks, weights = self.merged
            table = I.build_interventional_tables(self.leaf_depth, merged_offsets, masks, weights, self.pair_wx,
                                                  self.pair_wb, offsets, total)
        self._tables = (depth_cap, table, offsets)
        return table, offsets

    def _encode(self, X: Any) -> tuple[np.ndarray, np.ndarray]:
        """(codes for the kernels, the rows as data for the result: categories kept as values)."""
        x = self.ensemble.encode(X)
        if not isinstance(X, pd.DataFrame):
            return x, x
        X = self.ensemble.align(X)
        return x, TabularSchema.from_data(X).to_array(X, what="X")

    def _check(self, values: np.ndarray, X: Any, codes: np.ndarray, what: str, reconstructed: bool = False) -> dict:
        """Compare margins (or base + sum of values, in the explained space) with the library's own output.

        values  (n, K) whybox's margins of X, or with `reconstructed` base + values.sum(features)
        X       the same rows as the user gave them (the library reads them its own way)
        codes   the same rows encoded, for an ensemble without a library model to ask
        """
        ens = self.ensemble
        library = ens.library_margin(X)
        if library is None:
            name = "whybox's reading of the trees: a TreeEnsemble was given, there is no library model to ask"
            library = ens.margin(codes)
        else:
            name = ens.library_name
        reference = _link(library, ens.link) if (reconstructed and self.rescale) else library
        tolerance = TOLERANCE * np.maximum(1.0, np.abs(reference).max(axis=1, initial=0.0)) + self.rounding
        causes = ["whybox read the trees differently from how the library predicts with them: categories "
                  "(unseen or re-encoded values), missing values, or float32 thresholds",
                  "the model is not (only) a sum of its trees: a subclass or wrapper that changes its output, a "
                  "non-constant init estimator, a custom objective",
                  "the output space: the library's margin was compared with a probability or the reverse"]
        return additivity_meta(values, reference, method=f"TreeShap ({what})", reference_name=name,
                               causes=causes, check=self.check_additivity, tolerance=tolerance, relative=False)

    def _result(self, values: np.ndarray, data: np.ndarray, X: Any, codes: np.ndarray) -> Attribution:
        """The Attribution, checked against the model's own output on X (margin or probability)."""
        ens = self.ensemble
        n = values.shape[0]
        base = np.repeat(np.atleast_1d(self.expected_value)[None, :], n, axis=0)
        checked = self._check(base + values.sum(axis=1), X, codes, "the explained rows", reconstructed=True)
        if self.background is not None:
            checked["additivity_gap_background"] = self.background_check["additivity_gap"]
        onames = ens.output_names
        if self.output == "probability" and ens.n_outputs == 1:   # only logistic (see _output_space)
            # two columns (p0, p1), as whybox.models.wrap gives a binary classifier's probabilities
            values = np.concatenate([-values, values], axis=-1)
            base = np.concatenate([1.0 - base, base], axis=-1)
            onames = ens.classes if ens.classes and len(ens.classes) == 2 else \
                ("0", onames[0] if onames else "1")
        k = values.shape[-1]
        names = ens.column_names(X) or tuple(f"x{i}" for i in range(ens.n_features))   # the user's names
        meta = {"mode": self.mode, "output": self.output, "model": ens.source, "trees": ens.n_trees,
                "link": ens.link, "model_evals": int(n), **checked}
        if self.background is not None:
            meta["background_rows"] = int(self.background.shape[0])
        if k == 1:
            return Attribution(values=values[..., 0], base_values=base[:, 0], data=data, feature_names=names,
                               method=self.method, meta=meta)
        return Attribution(values=values, base_values=base, data=data, feature_names=names,
                           output_names=onames if onames and len(onames) == k else None, method=self.method,
                           meta=meta, has_outputs=True)

    # ------------------------------------------------------------------ explain
    def explain(self, X: Any) -> Attribution:
        """Shapley values of each row: base_values + values.sum(features) equals the explained output."""
        ens = self.ensemble
        x, data = self._encode(X)
        arrays = (*self.split_arrays, ens.roots, self.slot, self.leaf_index)
        if self.mode == "path_dependent":
            table, offsets = self._tables_for(x.shape[0])
            phi = P.path_dependent(x, *arrays, self.leaf_depth, self.leaf_feat, self.leaf_z, ens.value,
                                   self.leaf_out, self.weights, table, offsets, ens.n_features)
        elif not self.rescale:
            offs, masks, wts = self.merged
            table, offsets = self._tables_for(x.shape[0])
            phi = I.interventional(x, *arrays, self.leaf_nodes, self.leaf_depth, self.leaf_feat, ens.value,
                                   self.leaf_out, offs, masks, wts, self.pair_wx, self.pair_wb, table, offsets,
                                   ens.n_features)
        else:
            m_x, bg = ens.margin(x)[:, 0], self.bg_margin[:, 0]
            diff = m_x[:, None] - bg[None, :]
            p_x, p_b = _link(m_x, ens.link), _link(bg, ens.link)
            slope = _link_slope(m_x, ens.link)
            safe = np.abs(diff) > 1e-12
            scale = np.where(safe, (p_x[:, None] - p_b[None, :]) / np.where(safe, diff, 1.0), slope[:, None])
            scale = scale * self.bg_weight[None, :]
            phi = I.interventional_pairs(x, *arrays, self.leaf_depth, self.leaf_feat,
                                         np.ascontiguousarray(ens.value[:, 0]), self.bg_masks, self.pair_wx,
                                         self.pair_wb, ens.n_features, scale)[:, :, None]
        return self._result(phi, data, X, x)

    def explain_interactions(self, X: Any) -> Interactions:
        """SHAP interaction values (path-dependent): (n, M, M[, outputs]); each row sums to the SHAP value."""
        if self.mode != "path_dependent":
            raise InputError("interaction values are computed path-dependently: create TreeShap(model) without "
                             "a background to get them")
        ens = self.ensemble
        x, data = self._encode(X)
        inter = P.path_dependent_interactions(x, *self.split_arrays, ens.roots, self.slot, self.leaf_index,
                                              self.leaf_depth, self.leaf_feat, self.leaf_z, ens.value,
                                              self.weights, ens.n_features)
        attr = self.explain(X)           # the SHAP values, checked against the library's own output
        phi = attr.values if attr.has_outputs else attr.values[..., None]
        sums = additivity_meta(inter.sum(axis=2), phi, method="TreeShap.explain_interactions",
                               reference_name="the SHAP values of the same rows (each row of a feature's "
                               "interactions sums to its SHAP value)", causes=["a bug in the interaction kernel"],
                               check=self.check_additivity)
        attr = replace(attr, meta={**attr.meta, "interaction_sum_gap": sums["additivity_gap"]})
        values = inter if attr.has_outputs else inter[..., 0]
        return Interactions(values=values, base_values=attr.base_values, data=data, feature_names=attr.feature_names,
                            output_names=attr.output_names, method="tree_shap_interactions", meta=attr.meta,
                            has_outputs=attr.has_outputs)


def _output_space(ens: TreeEnsemble, output: str, interventional: bool) -> tuple[str, bool]:
    """("raw" or "probability", whether margins are rescaled into probabilities) for a requested output."""
    if output not in ("auto", "raw", "log_odds", "probability"):
        raise InputError(f"TreeShap explains output 'raw' (margin), 'log_odds' or 'probability', not {output!r}")
    if output == "log_odds" and ens.link != "logistic":
        raise InputError(f"output='log_odds' needs a logistic model; this one ({ens.source}) has link {ens.link!r}: "
                         "use 'raw'" + (" or 'probability'" if ens.classes and ens.link == "identity" else ""))
    if output != "probability":
        return "raw", False
    if ens.link == "identity" and ens.classes is not None:
        return "probability", False          # forests average class probabilities: their raw output
    if ens.link == "logistic" and ens.n_outputs == 1:
        if not interventional:
            raise InputError("probability output of a boosted model needs the interventional path: pass "
                             "background=... rows")
        return "probability", True
    if ens.link == "softmax":
        raise InputError("probability output of a multi-class (softmax) model is not supported by Tree SHAP; "
                         "explain output='raw' (per-class margins) or use KernelShap")
    raise InputError(f"this model ({ens.source}, link {ens.link!r}) has no class probabilities; explain "
                     "output='raw'")


def _link(m: np.ndarray, link: str) -> np.ndarray:
    if link == "logistic":
        return 1.0 / (1.0 + np.exp(-m))
    return m


def _link_slope(m: np.ndarray, link: str) -> np.ndarray:
    if link == "logistic":
        p = _link(m, link)
        return p * (1 - p)
    return np.ones_like(m)
