"""One review explained four ways (partition SHAP, LIME, layer integrated gradients, attention rollout), all
in the tokenizer's words so that they can be drawn side by side (`plots.text_comparison`) and compared
(`evaluate.agreement`).

Used by `examples/text_reviews.py` and by the tests; needs the text extra.
"""

from __future__ import annotations

from ..gradients import Attention, LayerIntegratedGradients
from ..maskers import Text
from ..models import TextClassifier, wrap
from ..results import Attribution
from ..shapley import PartitionShap
from ..surrogates import Lime

__all__ = ["explain_four_ways"]


def explain_four_ways(classifier: TextClassifier, texts: list[str], target: int | str = 1, *, max_evals: int = 100,
                      num_samples: int = 500, n_steps: int = 32, seed: int = 0) -> dict[str, Attribution]:
    """Word-level explanations of `texts` for one output of `classifier`, keyed by method name.

    SHAP and LIME explain the classifier's own output (probability, log-odds...) by masking the
    tokenizer's words; IG explains its logit (or log-odds) through the word embeddings with a pad-token
    baseline; the rollout row of [CLS] has no target (it is the same for every class) and is summed per
    word. Each has its own units: compare rankings (`evaluate.agreement`), not magnitudes.

    Arguments:
      classifier   a TextClassifier with a torch head (fit_text_head trains one)
      texts        the texts to explain
      target       the output: index or label name
      max_evals, num_samples, n_steps   the budgets of partition SHAP, LIME and IG
      seed         LIME's seed
    """
    model = wrap(classifier)
    names = list(model.output_names or [])
    column = names.index(target) if isinstance(target, str) else int(target)
    masker = Text(classifier.tokenizer)
    shap = PartitionShap(model, masker).explain(texts, max_evals=max_evals, target=column)
    lime = Lime(model, mode="text", masker=masker, seed=seed, num_features=None).explain(
        texts, num_samples=num_samples, labels=column)
    ig = LayerIntegratedGradients(classifier).explain(texts, target=column, n_steps=n_steps)
    rollout = Attention(classifier).explain(texts).cls_attribution()
    if lime.has_outputs:                       # LIME keeps an outputs axis for one label of a multi-output model
        lime = lime[:, :, 0]
    return {"Partition SHAP": shap, "LIME": lime,
            "Integrated gradients": ig, "Attention rollout": masker.word_attribution(rollout, texts)}

