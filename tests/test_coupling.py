"""Channel coupling: channel sets from the fx graph, coupled residual groups (masks, forward values,
crossbars saved), dead-channel propagation on plain chains."""

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

from pruning.coupling import (
    channel_removal_masks,
    channel_sets,
    dead_channels,
    propagate_dead_channels,
    residual_sets,
)
from pruning.errors import ExportError, PruningError
from pruning.export import export_bundle
from pruning.groups import couple_batchnorm, group_scores, make_groups, prune_lowest
from pruning.masks import Masks
from pruning.models import build_model
from rram_sim import config

pytestmark = pytest.mark.torch

CFG = config.default().replace(**{"crossbar.rows": 16, "crossbar.cols": 32, "ou.rows": 4,
                                  "ou.cols": 8, "adc.columns_per_adc": 16})


def _randomize_bn(model: nn.Module, seed: int = 0) -> nn.Module:
    """Non-trivial BN statistics and affine parameters, so that a live channel is never zero."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, nn.BatchNorm2d):
                n = m.num_features
                m.running_mean.copy_(torch.randn(n, generator=g))
                m.running_var.copy_(0.5 + torch.rand(n, generator=g))
                m.weight.copy_(0.5 + torch.rand(n, generator=g))
                m.bias.copy_(torch.randn(n, generator=g))
    return model.eval()


def _resnet(seed=0):
    torch.manual_seed(seed)
    return _randomize_bn(build_model("resnet20", 10, 3, 0.25, 8), seed)


def _vgg(seed=0):
    torch.manual_seed(seed)
    return _randomize_bn(build_model("vgg11", 10, 3, 0.25, 8), seed)


def _outputs(model, x, names):
    """Outputs of the named modules for input ``x``."""
    mods = dict(model.named_modules())
    got = {}
    hooks = [mods[n].register_forward_hook(lambda _m, _i, o, n=n: got.__setitem__(n, o.detach()))
             for n in names]
    with torch.no_grad():
        y = model(x)
    for h in hooks:
        h.remove()
    return y, got


def _masked(model, masks):
    m = _copy(model)
    masks.validate(m).apply(m)
    return m


def _copy(model):
    import copy
    return copy.deepcopy(model).eval()


STAGE1 = ("conv1.weight", "layers.0.conv2.weight", "layers.1.conv2.weight",
          "layers.2.conv2.weight")


def test_resnet_channel_sets():
    sets = residual_sets(_resnet())
    assert [s.n_channels for s in sets] == [4, 8, 16] and all(s.adds == 3 for s in sets)
    s1, s2, s3 = sets
    assert s1.producers == STAGE1
    assert [c for c, _ in s1.consumers] == ["layers.0.conv1.weight", "layers.1.conv1.weight",
                                            "layers.2.conv1.weight", "layers.3.conv1.weight",
                                            "layers.3.shortcut.0.weight"]
    assert "bn1.weight" in s1.channelwise and "layers.2.bn2.bias" in s1.channelwise
    assert s2.producers == ("layers.3.conv2.weight", "layers.3.shortcut.0.weight",
                            "layers.4.conv2.weight", "layers.5.conv2.weight")
    assert [c for c, _ in s2.consumers] == ["layers.4.conv1.weight", "layers.5.conv1.weight",
                                            "layers.6.conv1.weight", "layers.6.shortcut.0.weight"]
    assert "layers.3.shortcut.1.weight" in s2.channelwise
    assert s3.producers == ("layers.6.conv2.weight", "layers.6.shortcut.0.weight",
                            "layers.7.conv2.weight", "layers.8.conv2.weight")
    # global pool + flatten: one fc feature per channel
    assert s3.consumers == (("layers.7.conv1.weight", 1), ("layers.8.conv1.weight", 1),
                            ("fc.weight", 1))
    # every block's inner channel is a plain (single-producer) set
    plain = [s for s in channel_sets(_resnet()) if not s.residual]
    assert sorted(s.producers[0] for s in plain) == sorted(f"layers.{i}.conv1.weight"
                                                           for i in range(9))


def test_coupled_filter_pruning_zeroes_channel_everywhere():
    model = _resnet()
    groups = make_groups(model, "filter", CFG)          # couple="auto": residual model
    assert len(groups.coupled) == 3
    masks = prune_lowest(group_scores(model, groups), groups, 0.5)
    s1 = groups.coupled[0].channels
    dead = dead_channels(s1, masks)
    assert dead.sum() == 2
    c = np.flatnonzero(dead)
    for p in s1.producers:  # the filter in every member, and its BN
        assert not masks[p][c].any() and masks[p][~dead].all()
    for p in s1.channelwise:
        assert not masks[p][c].any() and masks[p][~dead].all()
    for p, _ in s1.consumers:  # the input channel of every consumer
        assert not masks[p][:, c].any()
    # forward: the channel is exactly zero at the stem and after every add of the stage
    x = torch.randn(2, 3, 8, 8, generator=torch.Generator().manual_seed(1))
    blocks = ["relu", "layers.0", "layers.1", "layers.2"]
    _, acts = _outputs(_masked(model, masks), x, blocks)
    for b in blocks:
        assert torch.all(acts[b][:, c] == 0), b
        assert torch.all(acts[b][:, ~dead].abs().sum((0, 2, 3)) > 0), b
    # the consumers' removed slices only ever multiplied zeros: same output without them
    no_consumer = Masks({n: m for n, m in masks.items()
                         if n not in {p for p, _ in s1.consumers}})
    y_full, _ = _outputs(_masked(model, masks), x, [])
    y_part, _ = _outputs(_masked(model, masks & no_consumer), x, [])
    torch.testing.assert_close(y_full, y_part)


def test_uncoupled_filter_pruning_leaves_the_residual_channel_alive():
    model = _resnet()
    groups = make_groups(model, "filter", CFG, couple="none")
    assert groups.coupled == []
    masks = couple_batchnorm(model, prune_lowest(group_scores(model, groups), groups, 0.5))
    c = np.flatnonzero(~masks["layers.2.conv2.weight"].reshape(4, -1).any(1))
    _, acts = _outputs(_masked(model, masks), torch.randn(2, 3, 8, 8), ["layers.2"])
    # conv2's filter and BN are gone, but the identity path still carries the channel
    assert torch.any(acts["layers.2"][:, c] != 0)


def test_coupled_channel_granularity():
    model = _resnet()
    groups = make_groups(model, "channel", CFG)
    cg = groups.coupled[1]
    assert sorted(cg.members) == sorted(c for c, _ in cg.channels.consumers)
    masks = prune_lowest(group_scores(model, groups), groups, 0.25)
    dead = dead_channels(cg.channels, masks)
    assert dead.sum() == 2  # round(0.25 * 8)
    for p, _ in cg.channels.consumers:
        assert not masks[p][:, dead].any() and masks[p][:, ~dead].any()
    for p in cg.channels.producers:
        assert not masks[p][dead].any()
    # joint score = sum of the members' channel norms
    sc = group_scores(model, groups)
    joint = sum(sc[n] for n in cg.members)
    np.testing.assert_allclose(cg.joint_scores(sc), joint)
    assert set(np.flatnonzero(dead)) == set(np.argsort(joint, kind="stable")[:2])


def test_joint_score_is_sum_over_members_and_global_counts_sets_once():
    model = _resnet()
    groups = make_groups(model, "filter", CFG)
    sc = group_scores(model, groups, "l2")
    cg = groups.coupled[2]
    np.testing.assert_allclose(cg.joint_scores(sc), sum(sc[p] for p in cg.channels.producers))
    masks = prune_lowest(sc, groups, 0.3, "global")
    joint = groups.joint_members()
    units = sum(g.n_groups for n, g in groups.items() if n not in joint) + sum(
        c.n_groups for c in groups.coupled)
    removed = sum(int((~masks[n].reshape(g.n_groups, -1).any(1)).sum())
                  for n, g in groups.items() if n not in joint)
    removed += sum(int(dead_channels(c.channels, masks).sum()) for c in groups.coupled)
    assert removed == round(0.3 * units)


def test_layer_fraction_of_a_set_is_its_largest_member_fraction():
    model = _resnet()
    groups = make_groups(model, "filter", CFG)
    sc = group_scores(model, groups)
    masks = prune_lowest(sc, groups, {"layers.4.conv2.weight": 0.5, "layers.0.conv1.weight": 0.25})
    assert dead_channels(groups.coupled[1].channels, masks).sum() == 4     # round(0.5 * 8)
    assert dead_channels(groups.coupled[0].channels, masks).sum() == 0     # not asked
    assert (~masks["layers.0.conv1.weight"].reshape(4, -1).any(1)).sum() == 1


def test_exclude_producer_decouples_and_excluded_consumer_is_kept():
    model = _resnet()
    groups = make_groups(model, "filter", CFG, exclude=("conv1.weight", "fc.weight"))
    # the stem conv writes the first stage's channels: that set cannot lose a channel
    assert [c.n_groups for c in groups.coupled] == [8, 16]
    masks = prune_lowest(group_scores(model, groups), groups, 0.5)
    assert "fc.weight" not in masks and "conv1.weight" not in masks
    assert dead_channels(groups.coupled[1].channels, masks).sum() == 8


def test_couple_option_errors_and_untraceable_models():
    model = _resnet()
    with pytest.raises(PruningError, match="couple 'yes'"):
        make_groups(model, "filter", CFG, couple="yes")
    with pytest.raises(PruningError, match="residual coupling needs filter or channel"):
        make_groups(model, "ou", CFG, couple="residual")
    assert make_groups(model, "ou", CFG).coupled == []           # auto: only filter / channel
    assert make_groups(_vgg(), "filter", CFG).coupled == []      # auto: no residual add

    class Branchy(nn.Module):
        def __init__(self):
            super().__init__()
            self.a, self.b = nn.Conv2d(2, 3, 1), nn.Conv2d(2, 3, 1)

        def forward(self, x):
            y = self.a(x)
            return y + self.b(x) if x.sum() > 0 else y  # data-dependent: fx cannot trace it

    assert make_groups(Branchy(), "filter", CFG).coupled == []
    with pytest.raises(ExportError, match="cannot trace"):
        make_groups(Branchy(), "filter", CFG, couple="residual")


class _Odd(nn.Module):
    """Residual adds that cannot be coupled: with a sigmoid branch and with a constant."""

    def __init__(self):
        super().__init__()
        self.a, self.b, self.c = nn.Conv2d(2, 3, 1), nn.Conv2d(2, 3, 1), nn.Conv2d(3, 3, 1)
        self.d, self.e = nn.Conv2d(3, 3, 1), nn.Conv2d(3, 3, 1)
        self.head = nn.Conv2d(3, 2, 1)

    def forward(self, x):
        y = self.a(x) + torch.sigmoid(self.b(x))   # sigmoid(0) != 0
        z = self.c(y) + 1.0
        w = self.d(z) + self.e(z)                  # a proper residual set
        return self.head(w)


def test_sets_through_unknown_ops_are_not_removable():
    sets = channel_sets(_Odd())
    assert [s.producers for s in sets if s.residual] == [("d.weight", "e.weight")]
    # a, b and c may still lose filters, but what reads a + sigmoid(b) or c + 1 is not coupled
    # to them (those sums are not zero when a or c is); the head writes the model output
    assert {p for s in sets for p in s.producers} == {"a.weight", "b.weight", "c.weight",
                                                      "d.weight", "e.weight"}
    assert [c for s in sets for c, _ in s.consumers] == ["head.weight"]


class _Shared(nn.Module):
    """A module called twice, and a concatenation: neither is coupled."""

    def __init__(self):
        super().__init__()
        self.a, self.b, self.s = nn.Conv2d(2, 3, 1), nn.Conv2d(2, 3, 1), nn.Conv2d(3, 3, 1)
        self.head = nn.Conv2d(6, 2, 1)

    def forward(self, x):
        y = self.s(self.a(x)) + self.s(self.b(x))
        return self.head(torch.cat([y, y], 1))


def test_shared_modules_and_concatenation_are_not_coupled():
    sets = channel_sets(_Shared())
    assert not any(s.residual for s in sets)
    assert all("s.weight" not in s.producers and "head.weight" not in [c for c, _ in s.consumers]
               for s in sets)


def test_vgg_dead_channel_propagation():
    model = _vgg()
    mk = np.ones(tuple(model.features[0].weight.shape), bool)
    mk[[0, 2]] = False
    out = propagate_dead_channels(model, Masks({"features.0.weight": mk}))
    # filter n of a conv gone -> its BN channel and input channel n of the next conv gone
    assert not out["features.4.weight"][:, [0, 2]].any() and out["features.4.weight"][:, 1].all()
    assert out["features.1.weight"].tolist()[:4] == [False, True, False, True]
    assert not out["features.1.bias"][[0, 2]].any()
    assert out.report()["kept"] < out.report()["total"] - 2 * mk[0].size
    # values: the same as masking the filter and its BN only (couple_batchnorm)
    x = torch.randn(2, 3, 8, 8)
    ref = couple_batchnorm(model, Masks({"features.0.weight": mk}))
    torch.testing.assert_close(_outputs(_masked(model, out), x, [])[0],
                               _outputs(_masked(model, ref), x, [])[0])


def test_propagation_reaches_a_fixpoint_and_flattened_consumers():
    model = _vgg()
    w = dict(model.named_parameters())["features.4.weight"]
    out = propagate_dead_channels(model, Masks({"features.4.weight": np.zeros(w.shape, bool)}))
    # a layer without inputs loses all filters, so every later conv and the classifier are gone
    for n in ("features.8.weight", "features.25.weight", "classifier.weight"):
        assert not out[n].any(), n
    assert "features.0.weight" not in out and "classifier.bias" not in out  # output layer kept
    torch.manual_seed(0)
    digits = build_model("digits_cnn", 10, 1, 0.25, 8)   # 8 channels x 2 x 2 -> classifier
    mk = np.ones(tuple(digits.features[5].weight.shape), bool)
    mk[3] = False
    out = propagate_dead_channels(digits, Masks({"features.5.weight": mk}))
    assert not out["classifier.weight"][:, 12:16].any() and out["classifier.weight"][:, :12].all()
    assert out["features.5.bias"].tolist() == [i != 3 for i in range(8)]


@settings(max_examples=25, deadline=None)
@given(st.lists(st.booleans(), min_size=8, max_size=8), st.integers(0, 3))
def test_propagation_idempotent_and_only_removes(drop, layer):
    torch.manual_seed(0)
    model = build_model("digits_cnn", 10, 1, 0.5, 8)
    name = ["features.0.weight", "features.2.weight", "features.5.weight", "features.5.weight"
            ][layer]
    w = dict(model.named_parameters())[name]
    keep = np.array((drop * 4)[:w.shape[0]])
    start = Masks({name: np.broadcast_to(keep[:, None, None, None], w.shape).copy()})
    once = propagate_dead_channels(model, start)
    assert propagate_dead_channels(model, once) == once
    assert np.array_equal(once[name], start[name])            # never removes more of it
    # dead channels are exactly zero in the masked model's features
    _, acts = _outputs(_masked(model, once), torch.randn(3, 1, 8, 8),
                       [f"features.{name.split('.')[1]}"])
    assert torch.all(acts[f"features.{name.split('.')[1]}"][:, ~keep] == 0)


def test_channel_removal_masks_shape_check():
    s = residual_sets(_resnet())[0]
    shapes = {n: tuple(p.shape) for n, p in _resnet().named_parameters()}
    with pytest.raises(PruningError, match="expected \\(4,\\)"):
        channel_removal_masks(s, np.zeros(3, bool), shapes)
    got = channel_removal_masks(s, np.array([True, False, False, False]), shapes,
                                skip={"layers.3.shortcut.0.weight"})
    assert "layers.3.shortcut.0.weight" not in got and not got["conv1.weight"][0].any()


def _crossbars(model, masks, x):
    b = export_bundle(model, masks, CFG, "compact", x, golden=False)
    return sum(int(lay.n_crossbars) for lay in b.layers)


def test_coupled_mask_needs_fewer_crossbars_than_uncoupled_of_same_sparsity():
    """The figures quoted in docs/frontend.md (resnet20 width 0.25, 16 x 32 crossbars)."""
    model = _resnet()
    x = torch.randn(2, 3, 8, 8, generator=torch.Generator().manual_seed(0))
    coupled = make_groups(model, "filter", CFG)
    plain = make_groups(model, "filter", CFG, couple="none")

    def removed(m):  # conv / linear weights removed
        return sum(int((~m[n]).sum()) for n in plain if n in m)

    cm = prune_lowest(group_scores(model, coupled), coupled, 0.5)
    # the uncoupled mask removing at least as many weights
    sc = group_scores(model, plain)
    frac = next(f for f in np.linspace(0.5, 1.0, 51)
                if removed(prune_lowest(sc, plain, float(f))) >= removed(cm))
    um = couple_batchnorm(model, prune_lowest(sc, plain, float(frac)))
    assert sum(g.group_id.size for g in plain.values()) == 17132
    assert (removed(cm), removed(um), round(float(frac), 2)) == (10554, 10582, 0.6)
    n_c, n_u, n_dense = _crossbars(model, cm, x), _crossbars(model, um, x), _crossbars(
        model, None, x)
    assert (n_c, n_u, n_dense) == (83, 101, 153)
