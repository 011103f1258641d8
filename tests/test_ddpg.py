"""Tests of the DDPG agent used by AUTO-PRUNE: noise, replay, learning, determinism, checkpoints."""

from __future__ import annotations

import io

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from pruning.ddpg import DdpgAgent, DdpgConfig, ReplayBuffer, truncated_normal

pytestmark = pytest.mark.torch

SMALL = DdpgConfig(hidden=32, batch_size=16, replay_size=256, warmup_episodes=5, lr_actor=1e-3,
                   lr_critic=1e-2, tau=0.05, delta_decay=0.9)


@settings(max_examples=40, deadline=None)
@given(mu=st.floats(-1.0, 2.0), sigma=st.floats(0.01, 2.0), lo=st.floats(0.0, 0.5),
       width=st.floats(0.01, 0.5), seed=st.integers(0, 2**31))
def test_truncated_normal_stays_in_bounds(mu, sigma, lo, width, seed):
    rng = np.random.default_rng(seed)
    hi = lo + width
    draws = [truncated_normal(rng, mu, sigma, lo, hi) for _ in range(5)]
    assert all(lo <= x <= hi for x in draws)


def test_truncated_normal_matches_its_distribution():
    rng = np.random.default_rng(0)
    x = np.array([truncated_normal(rng, 0.5, 0.1, 0.0, 1.0) for _ in range(4000)])
    # Truncation at 5 sigma is negligible: mean and std of the plain normal.
    assert abs(x.mean() - 0.5) < 0.01 and abs(x.std() - 0.1) < 0.01
    y = np.array([truncated_normal(rng, 0.0, 1.0, 0.0, 1.0) for _ in range(4000)])
    # Half-normal restricted to [0, 1]: mean = (phi(0) - phi(1)) / (Phi(1) - Phi(0)) = 0.4599.
    assert abs(y.mean() - 0.4599) < 0.02


def test_replay_buffer_ring_and_round_trip():
    buf = ReplayBuffer(4, 2)
    for i in range(6):
        buf.append(np.full(2, i), i / 10, float(i), np.full(2, i + 1), i == 5)
    assert len(buf) == 4
    # Oldest two (0, 1) were overwritten by 4, 5.
    assert sorted(buf.rewards[:, 0].tolist()) == [2.0, 3.0, 4.0, 5.0]
    other = ReplayBuffer(4, 2)
    other.load_arrays(buf.arrays())
    assert len(other) == 4 and other.head == buf.head
    np.testing.assert_array_equal(other.states, buf.states)
    with pytest.raises(ValueError):
        ReplayBuffer(5, 2).load_arrays(buf.arrays())


def test_config_and_bounds_are_validated():
    with pytest.raises(ValueError, match="tau"):
        DdpgAgent(3, 0.0, 1.0, DdpgConfig(tau=0.0), seed=0)
    with pytest.raises(ValueError, match="bounds"):
        DdpgAgent(3, 0.8, 0.2, SMALL, seed=0)


def test_actions_respect_bounds_and_warmup_is_random():
    agent = DdpgAgent(3, 0.2, 0.7, SMALL, seed=1)
    s = np.array([0.1, 0.5, 0.9], np.float32)
    warm = [agent.select_action(s, episode=0) for _ in range(50)]
    later = [agent.select_action(s, episode=40) for _ in range(50)]
    assert all(0.2 <= a <= 0.7 for a in warm + later)
    assert np.std(warm) > 0.1                         # uniform over a 0.5-wide interval
    assert np.std(later) < np.std(warm)               # decayed noise around mu(s)
    assert agent.noise_delta(40) == pytest.approx(0.5 * 0.9 ** 35)


def _toy_run(agent: DdpgAgent, episodes: range, target: float = 0.3) -> list[float]:
    """One-step episodes whose reward peaks at action == target."""
    s = np.array([0.5, 0.5], np.float32)
    actions = []
    for ep in episodes:
        a = agent.select_action(s, ep)
        agent.observe(s, a, -(a - target) ** 2 * 10, s, True)
        if ep >= agent.cfg.warmup_episodes:
            agent.update()
        actions.append(a)
    return actions


def test_agent_learns_a_one_step_optimum():
    agent = DdpgAgent(2, 0.0, 1.0, SMALL, seed=3)
    _toy_run(agent, range(300))
    assert abs(agent.policy_action(np.array([0.5, 0.5], np.float32)) - 0.3) < 0.1


def test_same_seed_same_actions_and_weights():
    a1, a2 = (DdpgAgent(2, 0.0, 1.0, SMALL, seed=7) for _ in range(2))
    assert _toy_run(a1, range(30)) == _toy_run(a2, range(30))
    for p, q in zip(a1.actor.parameters(), a2.actor.parameters()):
        assert torch.equal(p, q)
    a3 = DdpgAgent(2, 0.0, 1.0, SMALL, seed=8)
    assert _toy_run(a3, range(30)) != _toy_run(DdpgAgent(2, 0.0, 1.0, SMALL, seed=7), range(30))


def test_checkpoint_resume_is_exact():
    straight = DdpgAgent(2, 0.0, 1.0, SMALL, seed=11)
    full = _toy_run(straight, range(40))

    first = DdpgAgent(2, 0.0, 1.0, SMALL, seed=11)
    head = _toy_run(first, range(20))
    blob = io.BytesIO()
    torch.save(first.state_dict(), blob)
    arrays = {k: v.copy() for k, v in first.memory.arrays().items()}
    blob.seek(0)

    resumed = DdpgAgent(2, 0.0, 1.0, SMALL, seed=999)   # the seed is overridden by the checkpoint
    resumed.load_state_dict(torch.load(blob, weights_only=True))
    resumed.memory.load_arrays(arrays)
    assert head + _toy_run(resumed, range(20, 40)) == full
    for p, q in zip(straight.critic.parameters(), resumed.critic.parameters()):
        assert torch.equal(p, q)

    other = DdpgAgent(2, 0.0, 0.5, SMALL, seed=11)
    blob.seek(0)
    with pytest.raises(ValueError, match="different"):
        other.load_state_dict(torch.load(blob, weights_only=True))
