"""Permutation importance and partial dependence: whybox against scikit-learn, side by side.

Cases (all in one process, on the same data and the same fitted model):
  (a) permutation importance of a HistGradientBoostingRegressor (100 iterations) on 10,000 rows x 20
      features, n_repeats=10, r2 scoring:
      sklearn.inspection.permutation_importance(model, X, y, n_repeats=10, random_state=0, scoring="r2")
      vs whybox.effects.permutation_importance(model, X, y, n_repeats=10, seed=0)  (r2 is its default
      for a regressor)
  (b) partial dependence + ICE of the same model for one feature (x0), 50 grid points:
      sklearn.inspection.partial_dependence(model, X, [0], grid_resolution=50, kind="both",
      percentiles=(0, 1)) vs whybox.effects.partial_dependence(model, X, "x0", grid_size=50, ice=True)
      (whybox's default quantile grid). The timing uses each library's own grid (same size: 50 points x
      10,000 rows). Agreement is checked on an identical grid: whybox with grid="uniform" gives
      linspace(min, max, 50), which is exactly sklearn's grid with percentiles=(0, 1); the table reports
      the max abs difference of the averages (and of the ICE curves) on that grid, and also the max abs
      difference of whybox's quantile-grid average from sklearn's average linearly interpolated onto it.

Permutation importance agreement: whybox draws its own shuffles from default_rng(seed), so for the
comparison it is handed the row orders scikit-learn applies (`sklearn_row_orders`, written from
sklearn's documented behaviour: one seed drawn from RandomState(random_state), one index array
shuffled in place per repeat and applied to the already-shuffled column, the same stream for every
feature) through `permutations=`. With the same permutations the results must be identical: the table
reports the largest absolute difference over every feature and repeat, and the baseline r2 of both.

Every library runs with the same number of threads (THREADS, set in OMP_NUM_THREADS before numpy /
sklearn are imported; HistGradientBoosting's prediction uses OpenMP). Each timing is the best of
REPEATS runs after a warm-up.

Run: .venv/bin/python benchmarks/effects.py [--quick]
Appends a table to benchmarks/RESULTS.md.
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import sys
import time

THREADS = int(os.environ.get("BENCH_THREADS", "2"))
os.environ["OMP_NUM_THREADS"] = str(THREADS)
os.environ["NUMBA_NUM_THREADS"] = str(THREADS)

import numpy as np  # noqa: E402
from _bench import append_results, best_time  # noqa: E402


def make_data(n, m, seed):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, m))
    y = (X[:, 0] * X[:, 1] + np.sin(2 * X[:, 2]) + X[:, 3] * (X[:, 4] > 0) + 0.5 * X[:, 5:10].sum(axis=1)
         + 2.0 * X[:, 10] + 0.3 * rng.normal(size=n))
    return X, y


def sklearn_row_orders(seed: int, n: int, n_repeats: int) -> np.ndarray:
    """(n_repeats, n): the row order sklearn's permutation_importance gives a column in each repeat."""
    rs = np.random.RandomState(np.random.RandomState(seed).randint(np.iinfo(np.int32).max + 1))
    idx, order, out = np.arange(n), np.arange(n), []
    for _ in range(n_repeats):
        rs.shuffle(idx)
        order = order[idx]
        out.append(order.copy())
    return np.array(out)


def main(quick: bool = False) -> None:
    import sklearn
    from sklearn.ensemble import HistGradientBoostingRegressor
    from sklearn.inspection import partial_dependence as sk_pd
    from sklearn.inspection import permutation_importance as sk_pi

    import whybox
    from whybox.effects import partial_dependence as wb_pd
    from whybox.effects import permutation_importance as wb_pi

    repeats = 1 if quick else 2
    n_rows = 2000 if quick else 10000
    n_repeats = 10
    grid = 50
    X, y = make_data(n_rows, 20, 0)
    model = HistGradientBoostingRegressor(max_iter=100, random_state=0).fit(X, y)
    rows = []

    # (a) permutation importance
    def sk_perm():
        return sk_pi(model, X, y, n_repeats=n_repeats, random_state=0, scoring="r2")

    orders = sklearn_row_orders(0, n_rows, n_repeats)

    def wb_perm():
        return wb_pi(model, X, y, permutations=orders)

    sk_perm()  # warm-up
    wb_perm()
    t_sk, sk_res = best_time(sk_perm, repeats)
    t_wb, wb_res = best_time(wb_perm, repeats)
    diff = np.abs(sk_res.importances - np.asarray(wb_res.repeats).T).max()
    top_sk = list(np.argsort(-sk_res.importances_mean)[:5])
    top_wb = list(np.argsort(-np.asarray(wb_res.scores))[:5])
    base_sk = model.score(X, y)
    base_wb = wb_res.meta["baseline_score"]
    perm_check = (f"same permutations: max abs difference over all {n_repeats} x 20 scores {diff:.1e}; "
                  f"baseline r2 {base_sk:.6f} / {base_wb:.6f}; top-5 {'same' if top_sk == top_wb else 'DIFFERENT'}")
    rows.append((f"(a) permutation importance, {n_repeats} repeats, r2", t_sk, t_wb, perm_check))
    print(f"{rows[-1][0]:<46} sklearn {t_sk:7.3f}s  whybox {t_wb:7.3f}s  x{t_sk / t_wb:5.2f}  {perm_check}",
          flush=True)

    # (b) partial dependence + ICE, one feature
    def sk_dep():
        return sk_pd(model, X, [0], grid_resolution=grid, kind="both", percentiles=(0, 1))

    def wb_dep():
        return wb_pd(model, X, "x0", grid_size=grid, ice=True)

    sk_dep()  # warm-up
    wb_dep()
    t_sk, sk_d = best_time(sk_dep, repeats)
    t_wb, wb_d = best_time(wb_dep, repeats)
    sk_grid = np.asarray(sk_d["grid_values"][0], dtype=float)
    sk_avg = np.asarray(sk_d["average"][0], dtype=float)
    sk_ice = np.asarray(sk_d["individual"][0], dtype=float)
    wb_u = wb_pd(model, X, "x0", grid_size=grid, ice=True, grid="uniform")
    wb_u_grid = np.asarray(wb_u.grid[0], dtype=float)
    grid_diff = np.abs(wb_u_grid - sk_grid).max() if wb_u_grid.shape == sk_grid.shape else float("nan")
    avg_diff = np.abs(np.asarray(wb_u.average, dtype=float) - sk_avg).max()
    ice_diff = np.abs(np.asarray(wb_u.individual, dtype=float) - sk_ice).max()
    wb_q_grid = np.asarray(wb_d.grid[0], dtype=float)
    interp_diff = np.abs(np.asarray(wb_d.average, dtype=float) - np.interp(wb_q_grid, sk_grid, sk_avg)).max()
    pd_check = (f"identical uniform grid (max grid diff {grid_diff:.1e}): average {avg_diff:.1e}, "
                f"ICE {ice_diff:.1e}; whybox quantile grid vs sklearn interpolated: {interp_diff:.1e}")
    rows.append((f"(b) partial dependence + ICE, x0, {grid} points", t_sk, t_wb, pd_check))
    print(f"{rows[-1][0]:<46} sklearn {t_sk:7.3f}s  whybox {t_wb:7.3f}s  x{t_sk / t_wb:5.2f}  {pd_check}",
          flush=True)

    versions = (f"whybox {whybox.__version__}, scikit-learn {sklearn.__version__}, numpy {np.__version__}, "
                f"python {platform.python_version()}")
    lines = [
        f"\n## Permutation importance and partial dependence vs scikit-learn — "
        f"{datetime.date.today().isoformat()}{' (quick)' if quick else ''}\n",
        f"{versions}; {THREADS} threads for both (OMP_NUM_THREADS set before import); {os.cpu_count()} CPUs. "
        f"HistGradientBoostingRegressor(max_iter=100) on {n_rows:,} rows x 20 features; both libraries score "
        f"the same fitted model on the same data. Best of {repeats} after a warm-up. "
        "speed-up = sklearn time / whybox time (>1: whybox faster). "
        "(a) whybox is handed sklearn's row orders (permutations=), so both compute the same shuffles and "
        "must agree to rounding. "
        "(b) timed on each library's own grid (sklearn percentiles=(0, 1), 50 uniform points; whybox default "
        "50-point quantile grid); agreement checked with whybox grid='uniform', which is sklearn's grid.\n",
        "| case | sklearn s | whybox s | speed-up | agreement |",
        "|---|---:|---:|---:|---|",
    ]
    for case, tp, to, check in rows:
        lines.append(f"| {case} | {tp:.3f} | {to:.3f} | {tp / to:.2f}x | {check} |")
    text = "\n".join(lines) + "\n"
    print(text)
    append_results(text)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="2,000 rows, one repeat (a smoke run)")
    args = parser.parse_args()
    main(args.quick)
    sys.exit(0)
