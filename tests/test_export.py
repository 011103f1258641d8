"""Export: every registered model becomes a bundle whose graph, folded weights and golden vectors
reproduce the torch model; unsupported modules are refused with a clear error."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from pruning.errors import ExportError
from pruning.export import export_bundle, extract_network
from pruning.masks import Masks
from pruning.models import build_model, model_names
from rram_sim import config
from rram_sim.bundle import load_bundle
from rram_sim.mapping import im2col, unmap, unroll_weight

pytestmark = pytest.mark.torch

CFG = config.default()


def _pool(x, k, s, p, op):
    b, c, h, w = x.shape
    pad = np.pad(x, ((0, 0), (0, 0), (p, p), (p, p)),
                 constant_values=-np.inf if op == "maxpool" else 0.0)
    win = np.lib.stride_tricks.sliding_window_view(pad, (k, k), axis=(2, 3))[:, :, ::s, ::s]
    return win.max((-1, -2)) if op == "maxpool" else win.mean((-1, -2))


def run_graph(net, x):
    """Execute the exported graph in numpy (the simulator's view of the network)."""
    specs = {s.name: s for s in net.specs}
    vals = {}
    for node in net.graph:
        ins = [vals[i] for i in node.inputs]
        if node.op == "input":
            v = x
        elif node.op in ("conv", "linear"):
            s = specs[node.name]
            out = im2col(ins[0], s) @ unroll_weight(net.weights[s.name], s)
            if net.biases[s.name] is not None:
                out = out + net.biases[s.name]
            if s.kind == "conv":
                n, oh, ow = s.output_shape
                out = out.reshape(len(x), oh, ow, n).transpose(0, 3, 1, 2)
            v = out
        elif node.op == "relu":
            v = np.maximum(ins[0], 0)
        elif node.op in ("maxpool", "avgpool"):
            p = node.params
            v = _pool(ins[0], p["kernel"], p["stride"], p["padding"], node.op)
        elif node.op == "add":
            v = ins[0] + ins[1]
        elif node.op == "flatten":
            v = ins[0].reshape(len(x), -1)
        vals[node.name] = v
    return v


def _small(name, seed=0):
    torch.manual_seed(seed)
    size = 16 if name in ("vgg11", "vgg16", "vgg19", "lenet5") else 8
    m = build_model(name, 10, 3, 0.125, size)
    # non-trivial BatchNorm statistics, so folding is really tested
    for mod in m.modules():
        if isinstance(mod, nn.BatchNorm2d):
            mod.running_mean.uniform_(-0.5, 0.5)
            mod.running_var.uniform_(0.5, 2.0)
            mod.weight.data.uniform_(0.5, 1.5)
            mod.bias.data.uniform_(-0.2, 0.2)
    return m.eval(), torch.randn(2, 3, size, size)


@pytest.mark.parametrize("name", model_names())
def test_graph_reproduces_model(name):
    m, x = _small(name)
    net = extract_network(m, tuple(x.shape[1:]))
    with torch.no_grad():
        ref = m(x).double().numpy()
    np.testing.assert_allclose(run_graph(net, x.double().numpy()), ref, rtol=1e-4, atol=1e-4)
    assert not any(isinstance(b, nn.BatchNorm2d) for b in net.specs)
    n_weighted = sum(isinstance(mod, (nn.Conv2d, nn.Linear)) for mod in m.modules())
    assert len(net.specs) == n_weighted


@pytest.mark.parametrize("name", model_names())
def test_every_model_exports_and_roundtrips(name, tmp_path):
    m, x = _small(name)
    b = export_bundle(m, None, CFG, "compact", x, tmp_path / "b", allow_multi_chip=True)
    back = load_bundle(tmp_path / "b")
    assert [lay.spec for lay in back.layers] == [lay.spec for lay in b.layers]
    assert [g.name for g in back.graph] == [g.name for g in b.graph]
    assert set(back.golden) == {lay.spec.name for lay in b.layers}
    for lay in back.layers:
        g = back.golden[lay.spec.name]
        assert g.input.shape[1:] == tuple(lay.spec.input_shape)
        assert g.output.shape[1:] == tuple(lay.spec.output_shape)
        # float and quantized references agree to quantization error
        err = np.abs(g.output - g.output_quantized).max()
        assert err <= 0.05 * max(1.0, np.abs(g.output).max())


def test_masks_are_applied_and_mapped(tmp_path):
    m, x = _small("digits_cnn")
    rng = np.random.default_rng(0)
    masks = Masks({n: rng.random(v.shape) > 0.5 for n, v in Masks.ones_like(m).items()})
    dense = export_bundle(m, None, CFG, "compact", x, golden=False)
    b = export_bundle(m, masks, CFG, "compact", x)
    for lay in b.layers:
        q = unmap(lay, CFG)
        mk = unroll_weight(masks[f"{lay.spec.name}.weight"], lay.spec)
        assert np.all(q[~mk] == 0)
    assert b.figures["weights_nonzero"] < dense.figures["weights_nonzero"]
    # the original model is untouched
    assert all(torch.count_nonzero(p) == p.numel() for n, p in m.named_parameters()
               if n.endswith("weight") and p.dim() > 1)


def test_verify_bundle_accepts_export():
    datapath = pytest.importorskip("rram_sim.datapath")
    pytest.importorskip("rram_sim.kernels")
    m, x = _small("resnet20")
    b = export_bundle(m, None, CFG.replace(**{"adc.range_policy": "lossless"}), "ou", x)
    assert datapath.verify_bundle(b).passed


class _Grouped(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(4, 4, 3, groups=2)

    def forward(self, x):
        return self.conv(x)


@pytest.mark.parametrize("module,match", [
    (_Grouped(), "grouped"),
    (nn.Sequential(nn.Conv2d(3, 4, 3, dilation=2)), "dilation"),
    (nn.Sequential(nn.Conv2d(3, 4, 3), nn.Sigmoid()), "Sigmoid"),
    (nn.Sequential(nn.BatchNorm2d(3), nn.Conv2d(3, 4, 3)), "BatchNorm must directly follow"),
    (nn.Sequential(nn.ReLU()), "no Conv2d or Linear"),
])
def test_unsupported_modules(module, match):
    with pytest.raises(ExportError, match=match):
        extract_network(module, (4 if isinstance(module, _Grouped) else 3, 8, 8))


class _ModuleForm(nn.Module):
    """Every supported layer as a module (the reference of the functional forms below)."""

    def __init__(self):
        super().__init__()
        self.c1 = nn.Conv2d(1, 4, 3, padding=1)
        self.bn = nn.BatchNorm2d(4)
        self.c2 = nn.Conv2d(4, 8, 3, padding=1)
        self.act = nn.ReLU()
        self.mp = nn.MaxPool2d(2)
        self.ap = nn.AvgPool2d(2, stride=1, padding=1)
        self.gp = nn.AdaptiveAvgPool2d(1)
        self.fl = nn.Flatten()
        self.drop = nn.Dropout(0.5)
        self.fc = nn.Linear(8, 3)

    def forward(self, x):
        x = self.mp(self.act(self.bn(self.c1(x))))
        x = self.ap(self.act(self.c2(x)))
        return self.fc(self.drop(self.fl(self.gp(x))))


class _FunctionalForm(_ModuleForm):
    def forward(self, x):
        x = F.max_pool2d(F.relu(self.bn(self.c1(x))), 2)
        x = F.avg_pool2d(torch.relu(self.c2(x)), 2, stride=1, padding=1)
        x = F.adaptive_avg_pool2d(x, 1)
        return self.fc(F.dropout(x.view(x.size(0), -1), 0.5, self.training))


class _MethodForm(_ModuleForm):
    def forward(self, x):
        x = torch.max_pool2d(self.bn(self.c1(x)).relu(), kernel_size=2)
        x = F.avg_pool2d(F.relu(self.c2(x), inplace=True), kernel_size=(2, 2), stride=1,
                         padding=1)
        x = F.adaptive_avg_pool2d(x, (1, 1))
        return self.fc(x.reshape(x.shape[0], -1))


class _FlattenForms(_ModuleForm):
    def __init__(self, form):
        super().__init__()
        self.form = form

    def forward(self, x):
        x = self.gp(self.ap(self.act(self.c2(self.mp(self.act(self.bn(self.c1(x))))))))
        if self.form == "flatten":
            return self.fc(x.flatten(1))
        if self.form == "torch.flatten":
            return self.fc(torch.flatten(x, 1))
        if self.form == "view-1":
            return self.fc(x.view(-1, 8))
        return self.fc(x.reshape(x.size()[0], -1))


class _MeanForms(_ModuleForm):
    def __init__(self, form):
        super().__init__()
        self.form = form

    def forward(self, x):
        x = self.ap(self.act(self.c2(self.mp(self.act(self.bn(self.c1(x)))))))
        if self.form == "mean":
            return self.fc(x.mean((2, 3)))
        if self.form == "torch.mean":
            return self.fc(torch.mean(x, dim=[-1, -2]))
        return self.fc(self.fl(x.mean([2, 3], keepdim=True)))


def _arrays(path):
    with np.load(path / "arrays.npz") as z:
        return {k: z[k].tobytes() + str((z[k].dtype, z[k].shape)).encode() for k in z.files}


@pytest.mark.parametrize("form", [_FunctionalForm, _MethodForm, "flatten", "torch.flatten",
                                  "view-1", "reshape-size", "mean", "torch.mean", "mean-keepdim"])
def test_functional_forms_export_like_modules(form, tmp_path):
    """F.max_pool2d, x.view(x.size(0), -1), ... give the bundle the module form gives: the same
    arrays byte for byte, the same graph ops and layer specs."""
    torch.manual_seed(0)
    ref = _ModuleForm()
    ref.bn.running_mean.uniform_(-0.5, 0.5)
    ref.bn.running_var.uniform_(0.5, 2.0)
    other = (form() if isinstance(form, type)
             else _MeanForms(form) if "mean" in form else _FlattenForms(form))
    other.load_state_dict(ref.state_dict())
    x = torch.randn(2, 1, 8, 8)
    a = export_bundle(ref.eval(), None, CFG, "compact", x, tmp_path / "module")
    b = export_bundle(other.eval(), None, CFG, "compact", x, tmp_path / "other")
    assert [g.op for g in a.graph] == [g.op for g in b.graph]
    assert [g.params for g in a.graph] == [g.params for g in b.graph]
    assert [lay.spec for lay in a.layers] == [lay.spec for lay in b.layers]
    arrays_a, arrays_b = _arrays(tmp_path / "module"), _arrays(tmp_path / "other")
    assert arrays_a == arrays_b and len(arrays_a) > 10


class _SizedPool(_ModuleForm):
    """kuangliu/pytorch-cifar style: the global pool's kernel is read from the map's size."""

    def __init__(self, how):
        super().__init__()
        self.how = how

    def forward(self, x):
        x = self.ap(self.act(self.c2(self.mp(self.act(self.bn(self.c1(x)))))))
        k = {"size(3)": lambda: x.size(3), "size()[3]": lambda: x.size()[3],
             "shape[2]": lambda: x.shape[2], "size(0)": lambda: x.size(0)}[self.how]()
        x = F.avg_pool2d(x, k)
        if self.how == "size(0)":     # a kernel of 1 in the one-image trace: pool the rest
            x = F.adaptive_avg_pool2d(x, 1)
        return self.fc(x.view(x.size(0), -1))


@pytest.mark.parametrize("how", ["size(3)", "size()[3]", "shape[2]"])
def test_pool_kernel_from_the_map_size(how):
    torch.manual_seed(0)
    m = _SizedPool(how).eval()
    x = torch.randn(2, 1, 8, 8)
    net = extract_network(m, (1, 8, 8))
    pool = [g for g in net.graph if g.op == "avgpool"][-1]
    assert (pool.params["kernel"], pool.params["stride"]) == (5, 5)
    with torch.no_grad():
        ref = m(x).double().numpy()
    np.testing.assert_allclose(run_graph(net, x.double().numpy()), ref, rtol=1e-4, atol=1e-4)


def test_pool_kernel_from_the_batch_size_is_refused():
    with pytest.raises(ExportError, match=r"kernel 'size' is not a number the export can fix"):
        extract_network(_SizedPool("size(0)").eval(), (1, 8, 8))


class _Op(nn.Module):
    def __init__(self, fn):
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3, padding=1)
        self.fn = fn
        with torch.no_grad():
            self.fc = nn.Linear(fn(self.conv(torch.zeros(1, 3, 8, 8))).numel(), 2)

    def forward(self, x):
        return self.fc(self.fn(self.conv(x)).flatten(1))


@pytest.mark.parametrize("fn,match", [
    (F.gelu, r"call_function 'gelu' is not supported by the crossbar export; use nn\.ReLU"),
    (torch.sigmoid, r"'sigmoid' is not supported .*; use nn\.ReLU"),
    (lambda t: torch.cat([t, t], 1)[:, :4], "concatenation is not supported"),
    (lambda t: t * 2.0, "'mul' is not supported .*nn.Conv2d / nn.Linear"),
    (lambda t: F.max_pool2d(t, 2, ceil_mode=True), "ceil_mode=True is not supported"),
    (lambda t: F.max_pool2d(t, 3, dilation=2, padding=1), "dilation is not supported"),
    (lambda t: t.permute(0, 1, 3, 2), "'permute' is not supported .*x.flatten"),
])
def test_unsupported_functions_say_what_to_use(fn, match):
    with pytest.raises(ExportError, match=match):
        extract_network(_Op(fn), (3, 8, 8))


def test_unsupported_reshapes_are_refused():
    class Literal(_Op):
        def forward(self, x):
            return self.fc(self.conv(x).view(1, -1))   # right for one image only

    class Partial(_Op):
        def forward(self, x):
            return self.fc(self.conv(x).view(x.size(0), 4, -1).flatten(1))

    with pytest.raises(ExportError, match=r"call_method 'view' to \(1, -1\) is not supported.*"
                                          r"x.view\(x.size\(0\), -1\)"):
        extract_network(Literal(lambda t: t), (3, 8, 8))
    with pytest.raises(ExportError, match="'view' to .* is not supported"):
        extract_network(Partial(lambda t: t), (3, 8, 8))


def test_shape_mismatch_is_one_line():
    class Wrong(_Op):
        def forward(self, x):
            return self.fc(self.conv(x).view(-1, 7))

    with pytest.raises(ExportError, match=r"an input of shape \(3, 8, 8\) .* fails at node "
                                          r"'view': RuntimeError"):
        extract_network(Wrong(lambda t: t), (3, 8, 8))


def test_cli_train_export_evaluate(tmp_path, capsys):
    import json

    from pruning.cli import main
    from rram_sim.bundle import load_bundle as load

    run = tmp_path / "run"
    assert main(["train", "--epochs", "1", "--width", "0.25", "-o", str(run),
                 "--no-progress"]) == 0
    assert (run / "checkpoint.pt").is_file()
    capsys.readouterr()
    assert main(["export", str(run), "--scheme", "compact", "--golden", "2",
                 "-o", str(tmp_path / "b")]) == 0
    b = load(tmp_path / "b")
    assert len(b.layers) == 4 and len(b.golden) == 4 and b.scheme == "compact"
    capsys.readouterr()
    assert main(["evaluate", str(run), "--on-crossbar", "--limit", "16", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert {"float_acc", "quantized_acc", "crossbar_acc"} <= set(out)
    assert main(["evaluate", str(run), "--limit", "16", "-q"]) == 0
    text, err = capsys.readouterr()
    assert text.startswith("digits_cnn on edge (dense): float acc ") and err == ""
    assert main(["export", str(tmp_path / "none"), "-o", str(tmp_path / "x")]) == 2
    assert "no such checkpoint" in capsys.readouterr().err
    assert main(["export", str(run), "--chip", "nochip", "-o", str(tmp_path / "x")]) == 2


# ---------------------------------------------------------------------------------------------
# Eval set: stored by export, read by rram_sim.accuracy, which agrees with the torch crossbar
# layers (pruning.xbar_layers) on the same images.
# ---------------------------------------------------------------------------------------------

def test_eval_set_accuracy_agrees_with_the_torch_crossbar_layers(tmp_path, digits_data):
    from pruning.cli.common import labelled_batch
    from pruning.train import evaluate
    from pruning.xbar_layers import to_crossbar
    from rram_sim import accuracy

    torch.manual_seed(0)
    m = build_model("digits_cnn", 10, 1, 0.5, 8).eval()
    x, y = labelled_batch(digits_data, 96)
    cfg = CFG.replace(**{"adc.bits": 5})
    export_bundle(m, None, cfg, "compact", x[:2], tmp_path / "b", eval_set=(x, y),
                  eval_source="digits test split")
    e = load_bundle(tmp_path / "b").eval_set
    assert len(e.labels) == 96 and e.classes == 10 and e.source == "digits test split"
    assert np.array_equal(e.x, x.numpy()) and np.array_equal(e.labels, y.numpy())
    loader = [(x[i:i + 32], y[i:i + 32]) for i in range(0, 96, 32)]
    assert e.float_accuracy == pytest.approx(evaluate(m, loader)[1])
    r = accuracy.evaluate(load_bundle(tmp_path / "b"), batch_size=32)
    torch_xb = evaluate(to_crossbar(m, cfg, "compact"), loader)[1]
    torch_q = evaluate(to_crossbar(m, cfg, "compact", mode="quantized"), loader)[1]
    # the torch layers carry float32 between layers, the simulator float64: a rare sample may
    # round differently at the next layer's quantizer
    assert abs(r.crossbar - torch_xb) <= 2 / 96 and abs(r.exact - torch_q) <= 2 / 96
    xb = to_crossbar(m, cfg, "compact")
    with torch.no_grad():
        want = torch.cat([xb(xi).argmax(1) for xi, _ in loader]).numpy()
    got = accuracy.predictions(load_bundle(tmp_path / "b"), e.x, batch_size=32)
    assert np.mean(got == want) >= 94 / 96


def test_eval_set_is_checked_at_export():
    m, x = _small("digits_cnn")
    with pytest.raises(ExportError, match="eval set: 3 labels"):
        export_bundle(m, None, CFG, "dense", x, eval_set=(x, torch.tensor([0, 1, 2])))
    with pytest.raises(ExportError, match="labels must lie in 0..9"):
        export_bundle(m, None, CFG, "dense", x, eval_set=(x, torch.tensor([0, 10])))


def test_cli_export_eval_samples(tmp_path, capsys):
    import json

    from pruning.cli import main

    run = tmp_path / "run"
    assert main(["train", "--epochs", "1", "--width", "0.25", "-o", str(run), "-q"]) == 0
    capsys.readouterr()
    assert main(["export", str(run), "--eval-samples", "50", "-q", "-o",
                 str(tmp_path / "b")]) == 0
    out = capsys.readouterr().out
    assert "eval set of 50 test images (float model accuracy" in out
    e = load_bundle(tmp_path / "b").eval_set
    assert len(e.labels) == 50 and e.source == "digits test split, first 50 images"
    assert main(["export", str(run), "--json", "-q", "-o", str(tmp_path / "c")]) == 0
    d = json.loads(capsys.readouterr().out)
    assert d["eval_samples"] == 0 and d["float_accuracy"] is None
    assert load_bundle(tmp_path / "c").eval_set is None
    assert main(["export", str(run), "--eval-samples", "-1", "-o", str(tmp_path / "d")]) == 2
    assert "--eval-samples=-1: must be >= 0" in capsys.readouterr().err
