"""An asymmetric actor-critic for PPO: the critic reads the privileged observation, the actor only the
deployable proprioceptive one.

LeapRotate's privileged observation is the proprioceptive one with the object's state and the
episode's physics appended (:data:`dexndm_envs.interface.PRIVILEGED_LAYOUT`), so the actor reads the
first :data:`~dexndm_envs.interface.PROPRIO_DIM` floats of it. The critic is only needed in training,
so the trained actor runs on a real hand as it is: no teacher and no distillation step (the usual
route from a privileged oracle to a deployable policy). Train on ``obs_mode="privileged"``
(``dexndm train --asymmetric``); :class:`baselines.policy.PolicySource` then runs the model on the
proprioceptive observation (zeros where the privileged part would be: only the critic reads it).
"""

from __future__ import annotations

from stable_baselines3.common.policies import ActorCriticPolicy
from torch import nn

from dexndm_envs.interface import PROPRIO_DIM


def _mlp(inputs: int, sizes: list[int], activation: type[nn.Module]) -> nn.Sequential:
    layers: list[nn.Module] = []
    for size in sizes:
        layers += [nn.Linear(inputs, size), activation()]
        inputs = size
    return nn.Sequential(*layers)


class SplitExtractor(nn.Module):
    """SB3's ``MlpExtractor`` contract (``latent_dim_pi``, ``latent_dim_vf``, ``forward``,
    ``forward_actor``, ``forward_critic``) with the actor's network reading only the first
    ``actor_dim`` features and the critic's all of them."""

    def __init__(self, feature_dim: int, net_arch: dict | list, activation_fn: type[nn.Module], actor_dim: int) -> None:
        super().__init__()
        if not 0 < actor_dim <= feature_dim:
            raise ValueError(f"actor_dim must be in (0, {feature_dim}]; got {actor_dim}")
        if isinstance(net_arch, dict):
            pi, vf = net_arch.get("pi", []), net_arch.get("vf", [])
        else:
            pi = vf = net_arch
        self.actor_dim = actor_dim
        self.policy_net = _mlp(actor_dim, list(pi), activation_fn)
        self.value_net = _mlp(feature_dim, list(vf), activation_fn)
        self.latent_dim_pi = pi[-1] if pi else actor_dim
        self.latent_dim_vf = vf[-1] if vf else feature_dim

    def forward(self, features):
        return self.forward_actor(features), self.forward_critic(features)

    def forward_actor(self, features):
        return self.policy_net(features[..., : self.actor_dim])

    def forward_critic(self, features):
        return self.value_net(features)


class AsymmetricActorCriticPolicy(ActorCriticPolicy):
    """PPO's ``MlpPolicy`` with :class:`SplitExtractor`: the actor (and gSDE's noise, which follows the
    actor's latent) reads the first ``actor_obs_dim`` floats of the (normalised) observation, the
    critic all of it. Takes ``MlpPolicy``'s keyword arguments plus ``actor_obs_dim`` (default:
    LeapRotate's proprioceptive observation, 327 floats)."""

    def __init__(self, *args, actor_obs_dim: int = PROPRIO_DIM, **kwargs) -> None:
        self.actor_obs_dim = actor_obs_dim
        super().__init__(*args, **kwargs)

    def _build_mlp_extractor(self) -> None:
        self.mlp_extractor = SplitExtractor(self.features_dim, self.net_arch, self.activation_fn, self.actor_obs_dim)

    def _get_constructor_parameters(self) -> dict:
        return {**super()._get_constructor_parameters(), "actor_obs_dim": self.actor_obs_dim}
