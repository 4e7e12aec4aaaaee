"""Compiled (numba) kernels of Tree SHAP over the flat `TreeEnsemble` arrays.

The maths, per root-to-leaf path of a tree with leaf value v:
  U   the distinct features tested on the path (d of them, "slots" in order of first use)
  z_s product of cover(child)/cover(parent) over the path's splits on slot s
  O   the slots whose every split on the path the explained row x satisfies (a bitmask)
Path-dependent Tree SHAP sees, on one path, the product game g(S) = v * prod_s (1[s in S] o_s + 1[s not in S] z_s),
whose Shapley values have a closed form in elementary symmetric polynomials e_r of {z_s : s in O}
(w(s, d) = s! (d-s-1)! / d!, Z_out = prod of z_s over slots not in O, k = |O|):
  s in O:      phi_s = v (1 - z_s) Z_out sum_t w(t, d) e_{k-1-t}(z over O minus s)
  s not in O:  phi_s = -v Z_out sum_t w(t, d) e_{k-t}(z over O)
So a leaf's contribution depends on x only through O. For shallow paths the coefficients are tabulated
for all 2^d masks once (then a row costs O(d) per leaf: the O(T L D) scheme of FastTreeSHAP v2); for
deep paths they are computed per row in O(k^2) from the polynomials. One DFS per tree and row finds O
for every leaf (a cold branch sets the split's slot bit in a "violated" mask).

Interventional Tree SHAP against background row b: leaf l is reached by the hybrid (x_S, b_-S) iff every
slot is satisfied by x (if in S) or by b (if not). With ox, ob the masks, that needs ox | ob = all slots,
and then the leaf's game is v * 1[S contains X] * 1[S avoids B], X = ox & ~ob, B = ~ox, whose Shapley
values are +v (|X|-1)! |B|! / (|X|+|B|)! on X and -v |X|! (|B|-1)! / (|X|+|B|)! on B. Background masks
are computed once per leaf and merged when equal (weights add).
"""

from __future__ import annotations

import math

import numba
import numpy as np

MAX_SLOTS = 62   # distinct features on one path (bits of an int64 mask)
MAX_DEPTH = 250  # DFS stack
BLOCK = 32       # rows that share one pass over a tree (its coefficients stay in cache)


def non_strict_thresholds(threshold: np.ndarray, strict: np.ndarray) -> np.ndarray:
    """Thresholds for a single `x <= t` test: x < t is x <= the float just below t."""
    return np.where(strict, np.nextafter(threshold, -np.inf), threshold)


@numba.njit(cache=True, inline="always")
def goes_left(x, node, feature, thr_le, default_left, categorical, cat_offsets, cat_codes):
    """The split rule of `TreeEnsemble` with non-strict thresholds; NaN and categories are rare branches."""
    v = x[feature[node]]
    if categorical[node]:
        if np.isnan(v):
            return default_left[node]
        code = int(v)
        for k in range(cat_offsets[node], cat_offsets[node + 1]):
            if cat_codes[k] == code:
                return True
        return False
    if v != v:
        return default_left[node]
    return v <= thr_le[node]


@numba.njit(cache=True, inline="always")
def next_leaf(x, st_node, st_mask, top, left, right, feature, thr_le, default_left, categorical, cat_offsets,
              cat_codes, slot):
    """One step of the depth-first walk every kernel makes: pop nodes until a leaf.

    The stack (st_node, st_mask, top) holds nodes still to visit with their "violated" masks; at a
    split both children are pushed, the child x does not take with the split's slot bit set.
    Returns (leaf, its violated-slot mask, new top). Call while top > 0: every subtree ends in a leaf.
    """
    while True:
        top -= 1
        node = st_node[top]
        vm = st_mask[top]
        lc = left[node]
        if lc < 0:
            return node, vm, top
        rc = right[node]
        gl = goes_left(x, node, feature, thr_le, default_left, categorical, cat_offsets, cat_codes)
        st_node[top] = rc if gl else lc
        st_mask[top] = vm | (np.int64(1) << slot[node])
        st_node[top + 1] = lc if gl else rc
        st_mask[top + 1] = vm
        top += 2


@numba.njit(cache=True, inline="always")
def add_to_phi(phi, i, f, c, value, node, k_out):
    """phi[i, f] += c * the leaf's value; only output k_out when the leaf feeds a single output (k_out >= 0)."""
    if k_out >= 0:
        phi[i, f, k_out] += c * value[node, k_out]
    else:
        for k in range(value.shape[1]):
            phi[i, f, k] += c * value[node, k]


@numba.njit(cache=True, inline="always")
def add_leaf(phi, i, feats, d, coef, base, value, node, k_out):
    """Add a leaf's d slot coefficients coef[base:base + d] (times its value) to the slots' features."""
    for s in range(d):
        add_to_phi(phi, i, feats[s], coef[base + s], value, node, k_out)


@numba.njit(cache=True)
def shapley_weights(dmax):
    """w[d, s] = s! (d-s-1)! / d! for 0 <= s < d <= dmax."""
    w = np.zeros((dmax + 1, dmax + 1))
    for d in range(1, dmax + 1):
        for s in range(d):
            w[d, s] = math.exp(math.lgamma(s + 1) + math.lgamma(d - s) - math.lgamma(d + 1))
    return w


@numba.njit(cache=True)
def pair_weights(dmax):
    """Interventional leaf weights: wx[a, b] = (a-1)! b! / (a+b)!, wb[a, b] = a! (b-1)! / (a+b)!."""
    wx = np.zeros((dmax + 1, dmax + 1))
    wb = np.zeros((dmax + 1, dmax + 1))
    for a in range(dmax + 1):
        for b in range(dmax + 1):
            if a + b == 0:
                continue
            total = math.lgamma(a + b + 1)
            if a > 0:
                wx[a, b] = math.exp(math.lgamma(a) + math.lgamma(b + 1) - total)
            if b > 0:
                wb[a, b] = math.exp(math.lgamma(a + 1) + math.lgamma(b) - total)
    return wx, wb


@numba.njit(cache=True, inline="always")
def popcount(m):
    c = 0
    while m:
        m &= m - 1
        c += 1
    return c


@numba.njit(cache=True)
def path_info(left, right, feature, cover, max_slots):
    """Per leaf: its distinct path features (slots) and their cover products z; per node: its slot.

    Returns (slot[N], leaf_index[N], leaf_nodes[L], leaf_depth[L], leaf_feat[L, S], leaf_z[L, S], ok).
    ok is False when a path has more than max_slots distinct features.
    """
    n = left.shape[0]
    parent = np.full(n, -1, np.int64)
    n_leaves = 0
    for i in range(n):
        if left[i] >= 0:
            parent[left[i]] = i
            parent[right[i]] = i
        else:
            n_leaves += 1
    leaf_nodes = np.empty(n_leaves, np.int64)
    leaf_index = np.full(n, -1, np.int64)
    slot = np.full(n, -1, np.int64)
    leaf_depth = np.zeros(n_leaves, np.int64)
    leaf_feat = np.full((n_leaves, max(max_slots, 1)), -1, np.int64)
    leaf_z = np.ones((n_leaves, max(max_slots, 1)))
    path = np.empty(n + 1, np.int64)
    li = 0
    ok = True
    for leaf in range(n):
        if left[leaf] >= 0:
            continue
        leaf_nodes[li] = leaf
        leaf_index[leaf] = li
        k = 0
        node = leaf
        while parent[node] >= 0:
            path[k] = node
            node = parent[node]
            k += 1
        path[k] = node
        d = 0
        for t in range(k, 0, -1):
            nd = path[t]
            child = path[t - 1]
            f = feature[nd]
            s = -1
            for q in range(d):
                if leaf_feat[li, q] == f:
                    s = q
                    break
            if s < 0:
                if d >= max_slots:
                    ok = False
                    break
                s = d
                leaf_feat[li, d] = f
                d += 1
            slot[nd] = s
            leaf_z[li, s] *= cover[child] / cover[nd] if cover[nd] > 0 else 0.0
        leaf_depth[li] = d
        li += 1
    return slot, leaf_index, leaf_nodes, leaf_depth, leaf_feat, leaf_z, ok


@numba.njit(cache=True)
def leaf_coefs(z, d, mask, w_d, z_in, e, e2, out):
    """Shapley coefficients (per unit leaf value) of the d slots of one path for follow-mask `mask`."""
    k = 0
    z_out = 1.0
    for s in range(d):
        if (mask >> s) & 1:
            z_in[k] = z[s]
            k += 1
        else:
            z_out *= z[s]
    e[0] = 1.0
    for r in range(1, k + 1):
        e[r] = 0.0
    for a in range(k):
        za = z_in[a]
        for r in range(a + 1, 0, -1):
            e[r] += za * e[r - 1]
    not_in = 0.0
    for t in range(k + 1):
        if t < d:
            not_in += w_d[t] * e[k - t]
    not_in = -z_out * not_in
    for s in range(d):
        if (mask >> s) & 1:
            zs = z[s]
            e2[0] = 1.0
            for r in range(1, k):
                e2[r] = e[r] - zs * e2[r - 1]
            acc = 0.0
            for t in range(k):
                acc += w_d[t] * e2[k - 1 - t]
            out[s] = (1.0 - zs) * z_out * acc
        else:
            out[s] = not_in


@numba.njit(cache=True, parallel=True)
def follow_masks(X, left, right, feature, thr_le, default_left, categorical, cat_offsets, cat_codes,
                 roots, slot, leaf_index, leaf_depth, n_leaves):
    """(n, L) for each row and leaf: the bitmask of path slots the row satisfies."""
    n = X.shape[0]
    masks = np.zeros((n, n_leaves), np.int64)
    for i in numba.prange(n):
        x = X[i]
        st_node = np.empty(MAX_DEPTH + 2, np.int64)
        st_mask = np.empty(MAX_DEPTH + 2, np.int64)
        for t in range(roots.shape[0]):
            st_node[0] = roots[t]
            st_mask[0] = 0
            top = 1
            while top > 0:
                node, vm, top = next_leaf(x, st_node, st_mask, top, left, right, feature, thr_le, default_left,
                                           categorical, cat_offsets, cat_codes, slot)
                li = leaf_index[node]
                masks[i, li] = ((np.int64(1) << leaf_depth[li]) - 1) & ~vm
    return masks


@numba.njit(cache=True)
def merge_masks(bg_masks, weights):
    """Per leaf, the distinct background masks with summed weights, as CSR (offsets, masks, weights)."""
    n_bg, n_leaves = bg_masks.shape
    offsets = np.zeros(n_leaves + 1, np.int64)
    out_mask = np.empty(n_bg * n_leaves, np.int64)
    out_w = np.empty(n_bg * n_leaves)
    pos = 0
    for li in range(n_leaves):
        col = bg_masks[:, li]
        order = np.argsort(col)
        prev = np.int64(-1)
        for r in range(n_bg):
            m = col[order[r]]
            if r > 0 and m == prev:
                out_w[pos - 1] += weights[order[r]]
            else:
                out_mask[pos] = m
                out_w[pos] = weights[order[r]]
                pos += 1
                prev = m
        offsets[li + 1] = pos
    return offsets, out_mask[:pos].copy(), out_w[:pos].copy()
