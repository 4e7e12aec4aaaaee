"""The `whybox` command: demo, explain with saved models, and one-line errors."""

import contextlib
import io
import re
import subprocess
import sys
from decimal import Decimal

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score

from whybox.cli import main
from whybox.datasets import credit

NUMERIC = ["income", "debt", "prior_defaults", "credit_age", "noise"]
PLOTS = ["lime.png", "anchor.png", "waterfall.png", "bar.png", "beeswarm.png", "force.png", "scatter_income.png"]


@pytest.fixture(scope="module")
def table():
    d = credit(n=400, seed=3)
    return d.X[NUMERIC], d.y


@pytest.fixture(scope="module")
def files(tmp_path_factory, table):
    X, y = table
    root = tmp_path_factory.mktemp("cli")
    data = X.iloc[:12].assign(applicant_id=np.arange(12))  # an extra column the model does not use
    data.to_csv(root / "data.csv", index=False)
    X.iloc[:12].drop(columns=["debt"]).to_csv(root / "missing.csv", index=False)
    return root


def _additive(df: pd.DataFrame, features) -> None:
    """Every output block of the table satisfies base_value + sum(features) == output to 1e-6."""
    prefixes = sorted({c.rsplit(":", 1)[0] for c in df.columns if ":" in c}) or [None]
    for p in prefixes:
        col = (lambda name: name) if p is None else (lambda name, p=p: f"{p}:{name}")
        total = df[col("base_value")] + df[[col(f) for f in features]].sum(axis=1)
        np.testing.assert_allclose(total, df[col("output")], rtol=0, atol=1e-6)


def _run(capsys, *argv):
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def _read(path):
    return pd.read_csv(path) if str(path).endswith(".csv") else pd.read_parquet(path)


# --------------------------------------------------------------------------- demo

DEMO_N, DEMO_ROWS, DEMO_SEED = 400, 30, 0


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    """`whybox demo` run once on small settings: (exit code, stdout, stderr, output folder)."""
    out_dir = tmp_path_factory.mktemp("demo") / "demo"
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(["demo", "--out", str(out_dir), "--n", str(DEMO_N), "--rows", str(DEMO_ROWS),
                     "--seed", str(DEMO_SEED)])
    return code, out.getvalue(), err.getvalue(), out_dir


def test_demo_writes_plots_and_csv_and_prints_drivers(demo):
    code, out, err, out_dir = demo
    assert code == 0, err
    for name in PLOTS + ["attributions.csv"]:
        assert (out_dir / name).stat().st_size > 1000, name
    ranks = {m.group(2): int(m.group(1)) for m in re.finditer(r"^\s+(\d+)\. (\w+)\s+[\d.]+$", out, re.M)}
    assert len(ranks) == 9
    assert ranks["income"] < ranks["noise"] and ranks["prior_defaults"] < ranks["noise"]
    assert "(denied)" in out and "Reasons" in out
    # the anchor names only real features and ends in the denial it anchors
    rule_line = re.search(r"^Anchor .*: IF (.*) THEN (\w+) \(precision ([\d.]+)", out, re.M)
    assert rule_line and rule_line.group(2) == "denied"
    names = {m.group(1) for m in re.finditer(r"(\w+) (?:<=|>=|<|>|==|in) ", rule_line.group(1))}
    assert names and names <= set(credit(n=10).X.columns)
    table = pd.read_csv(out_dir / "attributions.csv")
    assert len(table) == 30
    _additive(table, credit(n=10).X.columns)


# --------------------------------------------------------------------------- demo: every printed number
#
# Each number `whybox demo` prints is checked against the model's own library (scikit-learn's
# decision_function, predict_proba, predict, roc_auc_score) on the same data, split and model
# (whybox.cli.demo_setup), and the contributions against Shapley values enumerated over all 512
# coalitions without whybox (tests/reference_shapley.py). Printed numbers are rounded, so each is compared
# within half a unit of its last printed digit.

def _near(token: str, value: float, scale: float = 1.0) -> bool:
    """Whether a printed number (e.g. "+0.24", "0.812", "60" of "60%") is `value * scale` rounded to its digits."""
    half_unit = 0.5 * 10.0 ** Decimal(token.lstrip("+")).as_tuple().exponent
    return abs(float(token) - value * scale) <= half_unit + 1e-9


def _demo_numbers(out: str) -> dict:
    """Every number the demo prints, as the strings it printed."""
    def one(pattern):
        m = re.search(pattern, out, re.M)
        assert m, f"the demo printed no line matching {pattern!r}:\n{out}"
        return m.groups()
    reasons_block = out.split("Reasons", 1)[1].split("\n\n", 1)[0]
    return {
        "approval_rate": one(r"approval rate (\d+)%")[0],
        "auc": one(r"held-out AUC ([\d.]+)")[0],
        "base_value": one(r"base value ([+-][\d.]+)\)")[0],
        "drivers": re.findall(r"^\s+\d+\. (\w+)\s+([\d.]+)$", out, re.M),
        "applicant": one(r"^Applicant (\S+) \(denied\): predicted approval probability (\d+)% "
                         r"\(log-odds ([+-][\d.]+) vs ([+-][\d.]+) for the average applicant\)"),
        "reasons": re.findall(r"^\s+\d+\. (\w+) = (.+?)  \(([+-][\d.]+) log-odds\)$", reasons_block, re.M),
        "anchor": one(r"^Anchor .*?: IF (.*) THEN (\w+) \(precision ([\d.]+), coverage ([\d.]+)\)"),
        "anchor_accepted": "ran out of budget" not in out,
        "lime_fidelity": one(r"LIME local fidelity .*: (-?[\d.]+)$")[0],
    }


@pytest.fixture(scope="module")
def demo_truth():
    """The demo's model rebuilt, and what its own library says about the explained applicants."""
    from whybox.cli import demo_setup
    from reference_shapley import interventional_shapley

    setup = demo_setup(DEMO_N, DEMO_SEED)
    X = setup.X_test.iloc[:DEMO_ROWS]
    margin = setup.model.decision_function(X)
    base, phi = interventional_shapley(setup.model.decision_function, X, setup.background)
    np.testing.assert_allclose(base + phi.sum(axis=1), margin, rtol=0, atol=1e-9)  # the reference is exact
    return {"setup": setup, "X": X, "margin": margin, "base": base, "phi": pd.DataFrame(phi, columns=X.columns,
                                                                                        index=X.index)}


@pytest.fixture(scope="module")
def printed(demo):
    code, out, err, _ = demo
    assert code == 0, err
    return _demo_numbers(out)


def _applicant(printed, truth):
    """The row label the demo printed for its denied applicant, as the label of X's index."""
    label = printed["applicant"][0]
    labels = [i for i in truth["X"].index if str(i) == label]
    assert len(labels) == 1, f"applicant {label} is not one of the explained rows"
    return labels[0]


def test_demo_data_and_model_lines(printed, demo_truth):
    s = demo_truth["setup"]
    assert _near(printed["approval_rate"], float(np.mean(s.data.y)), scale=100)
    auc = roc_auc_score(s.y_test, s.model.predict_proba(s.X_test)[:, 1])
    assert _near(printed["auc"], auc), (printed["auc"], auc)


def test_demo_base_value_is_the_mean_margin_over_the_background(printed, demo_truth):
    s = demo_truth["setup"]
    expected = float(np.mean(s.model.decision_function(s.background)))
    assert _near(printed["base_value"], expected), (printed["base_value"], expected)
    assert _near(printed["applicant"][3], expected), (printed["applicant"][3], expected)


def test_demo_drivers_are_mean_absolute_shapley_values_strongest_first(printed, demo_truth):
    truth = demo_truth["phi"].abs().mean()
    names = [name for name, _ in printed["drivers"]]
    assert sorted(names) == sorted(truth.index)
    for name, token in printed["drivers"]:
        assert _near(token, truth[name]), (name, token, truth[name])
    assert all(truth[a] >= truth[b] - 1e-9 for a, b in zip(names, names[1:])), truth.sort_values()


def test_demo_denied_applicant_is_the_first_the_model_denies(printed, demo_truth):
    model, X, margin = demo_truth["setup"].model, demo_truth["X"], demo_truth["margin"]
    denied = np.flatnonzero(margin < 0)
    first = denied[0] if denied.size else int(np.argmin(margin))
    label = _applicant(printed, demo_truth)
    assert label == X.index[first]
    _, probability, log_odds, _ = printed["applicant"]
    assert _near(log_odds, model.decision_function(X.loc[[label]])[0])
    assert _near(probability, model.predict_proba(X.loc[[label]])[0, 1], scale=100)


def test_demo_reasons_are_the_most_negative_shapley_contributions(printed, demo_truth):
    label = _applicant(printed, demo_truth)
    phi, x = demo_truth["phi"].loc[label], demo_truth["X"].loc[label]
    against = phi[phi < 0].sort_values()
    assert [name for name, _, _ in printed["reasons"]] == list(against.index[:5])
    for name, value, contribution in printed["reasons"]:
        assert _near(contribution, phi[name]), (name, contribution, phi[name])
        if isinstance(x[name], str):
            assert value == x[name]
        else:
            assert float(value) == pytest.approx(float(x[name]), rel=5e-4)


def _conditions(text: str) -> list[tuple[str, str, str]]:
    """The printed anchor's conditions: (feature, operator, value as printed)."""
    out = []
    for part in text.split(" AND "):
        m = re.fullmatch(r"(\w+) (<=|>=|<|>|==) (.+)", part.strip())
        assert m, f"cannot read the anchor condition {part!r}"
        out.append(m.groups())
    return out


def _holds(frame: pd.DataFrame, conditions) -> np.ndarray:
    """Which rows of the frame satisfy every condition."""
    ops = {"<=": np.less_equal, ">=": np.greater_equal, "<": np.less, ">": np.greater}
    ok = np.ones(len(frame), dtype=bool)
    for name, op, value in conditions:
        col = frame[name]
        if op == "==":
            ok &= (col.astype(str) == value).to_numpy()
        else:
            ok &= ops[op](col.to_numpy(dtype=float), float(value.replace(",", "")))
    return ok


def _anchor_samples(train: pd.DataFrame, x: pd.Series, conditions, n: int, rng) -> pd.DataFrame:
    """n rows of D(.|A) as the anchors paper defines it for tables: random training rows whose anchored
    features are redrawn from the training values that satisfy the anchor (a category: set to x's)."""
    rows = train.iloc[rng.integers(0, len(train), n)].reset_index(drop=True)
    for name in {c[0] for c in conditions}:
        own = [c for c in conditions if c[0] == name]
        if own[0][1] == "==":
            rows[name] = pd.Series([x[name]] * n, dtype=train[name].dtype)
            continue
        allowed = train[name][_holds(train[[name]], own)].to_numpy()
        rows[name] = allowed[rng.integers(0, len(allowed), n)]
    return rows


def test_demo_anchor_holds_for_the_applicant_and_its_precision_and_coverage_check_out(printed, demo_truth):
    s = demo_truth["setup"]
    label = _applicant(printed, demo_truth)
    rule, then, precision, coverage = printed["anchor"]
    conditions = _conditions(rule)
    x = demo_truth["X"].loc[[label]]
    assert _holds(x, conditions)[0]
    decision = s.model.predict(x)[0]
    assert then == ("denied" if decision == 0 else "approved") == "denied"
    # coverage: the share of training rows the rule covers (the demo has fewer than 10,000: all of them)
    assert _near(coverage, float(_holds(s.X_train, conditions).mean()))
    # precision: fresh draws from D(.|A), labelled by the model itself. The demo's estimate rests on at least
    # one batch of 100 draws; allow 4 standard errors of each estimate plus the rounding.
    fresh = _anchor_samples(s.X_train, x.iloc[0], conditions, 5000, np.random.default_rng(1))
    p = float(np.mean(s.model.predict(fresh) == decision))
    var = max(float(precision) * (1 - float(precision)), 0.01 * 0.99)
    assert abs(float(precision) - p) <= 0.005 + 4 * np.sqrt(var / 100) + 4 * np.sqrt(var / 5000), (precision, p)
    if printed["anchor_accepted"]:
        assert p >= 0.9, p


def test_demo_lime_fidelity_is_the_weighted_r2_of_a_ridge_on_its_neighbourhood(printed, demo_truth):
    """LIME's neighbourhood comes from whybox's sampler (the same seed as the demo); its labels come from
    predict_proba, and the surrogate and its R^2 from scikit-learn's Ridge(alpha=1) and r2_score with
    LIME's kernel weights exp(-d^2 / width^2), width = 0.75 sqrt(2 m)."""
    from sklearn.linear_model import Ridge
    from sklearn.metrics import r2_score
    from whybox.surrogates import Lime

    s = demo_truth["setup"]
    x = demo_truth["X"].loc[[_applicant(printed, demo_truth)]]
    lime = Lime(s.model, s.X_train, seed=DEMO_SEED)
    m = x.shape[1]
    assert lime.num_features >= m  # every feature enters the surrogate: no selection step to replay
    pool, codes = lime.sampler.pool(np.random.default_rng(DEMO_SEED), 2000 - 1)
    Z, d2, z_x = lime.sampler.design(codes, lime.sampler.codes(lime.model.prepare(x))[0])
    rows = pd.concat([x, pd.DataFrame(pool, columns=x.columns).astype(x.dtypes.to_dict())], ignore_index=True)
    y = s.model.predict_proba(rows)[:, 1]
    Z, d2 = np.vstack([z_x, Z]), np.r_[0.0, d2]
    w = np.exp(-d2 / (0.75 * np.sqrt(2 * m)) ** 2)
    fit = Ridge(alpha=1.0).fit(Z, y, sample_weight=w)
    r2 = r2_score(y, fit.predict(Z), sample_weight=w)
    assert _near(printed["lime_fidelity"], r2), (printed["lime_fidelity"], r2)


# --------------------------------------------------------------------------- explain

@pytest.fixture(scope="module")
def xgb_model(files, table):
    import xgboost as xgb
    X, y = table
    booster = xgb.train({"objective": "binary:logistic", "max_depth": 3, "nthread": 1}, xgb.DMatrix(X, y), 15)
    path = files / "model.json"
    booster.save_model(path)
    return path, lambda Z: booster.inplace_predict(Z)


@pytest.fixture(scope="module")
def lgb_model(files, table):
    import lightgbm as lgb
    X, y = table
    booster = lgb.train({"objective": "binary", "num_leaves": 7, "verbose": -1, "num_threads": 1},
                        lgb.Dataset(X, y), 15)
    path = files / "model.txt"
    booster.save_model(path)
    return path, booster.predict


def _class1_output(df: pd.DataFrame) -> pd.Series:
    """The explained output for class 1: "output" for a one-output model, "1:output" when each class has one."""
    return df["output"] if "output" in df.columns else df["1:output"]


@pytest.mark.parametrize("kind", ["xgb", "lgb"])
@pytest.mark.parametrize("ext", ["csv", "parquet"])
def test_explain_round_trip(kind, ext, request, files, table, tmp_path, capsys):
    model, predict = request.getfixturevalue(f"{kind}_model")
    out = tmp_path / f"attr.{ext}"
    code, stdout, err = _run(capsys, "explain", "--model", model, "--data", files / "data.csv", "--out", out,
                             "--background", 20, "--output", "probability")
    assert code == 0, err
    assert "applicant_id" in err  # told that the extra column is ignored
    df = _read(out)
    assert len(df) == 12
    _additive(df, NUMERIC)
    # the explained output is the model's own probability of class 1
    p = predict(table[0].iloc[:12])
    np.testing.assert_allclose(_class1_output(df), p, atol=1e-6)
    assert str(out) in stdout
    # and the default output (whatever the chosen method calls "auto") is additive too
    code, stdout, err = _run(capsys, "explain", "--model", model, "--data", files / "data.csv", "--out", out)
    assert code == 0, err
    _additive(_read(out), NUMERIC)


@pytest.mark.parametrize("method", ["exact", "permutation", "kernel"])
def test_explain_log_odds_with_background_file_and_method(method, xgb_model, files, table, tmp_path, capsys):
    table[0].iloc[100:130].to_csv(tmp_path / "bg.csv", index=False)
    out = tmp_path / "attr.csv"
    code, stdout, err = _run(capsys, "explain", "--model", xgb_model[0], "--data", files / "data.csv",
                             "--out", out, "--background", tmp_path / "bg.csv", "--output", "log_odds",
                             "--method", method, "--max-evals", 64, "--seed", 1)
    assert code == 0, err
    assert method in stdout
    df = pd.read_csv(out)
    assert list(df.columns) == NUMERIC + ["base_value", "output"]  # one output: no prefixes
    _additive(df, NUMERIC)
    p = xgb_model[1](table[0].iloc[:12]).astype(float)
    np.testing.assert_allclose(df["output"], np.log(p / (1 - p)), atol=1e-5)  # XGBoost computes in float32


def test_pickled_model_needs_trust(files, table, tmp_path, capsys):
    import joblib
    from sklearn.linear_model import LogisticRegression
    X, y = table
    path = files / "model.joblib"
    joblib.dump(LogisticRegression(max_iter=500).fit(X, y), path)
    code, out, err = _run(capsys, "explain", "--model", path, "--data", files / "data.csv",
                          "--out", tmp_path / "a.csv")
    assert code == 2
    assert "arbitrary code" in err and "--trust-pickle" in err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "a.csv").exists()
    code, out, err = _run(capsys, "explain", "--model", path, "--data", files / "data.csv",
                          "--out", tmp_path / "a.csv", "--trust-pickle", "--output", "log_odds")
    assert code == 0, err
    _additive(pd.read_csv(tmp_path / "a.csv"), NUMERIC)


def test_missing_column_is_named(xgb_model, files, tmp_path, capsys):
    code, out, err = _run(capsys, "explain", "--model", xgb_model[0], "--data", files / "missing.csv",
                          "--out", tmp_path / "a.csv")
    assert code == 2
    assert "'debt'" in err and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1


@pytest.mark.parametrize("change, needle", [
    ({"--model": "nowhere.json"}, "not found"),
    ({"--model": "model.onnx2"}, "extension"),
    ({"--data": "nowhere.csv"}, "not found"),
    ({"--out": "attr.xlsx"}, ".csv or .parquet"),
    ({"--background": "0"}, "positive"),
])
def test_user_errors_are_one_line_exit_2(change, needle, xgb_model, files, tmp_path, capsys):
    args = {"--model": xgb_model[0], "--data": files / "data.csv", "--out": tmp_path / "a.csv"}
    # file names point into tmp_path: nothing depends on (or lands in) the working directory
    args.update({k: (v if k == "--background" else tmp_path / v) for k, v in change.items()})
    argv = ["explain"] + [str(x) for kv in args.items() for x in kv]
    code, out, err = _run(capsys, *argv)
    assert code == 2
    assert needle in err and "Traceback" not in err


def test_not_a_model_file(files, tmp_path, capsys):
    bad = tmp_path / "broken.json"
    bad.write_text("{not json")
    code, out, err = _run(capsys, "explain", "--model", bad, "--data", files / "data.csv", "--out",
                          tmp_path / "a.csv")
    assert code == 2 and "not a readable XGBoost model" in err


def test_usage_errors(capsys):
    assert main([]) == 2
    assert main(["explain", "--model", "m.json"]) == 2  # argparse: required arguments missing
    assert "required" in capsys.readouterr().err


def test_python_dash_m_runs_the_command():
    done = subprocess.run([sys.executable, "-m", "whybox", "--version"], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0 and done.stdout.startswith("whybox ")


def test_debug_shows_the_real_exception(files, tmp_path):
    from whybox.cli import CliError
    with pytest.raises(CliError, match="not found"):
        main(["explain", "--model", str(tmp_path / "none.json"), "--data", str(files / "data.csv"),
              "--out", str(tmp_path / "a.csv"), "--debug"])
