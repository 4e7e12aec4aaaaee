"""The user's model is left as found; targets by index, name, list and "predicted"; errors that name the
problem and the fix."""

import subprocess
import sys

import numpy as np
import pytest

import torch

from torch import nn  # noqa: E402

from whybox.errors import InputError, ModelError  # noqa: E402
from whybox.gradients import (GradCam, GradCamPlusPlus, InputXGradient, IntegratedGradients,  # noqa: E402
                              LayerIntegratedGradients, Saliency, SmoothGrad, conv_layers)


class BNNet(nn.Module):
    """Batch norm and dropout: eval mode matters (in training mode rows would depend on each other)."""

    def __init__(self) -> None:
        super().__init__()
        self.features = nn.Sequential(nn.Conv2d(3, 6, 3, padding=1), nn.BatchNorm2d(6), nn.ReLU(),
                                      nn.Conv2d(6, 8, 3, padding=1), nn.ReLU())
        self.drop = nn.Dropout(0.5)
        self.head = nn.Linear(8, 3)

    def forward(self, x):
        return self.head(self.drop(self.features(x).mean((2, 3))))


@pytest.fixture
def net():
    torch.manual_seed(0)
    m = BNNet()
    m.train()
    m.head.eval()                  # mixed flags must come back exactly as they were
    return m


@pytest.fixture(scope="module")
def x():
    return torch.randn(4, 3, 8, 8, generator=torch.Generator().manual_seed(0))


def hooks_of(model):
    return [(name, len(m._forward_hooks), len(m._backward_hooks), len(m._forward_pre_hooks))
            for name, m in model.named_modules()]


EXPLAINERS = [
    lambda m: (Saliency(m), {}),
    lambda m: (InputXGradient(m), {}),
    lambda m: (IntegratedGradients(m), {"n_steps": 4}),
    lambda m: (SmoothGrad(Saliency(m), n_samples=2), {}),
    lambda m: (GradCam(m, "features.3"), {}),
    lambda m: (GradCamPlusPlus(m, "features.3"), {}),
    lambda m: (LayerIntegratedGradients(m, "features.0"), {"n_steps": 4}),
]


@pytest.mark.parametrize("make", EXPLAINERS)
def test_model_state_is_restored(net, x, make):
    net.features[0].weight.requires_grad_(False)
    flags = [m.training for m in net.modules()]
    grads_flags = [p.requires_grad for p in net.parameters()]
    before_hooks = hooks_of(net)
    x_in = x.clone().requires_grad_(True)
    explainer, kw = make(net)
    attr = explainer.explain(x_in, target=1, **kw)
    assert np.all(np.isfinite(attr.values))
    assert [m.training for m in net.modules()] == flags
    assert [p.requires_grad for p in net.parameters()] == grads_flags
    assert all(p.grad is None for p in net.parameters())
    assert hooks_of(net) == before_hooks
    assert x_in.grad is None and torch.equal(x_in.detach(), x)
    # eval mode during the explanation: a row's answer does not depend on the rest of the batch
    alone = explainer.explain(x[:1], target=1, **kw)
    np.testing.assert_allclose(alone.values[0], attr.values[0], atol=1e-5)


def test_existing_grads_are_untouched_and_hooks_removed_after_an_error(net, x):
    net(x).sum().backward()
    saved = [p.grad.clone() for p in net.parameters()]
    before_hooks = hooks_of(net)
    for explainer in (GradCam(net, "features.3"), LayerIntegratedGradients(net, "features.0")):
        with pytest.raises(InputError, match="out of range"):
            explainer.explain(x, target=7)                          # fails inside, after the hooks are set
        assert hooks_of(net) == before_hooks
    Saliency(net).explain(x)
    assert all(torch.equal(p.grad, g) for p, g in zip(net.parameters(), saved))
    assert net.training and not net.head.training


def test_works_under_no_grad_and_inference_mode(net, x):
    ref = Saliency(net).explain(x, target=0).values
    with torch.no_grad():
        a = Saliency(net).explain(x, target=0).values
    with torch.inference_mode():
        xi = x.clone()
        b = Saliency(net).explain(xi, target=0).values
    np.testing.assert_array_equal(a, ref)
    np.testing.assert_array_equal(b, ref)


def test_targets_by_index_name_list_and_predicted(net, x):
    labels = ["cat", "dog", "fox"]
    sal = Saliency(net, labels=labels)
    with torch.no_grad():
        net.eval()
        pred = net(x).argmax(1).tolist()
    default = sal.explain(x)
    assert default.meta["target"] == pred and default.meta["target_name"] == [labels[i] for i in pred]
    by_name = sal.explain(x, target=["dog", "fox", "cat", "dog"])
    by_index = sal.explain(x, target=np.array([1, 2, 0, 1]))
    by_tensor = sal.explain(x, target=torch.tensor([1, 2, 0, 1]))
    np.testing.assert_array_equal(by_name.values, by_index.values)
    np.testing.assert_array_equal(by_name.values, by_tensor.values)
    assert by_name.meta["target"] == [1, 2, 0, 1]
    single = sal.explain(x, target="fox")
    assert single.meta["target"] == [2] * 4
    np.testing.assert_array_equal(single.values[1], by_name.values[1])
    assert len(single.meta["outputs"][0]) == 3 and single.meta["model_evals"] == 4


def test_unknown_layer_lists_conv_layers(net):
    with pytest.raises(InputError) as err:
        GradCam(net, "features.9")
    assert "features.0" in str(err.value) and "features.3" in str(err.value) and "features.9" in str(err.value)
    assert conv_layers(net) == ["features.0", "features.3"]
    with pytest.raises(InputError, match="not a submodule"):
        GradCam(net, nn.Conv2d(3, 3, 1))
    with pytest.raises(InputError, match="no spatial axes"):
        GradCam(net, "head").explain(torch.randn(2, 3, 8, 8))
    net.unused = nn.Conv2d(3, 3, 1)
    for explainer in (GradCam(net, "unused"), LayerIntegratedGradients(net, "unused")):
        with pytest.raises(InputError, match="did not run"):
            explainer.explain(torch.randn(2, 3, 8, 8), target=0)


def test_target_errors(net, x):
    sal = Saliency(net)
    with pytest.raises(InputError, match=r"target 3 is out of range.*0\.\.2"):
        sal.explain(x, target=3)
    with pytest.raises(InputError, match="negative"):
        sal.explain(x, target=-1)
    with pytest.raises(InputError, match="labels="):
        sal.explain(x, target="dog")
    with pytest.raises(InputError, match="unknown target label 'cow'"):
        Saliency(net, labels=["cat", "dog", "fox"]).explain(x, target="cow")
    with pytest.raises(InputError, match="2 targets for 4 rows"):
        sal.explain(x, target=[0, 1])
    with pytest.raises(InputError, match="class index"):
        sal.explain(x, target=1.5)
    with pytest.raises(InputError, match="out of range"):
        IntegratedGradients(net).explain(x, target=[0, 1, 2, 5], n_steps=2)


def test_input_errors(net, x):
    sal = Saliency(net)
    with pytest.raises(InputError, match=r"x\[None\]"):
        sal.explain(torch.randn(8))                                 # no batch axis
    with pytest.raises(InputError, match=r"x\[None\]"):
        sal.explain(x[0])                                           # one image without its batch axis
    with pytest.raises(InputError, match="failed on an input batch of shape"):
        sal.explain(torch.randn(2, 5, 8, 8))                        # wrong number of channels
    bad = x.clone()
    bad[0, 0, 0, 0] = float("nan")
    with pytest.raises(InputError, match="NaN"):
        sal.explain(bad)
    with pytest.raises(InputError, match="strings|numbers"):
        sal.explain(np.array([["a", "b"]]))
    with pytest.raises(InputError, match="unknown integration method"):
        IntegratedGradients(net).explain(x, method="simpson")
    with pytest.raises(InputError, match="does not fit"):
        IntegratedGradients(net).explain(x, baseline=torch.zeros(3, 4, 4))
    with pytest.raises(InputError, match="unknown baseline"):
        IntegratedGradients(net).explain(x, baseline="black")
    with pytest.raises(InputError, match="noise has shape"):
        SmoothGrad(Saliency(net), n_samples=3).explain(x, noise=torch.zeros(4, 2, 3, 8, 8))
    with pytest.raises(InputError, match="unknown kind"):
        SmoothGrad(Saliency(net), kind="max")
    with pytest.raises(InputError, match="batch_size"):
        sal.explain(x, batch_size=0)


def test_model_errors(x):
    with pytest.raises(ModelError, match="callable"):
        Saliency("not a model")

    class Detached(nn.Module):
        def forward(self, inp):
            return inp.flatten(1)[:, :3].detach()

    with pytest.raises(ModelError, match="does not depend on its input"):
        Saliency(Detached()).explain(x)

    class Dict(nn.Module):
        def forward(self, inp):
            return {"scores": inp.flatten(1)[:, :3]}

    with pytest.raises(ModelError, match="logits"):
        Saliency(Dict()).explain(x)


def test_plain_callables_and_hugging_face_style_outputs(x):
    class Out:
        def __init__(self, logits):
            self.logits = logits

    w = torch.randn(3 * 8 * 8, 2, generator=torch.Generator().manual_seed(0))

    def f(inp):
        return Out(inp.reshape(inp.shape[0], -1) @ w)

    attr = InputXGradient(f).explain(x, target=1)
    np.testing.assert_allclose(attr.values.reshape(4, -1).sum(1), (x.reshape(4, -1) @ w)[:, 1].numpy(), rtol=1e-4,
                               atol=1e-4)


def test_models_that_view_their_input_fall_back_from_channels_last(x):
    class Flat(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = nn.Linear(3 * 8 * 8, 2)

        def forward(self, inp):
            return self.fc(inp.view(inp.shape[0], -1))           # .view fails on a channels-last tensor

    model = Flat()
    a = Saliency(model).explain(x, target=0).values
    b = Saliency(model, channels_last=False).explain(x, target=0).values
    np.testing.assert_array_equal(a, b)


def test_import_whybox_does_not_import_torch_and_gradients_asks_for_the_extra():
    code = ("import sys, whybox; assert 'torch' not in sys.modules, 'whybox imported torch'\n"
            "sys.modules['torch'] = None  # as if torch were not installed\n"
            "try:\n    import whybox.gradients\nexcept ImportError as e:\n"
            "    assert 'pip install whybox[torch]' in str(e), e\n"
            "else:\n    raise AssertionError('no ImportError')\n")
    subprocess.run([sys.executable, "-c", code], check=True)


def test_gradients_is_not_exported_from_whybox():
    import whybox

    assert "gradients" not in whybox.__all__
