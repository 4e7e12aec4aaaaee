import numpy as np
import pandas as pd
from sklearn.ensemble import HistGradientBoostingRegressor

from whybox.models.trees import TreeEnsemble, stack_trees


def test_numeric_category_values_in_numpy_input_are_coded():
    rng = np.random.default_rng(0)
    X = np.column_stack([rng.normal(size=400), rng.choice([1.0, 3.0, 7.0], size=400)])
    y = X[:, 0] + np.where(X[:, 1] == 3.0, 2.0, 0.0) + np.where(X[:, 1] == 7.0, -1.0, 0.0)
    hgb = HistGradientBoostingRegressor(max_iter=20, categorical_features=[1]).fit(X, y)
    ens = TreeEnsemble.from_model(hgb)
    Xt = np.column_stack([rng.normal(size=30), rng.choice([1.0, 3.0, 7.0, 5.0, np.nan], size=30)])
    np.testing.assert_allclose(ens.predict_raw(Xt)[:, 0], hgb.predict(Xt), atol=1e-6)


def test_hand_built_tree_routes_nan_categories_and_unseen_values():
    # root: x0 <= 0.5 -> leaf 1.0; else x1 in {a, c} -> leaf 2.0, else leaf 3.0; NaN at the root goes right
    tree = dict(left=[1, -1, 3, -1, -1], right=[2, -1, 4, -1, -1], feature=[0, -1, 1, -1, -1],
                threshold=[0.5, 0, 0, 0, 0], cover=[10, 4, 6, 3, 3], value=[0, 1.0, 0, 2.0, 3.0],
                categorical=[0, 0, 1, 0, 0], cat_sets=[[], [], [0, 2], [], []], default_left=[0, 1, 1, 1, 1])
    ens = stack_trees([tree, tree], base_offset=[0.5], n_outputs=1, n_features=2,
                      categories={1: ["a", "b", "c"]}, feature_names=["x0", "x1"])
    X = pd.DataFrame({"x0": [0.1, 0.9, 0.9, np.nan, 0.9], "x1": ["a", "b", "c", "a", "unseen"]})
    np.testing.assert_allclose(ens.predict_raw(X)[:, 0], [2.5, 6.5, 4.5, 4.5, 6.5])
    assert ens.n_trees == 2 and ens.max_depth == 2
