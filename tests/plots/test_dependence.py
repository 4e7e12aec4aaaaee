import numpy as np
import pandas as pd
import pytest
from sklearn.compose import make_column_transformer
from sklearn.linear_model import LinearRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder

from whybox import InputError
from whybox.effects import accumulated_local_effects, partial_dependence
from whybox.plots.dependence_plots import ale, heatmap, pdp
from whybox.results import Dependence


def model(X):
    X = np.asarray(X, dtype=float)
    return np.sin(X[:, 0]) + X[:, 1] ** 2 + X[:, 0] * X[:, 2]


@pytest.fixture(scope="module")
def X():
    return np.random.default_rng(0).normal(size=(150, 3))


@pytest.fixture(scope="module")
def dep(X):
    return partial_dependence(model, X, "x0", grid_size=12)


def _average_line(ax):
    (line,) = [ln for ln in ax.lines if ln.get_label() == "average"]
    return line


def _ice_lines(ax):
    return [ln for ln in ax.lines if ln.get_label() == "_ice"]


def test_pdp_average_curve_and_thinned_ice(dep, helpers, tmp_path):
    fig = pdp(dep, max_ice=30)
    ax = helpers.main_axes(fig)
    line = _average_line(ax)
    np.testing.assert_allclose(line.get_xdata(), dep.grid[0])
    np.testing.assert_allclose(line.get_ydata(), dep.average)
    ice = _ice_lines(ax)
    assert len(ice) == 30
    # the drawn ICE curves are rows of dep.individual, thin and translucent
    rows = {tuple(np.round(r, 12)) for r in dep.individual}
    assert all(tuple(np.round(ln.get_ydata(), 12)) in rows for ln in ice)
    assert all(ln.get_alpha() < 1 and ln.get_linewidth() < line.get_linewidth() for ln in ice)
    assert ax.get_xlabel() == "x0"
    fig.savefig(tmp_path / "pdp.png")
    assert (tmp_path / "pdp.png").stat().st_size > 1000


def test_pdp_ice_count_is_min_of_max_ice_and_rows(dep, helpers):
    assert len(_ice_lines(helpers.main_axes(pdp(dep)))) == 100
    assert len(_ice_lines(helpers.main_axes(pdp(dep, max_ice=1000)))) == 150
    assert len(_ice_lines(helpers.main_axes(pdp(dep, max_ice=0)))) == 0


def test_pdp_sample_is_seeded(dep, helpers):
    def ys(seed):
        return [tuple(ln.get_ydata()) for ln in _ice_lines(helpers.main_axes(pdp(dep, max_ice=5, seed=seed)))]
    assert ys(3) == ys(3)
    assert ys(3) != ys(4)


def test_pdp_without_ice(X, helpers):
    d = partial_dependence(model, X, "x1", grid_size=8, ice=False)
    ax = helpers.main_axes(pdp(d))
    assert _ice_lines(ax) == []
    np.testing.assert_allclose(_average_line(ax).get_ydata(), d.average)


def test_pdp_categorical_grid_as_points(helpers, tmp_path):
    rng = np.random.default_rng(1)
    df = pd.DataFrame({"a": rng.normal(size=80), "h": pd.Categorical(rng.choice(["own", "rent", "free"], 80))})
    y = df["a"] + np.where(df["h"] == "own", 1.5, 0.0)
    m = make_pipeline(make_column_transformer((OneHotEncoder(), ["h"]), remainder="passthrough"),
                      LinearRegression()).fit(df, y)
    d = partial_dependence(m, df, "h")
    fig = pdp(d, max_ice=20)
    ax = helpers.main_axes(fig)
    line = _average_line(ax)
    assert line.get_linestyle() == "None" and line.get_marker() == "o"
    np.testing.assert_array_equal(line.get_xdata(), np.arange(3))
    np.testing.assert_allclose(line.get_ydata(), d.average)
    assert [t.get_text() for t in ax.get_xticklabels()] == [str(v) for v in d.grid[0]]
    assert len(_ice_lines(ax)) == 20
    fig.savefig(tmp_path / "pdp_categorical.png")
    assert (tmp_path / "pdp_categorical.png").stat().st_size > 1000


def test_ale_curve_and_rug(X, helpers, tmp_path):
    d = accumulated_local_effects(model, X, "x0", bins=10)
    fig = ale(d)
    ax, rug = fig.axes[:2]
    (line,) = [ln for ln in ax.lines if ln.get_label() == "ALE"]
    np.testing.assert_allclose(line.get_xdata(), d.grid[0])
    np.testing.assert_allclose(line.get_ydata(), d.average)
    bars = sorted(rug.patches, key=lambda p: p.get_x())
    assert [p.get_height() for p in bars] == pytest.approx(d.meta["counts"])
    np.testing.assert_allclose([p.get_x() for p in bars], d.grid[0][:-1])
    np.testing.assert_allclose([p.get_width() for p in bars], np.diff(d.grid[0]))
    assert rug.get_xlabel() == "x0"
    fig.savefig(tmp_path / "ale.png")
    assert (tmp_path / "ale.png").stat().st_size > 1000


def test_ale_needs_counts(dep):
    with pytest.raises(InputError, match="counts"):
        ale(dep)


def test_heatmap_surface_and_labels(X, helpers, tmp_path):
    d = partial_dependence(model, X, ["x0", "x2"], grid_size=7, grid="uniform")
    fig = heatmap(d)
    ax = helpers.main_axes(fig)
    (im,) = ax.images
    np.testing.assert_allclose(np.asarray(im.get_array()), d.average.T)
    assert ax.get_xlabel() == "x0" and ax.get_ylabel() == "x2"
    assert len(fig.axes) == 2  # the colorbar
    fig.savefig(tmp_path / "heatmap.png")
    assert (tmp_path / "heatmap.png").stat().st_size > 1000


def test_wrong_inputs(dep, X):
    surf = partial_dependence(model, X, ["x0", "x1"], grid_size=4)
    with pytest.raises(InputError, match="heatmap"):
        pdp(surf)
    with pytest.raises(InputError, match="pdp"):
        heatmap(dep)
    with pytest.raises(InputError, match="Dependence"):
        pdp(np.zeros(3))
    with pytest.raises(InputError, match="max_ice"):
        pdp(dep, max_ice=-1)
    multi = Dependence(features=("x0",), grid=(np.arange(3.0),), average=np.zeros((3, 2)),
                       output_names=["no", "yes"], has_outputs=True)
    with pytest.raises(InputError, match="outputs"):
        pdp(multi)


def test_module_does_not_shadow_the_scatter_alias():
    import whybox.plots as plots
    from whybox.plots import scatter

    assert getattr(plots, "dependence", scatter) is scatter


def test_ale_of_a_categorical_feature_draws_points_in_the_chosen_order(helpers):
    rng = np.random.default_rng(2)
    df = pd.DataFrame({"a": rng.normal(size=120), "h": pd.Categorical(rng.choice(["own", "rent", "free"], 120))})

    def f(M):
        M = pd.DataFrame(M, columns=["a", "h"]) if not isinstance(M, pd.DataFrame) else M
        return M["a"].astype(float).to_numpy() + M["h"].map({"own": 1.5, "rent": 0.0, "free": -1.0}).astype(float).to_numpy()

    d = accumulated_local_effects(f, df, "h")
    fig = ale(d)
    ax, rug = fig.axes[:2]
    (points,) = [ln for ln in ax.lines if ln.get_label() == "ALE"]
    np.testing.assert_array_equal(points.get_xdata(), np.arange(3))
    np.testing.assert_allclose(points.get_ydata(), d.average)
    assert [t.get_text() for t in rug.get_xticklabels()] == [str(v) for v in d.grid[0]]
    assert sorted(p.get_height() for p in rug.patches) == sorted(d.meta["counts"])
    # the drawn steps are the planted category effects, in ALE's order
    effect = {"own": 1.5, "rent": 0.0, "free": -1.0}
    np.testing.assert_allclose(np.diff(points.get_ydata()), np.diff([effect[c] for c in d.grid[0]]), atol=1e-9)


def test_heatmap_of_a_second_order_ale(X, helpers):
    d = accumulated_local_effects(model, X, ["x0", "x2"], bins=5)
    fig = heatmap(d)
    ax = helpers.main_axes(fig)
    (im,) = ax.images
    np.testing.assert_allclose(np.asarray(im.get_array()), d.average.T)
    assert fig.axes[1].get_ylabel().startswith("second-order ALE")
