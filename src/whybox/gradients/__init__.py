"""Gradient attributions for PyTorch models: saliency, input x gradient, integrated gradients (on the
input or a layer), SmoothGrad / VarGrad, Grad-CAM and Grad-CAM++.

Needs the torch extra (`pip install whybox[torch]`); `import whybox` alone never imports torch.

    from whybox.gradients import IntegratedGradients, GradCam, SmoothGrad, Saliency
    attr = IntegratedGradients(model).explain(images, target="predicted", n_steps=64)
    cam = GradCam(model, layer="layer4.1.conv2").explain(images, target=3)
    smooth = SmoothGrad(Saliency(model), n_samples=20, stdev=0.15).explain(images)

Every explainer takes any torch.nn.Module returning logits (n, classes), x as a tensor or numpy array
(n, *input_shape), and `target` as a class index, a label name (with labels=[...]), one of those per
row, or "predicted". The model runs in eval mode on its own device; its training flags, parameters'
gradients and requires_grad flags are left as they were, and no hook stays behind.
"""

try:
    import torch  # noqa: F401
except ImportError as e:  # pragma: no cover - depends on the environment
    raise ImportError("whybox.gradients needs PyTorch: pip install whybox[torch]") from e

from .attention import Attention, attention_rollout
from .gradcam import GradCam, GradCamPlusPlus
from .integrated import IntegratedGradients, LayerIntegratedGradients
from .layers import conv_layers, find_layer
from .noise import SmoothGrad
from .saliency import InputXGradient, Saliency

__all__ = ["Saliency", "InputXGradient", "IntegratedGradients", "LayerIntegratedGradients", "SmoothGrad",
           "GradCam", "GradCamPlusPlus", "conv_layers", "find_layer"]
__all__ += ["Attention", "attention_rollout"]
