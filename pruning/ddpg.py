"""DDPG: the reinforcement-learning agent that picks one continuous pruning ratio per layer.

Deep Deterministic Policy Gradient (Lillicrap et al., 2016) as AMC (He et al., ECCV 2018) uses it
for model compression, and AUTO-PRUNE (Yang et al., ICS 2021) for crossbar-aware pruning:

- an **actor** ``mu(s)`` maps a layer's state (a feature vector in [0, 1]) to an action in [0, 1],
  rescaled to the pruning-ratio bounds ``[lower, upper]``; a **critic** ``Q(s, a)`` estimates the
  return of taking action ``a`` in state ``s``;
- during the first ``warmup_episodes`` actions are uniform random in the bounds and nothing is
  learned; afterwards the action is ``mu(s)`` plus **truncated-normal noise** (kept inside the
  bounds) whose standard deviation ``init_delta * delta_decay**(episode - warmup)`` decays;
- every step of an episode is stored in a **replay buffer** with the episode's final reward (the
  reward only exists once every layer is pruned and the network evaluated); one minibatch update
  of critic then actor follows each stored step after the warm-up;
- the reward is centred by an exponential **moving-average baseline** of minibatch mean rewards
  (AMC's variance reduction); the critic regresses
  ``r - b + discount * (1 - done) * Q'(s', mu'(s'))`` and the actor ascends ``Q(s, mu(s))``;
- **target networks** ``mu'``, ``Q'`` track the learned ones by soft updates with rate ``tau``.

All randomness (network initialisation, exploration noise, minibatch sampling) flows from the seed
through one numpy generator and torch generators owned by the agent, so the same seed gives the same
actions, and :meth:`DdpgAgent.state_dict` / :meth:`DdpgAgent.load_state_dict` (tensors, plain
numbers and strings only — loadable with ``torch.load(weights_only=True)``) plus the replay buffer's
arrays resume a run exactly where it stopped.
"""

from __future__ import annotations

import copy
import json
import math
from dataclasses import asdict, dataclass

import numpy as np
import torch
from scipy.special import ndtr, ndtri
from torch import nn


@dataclass(frozen=True)
class DdpgConfig:
    """Hyper-parameters of the agent (defaults follow AMC's search script unless noted)."""

    hidden: int = 300            # units of each of the two hidden layers (actor and critic)
    lr_actor: float = 1e-4       # Adam learning rate of the actor
    lr_critic: float = 1e-3      # Adam learning rate of the critic
    tau: float = 0.01            # soft-update rate of the target networks
    discount: float = 1.0        # return discount between the layers of one episode
    batch_size: int = 64         # minibatch of transitions per update
    replay_size: int = 2000      # transitions kept in the replay buffer (oldest dropped first)
    warmup_episodes: int = 100   # episodes of uniform random actions before any learning
    init_delta: float = 0.5      # initial std of the exploration noise (action units, [0, 1])
    delta_decay: float = 0.95    # noise std multiplier per episode after the warm-up
    moving_alpha: float = 0.5    # rate of the reward moving-average baseline
    init_w: float = 3e-3         # uniform init range of the output layers' weights

    def validate(self) -> None:
        checks = [
            (self.hidden >= 1, "hidden", "must be >= 1"),
            (self.lr_actor > 0, "lr_actor", "must be > 0"),
            (self.lr_critic > 0, "lr_critic", "must be > 0"),
            (0 < self.tau <= 1, "tau", "must be in (0, 1]"),
            (0 <= self.discount <= 1, "discount", "must be in [0, 1]"),
            (self.batch_size >= 1, "batch_size", "must be >= 1"),
            (self.replay_size >= self.batch_size, "replay_size", "must be >= batch_size"),
            (self.warmup_episodes >= 0, "warmup_episodes", "must be >= 0"),
            (self.init_delta > 0, "init_delta", "must be > 0"),
            (0 < self.delta_decay <= 1, "delta_decay", "must be in (0, 1]"),
            (0 < self.moving_alpha <= 1, "moving_alpha", "must be in (0, 1]"),
        ]
        for ok, name, rule in checks:
            if not ok:
                raise ValueError(f"ddpg.{name}={getattr(self, name)!r}: {rule}")


class Actor(nn.Module):
    """State -> action in [0, 1] (two hidden ReLU layers, sigmoid output)."""

    def __init__(self, n_states: int, hidden: int, init_w: float) -> None:
        super().__init__()
        self.fc1 = nn.Linear(n_states, hidden)
        self.fc2 = nn.Linear(hidden, hidden)
        self.fc3 = nn.Linear(hidden, 1)
        # A near-zero output layer starts the policy near the middle of the bounds.
        nn.init.uniform_(self.fc3.weight, -init_w, init_w)
        nn.init.uniform_(self.fc3.bias, -init_w, init_w)

    def forward(self, s: torch.Tensor) -> torch.Tensor:
        h = torch.relu(self.fc1(s))
        h = torch.relu(self.fc2(h))
        return torch.sigmoid(self.fc3(h))


class Critic(nn.Module):
    """(state, action) -> Q value; state and action are embedded separately then summed (AMC)."""

    def __init__(self, n_states: int, hidden: int, init_w: float) -> None:
        super().__init__()
        self.fc_s = nn.Linear(n_states, hidden)
        self.fc_a = nn.Linear(1, hidden)
        self.fc2 = nn.Linear(hidden, hidden)
        self.fc3 = nn.Linear(hidden, 1)
        nn.init.uniform_(self.fc3.weight, -init_w, init_w)
        nn.init.uniform_(self.fc3.bias, -init_w, init_w)

    def forward(self, s: torch.Tensor, a: torch.Tensor) -> torch.Tensor:
        h = torch.relu(self.fc_s(s) + self.fc_a(a))
        h = torch.relu(self.fc2(h))
        return self.fc3(h)


class ReplayBuffer:
    """A fixed-capacity ring of transitions ``(s, a, r, s', done)`` held in numpy arrays."""

    def __init__(self, capacity: int, n_states: int) -> None:
        self.capacity = int(capacity)
        self.states = np.zeros((capacity, n_states), np.float32)
        self.actions = np.zeros((capacity, 1), np.float32)
        self.rewards = np.zeros((capacity, 1), np.float32)
        self.next_states = np.zeros((capacity, n_states), np.float32)
        self.dones = np.zeros((capacity, 1), np.float32)
        self.size = 0
        self.head = 0   # slot the next transition is written to

    def __len__(self) -> int:
        return self.size

    def append(self, s: np.ndarray, a: float, r: float, s2: np.ndarray, done: bool) -> None:
        i = self.head
        self.states[i], self.actions[i, 0], self.rewards[i, 0] = s, a, r
        self.next_states[i], self.dones[i, 0] = s2, float(done)
        self.head = (i + 1) % self.capacity
        self.size = min(self.size + 1, self.capacity)

    def sample(self, rng: np.random.Generator, n: int) -> tuple[np.ndarray, ...]:
        idx = rng.integers(0, self.size, size=n)
        return (self.states[idx], self.actions[idx], self.rewards[idx], self.next_states[idx],
                self.dones[idx])

    def arrays(self) -> dict[str, np.ndarray]:
        """Everything needed to rebuild the buffer, as plain numeric arrays (for an .npz)."""
        return {"states": self.states, "actions": self.actions, "rewards": self.rewards,
                "next_states": self.next_states, "dones": self.dones,
                "size_head": np.array([self.size, self.head], np.int64)}

    def load_arrays(self, arrays: dict[str, np.ndarray]) -> None:
        if arrays["states"].shape != self.states.shape:
            raise ValueError(f"replay buffer shape {arrays['states'].shape} does not match "
                             f"{self.states.shape}")
        for k in ("states", "actions", "rewards", "next_states", "dones"):
            getattr(self, k)[...] = arrays[k]
        self.size, self.head = (int(v) for v in arrays["size_head"])


def truncated_normal(rng: np.random.Generator, mu: float, sigma: float, lo: float,
                     hi: float) -> float:
    """One draw of N(mu, sigma) truncated to [lo, hi], by inverting the normal CDF."""
    a, b = ndtr((lo - mu) / sigma), ndtr((hi - mu) / sigma)
    if b - a < 1e-12:   # the whole mass lies beyond one bound: the nearest bound is the draw
        return float(min(max(mu, lo), hi))
    u = a + (b - a) * rng.random()
    return float(min(max(mu + sigma * ndtri(u), lo), hi))


class DdpgAgent:
    """The DDPG agent; actions it returns are already rescaled to ``[lower, upper]``."""

    def __init__(self, n_states: int, lower: float, upper: float, cfg: DdpgConfig,
                 seed: int) -> None:
        cfg.validate()
        if not (0.0 <= lower < upper <= 1.0):
            raise ValueError(f"action bounds [{lower}, {upper}]: need 0 <= lower < upper <= 1")
        self.cfg, self.n_states = cfg, int(n_states)
        self.lower, self.upper = float(lower), float(upper)
        self.rng = np.random.default_rng(seed)
        # Network initialisation from the seed, without touching torch's global generator.
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            self.actor = Actor(n_states, cfg.hidden, cfg.init_w)
            self.critic = Critic(n_states, cfg.hidden, cfg.init_w)
        self.actor_target = copy.deepcopy(self.actor)
        self.critic_target = copy.deepcopy(self.critic)
        self.actor_opt = torch.optim.Adam(self.actor.parameters(), lr=cfg.lr_actor)
        self.critic_opt = torch.optim.Adam(self.critic.parameters(), lr=cfg.lr_critic)
        self.memory = ReplayBuffer(cfg.replay_size, n_states)
        self.moving_average: float | None = None
        self.updates = 0

    # -- acting -------------------------------------------------------------------------------

    def _scale(self, a01: float) -> float:
        return self.lower + (self.upper - self.lower) * a01

    def _unscale(self, a: float) -> float:
        return (a - self.lower) / (self.upper - self.lower)

    def noise_delta(self, episode: int) -> float:
        """Exploration std (in [0, 1] action units) at ``episode``."""
        k = max(0, episode - self.cfg.warmup_episodes)
        return self.cfg.init_delta * self.cfg.delta_decay ** k

    def random_action(self) -> float:
        return self._scale(float(self.rng.random()))

    def policy_action(self, state: np.ndarray) -> float:
        """The deterministic policy ``mu(s)`` in the bounds (no noise)."""
        with torch.no_grad():
            a = self.actor(torch.as_tensor(state, dtype=torch.float32)[None])
        return self._scale(float(a[0, 0]))

    def select_action(self, state: np.ndarray, episode: int) -> float:
        """Random during the warm-up; afterwards mu(s) with truncated-normal noise in bounds."""
        if episode < self.cfg.warmup_episodes:
            return self.random_action()
        mu = self._unscale(self.policy_action(state))
        return self._scale(truncated_normal(self.rng, mu, self.noise_delta(episode), 0.0, 1.0))

    # -- learning -----------------------------------------------------------------------------

    def observe(self, state: np.ndarray, action: float, reward: float, next_state: np.ndarray,
                done: bool) -> None:
        """Store one transition; ``action`` is in the bounds (stored in [0, 1] units)."""
        self.memory.append(state, self._unscale(action), reward, next_state, done)

    def update(self) -> tuple[float, float]:
        """One minibatch update of critic, actor and targets. Returns (critic loss, actor loss)."""
        cfg = self.cfg
        s, a, r, s2, d = (torch.from_numpy(x) for x in self.memory.sample(self.rng,
                                                                            cfg.batch_size))
        batch_mean = float(r.mean())
        if self.moving_average is None:
            self.moving_average = batch_mean
        else:
            self.moving_average += cfg.moving_alpha * (batch_mean - self.moving_average)
        r = r - self.moving_average
        with torch.no_grad():
            q_next = self.critic_target(s2, self.actor_target(s2))
            target = r + cfg.discount * (1.0 - d) * q_next
        critic_loss = nn.functional.mse_loss(self.critic(s, a), target)
        self.critic_opt.zero_grad()
        critic_loss.backward()
        self.critic_opt.step()

        actor_loss = -self.critic(s, self.actor(s)).mean()
        self.actor_opt.zero_grad()
        actor_loss.backward()
        self.actor_opt.step()

        with torch.no_grad():
            for net, tgt in ((self.actor, self.actor_target), (self.critic, self.critic_target)):
                for p, tp in zip(net.parameters(), tgt.parameters()):
                    tp.mul_(1.0 - cfg.tau).add_(p, alpha=cfg.tau)
        self.updates += 1
        return float(critic_loss.detach()), float(actor_loss.detach())

    # -- checkpointing ------------------------------------------------------------------------

    def state_dict(self) -> dict:
        """Tensors, numbers and strings only (``torch.load(weights_only=True)`` reads it back).

        The replay buffer is not included: save :meth:`ReplayBuffer.arrays` to an .npz.
        """
        ma = self.moving_average
        return {
            "config": json.dumps(asdict(self.cfg)),
            "bounds": [self.lower, self.upper],
            "actor": self.actor.state_dict(), "critic": self.critic.state_dict(),
            "actor_target": self.actor_target.state_dict(),
            "critic_target": self.critic_target.state_dict(),
            "actor_opt": self.actor_opt.state_dict(), "critic_opt": self.critic_opt.state_dict(),
            "moving_average": float("nan") if ma is None else float(ma),
            "updates": int(self.updates),
            # numpy's generator state holds 128-bit integers: carried as JSON text.
            "rng": json.dumps(self.rng.bit_generator.state),
        }

    def load_state_dict(self, sd: dict) -> None:
        if json.loads(sd["config"]) != asdict(self.cfg) or list(sd["bounds"]) != [self.lower,
                                                                                     self.upper]:
            raise ValueError("agent checkpoint was written with different DDPG settings or bounds")
        self.actor.load_state_dict(sd["actor"])
        self.critic.load_state_dict(sd["critic"])
        self.actor_target.load_state_dict(sd["actor_target"])
        self.critic_target.load_state_dict(sd["critic_target"])
        self.actor_opt.load_state_dict(sd["actor_opt"])
        self.critic_opt.load_state_dict(sd["critic_opt"])
        ma = float(sd["moving_average"])
        self.moving_average = None if math.isnan(ma) else ma
        self.updates = int(sd["updates"])
        self.rng.bit_generator.state = json.loads(sd["rng"])
