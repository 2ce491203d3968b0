"""Warm-start a PPO policy by cloning a demonstrator (``dexndm train --warm-start SPEC``).

Before PPO's first rollout: the demonstrator (anything ``--policy`` accepts; in practice a gait from
:mod:`baselines.gait_search`) acts for ``episodes`` episodes in the training env; their observations
seed VecNormalize's observation statistics and their discounted returns its reward scale; the actor's
mean is fitted to the demonstrator's actions and the critic to the normalised discounted returns, both
on the normalised observations; the exploration noise starts at ``log_std``. PPO then improves the
cloned behaviour closed loop instead of searching for a gait from random motion, which a few million
CPU env steps do not find (docs/decisions.md).
"""

from __future__ import annotations

import logging
from collections.abc import Callable

import gymnasium as gym
import numpy as np
import torch

from baselines.episodes import episode_seeds
from baselines.policy import load_policy
from dexndm_envs.metrics import EPISODE_STEPS

log = logging.getLogger(__name__)


def demonstrations(make_env: Callable[[], gym.Env], spec: str, episodes: int, seed: int,
                   steps: int = EPISODE_STEPS) -> list[dict]:
    """The demonstrator's episodes: raw observations [T, D], actions [T, 16], rewards [T] and rotation."""
    source = load_policy(spec)
    env = make_env()
    out = []
    try:
        for i in range(episodes):
            env_seed, rng = episode_seeds(seed, i)
            source.reset(rng)
            obs, _ = env.reset(seed=env_seed)
            o, a, r = [], [], []
            for _ in range(steps):
                action = source(obs)
                o.append(obs)
                a.append(action)
                obs, reward, terminated, truncated, info = env.step(action)
                r.append(reward)
                if terminated or truncated:
                    break
            out.append({"obs": np.asarray(o, np.float32), "actions": np.asarray(a, np.float32),
                        "rewards": np.asarray(r, np.float64), "rot_rad": float(info["rot"])})
    finally:
        env.close()
    return out


def _discounted(rewards: np.ndarray, gamma: float, backward: bool) -> np.ndarray:
    """Discounted sums: of the rewards to come (``backward``) or, as VecNormalize keeps them, so far."""
    out, acc = np.empty_like(rewards), 0.0
    order = range(len(rewards) - 1, -1, -1) if backward else range(len(rewards))
    for t in order:
        acc = rewards[t] + gamma * acc
        out[t] = acc
    return out


def warm_start(model, venv, make_env: Callable[[], gym.Env], spec: str, *, episodes: int = 20, seed: int = 0,
               epochs: int = 200, batch_size: int = 512, lr: float = 1e-3, log_std: float = -1.5) -> dict:
    """Clone ``spec`` into ``model``'s actor and critic (and ``venv``'s statistics when it is a
    VecNormalize), with exploration noise of std ``e^log_std`` on the demonstrator's states (gSDE's
    noise scaled to match); returns what was done (episodes, the demonstrator's rotation, final losses)."""
    demos = demonstrations(make_env, spec, episodes, seed)
    obs = np.concatenate([d["obs"] for d in demos])
    actions = np.concatenate([d["actions"] for d in demos])
    gamma = model.gamma
    if venv is not None and getattr(venv, "norm_obs", False):
        venv.obs_rms.update(obs)
    scale = 1.0
    if venv is not None and getattr(venv, "norm_reward", False):
        venv.ret_rms.update(np.concatenate([_discounted(d["rewards"], gamma, backward=False) for d in demos]))
        scale = float(np.sqrt(venv.ret_rms.var + venv.epsilon))
    values = np.concatenate([_discounted(d["rewards"] / scale, gamma, backward=True) for d in demos])
    x = torch.as_tensor(venv.normalize_obs(obs) if venv is not None else obs, dtype=torch.float32)
    y = torch.as_tensor(actions)
    v = torch.as_tensor(values, dtype=torch.float32)

    policy = model.policy
    opt = torch.optim.Adam(policy.parameters(), lr=lr)
    gen = torch.Generator().manual_seed(seed)
    policy.set_training_mode(True)
    for _ in range(epochs):
        for batch in torch.randperm(len(x), generator=gen).split(batch_size):
            latent_pi, latent_vf = policy.mlp_extractor(policy.extract_features(x[batch]))
            action_loss = ((policy.action_net(latent_pi) - y[batch]) ** 2).mean()
            value_loss = ((policy.value_net(latent_vf).squeeze(-1) - v[batch]) ** 2).mean()
            opt.zero_grad(set_to_none=True)
            (action_loss + value_loss).backward()
            opt.step()
    policy.set_training_mode(False)
    with torch.no_grad():
        latent_pi, latent_vf = policy.mlp_extractor(policy.extract_features(x))
        # gSDE's noise on action i is N(0, sum_j (latent_j sigma_ij)^2): with one sigma for all, it is
        # sigma |latent|, so sigma = e^log_std / mean |latent| gives the asked-for noise on the demos' states
        policy.log_std.fill_(log_std - float(torch.log(latent_pi.norm(dim=1).mean())) if model.use_sde else log_std)
        action_mse = float(((policy.action_net(latent_pi).clamp(-1, 1) - y) ** 2).mean())
        value_mse = float(((policy.value_net(latent_vf).squeeze(-1) - v) ** 2).mean())
    report = {"demonstrator": str(spec), "episodes": episodes, "samples": len(x),
              "demonstrator_rot_rad": float(np.mean([d["rot_rad"] for d in demos])),
              "action_mse": action_mse, "value_mse": value_mse, "log_std": log_std}
    log.info("warm start: %s", report)
    return report
