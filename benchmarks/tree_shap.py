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
mark while the method runs once in a fresh process that loaded the saved model and warmed up. Values are checked against the peer before timing (max abs difference).

Run: .venv/bin/python benchmarks/tree_shap.py [--quick]
Appends a table to benchmarks/RESULTS.md.
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import subprocess
import tempfile
import sys
import time

THREADS = int(os.environ.get("BENCH_THREADS", "2"))
os.environ["NUMBA_NUM_THREADS"] = str(THREADS)
os.environ["OMP_NUM_THREADS"] = str(THREADS)

import numpy as np  # noqa: E402
from _bench import append_results, best_time  # noqa: E402


def _status_kb(field):
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith(field):
                return int(line.split()[1])
    return 0


def peak_memory_mb(model_file, method, rows):
    """Peak resident-set growth (MB) of `method` on `rows` rows, in a fresh process.

    The child loads the saved model, warms the method up on 5 rows (numba cache load, library
    start-up), resets the kernel's high-water mark (/proc/self/clear_refs) and runs it once. A fixed
    malloc mmap threshold makes large arrays real mappings, so memory freed by the warm-up is not
    silently reused. Linux only; NaN elsewhere.
    """
    env = dict(os.environ, MALLOC_MMAP_THRESHOLD_="131072")
    out = subprocess.run([sys.executable, __file__, "--memory", model_file, method, str(rows)], env=env,
                         capture_output=True, text=True)
    try:
        return float(out.stdout.strip().splitlines()[-1])
    except (ValueError, IndexError):
        return float("nan")


def _memory_child(model_file, method, rows):
    import lightgbm as lgb
    import xgboost as xgb

    X, _ = make_data(20000, 20, 0)
    bg = X[5000:5100]
    if model_file.endswith(".txt"):
        model = lgb.Booster(model_file=model_file)
    else:
        model = xgb.Booster()
        model.load_model(model_file)
        model.set_param({"nthread": THREADS})
    if method.startswith("whybox"):
        from whybox.shapley.tree import TreeShap
        if method == "whybox_path":
            ts = TreeShap(model)
            fn = ts.explain
        elif method == "whybox_inter":
            ts = TreeShap(model)
            fn = ts.explain_interactions
        else:
            def fn(Z):
                return TreeShap(model, background=bg).explain(Z)
    elif method.startswith("shap"):
        import shap
        if method == "shap_path":
            fn = shap.TreeExplainer(model).shap_values
        else:
            explainer = shap.TreeExplainer(model, data=bg, feature_perturbation="interventional")

            def fn(Z):
                return explainer.shap_values(Z, check_additivity=False)
    elif method == "lgb_contrib":
        def fn(Z):
            return model.predict(Z, pred_contrib=True, num_threads=THREADS)
    else:
        flag = {"xgb_contribs": "pred_contribs", "xgb_inter": "pred_interactions"}[method]

        def fn(Z):
            return model.predict(xgb.DMatrix(Z, nthread=THREADS), **{flag: True})
    fn(X[:5])
    with open("/proc/self/clear_refs", "w") as fh:
        fh.write("5")
    before = _status_kb("VmRSS:")
    fn(X[:rows])
    print((_status_kb("VmHWM:") - before) / 1024)


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

    tmp = tempfile.mkdtemp(prefix="whybox-bench-")

    def record(case, peer_name, peer_fn, ours_fn, check, memory):
        ours_fn()  # warm-up (kernels compiled or loaded from cache before this script times anything)
        peer_fn()
        diff = check()
        t_peer, _ = best_time(peer_fn, repeats)
        t_ours, _ = best_time(ours_fn, repeats)
        model_file, peer_method, ours_method, n = memory
        mem_peer = peak_memory_mb(model_file, peer_method, n)
        mem_ours = peak_memory_mb(model_file, ours_method, n)
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
    file_a, file_b, file_c = (os.path.join(tmp, name) for name in ("a.json", "b.json", "c.txt"))
    booster_a.save_model(file_a)

    def xgb_contribs():
        ref["a"] = booster_a.predict(dm, pred_contribs=True)
    record("(a) XGBoost 500 trees depth 6", "xgboost pred_contribs", xgb_contribs, lambda: ts_a.explain(Xe),
           lambda: float(np.abs(ts_a.explain(Xe).values - ref["a"][:, :-1]).max()),
           (file_a, "xgb_contribs", "whybox_path", n_rows))
    shap_a = shap.TreeExplainer(xa)
    record("(a) XGBoost 500 trees depth 6", "shap.TreeExplainer", lambda: shap_a.shap_values(Xe),
           lambda: ts_a.explain(Xe), lambda: float(np.abs(ts_a.explain(Xe).values - shap_a.shap_values(Xe)).max()),
           (file_a, "shap_path", "whybox_path", n_rows))

    # (b) XGBoost 200 x depth 10
    xb = xgb.XGBClassifier(n_estimators=40 if quick else 200, max_depth=10, nthread=THREADS, random_state=0).fit(X, y)
    booster_b = xb.get_booster()
    ts_b = TreeShap(xb)
    booster_b.save_model(file_b)

    def xgb_contribs_b():
        ref["b"] = booster_b.predict(dm, pred_contribs=True)
    record("(b) XGBoost 200 trees depth 10", "xgboost pred_contribs", xgb_contribs_b, lambda: ts_b.explain(Xe),
           lambda: float(np.abs(ts_b.explain(Xe).values - ref["b"][:, :-1]).max()),
           (file_b, "xgb_contribs", "whybox_path", n_rows))

    # (c) LightGBM 500 x 63 leaves
    lc = lgb.LGBMClassifier(n_estimators=100 if quick else 500, num_leaves=63, n_jobs=THREADS, verbose=-1,
                            random_state=0).fit(X, y)
    ts_c = TreeShap(lc)
    lc.booster_.save_model(file_c)

    def lgb_contribs():
        ref["c"] = lc.booster_.predict(Xe, pred_contrib=True, num_threads=THREADS)
    record("(c) LightGBM 500 trees 63 leaves", "lightgbm pred_contrib", lgb_contribs, lambda: ts_c.explain(Xe),
           lambda: float(np.abs(ts_c.explain(Xe).values - ref["c"][:, :-1]).max()),
           (file_c, "lgb_contrib", "whybox_path", n_rows))

    # (d) interactions of (a) on 200 rows
    Xd = X[:200]
    dmd = xgb.DMatrix(Xd, nthread=THREADS)

    def xgb_inter():
        ref["d"] = booster_a.predict(dmd, pred_interactions=True)
    record("(d) interaction values, 200 rows", "xgboost pred_interactions", xgb_inter,
           lambda: ts_a.explain_interactions(Xd),
           lambda: float(np.abs(ts_a.explain_interactions(Xd).values - ref["d"][:, :-1, :-1]).max()),
           (file_a, "xgb_inter", "whybox_inter", 200))

    # (e) interventional with 100 background rows on 200 rows
    bg = X[5000:5100]
    ts_e = TreeShap(xa, background=bg)
    shap_e = shap.TreeExplainer(xa, data=bg, feature_perturbation="interventional")
    record("(e) interventional, 100 bg x 200 rows", "shap.TreeExplainer", lambda: shap_e.shap_values(Xd, check_additivity=False),
           lambda: TreeShap(xa, background=bg).explain(Xd),
           lambda: float(np.abs(ts_e.explain(Xd).values - shap_e.shap_values(Xd, check_additivity=False)).max()),
           (file_a, "shap_interventional", "whybox_interventional", 200))

    versions = (f"whybox {__import__('whybox').__version__}, shap {shap.__version__}, xgboost {xgb.__version__}, "
                f"lightgbm {lgb.__version__}, numba {__import__('numba').__version__}, numpy {np.__version__}, "
                f"python {platform.python_version()}")
    lines = [
        f"\n## Tree SHAP — {datetime.date.today().isoformat()}{' (quick)' if quick else ''}\n",
        f"{versions}; {THREADS} threads for every library (NUMBA_NUM_THREADS, nthread, num_threads); "
        f"{os.cpu_count()} CPUs; {n_rows} explained rows for (a)-(c). Best of {repeats} after a warm-up. "
        f"Numba compile / cache load, measured once before the table and kept out of it: {compile_s:.1f} s. "
        "Memory: peak resident-set growth of one run in a fresh process after a 5-row warm-up "
        "(high-water mark reset, fixed malloc mmap threshold). "
        "(e) whybox time includes building the explainer (background masks).\n",
        "| case | peer | peer s | whybox s | speed-up | peer MB | whybox MB | max abs diff |",
        "|---|---|---:|---:|---:|---:|---:|---:|",
    ]
    for case, peer, tp, to, ratio, mp, mo, diff in rows:
        lines.append(f"| {case} | {peer} | {tp:.3f} | {to:.3f} | {ratio:.1f}x | {mp:.0f} | {mo:.0f} | {diff:.1e} |")
    text = "\n".join(lines) + "\n"
    print(text)
    append_results(text)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller models, one repeat (a smoke run)")
    parser.add_argument("--memory", nargs=3, metavar=("MODEL_FILE", "METHOD", "ROWS"),
                        help=argparse.SUPPRESS)  # internal: one memory measurement in a fresh process
    args = parser.parse_args()
    if args.memory:
        _memory_child(args.memory[0], args.memory[1], int(args.memory[2]))
    else:
        main(args.quick)
    sys.exit(0)
