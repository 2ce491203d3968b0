"""Neural dynamics models of the hand: the joint-wise model (DexNDM) and the whole-hand baseline.

Both map the last W pairs ``(q_j, target_j)``, j = t-W+1..t, to the next joint position q_{t+1}
(radians, motor order). Inputs and outputs are in the same per-joint representation:

* **Features** of joint i (2W numbers): its past positions relative to the current one
  ``q_j - q_t`` for j < t (W-1), its targets relative to the current position ``target_j - q_t`` (W),
  and the absolute position ``q_t`` (1; gravity and the limits depend on it). Relative coordinates make
  the model indifferent to where in its range a joint moves; each feature is standardised per joint
  with statistics of the training set.
* **Output**: the standardised change ``(q_{t+1} - q_t - mean_i) / std_i``. Predicting the change
  instead of the position keeps the target of regression at unit scale for fast and slow joints alike
  and makes "no change" the zero output. The loss is the mean squared standardised error, so every
  joint weighs the same.

The statistics live in module buffers, so a state dict carries them.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from dexndm_envs.hand import NUM_JOINTS


def joint_features(q_hist: torch.Tensor, target_hist: torch.Tensor) -> torch.Tensor:
    """Per-joint features [B, 16, 2W] from windows [B, W, 16] of positions and targets (rad)."""
    q_t = q_hist[:, -1:, :]
    return torch.cat([q_hist[:, :-1] - q_t, target_hist - q_t, q_t], dim=1).transpose(1, 2)


class GroupedLinear(nn.Module):
    """One independent linear layer per joint, evaluated for all joints in one batched matmul.

    Input [B, J, in] -> output [B, J, out]; weights [J, in, out].
    """

    def __init__(self, groups: int, in_features: int, out_features: int) -> None:
        super().__init__()
        bound = 1.0 / math.sqrt(in_features)
        self.weight = nn.Parameter(torch.empty(groups, in_features, out_features).uniform_(-bound, bound))
        self.bias = nn.Parameter(torch.empty(groups, 1, out_features).uniform_(-bound, bound))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.baddbmm(self.bias, x.transpose(0, 1), self.weight).transpose(0, 1)


class DynamicsModel(nn.Module):
    """Shared parts: normalisation buffers, ``predict`` in radians and the checkpoint config."""

    kind: str = ""
    label: str = ""  # for people: "joint-wise", "whole-hand"

    def __init__(self, history: int) -> None:
        super().__init__()
        if history < 2:
            raise ValueError(f"history must be >= 2 steps; got {history}")
        self.history = history
        f = 2 * history
        self.register_buffer("feature_mean", torch.zeros(NUM_JOINTS, f))
        self.register_buffer("feature_std", torch.ones(NUM_JOINTS, f))
        self.register_buffer("delta_mean", torch.zeros(NUM_JOINTS))
        self.register_buffer("delta_std", torch.ones(NUM_JOINTS))

    def set_normalisation(self, features: torch.Tensor, deltas: torch.Tensor) -> None:
        """Standardisation statistics from training features [N, 16, 2W] and changes [N, 16]."""
        self.feature_mean.copy_(features.mean(0))
        self.feature_std.copy_(features.std(0).clamp_min(1e-4))
        self.delta_mean.copy_(deltas.mean(0))
        self.delta_std.copy_(deltas.std(0).clamp_min(1e-5))

    def normalised_features(self, q_hist: torch.Tensor, target_hist: torch.Tensor) -> torch.Tensor:
        return (joint_features(q_hist, target_hist) - self.feature_mean) / self.feature_std

    def normalised_delta(self, q: torch.Tensor, q_next: torch.Tensor) -> torch.Tensor:
        """The regression target for the transition q -> q_next, both [B, 16] in radians."""
        return (q_next - q - self.delta_mean) / self.delta_std

    def predict(self, q_hist: torch.Tensor, target_hist: torch.Tensor) -> torch.Tensor:
        """q_{t+1} [B, 16] (rad) from windows [B, W, 16] of positions and targets (rad), oldest first."""
        out = self(self.normalised_features(q_hist, target_hist))
        return q_hist[:, -1] + out * self.delta_std + self.delta_mean

    def config(self) -> dict:
        """Constructor arguments (saved in checkpoints)."""
        raise NotImplementedError


class JointWiseNDM(DynamicsModel):
    """DexNDM's joint-wise model: joint i's next position from joint i's own history only.

    Args:
        history: W, steps of history (10 = 0.5 s at 20 Hz, as in the paper).
        hidden: width of the hidden layers of each joint's MLP.
        layers: number of hidden layers.
        shared: one MLP for all joints plus a learned joint embedding (fewer parameters) instead of
            separate parameters per joint (the default, as in the paper).
        embedding: size of the joint embedding when ``shared``.

    Either way every joint is evaluated in one batched call; no information crosses joints.
    """

    kind = "joint"
    label = "joint-wise"

    def __init__(self, history: int = 10, hidden: int = 64, layers: int = 2, shared: bool = False,
                 embedding: int = 8) -> None:
        super().__init__(history)
        self.hidden, self.layers, self.shared, self.embedding = hidden, layers, shared, embedding
        f = 2 * history
        if shared:
            self.joint_embedding = nn.Parameter(0.1 * torch.randn(NUM_JOINTS, embedding))
            sizes = [f + embedding] + [hidden] * layers + [1]
            linear = [nn.Linear(a, b) for a, b in zip(sizes[:-1], sizes[1:])]
        else:
            sizes = [f] + [hidden] * layers + [1]
            linear = [GroupedLinear(NUM_JOINTS, a, b) for a, b in zip(sizes[:-1], sizes[1:])]
        mods: list[nn.Module] = []
        for layer in linear[:-1]:
            mods += [layer, nn.SiLU()]
        self.net = nn.Sequential(*mods, linear[-1])

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        """Standardised features [B, 16, 2W] -> standardised changes [B, 16]."""
        if self.shared:
            emb = self.joint_embedding.expand(features.shape[0], -1, -1)
            features = torch.cat([features, emb], dim=2)
        return self.net(features).squeeze(2)

    def config(self) -> dict:
        return {"history": self.history, "hidden": self.hidden, "layers": self.layers, "shared": self.shared,
                "embedding": self.embedding}


def matched_width(history: int, target_params: int, layers: int = 2) -> int:
    """Hidden width of a whole-hand MLP (``layers`` hidden layers) with about ``target_params``."""
    n_in, n_out = NUM_JOINTS * 2 * history, NUM_JOINTS
    # params(h) = (layers - 1) h^2 + (n_in + layers + n_out) h + n_out
    a, b, c = layers - 1, n_in + layers + n_out, n_out - target_params
    h = (-b + math.sqrt(b * b - 4 * a * c)) / (2 * a) if a else -c / b
    return max(1, round(h))


class WholeHandNDM(DynamicsModel):
    """The baseline: every joint's history in, every joint's next position out, one MLP.

    ``hidden=None`` picks the width that gives about the parameter count of the default
    :class:`JointWiseNDM` with the same history, so the comparison is at equal capacity.
    """

    kind = "whole"
    label = "whole-hand"

    def __init__(self, history: int = 10, hidden: int | None = None, layers: int = 2) -> None:
        super().__init__(history)
        if hidden is None:
            hidden = matched_width(history, parameter_count(JointWiseNDM(history)), layers)
        self.hidden, self.layers = hidden, layers
        sizes = [NUM_JOINTS * 2 * history] + [hidden] * layers + [NUM_JOINTS]
        mods: list[nn.Module] = []
        for a, b in zip(sizes[:-2], sizes[1:-1]):
            mods += [nn.Linear(a, b), nn.SiLU()]
        self.net = nn.Sequential(*mods, nn.Linear(sizes[-2], sizes[-1]))

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        """Standardised features [B, 16, 2W] -> standardised changes [B, 16]."""
        return self.net(features.flatten(1))

    def config(self) -> dict:
        return {"history": self.history, "hidden": self.hidden, "layers": self.layers}


MODELS: dict[str, type[DynamicsModel]] = {"joint": JointWiseNDM, "whole": WholeHandNDM}


def parameter_count(model: nn.Module) -> int:
    """Number of trainable parameters."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)
