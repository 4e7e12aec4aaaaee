"""Counterfactual recourse: whybox against dice-ml (methods "random" and "genetic"), side by side.

One process, same data, same fitted model, same constraints for every library:
  data     whybox.datasets.credit(2,000, seed=0) to train (numeric and categorical columns; the three
           categorical columns as strings, since dice-ml passes categories to the model as strings), and
           the first 20 rows of credit(1,000, seed=1) that the model denies as queries
  model    Pipeline(OneHotEncoder on housing / loan_purpose / postcode_region, the numeric columns passed
           through) + HistGradientBoostingClassifier(max_iter=100, random_state=0)
  asked    k = 3 counterfactuals per query with the approving class (dice-ml: desired_class="opposite");
           postcode_region immutable (a proxy of a protected attribute; dice-ml: features_to_vary = every
           other column); numeric values within the training min..max (both libraries' default)
  whybox   CounterfactualSearch(model, X_train, immutable=["postcode_region"], seed=0).explain(queries, k=3)
           with its defaults (max_evals 2,000 per query), all 20 queries in one call (its searches share model
           calls); also timed one query per call, as dice-ml runs them; and once more with
           plausibility_weight=PULL (3), chosen on a different query set (see PULL)
  dice-ml  dice_ml.Data(dataframe=train with the outcome, continuous_features=numeric columns),
           dice_ml.Model(model, backend="sklearn"), Dice(..., method=m).generate_counterfactuals(queries,
           total_CFs=3, desired_class="opposite", features_to_vary=...) with its defaults otherwise
           (random: random_seed=0; genetic: np.random.seed(0) first)

Every metric is computed by this script, the same way for every library, on the rows each returns:
  validity      the model re-predicts each returned row; share of returned rows that are approved, and
                the share of the 60 asked-for rows delivered valid
  proximity     d(x, z) = sum over numeric features |z_j - x_j| / MAD_j + 1 per changed categorical feature
                (MAD on the training rows; where it is 0 the mean absolute deviation from the median)
  sparsity      number of changed features
  diversity     mean pairwise d among a query's counterfactuals (queries with >= 2 valid rows)
  plausibility  mean d to the 5 nearest training rows that the model approves (lower: nearer to real
                approved applicants)
  immutable     rows that changed postcode_region
  time          wall seconds per query (the whole batch timed once after a one-query warm-up, divided by
                the number of queries), and process CPU seconds per query (less sensitive to other work on
                the machine)
Means over the valid rows (what a person would be shown). BENCH_THREADS (default 2) threads for
OpenMP/BLAS, set before numpy and scikit-learn are imported; the load average before and after is printed,
since other processes on the machine slow every library alike.

Needs the peers: `make bench` installs them (dice-ml without its dependencies, which would pull the
CUDA xgboost wheel). Run: .venv/bin/python benchmarks/counterfactuals.py [--quick] [--no-append]
Appends a table to benchmarks/RESULTS.md.
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import sys
import time
import warnings

THREADS = int(os.environ.get("BENCH_THREADS", "2"))
for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "NUMBA_NUM_THREADS"):
    os.environ[var] = str(THREADS)

import numpy as np  # noqa: E402
from _bench import append_results  # noqa: E402
import pandas as pd  # noqa: E402

CATEGORICAL = ["housing", "loan_purpose", "postcode_region"]
IMMUTABLE = "postcode_region"
K = 3
N_NEIGHBORS = 5
#: whybox's plausibility weight for the second whybox row: chosen on a different query set (the first 20
#: denied rows of credit(1,000, seed=2)), as the smallest of 0, 1.5, 2, 3, 5 that beat both dice-ml methods
#: there on proximity and plausibility
PULL = 3.0


def make_problem(n_queries: int):
    from sklearn.compose import ColumnTransformer
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder

    from whybox.datasets import credit

    def as_strings(X: pd.DataFrame) -> pd.DataFrame:
        X = X.copy()
        for c in CATEGORICAL:
            X[c] = X[c].astype(str)
        return X

    train, held = credit(2000, seed=0), credit(1000, seed=1)
    X, Xh = as_strings(train.X), as_strings(held.X)
    model = Pipeline([
        ("prep", ColumnTransformer([("cat", OneHotEncoder(handle_unknown="ignore"), CATEGORICAL)],
                                   remainder="passthrough")),
        ("clf", HistGradientBoostingClassifier(max_iter=100, random_state=0)),
    ]).fit(X, train.y)
    queries = Xh[model.predict(Xh) == 0].iloc[:n_queries].reset_index(drop=True)
    return X, train.y, model, queries


class Metrics:
    """The benchmark's own distance: MAD-scaled L1 on numeric columns + 1 per changed category."""

    def __init__(self, X: pd.DataFrame, model) -> None:
        self.columns = list(X.columns)
        self.num = [c for c in X.columns if c not in CATEGORICAL]
        mad = []
        for c in self.num:
            v = X[c].to_numpy(float)
            dev = np.abs(v - np.median(v))
            s = np.median(dev) or dev.mean() or 1.0
            mad.append(s)
        self.mad = np.array(mad)
        self.model = model
        approved = X[model.predict(X) == 1]
        self.pool_num = approved[self.num].to_numpy(float) / self.mad
        self.pool_cat = approved[CATEGORICAL].astype(str).to_numpy()

    def distance(self, x: pd.Series, Z: pd.DataFrame) -> np.ndarray:
        num = np.abs(Z[self.num].to_numpy(float) - x[self.num].to_numpy(float)) / self.mad
        cat = Z[CATEGORICAL].astype(str).to_numpy() != x[CATEGORICAL].astype(str).to_numpy()
        return num.sum(axis=1) + cat.sum(axis=1)

    def changed(self, x: pd.Series, Z: pd.DataFrame) -> np.ndarray:
        a, b = Z[self.num].to_numpy(float), x[self.num].to_numpy(float)
        num = np.abs(a - b) > 1e-9 * np.maximum(1.0, np.abs(b))
        cat = Z[CATEGORICAL].astype(str).to_numpy() != x[CATEGORICAL].astype(str).to_numpy()
        return np.hstack([num, cat])

    def knn(self, Z: pd.DataFrame) -> np.ndarray:
        out = []
        zn, zc = Z[self.num].to_numpy(float) / self.mad, Z[CATEGORICAL].astype(str).to_numpy()
        for a, c in zip(zn, zc):
            d = np.abs(self.pool_num - a).sum(axis=1) + (self.pool_cat != c).sum(axis=1)
            out.append(np.sort(d)[:N_NEIGHBORS].mean())
        return np.array(out)

    def score(self, queries: pd.DataFrame, per_query: list[pd.DataFrame | None]) -> dict:
        returned = valid_n = moved_immutable = 0
        prox, spars, plaus, div = [], [], [], []
        covered = 0
        for i, rows in enumerate(per_query):
            if rows is None or len(rows) == 0:
                continue
            rows = rows[self.columns].reset_index(drop=True)
            x = queries.iloc[i]
            returned += len(rows)
            moved_immutable += int((rows[IMMUTABLE].astype(str) != str(x[IMMUTABLE])).sum())
            ok = self.model.predict(rows) == 1
            valid_n += int(ok.sum())
            good = rows[ok]
            if not len(good):
                continue
            covered += 1
            prox.extend(self.distance(x, good))
            spars.extend(self.changed(x, good).sum(axis=1))
            plaus.extend(self.knn(good))
            if len(good) >= 2:
                D = np.array([self.distance(good.iloc[a], good) for a in range(len(good))])
                div.append(D[np.triu_indices(len(good), 1)].mean())
        n = len(queries)
        return {"returned": returned, "valid": valid_n, "validity": valid_n / returned if returned else float("nan"),
                "delivered": valid_n / (K * n), "covered": covered, "proximity": float(np.mean(prox)),
                "sparsity": float(np.mean(spars)), "diversity": float(np.mean(div)) if div else float("nan"),
                "plausibility": float(np.mean(plaus)), "immutable_moved": moved_immutable}


def run_whybox(model, X, queries, one_by_one: bool, weight: float = 0.0):
    from whybox.counterfactuals import CounterfactualSearch

    search = CounterfactualSearch(model, X, immutable=[IMMUTABLE], plausibility_weight=weight, seed=0)
    search.explain(queries.iloc[[0]], k=K)  # warm-up
    t0, c0 = time.perf_counter(), time.process_time()
    if one_by_one:
        results = [search.explain(queries.iloc[[i]], k=K) for i in range(len(queries))]
        frames = [r.to_frame() for r in results]
        evals = sum(r.meta["model_evals"] for r in results)
    else:
        res = search.explain(queries, k=K)
        frame = res.to_frame()
        frames = [frame[frame["query"] == i] for i in range(len(queries))]
        evals = res.meta["model_evals"]
    seconds, cpu = time.perf_counter() - t0, time.process_time() - c0
    out = []
    for f in frames:
        rows = f[list(X.columns)].copy()
        for c in CATEGORICAL:
            rows[c] = rows[c].astype(str)
        out.append(rows)
    return out, seconds, cpu, evals


def run_dice(model, X, y, queries, method: str):
    import dice_ml

    data = X.copy()
    data["approved"] = y
    d = dice_ml.Data(dataframe=data, continuous_features=[c for c in X.columns if c not in CATEGORICAL],
                     outcome_name="approved")
    m = dice_ml.Model(model=model, backend="sklearn")
    explainer = dice_ml.Dice(d, m, method=method)
    vary = [c for c in X.columns if c != IMMUTABLE]
    kwargs = {"random_seed": 0} if method == "random" else {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        explainer.generate_counterfactuals(queries.iloc[[0]], total_CFs=K, desired_class="opposite",
                                           features_to_vary=vary, verbose=False, **kwargs)  # warm-up
    np.random.seed(0)
    t0, c0 = time.perf_counter(), time.process_time()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = explainer.generate_counterfactuals(queries, total_CFs=K, desired_class="opposite",
                                                 features_to_vary=vary, verbose=False, **kwargs)
    seconds, cpu = time.perf_counter() - t0, time.process_time() - c0
    out = []
    for ex in res.cf_examples_list:
        cf = ex.final_cfs_df
        out.append(None if cf is None else cf[list(X.columns)].reset_index(drop=True))
    return out, seconds, cpu


def main(quick: bool = False, append: bool = True) -> None:
    import sklearn

    import whybox

    load_before = os.getloadavg()
    n_queries = 5 if quick else 20
    X, y, model, queries = make_problem(n_queries)
    metrics = Metrics(X, model)
    rows = []
    t_all = time.perf_counter()

    wb, t_wb, c_wb, evals_wb = run_whybox(model, X, queries, one_by_one=False)
    rows.append(("whybox (batch of queries)", metrics.score(queries, wb), t_wb / n_queries, c_wb / n_queries,
                 f"{evals_wb / n_queries:,.0f} model evals per query"))
    print(rows[-1], flush=True)
    _, t_wb1, c_wb1, evals_wb1 = run_whybox(model, X, queries, one_by_one=True)
    rows.append(("whybox (one query per call)", rows[0][1], t_wb1 / n_queries, c_wb1 / n_queries,
                 f"same rows as the batch; {evals_wb1 / n_queries:,.0f} model evals per query"))
    print(rows[-1], flush=True)
    wp, t_wp, c_wp, evals_wp = run_whybox(model, X, queries, one_by_one=False, weight=PULL)
    rows.append((f"whybox plausibility_weight={PULL:g} (batch)", metrics.score(queries, wp), t_wp / n_queries,
                 c_wp / n_queries, f"{evals_wp / n_queries:,.0f} model evals per query"))
    print(rows[-1], flush=True)
    dice_version = "?"
    try:
        from importlib.metadata import version
        dice_version = version("dice-ml")
    except Exception:  # pragma: no cover
        pass
    for method in ("random", "genetic"):
        got, t, c = run_dice(model, X, y, queries, method)
        rows.append((f"dice-ml {method}", metrics.score(queries, got), t / n_queries, c / n_queries, ""))
        print(rows[-1], flush=True)
    total = time.perf_counter() - t_all
    load_after = os.getloadavg()

    versions = (f"whybox {whybox.__version__}, dice-ml {dice_version}, scikit-learn {sklearn.__version__}, "
                f"numpy {np.__version__}, pandas {pd.__version__}, Python {platform.python_version()}")
    title = f"Counterfactual recourse vs dice-ml — {datetime.date.today().isoformat()}{' (quick)' if quick else ''}"
    lines = [
        f"\n## {title}\n",
        f"{versions}; {THREADS} threads (OMP/MKL/OpenBLAS) for all; {platform.machine()} {os.cpu_count()} CPUs; "
        f"load average {load_before[0]:.2f} before, {load_after[0]:.2f} after. credit(2,000, seed=0) to train, "
        f"{n_queries} denied rows of credit(1,000, seed=1) as queries; numeric + categorical columns "
        "(categories as strings for both libraries); Pipeline(OneHotEncoder, "
        "HistGradientBoostingClassifier(max_iter=100)), the same fitted object for all; k=3 per query, "
        "postcode_region immutable, numeric values within the training range. Metrics computed by the "
        "benchmark for every library alike (proximity: MAD-scaled L1 + 1 per changed category; plausibility: "
        f"mean distance to the {N_NEIGHBORS} nearest approved training rows; both lower is better), as means "
        "over valid rows. whybox and dice-ml with their defaults (whybox plausibility_weight=0: proximity "
        f"first), and whybox with plausibility_weight={PULL:g} (chosen on another query set, credit(1,000, "
        "seed=2)). 's per query': wall time of the whole batch / queries; 'CPU s': process CPU time / "
        f"queries (less sensitive to other load). Whole run {total:.0f} s.\n",
        "| method | returned | valid | validity | valid of 3 asked | proximity | sparsity | diversity | "
        "plausibility | immutable moved | s per query | CPU s per query | notes |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for name, m, t, c, note in rows:
        lines.append(f"| {name} | {m['returned']} | {m['valid']} | {m['validity']:.1%} | {m['delivered']:.1%} | "
                     f"{m['proximity']:.3f} | {m['sparsity']:.2f} | {m['diversity']:.3f} | {m['plausibility']:.3f} | "
                     f"{m['immutable_moved']} | {t:.3f} | {c:.3f} | {note} |")
    dice = [r for r in rows if r[0].startswith("dice")]

    def goals(m: dict, t: float) -> str:
        return "; ".join([
            f"validity 100%: {'met' if m['validity'] == 1.0 else 'missed'}",
            "proximity better than both: " + ("met" if all(m["proximity"] < d["proximity"] for _, d, _, _, _ in dice)
                                               else "missed"),
            "plausibility better than both: " + ("met" if all(m["plausibility"] < d["plausibility"]
                                                              for _, d, _, _, _ in dice) else "missed"),
            "time no more than both: " + ("met" if all(t <= d_t for _, _, d_t, _, _ in dice) else "missed"),
        ])

    lines.append("")
    for name, m, t, _, _ in rows[:3]:
        lines.append(f"Goal, {name}: {goals(m, t)}.  ")
    text = "\n".join(lines) + "\n"
    print(text)
    if append:
        append_results(text)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="5 queries (a smoke run)")
    parser.add_argument("--no-append", action="store_true", help="print the table only")
    args = parser.parse_args()
    main(args.quick, append=not args.no_append)
    sys.exit(0)
