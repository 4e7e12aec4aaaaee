"""Interventional Tree SHAP kernels: background-averaged leaf tables and the per-row pass.

The maths is in `_tree_common.py`: a leaf's contribution for a (row, background row) pair depends
only on the two follow-masks, so equal background masks are merged and shallow leaves are tabulated
over the row's mask.
"""

from __future__ import annotations

import numba
import numpy as np

from ._tree_common import BLOCK, MAX_DEPTH, add_leaf, add_to_phi, next_leaf, popcount


@numba.njit(cache=True, parallel=True)
def build_interventional_tables(leaf_depth, offsets, bg_mask, bg_weight, wx, wb, table_offset, table_size):
    """Per leaf with a table: for every row follow-mask, the background-averaged coefficient of each slot."""
    table = np.zeros(table_size)
    n_leaves = leaf_depth.shape[0]
    for li in numba.prange(n_leaves):
        off = table_offset[li]
        if off < 0:
            continue
        d = leaf_depth[li]
        full = (np.int64(1) << d) - 1
        for ox in range(1 << d):
            bmask = full & ~ox
            nb = popcount(bmask)
            base = off + ox * d
            for r in range(offsets[li], offsets[li + 1]):
                ob = bg_mask[r]
                if (ox | ob) != full:
                    continue
                xmask = ox & ~ob
                nx = popcount(xmask)
                if nx + nb == 0:
                    continue
                a = bg_weight[r] * wx[nx, nb]
                c = bg_weight[r] * wb[nx, nb]
                for s in range(d):
                    if (xmask >> s) & 1:
                        table[base + s] += a
                    elif (bmask >> s) & 1:
                        table[base + s] -= c
    return table


@numba.njit(cache=True, parallel=True)
def interventional(X, left, right, feature, thr_le, default_left, categorical, cat_offsets, cat_codes,
                   roots, slot, leaf_index, leaf_nodes, leaf_depth, leaf_feat, value, leaf_out, offsets, bg_mask,
                   bg_weight, wx, wb, table, table_offset, n_features):
    """phi (n, M, K) of interventional Tree SHAP, averaged over the (merged, weighted) background.
    Leaves with a table (`build_interventional_tables`) cost one lookup; the others loop over their
    distinct background masks. Blocks of rows in parallel, trees outer within a block."""
    n = X.shape[0]
    n_out = value.shape[1]
    phi = np.zeros((n, n_features, n_out))
    n_blocks = (n + BLOCK - 1) // BLOCK
    for blk in numba.prange(n_blocks):
        lo = blk * BLOCK
        hi = min(n, lo + BLOCK)
        st_node = np.empty(MAX_DEPTH + 2, np.int64)
        st_mask = np.empty(MAX_DEPTH + 2, np.int64)
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
                    full = (np.int64(1) << d) - 1
                    ox = full & ~vm
                    k_out = leaf_out[node]
                    off = table_offset[li]
                    if off >= 0:
                        add_leaf(phi, i, leaf_feat[li], d, table, off + ox * d, value, node, k_out)
                        continue
                    bmask = full & ~ox
                    nb = popcount(bmask)
                    b_total = 0.0
                    for r in range(offsets[li], offsets[li + 1]):
                        ob = bg_mask[r]
                        if (ox | ob) != full:
                            continue
                        xmask = ox & ~ob
                        nx = popcount(xmask)
                        if nx + nb == 0:
                            continue
                        wgt = bg_weight[r]
                        if nb > 0:
                            b_total += wgt * wb[nx, nb]
                        if nx > 0:
                            a = wgt * wx[nx, nb]
                            for s in range(d):
                                if (xmask >> s) & 1:
                                    add_to_phi(phi, i, leaf_feat[li, s], a, value, node, k_out)
                    if b_total != 0.0:
                        for s in range(d):
                            if (bmask >> s) & 1:
                                add_to_phi(phi, i, leaf_feat[li, s], -b_total, value, node, k_out)
    return phi


@numba.njit(cache=True, parallel=True)
def interventional_pairs(X, left, right, feature, thr_le, default_left, categorical, cat_offsets, cat_codes,
                         roots, slot, leaf_index, leaf_depth, leaf_feat, value, bg_masks, wx, wb, n_features, scale):
    """Interventional values of one output where each background row's pair attribution is multiplied by
    scale[i, b] before averaging (per-reference rescaling into another output space). value: (N,) one output."""
    n = X.shape[0]
    n_bg = bg_masks.shape[0]
    phi = np.zeros((n, n_features))
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
                d = leaf_depth[li]
                full = (np.int64(1) << d) - 1
                ox = full & ~vm
                bmask = full & ~ox
                nb = popcount(bmask)
                v = value[node]
                feats = leaf_feat[li]
                for b in range(n_bg):
                    ob = bg_masks[b, li]
                    if (ox | ob) != full:
                        continue
                    xmask = ox & ~ob
                    nx = popcount(xmask)
                    if nx + nb == 0:
                        continue
                    sc = scale[i, b] * v
                    for s in range(d):
                        if (xmask >> s) & 1:
                            phi[i, feats[s]] += sc * wx[nx, nb]
                        elif (bmask >> s) & 1:
                            phi[i, feats[s]] -= sc * wb[nx, nb]
    return phi
