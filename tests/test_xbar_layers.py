"""Crossbar-backed layers: on digits, with a lossless ADC, the crossbars predict exactly what the
quantized software model predicts; the input gradient runs through the transposed read."""

import numpy as np
import pytest
import torch
from torch import nn

from pruning.data import get_data
from pruning.groups import couple_batchnorm
from pruning.masks import Masks
from pruning.models import build_model
from pruning.train import seed_everything, train
from pruning.xbar_layers import XbarConv2d, XbarLinear, to_crossbar, total_counts
from rram_sim import config

pytestmark = pytest.mark.torch

LOSSLESS = config.default().replace(**{"adc.range_policy": "lossless"})


@pytest.fixture(scope="module")
def trained():
    seed_everything(0)
    d = get_data("digits", batch_size=32, seed=0)
    m = build_model("digits_cnn", 10, 1, 0.5, 8)
    train(m, d, 2, optimizer="adam", lr=3e-3, weight_decay=0.0, seed=0, progress=False)
    x, y = d.test.dataset.tensors
    return m.eval(), x[:48], y[:48]


@pytest.mark.parametrize("scheme", ["dense", "ou"])
def test_lossless_crossbar_predictions_equal_quantized_software(trained, scheme):
    m, x, y = trained
    rng = np.random.default_rng(0)
    masks = Masks({n: rng.random(v.shape) > 0.3 for n, v in Masks.ones_like(m).items()})
    xb = to_crossbar(m, LOSSLESS, scheme, masks=masks)
    qs = to_crossbar(m, LOSSLESS, scheme, masks=masks, mode="quantized")
    with torch.no_grad():
        out_x, out_q = xb(x), qs(x)
    np.testing.assert_allclose(out_x.numpy(), out_q.numpy(), rtol=0, atol=1e-5)
    assert torch.equal(out_x.argmax(1), out_q.argmax(1))
    assert total_counts(xb).adc_conversions > 0 and total_counts(qs).adc_conversions == 0


def test_few_adc_bits_change_outputs(trained):
    m, x, _ = trained
    lossy = LOSSLESS.replace(**{"adc.range_policy": "calibrated", "adc.bits": 2,
                                "adc.calibration_fraction": 0.05})
    with torch.no_grad():
        a = to_crossbar(m, LOSSLESS, "dense", mode="quantized")(x[:8])
        b = to_crossbar(m, lossy, "dense")(x[:8])
    assert not torch.allclose(a, b)


def test_batchnorm_is_folded():
    torch.manual_seed(0)
    m = build_model("resnet20", 10, 3, 0.25).eval()
    for mod in m.modules():
        if isinstance(mod, nn.BatchNorm2d):
            mod.running_mean.uniform_(-0.3, 0.3)
            mod.running_var.uniform_(0.5, 2.0)
    x = torch.randn(2, 3, 8, 8)
    q = to_crossbar(m, LOSSLESS, "dense", mode="quantized")
    assert not any(isinstance(mod, nn.BatchNorm2d) for mod in q.modules())
    with torch.no_grad():
        ref, out = m(x), q(x)
    assert torch.allclose(ref, out, atol=0.05 * float(ref.abs().max()))


def test_input_gradient_through_transposed_read():
    torch.manual_seed(0)
    conv = nn.Conv2d(3, 5, 3, stride=2, padding=1)
    lin = nn.Linear(12, 4)
    for mod, x in ((conv, torch.randn(2, 3, 7, 7)), (lin, torch.randn(3, 12))):
        xb = (XbarConv2d.from_conv(mod, LOSSLESS) if isinstance(mod, nn.Conv2d)
              else XbarLinear.from_linear(mod, LOSSLESS))
        xr = x.clone().requires_grad_(True)
        y = mod(xr)
        torch.manual_seed(1)
        g = torch.randn_like(y)
        y.backward(g)
        xc = x.clone().requires_grad_(True)
        xb(xc).backward(g)
        # exact up to the quantization of the weights and of the output gradient (8 bits)
        err = float((xc.grad - xr.grad).abs().max())
        assert err <= 0.03 * float(xr.grad.abs().max())
        assert xb.counts.crossbar_activations > 0


def test_couple_batchnorm_removes_filter_completely():
    torch.manual_seed(0)
    m = build_model("vgg11", 10, 3, 0.125, 8).eval()
    for mod in m.modules():
        if isinstance(mod, nn.BatchNorm2d):
            mod.running_mean.uniform_(-0.3, 0.3)
            mod.bias.data.uniform_(0.1, 0.5)
    w = m.features[0].weight
    mk = np.ones(tuple(w.shape), bool)
    mk[2] = False
    masks = couple_batchnorm(m, Masks({"features.0.weight": mk}))
    assert masks["features.1.weight"].tolist() == masks["features.1.bias"].tolist()
    assert not masks["features.1.bias"][2] and masks["features.1.bias"].sum() == w.shape[0] - 1
    q = to_crossbar(m, LOSSLESS, "dense", masks=masks, mode="quantized")
    assert q.features[0].bias_np[2] == 0.0 and np.all(q.features[0].weight_np[2] == 0)
