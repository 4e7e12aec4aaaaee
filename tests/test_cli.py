"""The `whybox` command: demo, explain with saved models, and one-line errors."""

import re
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

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

def test_demo_writes_plots_and_csv_and_prints_drivers(tmp_path, capsys):
    out_dir = tmp_path / "demo"
    code, out, err = _run(capsys, "demo", "--out", out_dir, "--n", 400, "--rows", 30)
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


# --------------------------------------------------------------------------- explain

@pytest.fixture(scope="module")
def xgb_model(files, table):
    xgb = pytest.importorskip("xgboost")
    X, y = table
    booster = xgb.train({"objective": "binary:logistic", "max_depth": 3, "nthread": 1}, xgb.DMatrix(X, y), 15)
    path = files / "model.json"
    booster.save_model(path)
    return path, lambda Z: booster.inplace_predict(Z)


@pytest.fixture(scope="module")
def lgb_model(files, table):
    lgb = pytest.importorskip("lightgbm")
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
    if ext == "parquet":
        pytest.importorskip("pyarrow")
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
    if method != "exact":
        pytest.importorskip(f"whybox.shapley.{method}")
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
    args.update(change)
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
