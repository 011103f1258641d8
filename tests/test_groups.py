"""Crossbar-aligned groups: each granularity's definition, scores, pruning, and what the mapping
saves when whole groups are removed."""

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

from pruning.errors import PruningError
from pruning.granularities.base import Granularity, MatrixGrid
from pruning.granularities.registry import (
    get_granularity,
    granularity_names,
    register_granularity,
    unregister_granularity,
)
from pruning.groups import (
    group_scores,
    layer_groups,
    make_groups,
    prune_lowest,
    spec_for,
)
from pruning.masks import Masks
from rram_sim import config
from rram_sim.layout import LayerSpec
from rram_sim.mapping import map_layer, unroll_weight

pytestmark = pytest.mark.torch
GRANULARITIES = tuple(granularity_names())

CFG = config.default().replace(**{"crossbar.rows": 16, "crossbar.cols": 32, "ou.rows": 4,
                                  "ou.cols": 8, "adc.columns_per_adc": 16})
# edge preset: 8-bit weights on 2-bit cells -> 4 columns per weight; 8 logical cols per crossbar,
# OU = 4 rows x 2 logical columns


def _conv(n=10, c=3, k=3):
    torch.manual_seed(0)
    return nn.Conv2d(c, n, k)


def test_definitions_on_the_unrolled_matrix():
    spec = LayerSpec("l", "conv", (10, 3, 3, 3), (3, 8, 8))
    ids = {g: unroll_weight(layer_groups(spec, g, CFG).group_id, spec) for g in GRANULARITIES}
    k, n = 27, 10
    assert len(np.unique(ids["unstructured"])) == k * n
    # filter: constant down a column; index: constant along a row
    assert all(len(np.unique(ids["filter"][:, j])) == 1 for j in range(n))
    assert len(np.unique(ids["filter"])) == n
    assert all(len(np.unique(ids["index"][i])) == 1 for i in range(k)) and len(
        np.unique(ids["index"])) == k
    assert len(np.unique(ids["channel"])) == 3 and len(np.unique(ids["kernel"])) == 30
    # crossbar: 16 rows x 8 logical columns -> ceil(27/16) * ceil(10/8) = 4 blocks
    xb = ids["crossbar"]
    assert len(np.unique(xb)) == 4 and len(np.unique(xb[:16, :8])) == 1
    assert xb[0, 0] != xb[16, 0] and xb[0, 0] != xb[0, 8]
    # row segment: one row within one 8-column block; column segment: one column in 16 rows
    assert len(np.unique(ids["row_segment"])) == 27 * 2
    assert len(np.unique(ids["row_segment"][0, :8])) == 1
    assert len(np.unique(ids["col_segment"])) == 10 * 2
    assert len(np.unique(ids["col_segment"][:16, 0])) == 1
    # OU: 4 rows x 2 logical columns
    assert len(np.unique(ids["ou"])) == 7 * 5 and len(np.unique(ids["ou"][:4, :2])) == 1


@settings(max_examples=30, deadline=None)
@given(st.sampled_from(GRANULARITIES), st.integers(1, 12), st.integers(1, 4),
       st.sampled_from([1, 3]), st.booleans())
def test_groups_partition_every_weight(gran, n, c, k, linear):
    spec = (LayerSpec("l", "linear", (n, c * k), (c * k,)) if linear
            else LayerSpec("l", "conv", (n, c, k, k), (c, k, k)))
    g = layer_groups(spec, gran, CFG)
    assert g.group_id.shape == spec.weight_shape
    assert g.group_id.min() == 0 and g.group_id.max() == g.n_groups - 1
    assert g.sizes().sum() == np.prod(spec.weight_shape)


def test_scores_l1_l2_and_per_weight():
    m = nn.Sequential(_conv())
    groups = make_groups(m, "filter", CFG)
    w = m[0].weight.detach().numpy().astype(np.float64)
    s1 = group_scores(m, groups, "l1")["0.weight"]
    s2 = group_scores(m, groups, "l2")["0.weight"]
    sp = group_scores(m, groups, "l1", per_weight=True)["0.weight"]
    np.testing.assert_allclose(s1, np.abs(w).sum((1, 2, 3)))
    np.testing.assert_allclose(s2, np.sqrt((w ** 2).sum((1, 2, 3))))
    np.testing.assert_allclose(sp, s1 / 27)
    with pytest.raises(PruningError, match="norm"):
        group_scores(m, groups, "l3")


def test_prune_lowest_layer_and_global():
    m = nn.Sequential(_conv(), nn.Flatten(), nn.Linear(10 * 36, 5))
    groups = make_groups(m, "filter", CFG)
    scores = group_scores(m, groups)
    masks = prune_lowest(scores, groups, 0.3, "layer")
    lowest = np.argsort(scores["0.weight"])[:3]
    assert sorted(np.flatnonzero(~masks["0.weight"].all((1, 2, 3)))) == sorted(lowest)
    assert (~masks["2.weight"].all(1)).sum() == 2  # round(0.3 * 5)
    per = prune_lowest(scores, groups, {"0.weight": 0.5})
    assert per["2.weight"].all() and (~per["0.weight"].all((1, 2, 3))).sum() == 5
    glob = prune_lowest(scores, groups, 0.4, "global")
    removed = (~glob["0.weight"].all((1, 2, 3))).sum() + (~glob["2.weight"].all(1)).sum()
    assert removed == 6  # round(0.4 * 15)
    allsc = np.concatenate([scores["0.weight"], scores["2.weight"]])
    thr = np.sort(allsc)[5]
    assert np.all(scores["0.weight"][~glob["0.weight"].all((1, 2, 3))] <= thr)
    # cumulative: pruning again with the old masks applied keeps the old removals
    glob.apply(m)
    again = prune_lowest(group_scores(m, groups), groups, 0.4, "global", masks=glob)
    assert again == glob
    with pytest.raises(PruningError, match="scope"):
        prune_lowest(scores, groups, 0.1, "net")
    with pytest.raises(PruningError, match=r"\[0, 1\]"):
        prune_lowest(scores, groups, 1.5)


def test_exclude_and_unknown():
    m = nn.Sequential(_conv(), nn.Flatten(), nn.Linear(10 * 36, 5))
    assert list(make_groups(m, "ou", CFG, exclude=("2.weight",))) == ["0.weight"]
    with pytest.raises(PruningError, match="granularity"):
        make_groups(m, "block", CFG)
    with pytest.raises(PruningError, match="exclude"):
        make_groups(m, "ou", CFG, exclude=("5.weight",))


def _nonzero_weight(shape, seed=0):
    rng = np.random.default_rng(seed)
    return rng.uniform(0.5, 1.0, shape) * rng.choice([-1, 1], shape)


@pytest.mark.parametrize("gran,scheme", [("crossbar", "compact"), ("ou", "ou"),
                                         ("filter", "compact"), ("col_segment", "ou")])
def test_removed_groups_free_hardware(gran, scheme):
    """Removing whole crossbar-aligned groups removes whole mapped units."""
    spec = LayerSpec("l", "conv", (16, 8, 2, 2), (8, 4, 4))   # 32 x 16 matrix
    w = _nonzero_weight(spec.weight_shape)
    g = layer_groups(spec, gran, CFG)
    rng = np.random.default_rng(1)
    dead = rng.permutation(g.n_groups)[: g.n_groups // 2]
    mask = ~np.isin(g.group_id, dead)
    before = map_layer(spec, w, CFG, scheme)
    after = map_layer(spec, w, CFG, scheme, mask=mask)
    if gran in ("crossbar", "ou"):  # one group == one unit
        assert before.n_units == g.n_groups and after.n_units == g.n_groups - len(dead)
    else:
        assert after.n_units < before.n_units


def test_spec_for_modules():
    assert spec_for("c", _conv()).matrix_shape == (27, 10)
    assert spec_for("f", nn.Linear(7, 3)).matrix_shape == (7, 3)
    masks = prune_lowest({"w": np.arange(3.0)}, {"w": layer_groups(
        LayerSpec("w", "linear", (3, 2), (2,)), "filter", CFG)}, 1 / 3)
    assert isinstance(masks, Masks) and masks["w"].tolist() == [[False, False], [True, True],
                                                                [True, True]]


def test_groupset_is_a_dict_and_plain_models_are_not_coupled():
    m = nn.Sequential(_conv(), nn.ReLU(), nn.Conv2d(10, 4, 3), nn.Flatten(), nn.Linear(64, 5))
    for gran in ("filter", "channel", "ou"):
        groups = make_groups(m, gran, CFG)
        assert isinstance(groups, dict) and groups.coupled == []
        assert list(groups) == ["0.weight", "2.weight", "4.weight"]
    # without coupling, masks cover the grouped weights only, as before
    groups = make_groups(m, "filter", CFG)
    masks = prune_lowest(group_scores(m, groups), groups, 0.5)
    assert masks.names() == ["0.weight", "2.weight", "4.weight"]
    kept = masks["2.weight"].any(axis=(1, 2, 3))
    assert kept.sum() == 2 and masks["2.weight"][kept].all()  # the next layer's inputs stay


def test_batchnorm_coupling_on_a_residual_model():
    """couple_batchnorm masks every BN after a conv (block BNs, option-B shortcut BNs) for
    uncoupled masks, and keeps the coupled masks' BN entries (already masked)."""
    from pruning.groups import couple_batchnorm
    from pruning.models import build_model

    torch.manual_seed(0)
    model = build_model("resnet20", 10, 3, 0.25, 8)
    plain = make_groups(model, "filter", CFG, couple="none")
    masks = couple_batchnorm(model, prune_lowest(group_scores(model, plain), plain, 0.5))
    for conv, bn in (("layers.3.shortcut.0", "layers.3.shortcut.1"), ("layers.4.conv1",
                                                                      "layers.4.bn1")):
        alive = masks[f"{conv}.weight"].reshape(8, -1).any(axis=1)
        assert np.array_equal(masks[f"{bn}.weight"], alive)
        assert np.array_equal(masks[f"{bn}.bias"], alive) and not alive.all()
    coupled = make_groups(model, "filter", CFG)
    cm = prune_lowest(group_scores(model, coupled), coupled, 0.5)
    both = couple_batchnorm(model, cm)
    assert all(np.array_equal(both[k], v) for k, v in cm.items())
    assert not cm["layers.3.shortcut.1.weight"].all()


# ---------------------------------------------------------------------------------------------
# The granularity registry
# ---------------------------------------------------------------------------------------------

def test_granularity_registry_lookup_and_unknown_names():
    assert GRANULARITIES == ("ou_row", "ou_column", "unstructured", "kernel", "index", "channel",
                             "filter", "row_segment", "col_segment", "ou", "crossbar")
    for name in GRANULARITIES:
        g = get_granularity(name)
        assert isinstance(g, Granularity) and g.name == name and g.description
    assert [n for n in GRANULARITIES if get_granularity(n).couples] == ["channel", "filter"]
    known = r"\(known: ou_row, ou_column, unstructured, kernel, .*, ou, crossbar\)"
    with pytest.raises(PruningError, match=r"granularity 'block': unknown " + known):
        get_granularity("block")
    m = nn.Sequential(_conv())
    with pytest.raises(PruningError, match=r"granularity 'block': unknown " + known):
        make_groups(m, "block", CFG)
    with pytest.raises(PruningError, match="already registered"):
        register_granularity(type(get_granularity("ou")))
    with pytest.raises(PruningError, match="built in"):
        unregister_granularity("ou")


class _RowPair(Granularity):
    """A granularity registered by the test: two consecutive wordlines across all filters."""

    name = "row_pair"
    description = "two consecutive matrix rows"

    def matrix_ids(self, grid: MatrixGrid) -> np.ndarray:
        return grid.label(grid.rows // 2, 0, 1)


def test_a_registered_granularity_is_found_and_used():
    from pruning.autoprune import AutoPruneSettings
    from pruning.methods.lottery import Lottery

    register_granularity(_RowPair)
    try:
        assert "row_pair" in granularity_names() and get_granularity("row_pair").name == "row_pair"
        m = nn.Sequential(_conv(), nn.Flatten(), nn.Linear(10 * 36, 5))
        groups = make_groups(m, "row_pair", CFG)
        mat = unroll_weight(groups["0.weight"].group_id, spec_for("0", m[0]))   # [27, 10]
        assert groups["0.weight"].n_groups == 14 and groups["2.weight"].n_groups == 180
        assert all(len(np.unique(mat[r])) == 1 for r in range(27))
        assert np.array_equal(np.unique(mat[::2, 0]), np.arange(14))
        masks = prune_lowest(group_scores(m, groups), groups, 0.5)
        rows_kept = masks["0.weight"].transpose(1, 2, 3, 0).reshape(27, 10)
        assert np.all(rows_kept.all(axis=1) | ~rows_kept.any(axis=1))   # whole wordlines
        assert rows_kept.all(axis=1).sum() in (13, 14)                   # 7 of 14 pairs gone
        # methods take it by name
        assert Lottery(granularity=("row_pair",)).settings.granularity == ("row_pair",)
        AutoPruneSettings(granularity="row_pair").validate()
    finally:
        unregister_granularity("row_pair")
    with pytest.raises(PruningError, match="granularity 'row_pair': unknown"):
        make_groups(nn.Sequential(_conv()), "row_pair", CFG)
    with pytest.raises(PruningError, match="couples="):
        register_granularity(type("Bad", (_RowPair,), {"name": "bad", "couples": "both"}))
