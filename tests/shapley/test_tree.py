"""Tree SHAP against Shapley values computed by brute force, independently of the compiled kernels."""

import itertools
import math

import numpy as np
import pytest

from whybox.errors import InputError
from whybox.models.trees import stack_trees
from whybox.shapley import ExactShapley
from whybox.shapley.tree import TreeShap

M = 5
CAT = 4  # column 4 holds category codes 0..3


def goes_left(ens, node, x):
    """The split rule, written out again for the reference."""
    v = x[ens.feature[node]]
    if np.isnan(v):
        return bool(ens.default_left[node])
    if ens.categorical[node]:
        return int(v) in ens.cat_codes[ens.cat_offsets[node]:ens.cat_offsets[node + 1]]
    return v < ens.threshold[node] if ens.strict[node] else v <= ens.threshold[node]


def grow_tree(rng, data, depth, n_out):
    nodes = {k: [] for k in ("left", "right", "feature", "threshold", "cover", "value", "strict", "default_left",
                             "categorical", "cat_sets")}

    def add(idx, d):
        i = len(nodes["left"])
        for k, v in (("left", -1), ("right", -1), ("feature", 0), ("threshold", 0.0), ("cover", float(len(idx))),
                     ("value", rng.normal(size=n_out)), ("strict", bool(rng.random() < 0.5)),
                     ("default_left", bool(rng.random() < 0.5)), ("categorical", False), ("cat_sets", [])):
            nodes[k].append(v)
        if d >= depth or len(idx) < 4 or rng.random() < 0.1:
            return i
        f = int(rng.integers(M))
        col = data[idx, f]
        if f == CAT:
            left_set = sorted(rng.choice(CAT, size=int(rng.integers(1, CAT)), replace=False).tolist())
            go = np.isin(col, left_set)
            nodes["categorical"][i], nodes["cat_sets"][i] = True, left_set
        else:
            thr = float(np.nanmedian(col))
            go = col < thr if nodes["strict"][i] else col <= thr
            nodes["threshold"][i] = thr
        go = np.where(np.isnan(col), nodes["default_left"][i], go)
        if go.all() or not go.any():
            return i
        nodes["feature"][i] = f
        nodes["left"][i] = add(idx[go], d + 1)
        nodes["right"][i] = add(idx[~go], d + 1)
        return i

    add(np.arange(len(data)), 0)
    nodes["value"] = np.array(nodes["value"])
    return nodes


def make_ensemble(seed, n_trees=3, depth=6, n_out=1):
    rng = np.random.default_rng(seed)
    data = rng.normal(size=(400, M))
    data[:, CAT] = rng.integers(0, CAT, size=400)
    data[rng.random(data.shape) < 0.08] = np.nan
    trees = [grow_tree(rng, data, depth, n_out) for _ in range(n_trees)]
    ens = stack_trees(trees, base_offset=rng.normal(size=n_out), n_outputs=n_out, n_features=M)
    X = rng.normal(size=(5, M))
    X[:, CAT] = rng.integers(0, CAT, size=5)
    X[0, 1] = np.nan
    X[1, CAT] = np.nan
    return ens, data, X


def predict(ens, x):
    out = ens.base_offset.copy()
    for root in ens.roots:
        node = root
        while ens.left[node] >= 0:
            node = ens.left[node] if goes_left(ens, node, x) else ens.right[node]
        out += ens.value[node]
    return out


def conditional(ens, x, S, node):
    """E[f | x_S] the path-dependent way: unknown features follow both children by cover."""
    if ens.left[node] < 0:
        return ens.value[node]
    if ens.feature[node] in S:
        return conditional(ens, x, S, ens.left[node] if goes_left(ens, node, x) else ens.right[node])
    lo, hi = ens.left[node], ens.right[node]
    return (ens.cover[lo] * conditional(ens, x, S, lo) + ens.cover[hi] * conditional(ens, x, S, hi)) / ens.cover[node]


def brute_shapley(v, m):
    phi = [0.0] * m
    for j in range(m):
        others = [k for k in range(m) if k != j]
        for s in range(m):
            w = math.factorial(s) * math.factorial(m - s - 1) / math.factorial(m)
            for S in itertools.combinations(others, s):
                phi[j] = phi[j] + w * (v(set(S) | {j}) - v(set(S)))
    return np.array(phi)


@pytest.mark.parametrize("seed,depth,n_out", [(0, 6, 1), (1, 4, 1), (2, 6, 2), (3, 2, 1)])
def test_path_dependent_equals_brute_force(seed, depth, n_out):
    ens, _, X = make_ensemble(seed, depth=depth, n_out=n_out)
    attr = TreeShap(ens).explain(X)
    for i, x in enumerate(X):
        ref = brute_shapley(lambda S: ens.base_offset + sum(conditional(ens, x, S, r) for r in ens.roots), M)
        np.testing.assert_allclose(attr.values[i], ref if n_out > 1 else ref[:, 0], atol=1e-10)
    out = np.array([predict(ens, x) for x in X])
    np.testing.assert_allclose(attr.output, out if n_out > 1 else out[:, 0], atol=1e-10)


def test_tables_and_per_row_coefficients_agree():
    ens, _, X = make_ensemble(4, n_trees=4)
    with_tables = TreeShap(ens).explain(np.repeat(X, 40, axis=0))  # many rows: tables are built
    without = TreeShap(ens, table_memory=0).explain(np.repeat(X, 40, axis=0))
    np.testing.assert_allclose(with_tables.values, without.values, atol=1e-12)
    bg = X[:3]
    tabulated = TreeShap(ens, background=bg)
    assert tabulated._tables_for(200)[1].max() >= 0  # tables are used at this many rows
    np.testing.assert_allclose(tabulated.explain(np.repeat(X, 40, axis=0)).values,
                               TreeShap(ens, background=bg, table_memory=0).explain(np.repeat(X, 40, axis=0)).values,
                               atol=1e-12)


@pytest.mark.parametrize("seed,n_out", [(5, 1), (6, 2)])
def test_interventional_equals_exact_shapley_with_same_background(seed, n_out):
    ens, data, X = make_ensemble(seed, n_out=n_out)
    bg = data[:9]
    attr = TreeShap(ens, background=bg).explain(X)
    exact = ExactShapley(lambda Z: ens.predict_raw(np.asarray(Z, dtype=float)), bg).explain(X)
    np.testing.assert_allclose(attr.values, exact.values, atol=1e-10)
    np.testing.assert_allclose(attr.base_values, exact.base_values, atol=1e-12)


def test_interventional_duplicate_background_rows_count_twice():
    ens, data, X = make_ensemble(7)
    bg = np.vstack([data[:3], data[:1]])
    attr = TreeShap(ens, background=bg).explain(X[:2])
    exact = ExactShapley(lambda Z: ens.predict_raw(np.asarray(Z, dtype=float)), bg).explain(X[:2])
    np.testing.assert_allclose(attr.values, exact.values, atol=1e-10)


def test_interaction_values_rows_sum_and_match_brute_force_index():
    ens, _, X = make_ensemble(8, depth=4)
    ts = TreeShap(ens)
    inter = ts.explain_interactions(X)
    np.testing.assert_allclose(inter.values.sum(axis=2), ts.explain(X).values, atol=1e-10)
    np.testing.assert_allclose(inter.values, np.swapaxes(inter.values, 1, 2), atol=1e-10)
    for i, x in enumerate(X[:2]):
        def v(S):
            return ens.base_offset[0] + sum(conditional(ens, x, S, r) for r in ens.roots)[0]
        # Shapley interaction index: 1/2 (phi_i with j present - phi_i with j absent), j a fixed player
        for a, b in [(0, 1), (2, 3), (1, 4)]:
            others = [k for k in range(M) if k not in (a, b)]
            on = brute_shapley(lambda S: v({others[k] for k in S if k < len(others)} | {b} | (
                {a} if len(others) in S else set())), len(others) + 1)[len(others)]
            off = brute_shapley(lambda S: v({others[k] for k in S if k < len(others)} | (
                {a} if len(others) in S else set())), len(others) + 1)[len(others)]
            assert inter.values[i, a, b] == pytest.approx(0.5 * (on - off), abs=1e-10)


def test_probability_output_is_additive_in_probability():
    ens, data, X = make_ensemble(9)
    ens.link = "logistic"
    attr = TreeShap(ens, background=data[:10], output="probability").explain(X)
    p = 1 / (1 + np.exp(-ens.predict_raw(X)[:, 0]))
    np.testing.assert_allclose(attr.output, np.column_stack([1 - p, p]), atol=1e-12)
    assert attr.base_values[0, 1] == pytest.approx(np.mean(1 / (1 + np.exp(-ens.predict_raw(data[:10])[:, 0]))))
    assert attr.meta["additivity_gap"] < 1e-12
    # per background row, the margin attribution rescaled by (p(x) - p(b)) / (m(x) - m(b))
    margin = TreeShap(ens, background=data[:10])
    ref = np.zeros(M)
    m_x = ens.predict_raw(X[:1])[0, 0]
    for b in data[:10]:
        m_b = ens.predict_raw(b[None])[0, 0]
        pair = TreeShap(ens, background=b[None]).explain(X[:1]).values[0]
        p_x, p_b = 1 / (1 + np.exp(-m_x)), 1 / (1 + np.exp(-m_b))
        ref += pair * ((p_x - p_b) / (m_x - m_b) if abs(m_x - m_b) > 1e-12 else p_x * (1 - p_x)) / 10
    np.testing.assert_allclose(attr.values[0, :, 1], ref, atol=1e-12)
    assert margin.explain(X).meta["additivity_gap"] < 1e-10
    with pytest.raises(InputError, match="interventional"):
        TreeShap(ens, output="probability")
