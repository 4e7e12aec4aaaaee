"""Result types every explainer returns: plain numpy data with names, slicing and JSON round trips.

`results` imports nothing of whybox; everything else may import it.

Shape rule (one for every input kind): `values` is (n, *feature_shape[, outputs]).
The trailing outputs axis exists only when the model has more than one output.
Indexing with an integer or a single name drops that axis, as numpy does, so
`attr[0]` is one explained row and `attr[:, "income"]` one feature over all rows.
"""

from __future__ import annotations

from ._json import decode_array, encode_array, to_jsonable
from .attribution import Attribution
from .attention import AttentionMaps
from .counterfactuals import Counterfactuals
from .dependence import Dependence
from .importance import Importance
from .interactions import Interactions
from .rule import WORD_PATTERN, Rule

__all__ = ["Attribution", "Importance", "Interactions", "Dependence", "Rule", "Counterfactuals", "WORD_PATTERN",
           "encode_array", "decode_array", "to_jsonable"]
__all__ += ["AttentionMaps"]
