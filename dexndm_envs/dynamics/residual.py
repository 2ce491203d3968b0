"""The residual action correction: pi_res(o_t, target_t) -> a bounded correction of the joint targets.

Inputs (what a deployed wrapper has): the last W joint readings ``q_{t-W+1..t}`` and the base policy's
last W targets ``target_{t-W+1..t}`` (the newest is the one about to be executed). Output: a correction
within +-``max_correction`` radians per joint, motor order; the hand executes
``clip(target_t + correction_t, limits)``. Two forms (:data:`RESIDUALS`):

* ``gains`` (default, :class:`GainResidual`): three gains shared by all joints on each joint's newest
  step (its velocity, tracking error and target step);
* ``mlp`` (:class:`MLPResidual`, the paper's form): an MLP over all joints' standardised per-joint
  features (those of the dynamics models, :func:`~dexndm_envs.dynamics.models.joint_features`).

Training (paper, Sec. "residual"): on the base policy's own simulated trajectories, with the
fine-tuned (real) dynamics model frozen, minimise the model's standardised error between its prediction
from the history of *corrected* targets and the next state the policy reached in simulation,

    sum_t | f(q_{t-W+1..t}, target_j + pi_res(o_j, target_j) for j = t-W+1..t) - q^sim_{t+1} |^2,

so the corrected targets make the real hand (as the model knows it) move as the simulator did.
All W corrections of a window come from the residual in the same batch; gradients flow through all.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path

import numpy as np
import torch
from torch import nn

from dexndm_envs.dynamics.checkpoint import load_ndm, read_checkpoint, save_checkpoint
from dexndm_envs.dynamics.dataset import load_episodes, split_episodes
from dexndm_envs.dynamics.models import DynamicsModel, joint_features
from dexndm_envs.dynamics.training import check_training_settings, early_stopping_loop, torch_threads
from dexndm_envs.dynamics.transitions import Transitions
from dexndm_envs.hand import LOWER_LIMITS, NUM_JOINTS, UPPER_LIMITS

log = logging.getLogger(__name__)
RESIDUAL_FORMAT = "dexndm-residual"
_LOWER = torch.as_tensor(LOWER_LIMITS, dtype=torch.float32)
_UPPER = torch.as_tensor(UPPER_LIMITS, dtype=torch.float32)


class ResidualPolicy(nn.Module):
    """What every residual correction is: windows of readings and base targets -> a bounded correction.

    Subclasses define ``forward``; the output is within +-``max_correction`` (rad) per joint and is zero
    before training, so an untrained residual corrects nothing.
    """

    kind = ""

    def __init__(self, history: int = 10, max_correction: float = 0.1) -> None:
        super().__init__()
        if history < 2:
            raise ValueError(f"history must be >= 2 steps; got {history}")
        if not max_correction > 0:
            raise ValueError(f"max_correction must be > 0 rad; got {max_correction}")
        self.history, self.max_correction = history, max_correction

    def forward(self, q_hist: torch.Tensor, target_hist: torch.Tensor) -> torch.Tensor:
        """Corrections [B, 16] (rad) from windows [B, W, 16] of readings and base targets (rad)."""
        raise NotImplementedError

    def fit_normalisation(self, q_hist: torch.Tensor, target_hist: torch.Tensor) -> None:
        """Input statistics from the training windows, before training (none by default)."""

    @torch.no_grad()
    def correct(self, q_hist: np.ndarray, target_hist: np.ndarray) -> np.ndarray:
        """One control step: windows [W, 16] (rad, oldest first) -> correction (16,) float64 rad.

        Runs on one torch thread: a control loop shares the CPU with a simulator or a bus.
        """
        q = torch.as_tensor(q_hist, dtype=torch.float32)[None]
        t = torch.as_tensor(target_hist, dtype=torch.float32)[None]
        with torch_threads(1):
            return self(q, t)[0].double().numpy()

    def config(self) -> dict:
        """Constructor arguments (saved in checkpoints)."""
        return {"history": self.history, "max_correction": self.max_correction}


class GainResidual(ResidualPolicy):
    """Three gains shared by all joints, on the joint's own newest step (the default residual):

        c_t = m tanh((k_damping (q_{t-1} - q_t) + k_stiffness (target_t - q_t) + k_lead (target_t - target_{t-1})) / m)

    with m = ``max_correction`` (rad; about linear below it). The three terms are how a target can
    make up for a servo that damps less, is softer, or lags behind the actuator the policy was trained
    with; gains are dimensionless (rad of correction per rad). Why so few parameters: the dynamics
    model's one-step error on in-hand motion (~11 mrad even in simulation) is as large as the gap's
    one-step effect (~10 mrad), and a residual with many parameters fits the model's errors instead of
    the hand (BENCHMARKS.md, "Sim-to-real"); three gains can only follow what the model says on average.
    """

    kind = "gains"
    TERMS = ("damping", "stiffness", "lead")

    def __init__(self, history: int = 10, max_correction: float = 0.1) -> None:
        super().__init__(history, max_correction)
        self.gains = nn.Parameter(torch.zeros(len(self.TERMS)))

    def forward(self, q_hist: torch.Tensor, target_hist: torch.Tensor) -> torch.Tensor:
        q, q_prev, target, target_prev = q_hist[:, -1], q_hist[:, -2], target_hist[:, -1], target_hist[:, -2]
        terms = torch.stack([q_prev - q, target - q, target - target_prev], dim=-1)
        return self.max_correction * torch.tanh(terms @ self.gains / self.max_correction)

    def named_gains(self) -> dict[str, float]:
        """The fitted gains by term."""
        return dict(zip(self.TERMS, self.gains.detach().tolist()))


class MLPResidual(ResidualPolicy):
    """The paper's form: an MLP over all joints' standardised features, bounded by a tanh.

    The last layer starts at zero. Through a model of the hand that is no more accurate than the gap is
    large, its ~150k parameters find corrections the model rewards and the hand does not (BENCHMARKS.md).
    """

    kind = "mlp"

    def __init__(self, history: int = 10, max_correction: float = 0.1, hidden: int = 256, layers: int = 2) -> None:
        super().__init__(history, max_correction)
        self.hidden, self.layers = hidden, layers
        f = 2 * history
        self.register_buffer("feature_mean", torch.zeros(NUM_JOINTS, f))
        self.register_buffer("feature_std", torch.ones(NUM_JOINTS, f))
        sizes = [NUM_JOINTS * f] + [hidden] * layers
        mods: list[nn.Module] = []
        for a, b in zip(sizes[:-1], sizes[1:]):
            mods += [nn.Linear(a, b), nn.SiLU()]
        last = nn.Linear(hidden, NUM_JOINTS)
        nn.init.zeros_(last.weight)
        nn.init.zeros_(last.bias)
        self.net = nn.Sequential(*mods, last)

    def forward(self, q_hist: torch.Tensor, target_hist: torch.Tensor) -> torch.Tensor:
        x = (joint_features(q_hist, target_hist) - self.feature_mean) / self.feature_std
        return self.max_correction * torch.tanh(self.net(x.flatten(1)))

    def fit_normalisation(self, q_hist: torch.Tensor, target_hist: torch.Tensor) -> None:
        feats = joint_features(q_hist, target_hist)
        self.feature_mean.copy_(feats.mean(0))
        self.feature_std.copy_(feats.std(0).clamp_min(1e-4))

    def config(self) -> dict:
        return {**super().config(), "hidden": self.hidden, "layers": self.layers}


RESIDUALS: dict[str, type[ResidualPolicy]] = {"gains": GainResidual, "mlp": MLPResidual}
"""Residual forms by name (``dexndm residual --form``); the first is the default."""


def residual_form(name: str) -> type[ResidualPolicy]:
    """The residual class called ``name``; a clear error for a name not in :data:`RESIDUALS`."""
    if name not in RESIDUALS:
        raise ValueError(f"unknown residual form {name!r}; allowed: {', '.join(RESIDUALS)}")
    return RESIDUALS[name]


def load_residual(path: str | Path) -> ResidualPolicy:
    """A saved residual correction (eval mode)."""
    model, _ = read_checkpoint(path, RESIDUAL_FORMAT, RESIDUALS)
    return model


def _model_loss(ndm: DynamicsModel, residual: ResidualPolicy | None, data: Transitions,
                index: torch.Tensor) -> torch.Tensor:
    """Mean standardised error of the model's next-state prediction from corrected targets."""
    w = data.window[index]  # [B, W]: the transitions whose targets enter the model's window
    targets = data.targets[w]
    if residual is not None:
        q_in, t_in = data.histories(w.flatten())  # each of those transitions' own residual input
        correction = residual(q_in, t_in).view(*w.shape, NUM_JOINTS)
        targets = torch.maximum(torch.minimum(targets + correction, _UPPER), _LOWER)
    pred = ndm.predict(data.q[w], targets)
    return (((pred - data.q_next[index]) / ndm.delta_std) ** 2).mean()


def train_residual(ndm: DynamicsModel, residual: ResidualPolicy, train_data: Transitions, eval_data: Transitions,
                   *, epochs: int = 30, batch_size: int = 256, lr: float = 1e-3, patience: int = 5, seed: int = 0,
                   progress: bool = True, threads: int | None = 1) -> dict:
    """Fit ``residual`` in place through the frozen ``ndm`` (keeps the best eval epoch's weights);
    ``threads``: see :func:`~dexndm_envs.dynamics.training.torch_threads`."""
    if residual.history != ndm.history:
        raise ValueError(f"the residual's history W={residual.history} must equal the model's W={ndm.history}")
    check_training_settings(epochs=epochs, batch_size=batch_size, lr=lr, patience=patience)
    with torch_threads(threads):
        return _train_residual(ndm, residual, train_data, eval_data, epochs, batch_size, lr, patience, seed, progress)


def _train_residual(ndm: DynamicsModel, residual: ResidualPolicy, train_data: Transitions, eval_data: Transitions,
                    epochs: int, batch_size: int, lr: float, patience: int, seed: int, progress: bool) -> dict:
    start = time.perf_counter()
    ndm.eval()
    ndm.requires_grad_(False)
    with torch.no_grad():
        residual.fit_normalisation(*train_data.histories(torch.arange(len(train_data))))

    def eval_loss(model: ResidualPolicy | None) -> float:
        with torch.no_grad():
            parts = [(_model_loss(ndm, model, eval_data, i), len(i)) for i in torch.arange(len(eval_data)).split(4096)]
            return float(sum(loss * n for loss, n in parts) / len(eval_data))

    uncorrected = eval_loss(None)
    result = early_stopping_loop(residual, torch.arange(len(train_data)),
                                 lambda batch: _model_loss(ndm, residual, train_data, batch),
                                 lambda: eval_loss(residual), epochs=epochs, batch_size=batch_size, lr=lr,
                                 patience=patience, seed=seed, desc="fit residual", progress=progress,
                                 initial_best=eval_loss(residual))
    with torch.no_grad():
        idx = torch.arange(len(eval_data))
        mean_abs = float(residual(*eval_data.histories(idx)).abs().mean())
    return {"eval_loss_uncorrected": uncorrected, "eval_loss_corrected": result["best_eval_loss"],
            "best_epoch": result["best_epoch"], "epochs_run": result["epochs_run"],
            "mean_abs_correction_rad": mean_abs, "seconds": time.perf_counter() - start,
            "loss_history": result["loss_history"]}


def fit_residual(ndm: str | Path, sim_data, out: str | Path = "residual.pt", *, form: str = "gains",
                 max_correction: float = 0.1, hidden: int = 256, epochs: int = 30, batch_size: int = 256,
                 lr: float = 1e-3, patience: int = 5, seed: int = 0, progress: bool = True) -> dict:
    """What ``dexndm residual`` does: train a residual through the frozen model ``ndm`` (a checkpoint
    fitted on real-hand data) on the base policy's simulated episodes ``sim_data`` (one or more
    dataset directories), 9:1 by episode, and save it to ``out``. ``form``: a name in :data:`RESIDUALS`
    (``hidden`` is the MLP's width). Returns a report (with the fitted gains for the gain form)."""
    form_class = residual_form(form)
    model = load_ndm(ndm)
    episodes = load_episodes(sim_data)
    train_idx, eval_idx = split_episodes(len(episodes), seed)
    train_data = Transitions.from_episodes([episodes[i] for i in train_idx], model.history)
    eval_data = Transitions.from_episodes([episodes[i] for i in eval_idx], model.history)
    torch.manual_seed(seed)
    residual = form_class(model.history, max_correction, **({"hidden": hidden} if form == "mlp" else {}))
    result = train_residual(model, residual, train_data, eval_data, epochs=epochs, batch_size=batch_size, lr=lr,
                            patience=patience, seed=seed, progress=progress)
    log.info("residual: model-predicted error %.4f -> %.4f (standardised), mean |correction| %.4f rad",
             result["eval_loss_uncorrected"], result["eval_loss_corrected"], result["mean_abs_correction_rad"])
    data_dirs = [str(p) for p in ([sim_data] if isinstance(sim_data, (str, Path)) else sim_data)]
    info = {"ndm": str(ndm), "ndm_model": model.kind, "sim_data": data_dirs, "seed": seed,
            "train_transitions": len(train_data), "eval_transitions": len(eval_data),
            **{k: v for k, v in result.items() if k != "loss_history"},
            **({"gains": residual.named_gains()} if isinstance(residual, GainResidual) else {})}
    save_checkpoint(out, RESIDUAL_FORMAT, residual, residual.kind, residual.config(), info)
    return {"checkpoint": str(out), **info, "loss_history": result["loss_history"]}
