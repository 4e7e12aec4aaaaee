"""Adapter for ONNX models: an `onnxruntime.InferenceSession`, an `onnx.ModelProto`, or a path to a .onnx file.

Only models with one tensor input of shape (rows, features) are supported; whybox
feeds it the table as float32 (or the input's own numeric type when it declares
another, e.g. double).

Which output is explained:
  - an output whose name mentions probabilities ("probabilities", "output_probability")
    — a classifier; a ZipMap output (a list of {label: probability} dicts) is turned
    into an (n, classes) array. Converting with skl2onnx option {"zipmap": False}
    avoids that per-row conversion.
  - otherwise the single output, or the single numeric output that is not a label.

Class labels (the output names of a classifier) come from the model's metadata
(a "classes"/"class_labels" entry, JSON list or comma-separated) or from the
classifier / ZipMap node of the graph (read with the `onnx` package when installed);
else outputs are named output_0, output_1, ... Outputs: "auto"/"probability" all
classes, "log_odds" one column log(p1/(1-p1)) for a binary model (per class
otherwise), "predict"/"raw" for a regressor's single output. ONNX keeps no record of
whether NaN is allowed, so missing values are passed on and a model that turns them
into NaN outputs is caught by `Model`.
"""

from __future__ import annotations

import json
import os
from typing import Any

import numpy as np

from ..errors import InputError, ModelError
from .base import PRIORITY, Prediction, register_adapter
from .sklearn import classifier_outputs, log_odds

__all__: list[str] = []

_NUMERIC_INPUTS = {
    "tensor(float)": np.float32, "tensor(double)": np.float64, "tensor(float16)": np.float16,
    "tensor(int64)": np.int64, "tensor(int32)": np.int32,
}
_FLOAT_OUTPUTS = ("tensor(float)", "tensor(double)", "tensor(float16)")
_LABEL_ATTRIBUTES = ("classlabels_strings", "classlabels_int64s", "classlabels_ints")
_METADATA_LABEL_KEYS = ("classes", "class_labels", "classlabels", "labels")


def _is_path(model: Any) -> bool:
    return isinstance(model, (str, os.PathLike)) and os.fspath(model).lower().endswith(".onnx")


def _matches(model: Any) -> bool:
    if isinstance(model, type):
        return False
    if _is_path(model):
        return True
    module = getattr(type(model), "__module__", "") or ""
    if module.startswith("onnxruntime"):
        return hasattr(model, "run") and hasattr(model, "get_inputs")
    return module.split(".")[0] == "onnx" and type(model).__name__ == "ModelProto"


def _session(model: Any) -> tuple[Any, str]:
    """(InferenceSession, a short name for messages)."""
    if hasattr(model, "run") and hasattr(model, "get_inputs"):
        return model, "session"
    try:
        import onnxruntime as ort
    except ModuleNotFoundError as e:
        raise ModelError("loading an ONNX model needs onnxruntime: pip install 'whybox[onnx]'") from e
    providers = ["CPUExecutionProvider"]
    if _is_path(model):
        path = os.fspath(model)
        if not os.path.isfile(path):
            raise ModelError(f"no ONNX model at {path!r}: the file does not exist")
        try:
            return ort.InferenceSession(path, providers=providers), os.path.basename(path)
        except Exception as e:
            raise ModelError(f"onnxruntime could not load {path!r}: {type(e).__name__}: {e}") from e
    try:
        return ort.InferenceSession(model.SerializeToString(), providers=providers), "ModelProto"
    except Exception as e:
        raise ModelError(f"onnxruntime could not load the ONNX ModelProto: {type(e).__name__}: {e}") from e


def _graph_labels(model: Any, session: Any) -> list[str] | None:
    """Class labels stored in the graph's ZipMap or classifier node, if the onnx package can read it."""
    try:
        import onnx
    except ModuleNotFoundError:
        return None
    try:
        if type(model).__name__ == "ModelProto":
            proto = model
        elif getattr(session, "_model_bytes", None) is not None:
            proto = onnx.load_from_string(session._model_bytes)
        elif _is_path(model) or getattr(session, "_model_path", None):
            path = os.fspath(model) if _is_path(model) else session._model_path
            proto = onnx.load(path, load_external_data=False)
        else:
            return None
    except Exception:
        return None
    found = None
    for node in proto.graph.node:
        for attr in node.attribute:
            if attr.name in _LABEL_ATTRIBUTES:
                values = onnx.helper.get_attribute_value(attr)
                labels = [v.decode() if isinstance(v, bytes) else str(v) for v in values]
                if node.op_type == "ZipMap":
                    return labels
                if labels and found is None:
                    found = labels
    return found


def _metadata(session: Any) -> dict:
    try:
        return dict(session.get_modelmeta().custom_metadata_map or {})
    except Exception:
        return {}


def _metadata_list(meta: dict, keys: tuple[str, ...]) -> list[str] | None:
    for key in keys:
        if key in meta and meta[key]:
            text = meta[key]
            try:
                values = json.loads(text)
            except (TypeError, ValueError):
                values = text.split(",")
            if isinstance(values, list) and values:
                return [str(v).strip() for v in values]
    return None


def _pick_output(outputs: list) -> tuple[Any, bool]:
    """(the output to explain, whether it holds class probabilities)."""
    names = [o.name for o in outputs]
    prob = [o for o in outputs if "prob" in o.name.lower()]
    if prob:
        return prob[0], True
    if len(outputs) == 1:
        only = outputs[0]
        return only, only.type.startswith("seq(map")
    numeric = [o for o in outputs if o.type in _FLOAT_OUTPUTS and "label" not in o.name.lower()]
    if len(numeric) == 1:
        has_label = any("label" in n.lower() for n in names)
        return numeric[0], has_label
    raise ModelError(f"cannot tell which of the ONNX model's outputs {names} to explain: whybox looks for an "
                     "output named like 'probabilities', or a single numeric output; export the model with "
                     "one score output")


def _zipmap_to_array(result: Any) -> np.ndarray:
    """A ZipMap output (list of {label: probability}) -> (n, classes) float64, classes in the dicts' order."""
    if not result:
        return np.zeros((0, 0))
    keys = list(result[0].keys())
    return np.array([[row[k] for k in keys] for row in result], dtype=np.float64)


def _adapt(model: Any, output: str) -> Prediction:
    session, where = _session(model)
    inputs = session.get_inputs()
    if len(inputs) != 1:
        raise ModelError(f"this ONNX model has {len(inputs)} inputs ({', '.join(i.name for i in inputs)}); whybox "
                         "supports only single-tensor-input models that take one (rows, features) table — "
                         "export the model with one input (e.g. skl2onnx with a single FloatTensorType)")
    inp = inputs[0]
    dtype = _NUMERIC_INPUTS.get(inp.type)
    if dtype is None:
        raise ModelError(f"the ONNX model's input {inp.name!r} has type {inp.type}; whybox supports only "
                         f"numeric tensor inputs ({', '.join(_NUMERIC_INPUTS)})")
    shape = list(inp.shape or [])
    if len(shape) != 2:
        raise ModelError(f"the ONNX model's input {inp.name!r} has shape {shape}; whybox supports only single-"
                         "tensor-input models of shape (rows, features)")
    n_features = shape[1] if isinstance(shape[1], int) and shape[1] > 0 else None

    out, is_proba = _pick_output(session.get_outputs())
    zipmap = out.type.startswith("seq(map")
    in_name, out_name = inp.name, out.name
    kind = f"onnx:{where}"

    def run(X: Any) -> np.ndarray:
        x = np.ascontiguousarray(np.asarray(X), dtype=dtype)
        result = session.run([out_name], {in_name: x})[0]
        return _zipmap_to_array(result) if zipmap else result

    meta = _metadata(session)
    feature_names = _metadata_list(meta, ("feature_names",))
    if feature_names is not None and n_features is not None and len(feature_names) != n_features:
        feature_names = None
    common = dict(feature_names=feature_names, n_features=n_features, allow_nan=True, wants_frame=False,
                  kind=kind, native=session)

    if is_proba:
        classes = _metadata_list(meta, _METADATA_LABEL_KEYS) or _graph_labels(model, session)
        width = out.shape[1] if not zipmap and len(out.shape or []) == 2 else None
        if classes is not None and isinstance(width, int) and len(classes) != width:
            classes = None
        if classes is None and isinstance(width, int) and width > 0:
            classes = [f"output_{i}" for i in range(width)]
        if classes is None and output == "log_odds":  # width unknown until called: decide per batch
            def lo(X: Any) -> np.ndarray:
                p = run(X)
                return log_odds(p[:, 1]) if p.shape[1] == 2 else log_odds(p)
            return Prediction(predict=lo, output="log_odds", **common)
        fn, space, names = classifier_outputs(run, None, classes, output, kind)
        return Prediction(predict=fn, output=space, output_names=names, **common)

    if output in ("probability", "log_odds"):
        raise InputError(f"the ONNX model's output {out_name!r} holds no class probabilities, so it has no "
                         f"{output}; use output='predict' (or 'auto')")
    width = out.shape[1] if len(out.shape or []) == 2 else 1
    return Prediction(predict=run, output="raw" if output == "raw" else "predict",
                      output_names=["prediction"] if width == 1 else None, **common)


register_adapter(_matches, _adapt, priority=PRIORITY["onnx"])
