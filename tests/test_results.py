import dataclasses
import json

import numpy as np
import pandas as pd
import pytest

from whybox import Attribution, Importance


def make_attr(n=4, m=3, k=None, seed=0):
    rng = np.random.default_rng(seed)
    shape = (n, m) if k is None else (n, m, k)
    values = rng.normal(size=shape)
    base = rng.normal(size=(n,) if k is None else (n, k))
    data = np.empty((n, m), dtype=object)
    data[:, 0] = rng.normal(size=n)
    data[:, 1] = rng.choice(["rent", "own"], size=n)
    data[:, 2] = rng.integers(0, 5, size=n).astype(float)
    return Attribution(values=values, base_values=base, data=data, feature_names=["income", "housing", "defaults"],
                       output_names=None if k is None else [f"c{i}" for i in range(k)], method="test",
                       meta={"seed": np.int64(3), "evals": np.float64(1.5)}, has_outputs=k is not None)


def test_row_slice_drops_row_axis_and_keeps_output():
    a = make_attr()
    r = a[1]
    assert not r.has_rows and r.values.shape == (3,)
    np.testing.assert_array_equal(r.values, a.values[1])
    assert float(r.base_values) == a.base_values[1]
    assert r.output == pytest.approx(a.output[1])


def test_feature_slice_by_name_and_list():
    a = make_attr()
    col = a[:, "housing"]
    assert col.feature_names == "housing"
    np.testing.assert_array_equal(col.values, a.values[:, 1])
    np.testing.assert_array_equal(col.data, a.data[:, 1])
    two = a[:, ["defaults", "income"]]
    assert two.feature_names == ("defaults", "income")
    np.testing.assert_array_equal(two.values, a.values[:, [2, 0]])
    with pytest.raises(KeyError, match="unknown feature 'age'"):
        a[:, "age"]


def test_output_slice_by_name_with_ellipsis():
    a = make_attr(k=3)
    o = a[..., "c2"]
    assert not o.has_outputs and o.values.shape == (4, 3) and o.output_names == "c2"
    np.testing.assert_array_equal(o.values, a.values[..., 2])
    np.testing.assert_array_equal(o.base_values, a.base_values[:, 2])
    one = a[0, ..., "c1"]
    assert one.values.shape == (3,) and float(one.base_values) == a.base_values[0, 1]
    np.testing.assert_allclose(a.output[:, 1], a[..., "c1"].output)


def test_boolean_and_slice_rows():
    a = make_attr()
    sub = a[np.array([True, False, True, False])]
    assert len(sub) == 2
    np.testing.assert_array_equal(sub.values, a.values[[0, 2]])
    assert len(a[1:3]) == 2


def test_to_frame_single_and_multi_output():
    a = make_attr()
    df = a.to_frame()
    assert list(df.columns) == ["income", "housing", "defaults"]
    np.testing.assert_array_equal(df.to_numpy(), a.values)
    m = make_attr(k=2).to_frame()
    assert m.columns.nlevels == 2 and m[("c1", "housing")].tolist() == make_attr(k=2).values[:, 1, 1].tolist()


def test_dict_round_trip_is_exact_and_json_safe():
    for a in (make_attr(), make_attr(k=3), make_attr()[2], make_attr(k=2)[:, "income"]):
        d = json.loads(json.dumps(a.to_dict(), allow_nan=False))
        b = Attribution.from_dict(d)
        np.testing.assert_array_equal(b.values, a.values)
        np.testing.assert_array_equal(b.base_values, a.base_values)
        assert b.values.dtype == a.values.dtype
        assert b.data.tolist() == a.data.tolist()
        assert (b.feature_names, b.output_names, b.has_rows, b.has_outputs) == (
            a.feature_names, a.output_names, a.has_rows, a.has_outputs)
        assert b.meta == {"seed": 3, "evals": 1.5}


def test_round_trip_keeps_nan_and_inf_in_data():
    a = Attribution(values=np.zeros((1, 2)), base_values=np.zeros(1), data=np.array([[np.nan, np.inf]]),
                    feature_names=["a", "b"])
    b = Attribution.from_dict(json.loads(json.dumps(a.to_dict(), allow_nan=False)))
    assert np.isnan(b.data[0, 0]) and np.isposinf(b.data[0, 1])


def test_mean_abs_importance():
    a = make_attr(n=50)
    imp = a.mean_abs()
    np.testing.assert_allclose(imp.scores, np.abs(a.values).mean(axis=0))
    s = imp.sorted()
    assert list(s.scores) == sorted(imp.scores, reverse=True)
    assert s.feature_names[0] == imp.feature_names[int(np.argmax(imp.scores))]
    assert imp["housing"] == pytest.approx(np.abs(a.values[:, 1]).mean())
    multi = make_attr(n=10, k=2)
    np.testing.assert_allclose(multi.mean_abs("c1").scores, np.abs(multi.values[..., 1]).mean(axis=0))


def test_importance_round_trip_and_top():
    imp = Importance(scores=[0.1, 0.5, 0.3], spread=[0.01, 0.02, 0.03], repeats=np.ones((2, 3)),
                     feature_names=["a", "b", "c"], method="perm")
    assert imp.top(2).feature_names == ("b", "c")
    b = Importance.from_dict(json.loads(json.dumps(imp.to_dict())))
    np.testing.assert_array_equal(b.scores, imp.scores)
    np.testing.assert_array_equal(b.repeats, imp.repeats)
    assert b.feature_names == imp.feature_names
    assert isinstance(imp.to_frame(), pd.DataFrame)


def test_bad_base_shape_is_refused():
    with pytest.raises(ValueError, match="base_values has shape"):
        Attribution(values=np.zeros((3, 2)), base_values=np.zeros(2))


def test_round_trip_keeps_missing_values_and_string_dtype_in_object_data():
    data = np.array([[1.5, "rent"], [np.nan, "nan"]], dtype=object)
    a = Attribution(values=np.zeros((2, 2)), base_values=np.zeros(2), data=data, feature_names=["a", "h"])
    b = Attribution.from_dict(json.loads(json.dumps(a.to_dict(), allow_nan=False)))
    assert isinstance(b.data[1, 0], float) and np.isnan(b.data[1, 0])
    assert b.data[1, 1] == "nan" and b.data[0, 1] == "rent"
    u = Attribution(values=np.zeros((1, 2)), base_values=np.zeros(1), data=np.array([["a", "bc"]]))
    assert Attribution.from_dict(u.to_dict()).data.dtype == u.data.dtype


def test_shapes_are_checked_and_name_keys_on_rows_are_explained():
    with pytest.raises(ValueError, match="data has shape"):
        Attribution(values=np.zeros((2, 3)), base_values=np.zeros(2), data=np.zeros((5, 7)))
    with pytest.raises(ValueError, match="1 feature names for 3 features"):
        Attribution(values=np.zeros((2, 3)), base_values=np.zeros(2), feature_names=["a"])
    with pytest.raises(KeyError, match=r"attr\[:, 'income'\]"):
        make_attr()["income"]


def test_mean_abs_of_one_column_and_output_check():
    col = make_attr(n=6)[:, "housing"]
    imp = col.mean_abs()
    assert imp.feature_names == ("housing",)
    with pytest.raises(ValueError, match="single output"):
        make_attr().mean_abs(output="c1")


# ----------------------------------------------------------------------------- standard errors


def with_errors(n=4, m=3, k=None, seed=1):
    a = make_attr(n=n, m=m, k=k, seed=seed)
    se = np.random.default_rng(seed + 10).random(a.values.shape)
    return dataclasses.replace(a, standard_error=se)


def test_standard_error_is_sliced_exactly_like_the_values():
    mask = np.array([True, False, True, False])
    every = slice(None)
    cases = [(1, 1), (slice(1, 3), slice(1, 3)), (mask, mask), ([3, 0], [3, 0]),
             ((every, "housing"), (every, 1)), ((every, ["defaults", "income"]), (every, [2, 0])),
             ((2, 0), (2, 0)), ((every, slice(0, 2)), (every, slice(0, 2)))]
    for key, index in cases:
        a = with_errors()
        part = a[key]
        assert part.standard_error.shape == part.values.shape, key
        np.testing.assert_array_equal(part.standard_error, a.standard_error[index])
    multi = [((Ellipsis, "c2"), (Ellipsis, 2)), ((0, Ellipsis, "c1"), (0, Ellipsis, 1)),
             ((slice(None), "income", ["c0", "c2"]), (slice(None), 0, [0, 2])), ((1, "defaults", "c0"), (1, 2, 0))]
    for key, index in cases + multi:
        a = with_errors(k=3)
        part = a[key]
        assert part.standard_error.shape == part.values.shape, key
        np.testing.assert_array_equal(part.standard_error, a.standard_error[index])


def test_standard_error_of_padded_texts_follows_the_tokens():
    tokens = np.array([["good", "film", ""], ["not", "good", "at"]], dtype=object)
    values = np.arange(6.0).reshape(2, 3)
    se = np.array([[0.1, 0.2, 0.0], [0.3, 0.4, 0.5]])
    attr = Attribution(values=values, base_values=np.zeros(2), data=tokens, mask=tokens != "", standard_error=se)
    first = attr[0]
    assert first.feature_names == ("good", "film")
    np.testing.assert_array_equal(first.standard_error, [0.1, 0.2])
    assert float(attr[1, "at"].standard_error) == 0.5 and float(attr[0, "film"].standard_error) == 0.2
    both = attr[[1, 0]]
    np.testing.assert_array_equal(both.standard_error, se[[1, 0]])
    assert both.mask.tolist() == [[True, True, True], [True, True, False]]


def test_standard_error_round_trips_bit_for_bit_and_old_dicts_still_load():
    a = with_errors(k=2)
    se = a.standard_error.copy()
    se[0, 0, 0], se[1, 2, 1] = np.inf, 0.0                   # unknown, and exact
    a = dataclasses.replace(a, standard_error=se)
    for x in (a, a[2], a[:, "income"], a[..., "c1"]):
        d = json.loads(json.dumps(x.to_dict(), allow_nan=False))
        b = Attribution.from_dict(d)
        np.testing.assert_array_equal(b.standard_error, x.standard_error)
        assert b.standard_error.dtype == np.float64
        assert b.standard_error.tobytes() == np.asarray(x.standard_error).tobytes()
    old = make_attr().to_dict()
    del old["standard_error"]
    assert Attribution.from_dict(old).standard_error is None
    assert Attribution.from_dict(make_attr().to_dict()).standard_error is None


def test_standard_error_is_validated():
    a = make_attr()
    with pytest.raises(ValueError, match="standard_error has shape"):
        dataclasses.replace(a, standard_error=np.zeros((4, 2)))
    with pytest.raises(ValueError, match="standard_error must be >= 0"):
        dataclasses.replace(a, standard_error=np.full(a.values.shape, -1.0))
    with pytest.raises(ValueError, match="without NaN"):
        dataclasses.replace(a, standard_error=np.full(a.values.shape, np.nan))
    one = with_errors()[1]
    assert one.to_frame().shape == (1, 3)  # a single row is batched again without losing its errors
