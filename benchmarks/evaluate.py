"""Explanation metrics: whybox.evaluate against captum.metrics (and quantus), side by side.

One process, one randomly initialised 3-conv CNN (seeded; 16/32/64 channels, 3x3 kernels, ReLU, 2x2
max-pooling after the first two, global average pooling, 10 logits), 16 inputs 3x32x32, Saliency
attributions (whybox.gradients.Saliency(abs=False), targets = the predicted classes):

  infidelity       captum.metrics.infidelity(net, perturb_func, x, attr, target=t, n_perturb_samples=20)
                   vs whybox.evaluate.infidelity(net, x, attr, perturbations=I): the same perturbations I
                   (N(0, 0.1^2), drawn once with numpy) handed to both; captum's perturb_func returns
                   (I, x - I), which is whybox's convention f(x) - f(x - I).
  max-sensitivity  captum.metrics.sensitivity_max(explain, x, perturb_radius=0.02, n_perturb_samples=10)
                   vs whybox.evaluate.max_sensitivity(explain, x, radius=0.02, n_samples=10): for the
                   agreement, captum gets whybox's uniform noise through its perturb_func (captum repeats
                   each input n_perturb_samples times with repeat_interleave, whybox's row order); the
                   timing uses each library's own noise. whybox's max_sensitivity takes rows, so the images
                   are flattened and the explain function reshapes them.
  deletion / insertion  whybox only (no captum peer): 100 steps of pixels (summed over channels) replaced by
                   each image's mean colour, 10 random orderings; time and model evaluations.
  quantus          installed by `make bench` without its dependencies (0.6.0; its own list asks for
                   opencv-python, which clashes with the opencv-python-headless build here). MaxSensitivity
                   (uniform noise of half-width 0.02, 10 samples, Frobenius norms, no normalisation / abs)
                   and LocalLipschitzEstimate (Gaussian noise std 0.1, 10 samples) draw their own noise, so
                   their values are compared as a mean over the images against whybox's on the same kind of
                   neighbourhood (not the same draws): expect agreement to a few per cent for
                   max-sensitivity, and only the same order of magnitude for local Lipschitz (whybox samples an L2
                   ball of radius 0.1 * sqrt(3072), the typical length of quantus's Gaussian noise of std 0.1
                   per pixel; the two neighbourhoods differ in shape, and both report a max over 10 samples).
                   Skipped with a note if quantus does not import.

Every timing is the best of REPEATS runs after a warm-up, the libraries taking turns; all run with THREADS
torch threads (set before torch is imported). Agreement: max abs and max relative difference per image.

Run: .venv/bin/python benchmarks/evaluate.py [--quick] [--no-save]
Appends a table to benchmarks/RESULTS.md.
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

import numpy as np  # noqa: E402
from _bench import append_results, best_time  # noqa: E402
import torch  # noqa: E402

torch.set_num_threads(THREADS)

N, SHAPE = 16, (3, 32, 32)
N_PERTURB, NOISE = 20, 0.1
N_SENS, RADIUS = 10, 0.02


class Net(torch.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv1 = torch.nn.Conv2d(3, 16, 3, padding=1)
        self.conv2 = torch.nn.Conv2d(16, 32, 3, padding=1)
        self.conv3 = torch.nn.Conv2d(32, 64, 3, padding=1)
        self.fc = torch.nn.Linear(64, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = torch.nn.functional.max_pool2d(torch.relu(self.conv1(x)), 2)
        x = torch.nn.functional.max_pool2d(torch.relu(self.conv2(x)), 2)
        x = torch.relu(self.conv3(x))
        return self.fc(x.mean(dim=(2, 3)))


def best_pair(fa, fb, repeats):
    """Alternate the two so that both see the same load; best of `repeats` each, after a warm-up."""
    fa(), fb()
    ta, tb, oa, ob = [], [], None, None
    for _ in range(repeats):
        t0 = time.perf_counter(); oa = fa(); ta.append(time.perf_counter() - t0)   # noqa: E702
        t0 = time.perf_counter(); ob = fb(); tb.append(time.perf_counter() - t0)   # noqa: E702
    return min(ta), oa, min(tb), ob


def diffs(a, b):
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    d = np.abs(a - b)
    return float(d.max()), float((d / np.maximum(np.abs(b), 1e-12)).max())


def main(quick: bool = False, save: bool = True) -> None:
    import captum
    from captum.metrics import infidelity as c_infidelity
    from captum.metrics import sensitivity_max as c_sensitivity

    import whybox
    from whybox.evaluate import deletion, infidelity, insertion, local_lipschitz, max_sensitivity
    from whybox.gradients import Saliency

    repeats = 2 if quick else 5
    t_start = time.perf_counter()
    load_before = os.getloadavg()[0]
    torch.manual_seed(0)
    net = Net().eval()
    x = torch.randn(N, *SHAPE)
    xn = x.numpy()
    with torch.no_grad():
        targets = net(x).argmax(dim=1)
    tl = targets.tolist()
    sal = Saliency(net, abs=False, channels_last=False)
    attr = sal.explain(x, target=tl)
    a_np = attr.values                                   # (N, 3, 32, 32)
    a_t = torch.as_tensor(a_np, dtype=torch.float32)
    rows = []

    # ---------------------------------------------------------------- infidelity, same perturbations
    rng = np.random.default_rng(0)
    pert = rng.normal(0.0, NOISE, size=(N, N_PERTURB) + SHAPE)
    pert_t = torch.as_tensor(pert.reshape((N * N_PERTURB,) + SHAPE), dtype=torch.float32)

    def perturb_same(inputs):
        return pert_t, inputs - pert_t

    def c_inf():
        return c_infidelity(net, perturb_same, x, a_t, target=targets, n_perturb_samples=N_PERTURB).numpy()

    def w_inf():
        return infidelity(net, xn, a_np, perturbations=pert.astype(np.float32), target=tl)

    tc, vc, tw, vw = best_pair(c_inf, w_inf, repeats)
    mad, mrd = diffs(vw, vc)
    rows.append(("infidelity (Saliency, 20 perturbations, same I)", "captum", tc, tw, mad, mrd,
                 f"mean {np.mean(vc):.4g} / {np.mean(vw):.4g}; {N * (N_PERTURB + 1)} model evals"))

    # ---------------------------------------------------------------- max-sensitivity
    def explain_rows(Z):
        Z = np.asarray(Z, dtype=np.float32).reshape((-1,) + SHAPE)
        t = tl if Z.shape[0] == N else np.repeat(tl, Z.shape[0] // N).tolist()
        return sal.explain(Z, target=t).values

    def explain_captum(inputs, target):
        if isinstance(inputs, tuple):       # captum hands the inputs over as a tuple
            inputs = inputs[0]
        return (torch.as_tensor(sal.explain(inputs, target=target.tolist()).values),)   # a tuple, as captum zips

    noise = np.random.default_rng(0).uniform(-RADIUS, RADIUS, size=(N * N_SENS, int(np.prod(SHAPE))))
    noise_t = torch.as_tensor(noise.reshape((N * N_SENS,) + SHAPE), dtype=torch.float32)

    def perturb_whybox_noise(inputs, perturb_radius=RADIUS):
        return inputs + noise_t

    x_flat = xn.reshape(N, -1).astype(np.float64)
    s_same_c = c_sensitivity(explain_captum, x, perturb_func=perturb_whybox_noise, perturb_radius=RADIUS,
                             n_perturb_samples=N_SENS, target=targets).numpy()

    def c_sens():
        return c_sensitivity(explain_captum, x, perturb_radius=RADIUS, n_perturb_samples=N_SENS,
                             target=targets).numpy()

    def w_sens():
        return max_sensitivity(explain_rows, x_flat, radius=RADIUS, n_samples=N_SENS, seed=0)

    tc, vc_own, tw, vw = best_pair(c_sens, w_sens, repeats)
    mad, mrd = diffs(vw, s_same_c)
    rows.append(("max-sensitivity (Saliency, 10 samples, r=0.02, same noise)", "captum", tc, tw, mad, mrd,
                 f"mean {np.mean(s_same_c):.4g} / {np.mean(vw):.4g}; captum own noise mean {np.mean(vc_own):.4g}"))

    # ---------------------------------------------------------------- quantus, where it imports
    quantus_note = ""
    try:
        import warnings

        import quantus
        warnings.filterwarnings("ignore")

        def q_explain(model, inputs, targets, **kwargs):
            return sal.explain(np.asarray(inputs, dtype=np.float32), target=np.asarray(targets).tolist()).values

        y_np = targets.numpy()
        q_ms = quantus.MaxSensitivity(nr_samples=N_SENS, lower_bound=RADIUS, normalise=False, abs=False,
                                      disable_warnings=True, display_progressbar=False)
        tq, vq, tw, vw2 = best_pair(
            lambda: np.asarray(q_ms(model=net, x_batch=xn, y_batch=y_np, a_batch=a_np, explain_func=q_explain,
                                    explain_func_kwargs={}, device="cpu")),
            w_sens, repeats)
        rel = abs(np.mean(vq) - np.mean(vw2)) / abs(np.mean(vq))
        rows.append(("max-sensitivity vs quantus MaxSensitivity (own noise each)", f"quantus {quantus.__version__}",
                     tq, tw, float("nan"), rel, f"mean {np.mean(vq):.4g} / {np.mean(vw2):.4g}; rel. column = "
                     "difference of the means"))
        q_ll = quantus.LocalLipschitzEstimate(nr_samples=N_SENS, perturb_std=NOISE, normalise=False, abs=False,
                                              disable_warnings=True, display_progressbar=False)

        def w_ll():
            # std-1 reference rows: epsilon in input units; radius std * sqrt(m), the typical length of
            # quantus's Gaussian perturbation (uniform points in a high-dimensional ball lie near its surface)
            return local_lipschitz(explain_rows, x_flat, epsilon=NOISE * np.sqrt(x_flat.shape[1]), n_samples=N_SENS,
                                   seed=0, norm="l2", data=np.ones((2, x_flat.shape[1])) * [[0.0], [2.0]])

        tq, vq, tw, vl = best_pair(
            lambda: np.asarray(q_ll(model=net, x_batch=xn, y_batch=y_np, a_batch=a_np, explain_func=q_explain,
                                    explain_func_kwargs={}, device="cpu")),
            w_ll, repeats)
        rows.append(("local Lipschitz vs quantus LocalLipschitzEstimate (different neighbourhoods)",
                     f"quantus {quantus.__version__}", tq, tw, float("nan"),
                     abs(np.mean(vq) - np.mean(vl)) / abs(np.mean(vq)),
                     f"mean {np.mean(vq):.4g} / {np.mean(vl):.4g} (quantus: Gaussian noise std 0.1 per pixel; whybox: "
                     "L2 ball of radius 0.1 * sqrt(3072), the Gaussian's typical length); rel. column = "
                     "difference of the means"))
    except ImportError as e:   # pragma: no cover - depends on the environment
        quantus_note = f" quantus skipped: {e}."

    # ---------------------------------------------------------------- deletion / insertion (no peer)
    for name, fn in (("deletion", deletion), ("insertion", insertion)):
        t, cur = best_time(lambda fn=fn: fn(net, xn, attr, steps=100, n_random=10), max(1, repeats - 2))
        rows.append((f"{name} curve, 100 steps + 10 random orderings", "-", float("nan"), t, float("nan"),
                     float("nan"), f"{cur.meta['model_evals']:,} model evals; beats random on "
                     f"{int((cur.improvement > 0).sum())}/{N} images"))

    total = time.perf_counter() - t_start
    load_after = os.getloadavg()[0]
    try:
        import quantus as _q  # noqa: F401
        qv = f", quantus {_q.__version__}"
    except ImportError:
        qv = ""
    versions = (f"whybox {whybox.__version__}, captum {captum.__version__}{qv}, torch {torch.__version__}, "
                f"numpy {np.__version__}, python {platform.python_version()}; {THREADS} torch threads for all "
                f"(set before import); {os.cpu_count()} CPUs ({platform.machine()}); load average "
                f"{load_before:.2f} before, {load_after:.2f} after")
    lines = [f"## Explanation metrics vs captum.metrics (and quantus) — {datetime.date.today().isoformat()}", "",
             f"{versions}. Random 3-conv CNN (16/32/64 channels, 10 logits), 16 inputs 3x32x32, Saliency "
             f"(abs=False) attributions of the predicted class. Best of {repeats} after a warm-up, libraries "
             "alternating. speed-up = peer / whybox (>1: whybox faster). Agreement per image: max abs and max "
             "relative difference, on the same perturbations handed to both (infidelity, max-sensitivity vs "
             "captum); quantus draws its own noise, so only the means are compared there. Deletion/insertion "
             f"have no peer: time and model evaluations only.{quantus_note} Whole run {total:.0f} s.", "",
             "| case | peer | peer s | whybox s | speed-up | max abs diff | max rel diff | notes |",
             "|---|---|---:|---:|---:|---:|---:|---|"]

    def fmt(v, f):
        return "-" if not np.isfinite(v) else format(v, f)

    for case, peer, tp, tw, mad, mrd, note in rows:
        sp = tp / tw if np.isfinite(tp) else float("nan")
        speed = "-" if not np.isfinite(sp) else f"{sp:.2f}x"
        lines.append(f"| {case} | {peer} | {fmt(tp, '.3f')} | {fmt(tw, '.3f')} | {speed} | {fmt(mad, '.1e')} | "
                     f"{fmt(mrd, '.1e')} | {note} |")
    table = "\n".join(lines) + "\n"
    print(table)
    if save:
        append_results("\n" + table)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer repeats")
    parser.add_argument("--no-save", action="store_true", help="print the table, do not append it to RESULTS.md")
    args = parser.parse_args()
    sys.exit(main(quick=args.quick, save=not args.no_save))
