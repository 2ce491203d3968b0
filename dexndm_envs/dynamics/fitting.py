"""Fitting dynamics models: 9:1 split by episode, Adam on the standardised one-step error, early
stopping on the eval loss with the best eval weights kept, optional fine-tuning from a checkpoint."""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from pathlib import Path

import torch

from dexndm_envs.dynamics.checkpoint import NDM_FORMAT, CheckpointError, load_ndm, save_checkpoint
from dexndm_envs.dynamics.dataset import load_episodes, split_episodes
from dexndm_envs.dynamics.evaluation import evaluate_with_baselines
from dexndm_envs.dynamics.models import MODELS, DynamicsModel, joint_features, parameter_count
from dexndm_envs.dynamics.training import check_training_settings, early_stopping_loop, torch_threads
from dexndm_envs.dynamics.transitions import Transitions

log = logging.getLogger(__name__)


def rollout_loss(model: DynamicsModel, data: Transitions, starts: torch.Tensor, horizon: int) -> torch.Tensor:
    """Mean squared error, in units of each joint's step-change std, of the model rolled open loop for
    ``horizon`` steps from the transitions ``starts`` (its own predictions replace the positions in
    its window; the recorded targets drive it). ``horizon=1`` is the plain one-step loss."""
    q_hist = data.q[data.window[starts]]
    total = torch.zeros(())
    for k in range(horizon):
        pred = model.predict(q_hist, data.targets[data.window[starts + k]])
        total = total + (((pred - data.q_next[starts + k]) / model.delta_std) ** 2).mean()
        q_hist = torch.cat([q_hist[:, 1:], pred[:, None]], dim=1)
    return total / horizon


def train(model: DynamicsModel, train_data: Transitions, eval_data: Transitions, *, epochs: int = 100,
          batch_size: int = 512, lr: float = 1e-3, patience: int = 10, seed: int = 0, normalise: bool = True,
          horizon: int = 1, progress: bool = True, threads: int | None = 1) -> dict:
    """Fit ``model`` in place; returns the loss history, the best epoch and the wall time.

    ``normalise`` sets the standardisation from ``train_data`` (off when fine-tuning, which keeps the
    pretrained statistics the weights were fitted under). Training stops after ``patience`` epochs
    without a better eval loss; the model ends with the weights of its best eval epoch. The loss is
    :func:`rollout_loss` over ``horizon`` steps (1: one-step). ``threads``: see
    :func:`~dexndm_envs.dynamics.training.torch_threads`.
    """
    check_training_settings(epochs=epochs, batch_size=batch_size, lr=lr, patience=patience, horizon=horizon)
    with torch_threads(threads):
        return _train(model, train_data, eval_data, epochs, batch_size, lr, patience, seed, normalise, horizon,
                      progress)


def _train(model: DynamicsModel, train_data: Transitions, eval_data: Transitions, epochs: int, batch_size: int,
           lr: float, patience: int, seed: int, normalise: bool, horizon: int, progress: bool) -> dict:
    start = time.perf_counter()
    if normalise:
        with torch.no_grad():
            idx = torch.arange(len(train_data))
            model.set_normalisation(joint_features(*train_data.histories(idx)), train_data.q_next - train_data.q)
    train_starts, eval_starts = train_data.rollout_starts(horizon), eval_data.rollout_starts(horizon)
    if len(train_starts) == 0 or len(eval_starts) == 0:
        raise ValueError(f"episodes are too short for a {horizon}-step training loss")

    def batch_loss(batch: torch.Tensor) -> torch.Tensor:
        return rollout_loss(model, train_data, batch, horizon)

    def eval_loss() -> float:
        with torch.no_grad():
            return sum(rollout_loss(model, eval_data, s, horizon).item() * len(s)
                       for s in eval_starts.split(8192)) / len(eval_starts)

    result = early_stopping_loop(model, train_starts, batch_loss, eval_loss, epochs=epochs, batch_size=batch_size,
                                 lr=lr, patience=patience, seed=seed, desc=f"fit {model.label} NDM",
                                 progress=progress)
    return {**result, "seconds": time.perf_counter() - start}


def fit(data: str | Path | Sequence[str | Path], model: str = "joint", out: str | Path = "ndm.pt", *,
        history: int = 10, init: str | Path | None = None, hidden: int | None = None, epochs: int = 100,
        batch_size: int = 512, lr: float = 1e-3, patience: int = 10, horizon: int = 1, seed: int = 0,
        progress: bool = True, threads: int | None = 1) -> dict:
    """What ``dexndm fit`` does: split the episodes of ``data`` 9:1, fit, save the best checkpoint to
    ``out`` and return a report scoring it (and the naive predictors) on the eval episodes.

    With ``init`` the model starts from that checkpoint (pretrained in sim, say): its kind and W must
    match ``model`` and ``history``; its normalisation is kept.
    """
    if model not in MODELS:
        raise ValueError(f"unknown model {model!r}; allowed: {', '.join(MODELS)}")
    episodes = load_episodes(data)
    train_idx, eval_idx = split_episodes(len(episodes), seed)
    torch.manual_seed(seed)
    if init is not None:
        net = load_ndm(init, history)
        if net.kind != model:
            raise CheckpointError(f"{init}: a {net.kind} model cannot initialise a {model} model")
        if hidden is not None and hidden != net.hidden:
            raise CheckpointError(f"{init}: its hidden width is {net.hidden}; a fine-tuned model keeps it "
                                  f"(drop --hidden {hidden})")
    else:
        net = MODELS[model](history=history, **({} if hidden is None else {"hidden": hidden}))
    train_data = Transitions.from_episodes([episodes[i] for i in train_idx], history)
    eval_data = Transitions.from_episodes([episodes[i] for i in eval_idx], history)
    log.info("fitting a %s model (%d parameters) on %d transitions, evaluating on %d", model,
             parameter_count(net), len(train_data), len(eval_data))
    result = train(net, train_data, eval_data, epochs=epochs, batch_size=batch_size, lr=lr, patience=patience,
                   seed=seed, normalise=init is None, horizon=horizon, progress=progress, threads=threads)
    with torch_threads(threads):
        scores = evaluate_with_baselines(net.predict, eval_data)
    data_dirs = [str(p) for p in ([data] if isinstance(data, (str, Path)) else data)]
    info = {"data": data_dirs, "init": None if init is None else str(init), "seed": seed, "horizon": horizon,
            "train_episodes": len(train_idx), "eval_episodes": len(eval_idx), "train_transitions": len(train_data),
            "eval_transitions": len(eval_data), "parameters": parameter_count(net),
            **{k: v for k, v in result.items() if k != "loss_history"}}
    save_checkpoint(out, NDM_FORMAT, net, net.kind, net.config(), {**info, "rmse_1step": scores["rmse_1step"],
                                                                    "rmse_10step": scores["rmse_10step"]})
    return {"model": model, "history": history, "checkpoint": str(out), **info, "eval": scores,
            "loss_history": result["loss_history"]}
