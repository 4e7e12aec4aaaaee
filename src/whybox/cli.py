"""The `whybox` command.

  whybox demo    [--out DIR] [--n N] [--rows R] [--seed S]
      Train a gradient-boosting model on the synthetic credit data, explain held-out
      applicants, print the top drivers and one denied applicant's reasons (Shapley values,
      an anchor rule, LIME), and write the plots and attributions.csv into DIR.

  whybox explain --model FILE --data CSV --out FILE [options]
      Explain the rows of a table with a saved model; write one row of attributions
      per input row (CSV or Parquet, by the --out extension).

Errors a user can fix (bad files, wrong columns, whybox's own checks) print one
line on stderr and exit with status 2; an explanation that does not add up to the
model's own output (`AdditivityError`) exits with status 3 and writes nothing;
`--debug` shows the traceback instead.
"""

from __future__ import annotations

import argparse
import os
import sys
import warnings
from dataclasses import replace
from pathlib import Path
from typing import Any, NamedTuple, Sequence

__all__ = ["main", "build_parser", "load_model", "read_table", "attribution_frame", "write_table",
           "demo_setup", "DemoSetup"]

EXIT_USAGE = 2
#: the explanation failed its self-check against the model's own output
EXIT_CHECK = 3
METHOD_CHOICES = ("auto", "exact", "kernel", "permutation", "linear", "tree")
OUTPUT_CHOICES = ("auto", "probability", "log_odds", "raw")
XGBOOST_SUFFIXES = (".json", ".ubj")
LIGHTGBM_SUFFIXES = (".txt",)
PICKLE_SUFFIXES = (".joblib", ".pkl", ".pickle")
#: background rows sampled from the data when --background is not given
DEFAULT_BACKGROUND = 50
#: separator between output name and column name when the model has several outputs
OUTPUT_SEP = ":"


class CliError(Exception):
    """A problem the user can fix; printed as one line, exit status 2."""


# --------------------------------------------------------------------------- files

def load_model(path: str | os.PathLike, trust_pickle: bool = False) -> Any:
    """Load a saved model by its extension.

    .json / .ubj          XGBoost, native format (xgboost.Booster.load_model)
    .txt                  LightGBM, text format (lightgbm.Booster(model_file=...))
    .joblib / .pkl        scikit-learn (or any) object via joblib — only with trust_pickle=True,
                          because unpickling runs arbitrary code from the file
    """
    p = Path(path)
    suffix = p.suffix.lower()
    known = XGBOOST_SUFFIXES + LIGHTGBM_SUFFIXES + PICKLE_SUFFIXES
    if suffix not in known:
        raise CliError(f"cannot tell the model format of {str(p)!r} from its extension; use XGBoost .json/.ubj, "
                       f"LightGBM .txt, or a joblib/pickle file ({', '.join(PICKLE_SUFFIXES)}) with --trust-pickle")
    if suffix in PICKLE_SUFFIXES and not trust_pickle:
        raise CliError(f"refusing to load {str(p)!r}: unpickling (joblib/pickle) runs arbitrary code stored in the "
                       "file. Pass --trust-pickle only for files you trust, or save the model in a safe format "
                       "(XGBoost .json/.ubj, LightGBM .txt)")
    if not p.is_file():
        raise CliError(f"model file not found: {str(p)!r}")
    if suffix in XGBOOST_SUFFIXES:
        try:
            import xgboost
        except ImportError:
            raise CliError("reading an XGBoost model needs xgboost: pip install 'whybox[boost]'") from None
        booster = xgboost.Booster()
        try:
            booster.load_model(str(p))
        except Exception as e:  # XGBoostError: not a model file
            raise CliError(f"{str(p)!r} is not a readable XGBoost model: {_first_line(e)}") from e
        return booster
    if suffix in LIGHTGBM_SUFFIXES:
        try:
            import lightgbm
        except ImportError:
            raise CliError("reading a LightGBM model needs lightgbm: pip install 'whybox[boost]'") from None
        try:
            return lightgbm.Booster(model_file=str(p))
        except Exception as e:  # LightGBMError: not a model file
            raise CliError(f"{str(p)!r} is not a readable LightGBM text model: {_first_line(e)}") from e
    import joblib
    try:
        return joblib.load(p)
    except Exception as e:
        raise CliError(f"could not unpickle {str(p)!r}: {type(e).__name__}: {_first_line(e)} (a model pickled "
                       "with other library versions may need those versions)") from e


def read_table(path: str | os.PathLike, what: str = "data") -> "Any":
    """Read a CSV (or Parquet, by extension) into a DataFrame; fail with one clear line."""
    import pandas as pd
    p = Path(path)
    if not p.is_file():
        raise CliError(f"{what} file not found: {str(p)!r}")
    try:
        if p.suffix.lower() in (".parquet", ".pq"):
            df = pd.read_parquet(p)
        else:
            df = pd.read_csv(p)
    except ImportError as e:
        raise CliError(f"reading Parquet needs pyarrow: pip install 'whybox[parquet]' ({e})") from e
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError, ValueError) as e:
        raise CliError(f"cannot read {what} file {str(p)!r}: {_first_line(e)}") from e
    if df.shape[0] == 0:
        raise CliError(f"{what} file {str(p)!r} has no rows")
    df.columns = [str(c) for c in df.columns]
    return df


def attribution_frame(attr: Any) -> "Any":
    """Attributions as a flat table: one column per feature, then base_value and output.

    With several outputs every column is prefixed by the output name ("1:income", "1:base_value", ...).
    """
    import numpy as np
    import pandas as pd
    if not attr.has_rows:
        raise ValueError("attribution_frame needs an attribution with rows")
    if attr.feature_ndim != 1:
        raise ValueError("attribution_frame needs a table attribution (one feature axis)")
    n, f = attr.values.shape[:2]
    names = list(attr.feature_names) if isinstance(attr.feature_names, tuple) else [f"f{j}" for j in range(f)]
    out = attr.output
    if not attr.has_outputs:
        cols = {name: attr.values[:, j] for j, name in enumerate(names)}
        cols["base_value"] = attr.base_values
        cols["output"] = out
        return pd.DataFrame(cols)
    k = attr.values.shape[-1]
    onames = list(attr.output_names) if isinstance(attr.output_names, tuple) else [str(i) for i in range(k)]
    cols = {}
    for o, oname in enumerate(onames):
        for j, name in enumerate(names):
            cols[f"{oname}{OUTPUT_SEP}{name}"] = attr.values[:, j, o]
        cols[f"{oname}{OUTPUT_SEP}base_value"] = attr.base_values[:, o]
        cols[f"{oname}{OUTPUT_SEP}output"] = np.asarray(out)[:, o]
    return pd.DataFrame(cols)


def write_table(df: Any, path: str | os.PathLike) -> Path:
    """Write a DataFrame as CSV or Parquet, chosen by the extension."""
    p = Path(path)
    suffix = p.suffix.lower()
    if suffix not in (".csv", ".parquet", ".pq"):
        raise CliError(f"--out {str(p)!r}: choose a .csv or .parquet file name")
    if p.parent and not p.parent.exists():
        raise CliError(f"output folder does not exist: {str(p.parent)!r}")
    if suffix == ".csv":
        df.to_csv(p, index=False, float_format="%.17g")
    else:
        try:
            df.to_parquet(p, index=False)
        except ImportError as e:
            raise CliError(f"writing Parquet needs pyarrow: pip install 'whybox[parquet]' ({e})") from e
    return p


def _first_line(e: BaseException) -> str:
    text = str(e).strip() or type(e).__name__
    return text.splitlines()[0]


# --------------------------------------------------------------------------- explain

def _model_columns(model: Any, output: str) -> tuple[str, ...] | None:
    """The columns the model was fitted on, if it records them."""
    from .models import wrap
    return wrap(model, output=output).feature_names


def _select_columns(df: Any, names: Sequence[str] | None, what: str, path: str) -> Any:
    if names is None:
        return df
    missing = [n for n in names if n not in df.columns]
    if missing:
        raise CliError(f"{what} file {path!r} lacks column{'s' if len(missing) > 1 else ''} "
                       f"{', '.join(repr(m) for m in missing)} that the model needs; it expects "
                       f"{list(names)}")
    extra = [c for c in df.columns if c not in names]
    if extra:
        _note(f"ignoring {what} column{'s' if len(extra) > 1 else ''} the model does not use: "
              f"{', '.join(extra[:10])}{' ...' if len(extra) > 10 else ''}")
    return df[list(names)]


def _as_categories(frames: list) -> list:
    """Text columns become pandas categoricals with the same categories in every frame."""
    import pandas as pd
    cols = [c for c in frames[0].columns
            if not pd.api.types.is_numeric_dtype(frames[0][c].dtype)
            and not pd.api.types.is_bool_dtype(frames[0][c].dtype)]
    out = [f.copy() for f in frames]
    for c in cols:
        values = set()
        for f in frames:
            if c in f.columns:
                values.update(v for v in f[c].dropna().tolist())
        dtype = pd.CategoricalDtype(sorted(values, key=str))
        for f in out:
            if c in f.columns:
                f[c] = f[c].astype(object).astype(dtype)
    return out


def _background(spec: str | None, data: Any, names: Sequence[str] | None, seed: int) -> Any:
    if spec is None:
        k = min(DEFAULT_BACKGROUND, len(data))
        return data.sample(k, random_state=seed) if k < len(data) else data
    try:
        k = int(spec)
    except ValueError:
        bg = read_table(spec, what="background")
        return _select_columns(bg, names if names is not None else list(data.columns), "background", spec)
    if k < 1:
        raise CliError(f"--background {spec}: give a positive number of rows or a CSV file")
    if k >= len(data):
        if k > len(data):
            _note(f"--background {k} is more than the {len(data)} data rows; using all of them")
        return data
    return data.sample(k, random_state=seed)


def cmd_explain(args: argparse.Namespace) -> int:
    import whybox

    model = load_model(args.model, trust_pickle=args.trust_pickle)
    data = read_table(args.data)
    out_path = Path(args.out)
    if out_path.suffix.lower() not in (".csv", ".parquet", ".pq"):
        raise CliError(f"--out {args.out!r}: choose a .csv or .parquet file name")
    names = _model_columns(model, args.output)
    X = _select_columns(data, names, "data", args.data)
    bg = _background(args.background, X, names, args.seed)
    X, bg = _as_categories([X, bg])
    if args.max_evals is not None and args.max_evals < 1:
        raise CliError(f"--max-evals must be a positive number, got {args.max_evals}")
    attr = whybox.explain(model, X, background=bg, method=args.method, seed=args.seed,
                          max_evals=args.max_evals, output=args.output)
    write_table(attribution_frame(attr), out_path)
    meta = attr.meta
    if args.max_evals is not None and meta.get("chosen_method") not in ("kernel", "permutation"):
        _note(f"--max-evals applies to kernel and permutation only; {meta.get('chosen_method')} ignored it")
    gap = meta.get("additivity_gap")
    method = attr.method or meta.get("chosen_method")
    print(f"explained {len(attr)} rows x {len(attr.feature_names)} features with {method}"
          f" ({meta.get('choice_reason', '')}); output={meta.get('output', args.output)}"
          + (f"; additivity gap {gap:.2e}" if isinstance(gap, float) else ""))
    print(f"wrote {out_path}")
    return 0


# --------------------------------------------------------------------------- demo

def _fmt_value(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:.4g}"
    return str(v)


class DemoSetup(NamedTuple):
    """What `whybox demo` explains: the credit data, its stratified 75/25 split, the background rows and the
    fitted model."""

    data: Any
    X_train: Any
    X_test: Any
    y_train: Any
    y_test: Any
    background: Any
    model: Any


def demo_setup(n: int = 2000, seed: int = 0) -> DemoSetup:
    """The demo's data, split, background (50 training rows) and gradient-boosting model for `n` synthetic
    applicants and a seed; the same arguments give the same model."""
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.model_selection import train_test_split
    from threadpoolctl import threadpool_limits

    from whybox.datasets import credit

    data = credit(n=n, seed=seed)
    X_train, X_test, y_train, y_test = train_test_split(data.X, data.y, test_size=0.25, random_state=seed,
                                                        stratify=data.y)
    background = X_train.sample(min(50, len(X_train)), random_state=seed)
    # whybox.explain picks Tree SHAP for this model. Where it cannot (and falls back to exact Shapley
    # values), 200 rows cost 200 x 512 coalitions x 50 background rows = 5 million model rows in one
    # batch per explained row; HistGradientBoosting predicts each tree in an OpenMP loop whose spinning
    # threads slow such batches several-fold on a busy machine (measured: 5 s with one thread, 37 s with
    # two on a loaded 2-core box), so the demo's model runs single-threaded. Small trees suffice: the
    # truth is nearly additive.
    with threadpool_limits(limits=1, user_api="openmp"):
        model = HistGradientBoostingClassifier(categorical_features="from_dtype", max_iter=60, learning_rate=0.1,
                                               max_depth=3, min_samples_leaf=30, random_state=seed)
        model.fit(X_train, y_train)
    return DemoSetup(data, X_train, X_test, y_train, y_test, background, model)


def cmd_demo(args: argparse.Namespace) -> int:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np
    from sklearn.metrics import roc_auc_score
    from threadpoolctl import threadpool_limits

    import whybox
    from whybox import plots
    from whybox.report import reason_codes
    from whybox.surrogates import Anchors, Lime

    if args.n < 100:
        raise CliError(f"--n {args.n}: the demo needs at least 100 applicants")
    if args.rows < 1:
        raise CliError(f"--rows {args.rows}: explain at least one applicant")
    out_dir = Path(args.out)
    out_dir.mkdir(parents=True, exist_ok=True)

    data, X_train, X_test, y_train, y_test, background, model = demo_setup(args.n, args.seed)
    X_explain = X_test.iloc[:min(args.rows, len(X_test))]
    with threadpool_limits(limits=1, user_api="openmp"):  # the model runs single-threaded: see demo_setup
        auc = roc_auc_score(y_test, model.predict_proba(X_test)[:, 1])
        print(f"credit data: {args.n} applicants, {data.X.shape[1]} features, approval rate {data.y.mean():.0%}")
        print(f"model: HistGradientBoostingClassifier, held-out AUC {auc:.3f}", flush=True)
        attr = whybox.explain(model, X_explain, background=background, seed=args.seed, output="log_odds")
    print(f"explained {len(attr)} held-out applicants with {attr.method} "
          f"(approval log-odds; base value {float(np.mean(attr.base_values)):+.2f})")

    imp = attr.mean_abs().sorted()
    print("\nTop drivers (mean |contribution| to approval log-odds):")
    width = max(len(nm) for nm in imp.feature_names)
    for rank, (nm, score) in enumerate(zip(imp.feature_names, imp.scores), 1):
        print(f"  {rank:2d}. {nm:<{width}}  {score:.3f}")
    print(f"  (ground truth, strongest first: {', '.join(data.drivers)}; 'noise' has no effect)")

    i = _denied_row(attr)
    row = attr[i]
    out_i = float(row.output)
    prob = 1.0 / (1.0 + np.exp(-out_i))
    print(f"\nApplicant {X_explain.index[i]} (denied): predicted approval probability {prob:.0%} "
          f"(log-odds {out_i:+.2f} vs {float(row.base_values):+.2f} for the average applicant)")
    print("Reasons, strongest first (features that pushed toward denial):")
    for reason in reason_codes(row, top=5):
        name = reason.features[0]
        print(f"  {reason.rank}. {name} = {_fmt_value(X_explain.iloc[i][name])}  "
              f"({-reason.contribution:+.2f} log-odds)")

    # the same applicant as a rule a loan officer can say aloud, and as LIME's local linear view
    with threadpool_limits(limits=1, user_api="openmp"):
        rule = Anchors(model, X_train, seed=args.seed).explain(X_explain.iloc[i])
        lime = Lime(model, X_train, seed=args.seed).explain(X_explain.iloc[[i]], num_samples=2000, labels=1)
    rule = replace(rule, prediction="denied" if rule.prediction in (0, "0") else "approved")
    print(f"\nAnchor (a rule under which the model keeps this decision): {rule.to_text()}")
    if not rule.meta.get("meets_threshold", False):
        print("  (the search ran out of budget before reaching precision 0.95; read the rule with care)")
    print(f"LIME local fidelity (weighted R^2 of the linear surrogate): {lime.meta['local_fidelity'][0]:.2f}")

    figures = {
        "waterfall.png": lambda: plots.waterfall(attr[i]),
        "lime.png": lambda: plots.lime_bar(lime),
        "anchor.png": lambda: plots.rule_card(rule),
        "bar.png": lambda: plots.bar(attr),
        "beeswarm.png": lambda: plots.beeswarm(attr),
        "force.png": lambda: plots.force(attr[i]),
        "scatter_income.png": lambda: plots.scatter(attr[:, "income"]),
    }
    for name, draw in figures.items():
        fig = draw()
        fig.savefig(out_dir / name, dpi=110, bbox_inches="tight")
        plt.close(fig)
    table = attribution_frame(attr)
    table.insert(0, "applicant", X_explain.index.to_numpy())
    table.to_csv(out_dir / "attributions.csv", index=False, float_format="%.17g")
    print(f"\nwrote {', '.join(figures)} and attributions.csv to {out_dir}/")
    return 0


def _denied_row(attr: Any) -> int:
    """The first explained applicant the model denies (log-odds below 0), else the least likely approved."""
    import numpy as np
    out = np.asarray(attr.output)
    denied = np.flatnonzero(out < 0)
    return int(denied[0]) if denied.size else int(np.argmin(out))


# --------------------------------------------------------------------------- entry point

def build_parser() -> argparse.ArgumentParser:
    from . import __version__
    parser = argparse.ArgumentParser(prog="whybox", description="Explain machine-learning models.")
    parser.add_argument("--version", action="version", version=f"whybox {__version__}")
    parser.add_argument("--debug", action="store_true", help="show the full traceback on errors")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    # --debug also after the command; SUPPRESS keeps a subcommand from resetting one given before it
    debug = argparse.ArgumentParser(add_help=False)
    debug.add_argument("--debug", action="store_true", default=argparse.SUPPRESS,
                       help="show the full traceback on errors")

    demo = sub.add_parser("demo", parents=[debug], help="explain a credit model on synthetic data and draw the standard plots",
                          description="Train a gradient-boosting model on synthetic credit data, explain "
                                      "held-out applicants and write plots and attributions.csv.")
    demo.add_argument("--out", default="whybox-demo", help="folder for the PNGs and CSV (default: whybox-demo)")
    demo.add_argument("--n", type=int, default=2000, help="number of synthetic applicants (default: 2000)")
    demo.add_argument("--rows", type=int, default=200,
                      help="held-out applicants to explain (default: 200, at most a quarter of --n)")
    demo.add_argument("--seed", type=int, default=0, help="seed of the data, model and explanation (default: 0)")
    demo.set_defaults(func=cmd_demo)

    ex = sub.add_parser("explain", parents=[debug], help="explain a table with a saved model",
                        description="Explain every row of a CSV with a saved model and write the attributions "
                                    "(one column per feature, plus base_value and output) as CSV or Parquet.")
    ex.add_argument("--model", required=True, metavar="FILE",
                    help="XGBoost .json/.ubj, LightGBM .txt, or scikit-learn .joblib/.pkl (needs --trust-pickle)")
    ex.add_argument("--data", required=True, metavar="CSV", help="rows to explain (CSV, or .parquet)")
    ex.add_argument("--out", required=True, metavar="FILE", help="where to write attributions: .csv or .parquet")
    ex.add_argument("--background", metavar="N|CSV", default=None,
                    help=f"rows standing for 'feature removed': a number of rows sampled from the data, or a CSV "
                         f"(default: {DEFAULT_BACKGROUND} sampled rows)")
    ex.add_argument("--method", choices=METHOD_CHOICES, default="auto", help="Shapley method (default: auto)")
    ex.add_argument("--max-evals", type=int, default=None, metavar="N",
                    help="budget of coalitions per row for kernel/permutation")
    ex.add_argument("--seed", type=int, default=0, help="seed for sampling (default: 0)")
    ex.add_argument("--output", choices=OUTPUT_CHOICES, default="auto",
                    help="which model output to explain (default: auto, the chosen method's default: class "
                         "probabilities for the model-agnostic methods, the margin for Tree SHAP)")
    ex.add_argument("--trust-pickle", action="store_true",
                    help="allow loading .joblib/.pkl models; unpickling runs arbitrary code, so only for "
                         "files you trust")
    ex.set_defaults(func=cmd_explain)
    return parser


def _note(msg: str) -> None:
    print(f"whybox: note: {msg}", file=sys.stderr)


def _show_warning(message: Any, category: Any, filename: str, lineno: int, file: Any = None,
                  line: Any = None) -> None:
    print(f"whybox: warning: {message}", file=sys.stderr)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the `whybox` command; returns the exit status (0 ok, 2 usage or input error, 3 an explanation that
    failed its additivity check, 1 unexpected)."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as e:  # --help, --version, or a usage error argparse already printed
        return int(e.code) if isinstance(e.code, int) else EXIT_USAGE
    if not getattr(args, "func", None):
        parser.print_help(sys.stderr)
        return EXIT_USAGE
    if args.debug:
        return args.func(args)
    from .errors import AdditivityError, WhyboxError
    try:
        with warnings.catch_warnings():
            warnings.showwarning = _show_warning
            return args.func(args)
    except BrokenPipeError:  # the reader went away (whybox demo | head): stop quietly
        try:
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
        except (OSError, ValueError, AttributeError):
            pass
        return 1
    except AdditivityError as e:
        print(f"whybox: error: the explanation failed its check: {_first_line(e)}", file=sys.stderr)
        return EXIT_CHECK
    except (CliError, WhyboxError, OSError) as e:
        print(f"whybox: error: {_first_line(e)}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("whybox: interrupted", file=sys.stderr)
        return 130
    except Exception as e:  # a bug, not a user error: still one line, with the way to see more
        print(f"whybox: unexpected error: {type(e).__name__}: {_first_line(e)} (run with --debug for the "
              "traceback)", file=sys.stderr)
        return 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
