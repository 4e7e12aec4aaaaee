"""`Dependence`: how the output moves with one or two features (PD, ICE, ALE)."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ._json import _names, decode_array, encode_array, to_jsonable


@dataclass(frozen=True, eq=False)
class Dependence:
    """How the model output moves with one or two features (partial dependence, ICE, ALE).

    features       the one or two feature names
    grid           one array of grid values per feature
    average        (g1[, g2][, outputs]) the average curve (or surface)
    individual     (n, g1[, outputs]) one curve per row (ICE), or None
    output_names   names of the outputs axis, or None for a single output
    method, meta   as in `Attribution`
    has_outputs    True while the trailing outputs axis is present
    """

    features: tuple[str, ...]
    grid: tuple[np.ndarray, ...]
    average: np.ndarray
    individual: np.ndarray | None = None
    output_names: tuple[str, ...] | str | None = None
    method: str = ""
    meta: dict = field(default_factory=dict)
    has_outputs: bool = False

    def __post_init__(self) -> None:
        object.__setattr__(self, "features", tuple(str(f) for f in self.features))
        object.__setattr__(self, "grid", tuple(np.asarray(g) for g in self.grid))
        object.__setattr__(self, "average", np.asarray(self.average))
        if self.individual is not None:
            object.__setattr__(self, "individual", np.asarray(self.individual))
        object.__setattr__(self, "output_names", _names(self.output_names))
        shape = tuple(len(g) for g in self.grid)
        if len(self.features) != len(self.grid):
            raise ValueError(f"{len(self.features)} features but {len(self.grid)} grids")
        if self.average.shape[:len(shape)] != shape:
            raise ValueError(f"average has shape {self.average.shape}, expected it to start with {shape}")

    def to_dict(self) -> dict:
        return {"type": "Dependence", "features": list(self.features), "grid": [encode_array(g) for g in self.grid],
                "average": encode_array(self.average), "individual": encode_array(self.individual),
                "output_names": list(self.output_names) if isinstance(self.output_names, tuple) else self.output_names,
                "method": self.method, "meta": to_jsonable(self.meta), "has_outputs": self.has_outputs}

    @classmethod
    def from_dict(cls, d: dict) -> "Dependence":
        if d.get("type", "Dependence") != "Dependence":
            raise ValueError(f"expected a Dependence dict, got type {d.get('type')!r}")
        return cls(features=tuple(d["features"]), grid=tuple(decode_array(g) for g in d["grid"]),
                   average=decode_array(d["average"]), individual=decode_array(d.get("individual")),
                   output_names=d.get("output_names"), method=d.get("method", ""), meta=d.get("meta", {}),
                   has_outputs=d.get("has_outputs", False))

    def __repr__(self) -> str:
        return f"Dependence(method={self.method!r}, features={self.features}, grid={[len(g) for g in self.grid]})"
