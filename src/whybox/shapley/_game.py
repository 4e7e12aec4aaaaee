"""The cooperative game behind interventional Shapley values for one explained row.

v(S) = sum_k w_k f(x_S, b_k,-S): players in S keep x's values, the others take the
values of background row b_k. Players are single columns or groups of columns.
"""

from __future__ import annotations

import numpy as np

from ..maskers.tabular import TabularMasker
from ..models.base import Model

#: most model rows built at once while evaluating coalitions
CHUNK_ROWS = 1 << 16


class CoalitionGame:
    """v(S) for one row x.

    Arguments:
      model    the wrapped model
      masker   a bound `TabularMasker`
      x        the explained row, (features,)
      players  (players, features) bool: which columns each player owns
    """

    def __init__(self, model: Model, masker: TabularMasker, x: np.ndarray, players: np.ndarray) -> None:
        self.model, self.masker, self.x, self.players = model, masker, x, players
        self.n_coalitions = 0

    @property
    def n_players(self) -> int:
        return self.players.shape[0]

    def __call__(self, masks: np.ndarray) -> np.ndarray:
        """(c, players) bool -> (c, outputs) expected model output of each coalition."""
        masks = np.asarray(masks, dtype=bool)
        cols = (masks.astype(np.uint8) @ self.players.astype(np.uint8)) > 0
        k_bg = self.masker.n_rows
        step = max(1, CHUNK_ROWS // k_bg)
        out = []
        for i in range(0, cols.shape[0], step):
            part = cols[i:i + step]
            f = self.model.evaluate(self.masker.fill(self.x, part))
            f = f.reshape(part.shape[0], k_bg, -1)
            out.append(np.einsum("ckj,k->cj", f, self.masker.weights))
        self.n_coalitions += masks.shape[0]
        if not out:
            return np.zeros((0, self.model.n_outputs or 1))
        return np.concatenate(out, axis=0)
