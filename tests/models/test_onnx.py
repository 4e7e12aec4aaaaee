"""wrap() on ONNX models: sessions, ModelProtos and .onnx paths give what scikit-learn gives."""

import pathlib

import numpy as np
import pytest

from whybox.errors import InputError, ModelError
from whybox.models import wrap

import onnxruntime as ort
import onnx
import skl2onnx

from onnx import TensorProto, helper  # noqa: E402
from sklearn.ensemble import RandomForestClassifier  # noqa: E402
from sklearn.linear_model import LinearRegression, LogisticRegression  # noqa: E402


def close(a, b, tol=1e-5):
    np.testing.assert_allclose(np.asarray(a, dtype=float), np.asarray(b, dtype=float), rtol=tol, atol=tol)


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(1)
    # values exactly representable in float32, so sklearn (float64) and ONNX (float32) see the same input
    X = rng.normal(size=(300, 4)).astype(np.float32).astype(np.float64)
    y2 = (X[:, 0] - X[:, 1] > 0).astype(int)
    y3 = np.digitize(X[:, 0] + X[:, 2], [-0.7, 0.7])
    return X, y2, y3


def _convert(model, X, zipmap=False):
    options = {"zipmap": False} if hasattr(model, "classes_") and not zipmap else None
    return skl2onnx.to_onnx(model, X[:1].astype(np.float32), options=options)


def _session(proto):
    return ort.InferenceSession(proto.SerializeToString(), providers=["CPUExecutionProvider"])


@pytest.fixture(scope="module")
def binary(data):
    X, y2, _ = data
    clf = LogisticRegression().fit(X, np.array(["deny", "approve"])[y2])
    return clf, _convert(clf, X)


@pytest.fixture(scope="module")
def forest(data):
    X, _, y3 = data
    clf = RandomForestClassifier(n_estimators=10, max_depth=4, random_state=0).fit(X, y3)
    return clf, _convert(clf, X)


def test_binary_session_matches_predict_proba(data, binary):
    X = data[0]
    clf, proto = binary
    m = wrap(_session(proto))
    assert m.output == "probability" and m.kind.startswith("onnx")
    p = m(X)
    assert p.shape == (300, 2)
    close(p, clf.predict_proba(X))
    assert m.output_names == tuple(str(c) for c in clf.classes_)  # labels read from the graph
    lo = wrap(_session(proto), output="log_odds")
    assert lo.output_names == (str(clf.classes_[1]),)
    margin = clf.decision_function(X)
    moderate = np.abs(margin) < 5  # float32 probabilities saturate further out
    close(lo(X)[moderate, 0], margin[moderate], tol=1e-4)
    p1 = np.clip(p[:, 1], 1e-12, 1 - 1e-12)
    close(lo(X)[:, 0], np.log(p1 / (1 - p1)), tol=1e-8)


def test_multiclass_forest_matches_predict_proba(data, forest):
    X = data[0]
    clf, proto = forest
    m = wrap(_session(proto))
    close(m(X), clf.predict_proba(X))
    assert m.output_names == ("0", "1", "2")
    assert wrap(_session(proto), output="log_odds")(X[:5]).shape == (5, 3)


def test_zipmap_output_is_converted(data, binary, forest):
    X = data[0]
    for clf in (binary[0], forest[0]):
        m = wrap(_session(_convert(clf, X, zipmap=True)))
        close(m(X[:50]), clf.predict_proba(X[:50]))
        assert m.output_names == tuple(str(c) for c in clf.classes_)


def test_path_string_pathlib_and_modelproto(data, forest, tmp_path):
    X = data[0]
    clf, proto = forest
    path = tmp_path / "forest.onnx"
    onnx.save(proto, str(path))
    expected = clf.predict_proba(X[:40])
    for model in (str(path), pathlib.Path(path), proto):
        m = wrap(model)
        close(m(X[:40]), expected)
        assert m.output_names == ("0", "1", "2")
        assert isinstance(m.native, ort.InferenceSession)


def test_regressor(data, tmp_path):
    X, _, _ = data
    y = X @ np.array([1.0, -2.0, 0.5, 0.0]) + 0.3
    reg = LinearRegression().fit(X, y)
    path = tmp_path / "reg.onnx"
    onnx.save(_convert(reg, X), str(path))
    m = wrap(str(path))
    assert m.output == "predict"
    close(m(X)[:, 0], reg.predict(X))
    assert m.output_names == ("prediction",)
    close(wrap(str(path), output="raw")(X[:10])[:, 0], reg.predict(X[:10]))
    with pytest.raises(InputError, match="no class probabilities"):
        wrap(str(path), output="probability")


def test_classifier_refuses_labels_and_margin(binary):
    proto = binary[1]
    with pytest.raises(InputError, match="class labels"):
        wrap(_session(proto), output="predict")
    with pytest.raises(ModelError, match="margin"):
        wrap(_session(proto), output="raw")


def test_wrong_column_count(data, forest):
    X = data[0]
    proto = forest[1]
    with pytest.raises(InputError, match="expects 4"):
        wrap(_session(proto))(np.ones((2, 3)))
    m = wrap(_session(proto))
    m(X[:3])
    with pytest.raises(InputError, match="expects 4"):
        m(np.ones((2, 5)))


def test_counts_rows(data, forest):
    X = data[0]
    m = wrap(_session(forest[1]), batch_size=100)
    m(X)
    assert m.n_evals == 300 and m.n_calls == 3


def _graph_model(nodes, inputs, outputs):
    graph = helper.make_graph(nodes, "g", inputs, outputs)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


def test_nan_reaches_the_model():
    # sum of the non-missing values: NaN must arrive as NaN, not be refused or replaced
    nodes = [helper.make_node("IsNaN", ["X"], ["isnan"]),
             helper.make_node("Constant", [], ["zero"], value=helper.make_tensor("z", TensorProto.FLOAT, [], [0.0])),
             helper.make_node("Where", ["isnan", "zero", "X"], ["filled"]),
             helper.make_node("Constant", [], ["axes"], value=helper.make_tensor("a", TensorProto.INT64, [1], [1])),
             helper.make_node("ReduceSum", ["filled", "axes"], ["y"], keepdims=1)]
    proto = _graph_model(nodes, [helper.make_tensor_value_info("X", TensorProto.FLOAT, [None, 3])],
                         [helper.make_tensor_value_info("y", TensorProto.FLOAT, [None, 1])])
    m = wrap(proto)
    out = m(np.array([[1.0, np.nan, 2.0], [np.nan, np.nan, 4.0]]))
    close(out[:, 0], [3.0, 4.0])


def test_several_inputs_are_refused():
    nodes = [helper.make_node("Add", ["A", "B"], ["y"])]
    proto = _graph_model(nodes, [helper.make_tensor_value_info("A", TensorProto.FLOAT, [None, 2]),
                                 helper.make_tensor_value_info("B", TensorProto.FLOAT, [None, 2])],
                         [helper.make_tensor_value_info("y", TensorProto.FLOAT, [None, 2])])
    with pytest.raises(ModelError, match="single-tensor-input"):
        wrap(proto)


def test_missing_file(tmp_path):
    with pytest.raises(ModelError, match="does not exist"):
        wrap(str(tmp_path / "nothing.onnx"))
