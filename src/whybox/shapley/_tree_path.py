"""Path-dependent Tree SHAP kernels: coefficient tables, Shapley values and interaction values.

The maths is in `_tree_common.py`. Blocks of rows run in parallel; within a block the trees are the
outer loop, so one tree's nodes and coefficient tables stay in cache for all the block's rows.
"""

from __future__ import annotations

import numba
import numpy as np

from ._tree_common import BLOCK, MAX_DEPTH, add_leaf, leaf_coefs, next_leaf


@numba.njit(cache=True, parallel=True)
def build_tables(leaf_depth, leaf_z, w, table_offset, table_size):
    """Coefficients of every follow-mask for each leaf that has a table (table_offset >= 0)."""
    table = np.empty(table_size)
    n_leaves = leaf_depth.shape[0]
    for li in numba.prange(n_leaves):
        off = table_offset[li]
        if off < 0:
            continue
        d = leaf_depth[li]
        z_in = np.empty(d + 1)
        e = np.empty(d + 2)
        e2 = np.empty(d + 2)
        out = np.empty(d + 1)
        for mask in range(1 << d):
            leaf_coefs(leaf_z[li], d, mask, w[d], z_in, e, e2, out)
            base = off + mask * d
            for s in range(d):
                table[base + s] = out[s]
    return table


@numba.njit(cache=True, parallel=True)
def path_dependent(X, left, right, feature, thr_le, default_left, categorical, cat_offsets, cat_codes,
                   roots, slot, leaf_index, leaf_depth, leaf_feat, leaf_z, value, leaf_out, w, table, table_offset,
                   n_features):
    """phi (n, M, K) of path-dependent Tree SHAP. Blocks of rows run in parallel; within a block the
    trees are the outer loop, so one tree's nodes and coefficient tables stay in cache for all its rows."""
    n = X.shape[0]
    n_out = value.shape[1]
    phi = np.zeros((n, n_features, n_out))
    dmax = leaf_feat.shape[1]
    n_blocks = (n + BLOCK - 1) // BLOCK
    for blk in numba.prange(n_blocks):
        lo = blk * BLOCK
        hi = min(n, lo + BLOCK)
        st_node = np.empty(MAX_DEPTH + 2, np.int64)
        st_mask = np.empty(MAX_DEPTH + 2, np.int64)
        z_in = np.empty(dmax + 1)
        e = np.empty(dmax + 2)
        e2 = np.empty(dmax + 2)
        coef = np.empty(dmax + 1)
        for t in range(roots.shape[0]):
            for i in range(lo, hi):
                x = X[i]
                st_node[0] = roots[t]
                st_mask[0] = 0
                top = 1
                while top > 0:
                    node, vm, top = next_leaf(x, st_node, st_mask, top, left, right, feature, thr_le, default_left,
                                               categorical, cat_offsets, cat_codes, slot)
                    li = leaf_index[node]
                    d = leaf_depth[li]
                    mask = ((np.int64(1) << d) - 1) & ~vm
                    off = table_offset[li]
                    if off >= 0:
                        add_leaf(phi, i, leaf_feat[li], d, table, off + mask * d, value, node, leaf_out[node])
                    else:
                        leaf_coefs(leaf_z[li], d, mask, w[d], z_in, e, e2, coef)
                        add_leaf(phi, i, leaf_feat[li], d, coef, 0, value, node, leaf_out[node])
    return phi


@numba.njit(cache=True, parallel=True)
def path_dependent_interactions(X, left, right, feature, thr_le, default_left, categorical, cat_offsets,
                                cat_codes, roots, slot, leaf_index, leaf_depth, leaf_feat, leaf_z, value, w,
                                n_features):
    """SHAP interaction values (n, M, M, K): off-diagonal 1/2 (o_j - z_j) phi_i of the path without j;
    the diagonal makes each row sum to the SHAP value."""
    n = X.shape[0]
    n_out = value.shape[1]
    out = np.zeros((n, n_features, n_features, n_out))
    dmax = leaf_feat.shape[1]
    for i in numba.prange(n):
        x = X[i]
        phi = np.zeros((n_features, n_out))
        inter = out[i]
        st_node = np.empty(MAX_DEPTH + 2, np.int64)
        st_mask = np.empty(MAX_DEPTH + 2, np.int64)
        z_in = np.empty(dmax + 1)
        e = np.empty(dmax + 2)
        e2 = np.empty(dmax + 2)
        coef = np.empty(dmax + 1)
        sub_z = np.empty(dmax + 1)
        sub_coef = np.empty(dmax + 1)
        for t in range(roots.shape[0]):
            st_node[0] = roots[t]
            st_mask[0] = 0
            top = 1
            while top > 0:
                node, vm, top = next_leaf(x, st_node, st_mask, top, left, right, feature, thr_le, default_left,
                                           categorical, cat_offsets, cat_codes, slot)
                li = leaf_index[node]
                d = leaf_depth[li]
                mask = ((np.int64(1) << d) - 1) & ~vm
                z = leaf_z[li]
                feats = leaf_feat[li]
                leaf_coefs(z, d, mask, w[d], z_in, e, e2, coef)
                for s in range(d):
                    for k in range(n_out):
                        phi[feats[s], k] += coef[s] * value[node, k]
                for j in range(d):
                    # the path's game with slot j fixed: on (factor o_j) minus off (factor z_j)
                    delta = 0.5 * (((mask >> j) & 1) - z[j])
                    if delta == 0.0 or d == 1:
                        continue
                    sub_mask = np.int64(0)
                    q = 0
                    for s in range(d):
                        if s == j:
                            continue
                        sub_z[q] = z[s]
                        if (mask >> s) & 1:
                            sub_mask |= np.int64(1) << q
                        q += 1
                    leaf_coefs(sub_z, d - 1, sub_mask, w[d - 1], z_in, e, e2, sub_coef)
                    q = 0
                    fj = feats[j]
                    for s in range(d):
                        if s == j:
                            continue
                        c = delta * sub_coef[q]
                        fs = feats[s]
                        for k in range(n_out):
                            inter[fs, fj, k] += c * value[node, k]
                        q += 1
        for a in range(n_features):
            for k in range(n_out):
                rest = 0.0
                for b in range(n_features):
                    if b != a:
                        rest += inter[a, b, k]
                inter[a, a, k] = phi[a, k] - rest
    return out
