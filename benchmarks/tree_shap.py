"""Tree SHAP speed: whybox against shap.TreeExplainer and the libraries' native SHAP, side by side.

Cases (all in one process, on the same data and models):
  (a) XGBoost, 500 trees of depth 6, 20 features, 2,000 explained rows
  (b) XGBoost, 200 trees of depth 10, 2,000 rows
  (c) LightGBM, 500 trees of 63 leaves, 2,000 rows
  (d) SHAP interaction values of model (a) on 200 rows
  (e) interventional values of model (a) with 100 background rows on 200 rows
Every peer and whybox run with the same number of threads (THREADS). Each timing is the best of
REPEATS runs after a warm-up; numba's compile (or cache load) time is measured on the warm-up and
reported on its own, outside the ratios. Peak memory: the growth of the resident set's high-water
mark (reset before each run) while the method runs once. Values are checked against the peer before timing (max abs difference).

Run: .venv/bin/python benchmarks/tree_shap.py [--quick]
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
os.environ["NUMBA_NUM_THREADS"] = str(THREADS)
os.environ["OMP_NUM_THREADS"] = str(THREADS)

import numpy as np  # noqa: E402


def best_time(fn, repeats):
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def _status_kb(field):
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith(field):
                return int(line.split()[1])
    return 0


def peak_memory_mb(fn):
    """Peak resident-set growth (MB) while fn runs: the kernel's high-water mark is reset first
    (/proc/self/clear_refs), so this works in-process, threads and all (Linux only)."""
    try:
        with open("/proc/self/clear_refs", "w") as fh:
            fh.write("5")
    except OSError:
        return float("nan")
    before = _status_kb("VmRSS:")
    fn()
    return (_status_kb("VmHWM:") - before) / 1024


def make_data(n, m, seed):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, m))
    X[rng.random(X.shape) < 0.02] = np.nan
    Z = np.nan_to_num(X)
    logit = Z[:, 0] * Z[:, 1] + np.sin(2 * Z[:, 2]) + Z[:, 3] * (Z[:, 4] > 0) + 0.5 * Z[:, 5:10].sum(axis=1)
    y = (logit + rng.logistic(size=n) > 0).astype(int)
    return X, y


def main(quick: bool = False) -> None:
    import lightgbm as lgb
    import shap
    import xgboost as xgb

    from whybox.shapley.tree import TreeShap

    repeats = 1 if quick else 3
    n_rows = 300 if quick else 2000
    X, y = make_data(20000, 20, 0)
    Xe = X[:n_rows]
    rows = []

    def record(case, peer_name, peer_fn, ours_fn, check):
        ours_fn()  # warm-up (kernels compiled or loaded from cache before this script times anything)
        peer_fn()
        diff = check()
        t_peer = best_time(peer_fn, repeats)
        t_ours = best_time(ours_fn, repeats)
        mem_peer = peak_memory_mb(peer_fn)
        mem_ours = peak_memory_mb(ours_fn)
        rows.append((case, peer_name, t_peer, t_ours, t_peer / t_ours, mem_peer, mem_ours, diff))
        print(f"{case:<38} {peer_name:<26} peer {t_peer:7.3f}s  whybox {t_ours:7.3f}s  x{t_peer / t_ours:5.1f}  "
              f"mem {mem_peer:6.0f}/{mem_ours:6.0f} MB  maxdiff {diff:.1e}", flush=True)

    # compile / cache-load time of the kernels, on a tiny model
    tiny = xgb.XGBClassifier(n_estimators=2, max_depth=2, nthread=THREADS).fit(X[:200], y[:200])
    t0 = time.perf_counter()
    TreeShap(tiny).explain(X[:2])
    TreeShap(tiny).explain_interactions(X[:2])
    TreeShap(tiny, background=X[:5]).explain(X[:2])
    compile_s = time.perf_counter() - t0

    # (a) XGBoost 500 x depth 6
    xa = xgb.XGBClassifier(n_estimators=100 if quick else 500, max_depth=6, nthread=THREADS, random_state=0).fit(X, y)
    booster_a = xa.get_booster()
    dm = xgb.DMatrix(Xe, nthread=THREADS)
    ts_a = TreeShap(xa)
    ref = {}

    def xgb_contribs():
        ref["a"] = booster_a.predict(dm, pred_contribs=True)
    record("(a) XGBoost 500 trees depth 6", "xgboost pred_contribs", xgb_contribs, lambda: ts_a.explain(Xe),
           lambda: float(np.abs(ts_a.explain(Xe).values - ref["a"][:, :-1]).max()))
    shap_a = shap.TreeExplainer(xa)
    record("(a) XGBoost 500 trees depth 6", "shap.TreeExplainer", lambda: shap_a.shap_values(Xe),
           lambda: ts_a.explain(Xe), lambda: float(np.abs(ts_a.explain(Xe).values - shap_a.shap_values(Xe)).max()))

    # (b) XGBoost 200 x depth 10
    xb = xgb.XGBClassifier(n_estimators=40 if quick else 200, max_depth=10, nthread=THREADS, random_state=0).fit(X, y)
    booster_b = xb.get_booster()
    ts_b = TreeShap(xb)

    def xgb_contribs_b():
        ref["b"] = booster_b.predict(dm, pred_contribs=True)
    record("(b) XGBoost 200 trees depth 10", "xgboost pred_contribs", xgb_contribs_b, lambda: ts_b.explain(Xe),
           lambda: float(np.abs(ts_b.explain(Xe).values - ref["b"][:, :-1]).max()))

    # (c) LightGBM 500 x 63 leaves
    lc = lgb.LGBMClassifier(n_estimators=100 if quick else 500, num_leaves=63, n_jobs=THREADS, verbose=-1,
                            random_state=0).fit(X, y)
    ts_c = TreeShap(lc)

    def lgb_contribs():
        ref["c"] = lc.booster_.predict(Xe, pred_contrib=True, num_threads=THREADS)
    record("(c) LightGBM 500 trees 63 leaves", "lightgbm pred_contrib", lgb_contribs, lambda: ts_c.explain(Xe),
           lambda: float(np.abs(ts_c.explain(Xe).values - ref["c"][:, :-1]).max()))

    # (d) interactions of (a) on 200 rows
    Xd = X[:200]
    dmd = xgb.DMatrix(Xd, nthread=THREADS)

    def xgb_inter():
        ref["d"] = booster_a.predict(dmd, pred_interactions=True)
    record("(d) interaction values, 200 rows", "xgboost pred_interactions", xgb_inter,
           lambda: ts_a.explain_interactions(Xd),
           lambda: float(np.abs(ts_a.explain_interactions(Xd).values - ref["d"][:, :-1, :-1]).max()))

    # (e) interventional with 100 background rows on 200 rows
    bg = X[5000:5100]
    ts_e = TreeShap(xa, background=bg)
    shap_e = shap.TreeExplainer(xa, data=bg, feature_perturbation="interventional")
    record("(e) interventional, 100 bg x 200 rows", "shap.TreeExplainer", lambda: shap_e.shap_values(Xd, check_additivity=False),
           lambda: TreeShap(xa, background=bg).explain(Xd),
           lambda: float(np.abs(ts_e.explain(Xd).values - shap_e.shap_values(Xd, check_additivity=False)).max()))

    versions = (f"whybox {__import__('whybox').__version__}, shap {shap.__version__}, xgboost {xgb.__version__}, "
                f"lightgbm {lgb.__version__}, numba {__import__('numba').__version__}, numpy {np.__version__}, "
                f"python {platform.python_version()}")
    lines = [
        f"\n## Tree SHAP — {datetime.date.today().isoformat()}{' (quick)' if quick else ''}\n",
        f"{versions}; {THREADS} threads for every library (NUMBA_NUM_THREADS, nthread, num_threads); "
        f"{os.cpu_count()} CPUs; {n_rows} explained rows for (a)-(c). Best of {repeats} after a warm-up. "
        f"Numba compile / cache load, measured once before the table and kept out of it: {compile_s:.1f} s. "
        "Memory: peak resident-set growth while the method runs once (high-water mark reset before). "
        "(e) whybox time includes building the explainer (background masks).\n",
        "| case | peer | peer s | whybox s | speed-up | peer MB | whybox MB | max abs diff |",
        "|---|---|---:|---:|---:|---:|---:|---:|",
    ]
    for case, peer, tp, to, ratio, mp, mo, diff in rows:
        lines.append(f"| {case} | {peer} | {tp:.3f} | {to:.3f} | {ratio:.1f}x | {mp:.0f} | {mo:.0f} | {diff:.1e} |")
    text = "\n".join(lines) + "\n"
    print(text)
    with open(os.path.join(os.path.dirname(__file__), "RESULTS.md"), "a") as fh:
        fh.write(text)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller models, one repeat (a smoke run)")
    main(parser.parse_args().quick)
    sys.exit(0)
