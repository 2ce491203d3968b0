"""Fitting dynamics models: 9:1 split by episode, Adam on the standardised one-step error, early
stopping on the eval loss with the best eval weights kept, optional fine-tuning from a checkpoint."""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import numpy as np
import torch
from tqdm.auto import tqdm

from dexndm_envs.dynamics.checkpoint import CheckpointError, read_checkpoint, save_checkpoint
from dexndm_envs.dynamics.dataset import EpisodeDataset
from dexndm_envs.dynamics.evaluation import evaluate_with_baselines
from dexndm_envs.dynamics.models import MODELS, DynamicsModel, joint_features, parameter_count
from dexndm_envs.dynamics.transitions import Transitions

log = logging.getLogger(__name__)
NDM_FORMAT = "dexndm-ndm"


@contextlib.contextmanager
def torch_threads(n: int | None) -> Iterator[None]:
    """Run the block with ``n`` intra-op torch threads (None: leave torch's setting).

    These models are small: one thread is nearly as fast as two on an idle 2-core machine, and two
    threads competing with another busy process (a simulator, the emulator, a test run) spin-wait
    and run about 100x slower (measured; BENCHMARKS.md). So fitting defaults to one thread.
    """
    before = torch.get_num_threads()
    if n is not None:
        torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def load_episodes(paths: str | Path | Sequence[str | Path], include_faulty: bool = False) -> list[dict]:
    """Every episode of one or more dataset directories (faulty ones skipped unless asked for)."""
    paths = [paths] if isinstance(paths, (str, Path)) else list(paths)
    if not paths:
        raise ValueError("no dataset directory given")
    return [ep for p in paths for ep in EpisodeDataset(p, include_faulty=include_faulty)]


def split_episodes(n: int, seed: int, eval_fraction: float = 0.1) -> tuple[np.ndarray, np.ndarray]:
    """Shuffled episode indices for training and evaluation (at least one episode each)."""
    if n < 2:
        raise ValueError(f"a train/eval split by episode needs at least 2 episodes; got {n}")
    order = np.random.default_rng(seed).permutation(n)
    n_eval = min(max(1, round(eval_fraction * n)), n - 1)
    return np.sort(order[n_eval:]), np.sort(order[:n_eval])


def load_ndm(path: str | Path, history: int | None = None) -> DynamicsModel:
    """A saved dynamics model (eval mode); ``history`` (W), when given, must match the checkpoint's."""
    model, _ = read_checkpoint(path, NDM_FORMAT, MODELS)
    if history is not None and model.history != history:
        raise CheckpointError(f"{path}: the model uses a history of W={model.history} steps; W={history} was asked for")
    return model


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
    :func:`rollout_loss` over ``horizon`` steps (1: one-step). ``threads``: see :func:`torch_threads`.
    """
    check_training_settings(epochs=epochs, batch_size=batch_size, lr=lr, patience=patience, horizon=horizon)
    with torch_threads(threads):
        return _train(model, train_data, eval_data, epochs, batch_size, lr, patience, seed, normalise, horizon,
                      progress)


def check_training_settings(**settings: float) -> None:
    """Raise ValueError naming every setting that is not a positive number (lr > 0, the rest >= 1)."""
    bad = [f"{k}={v!r}" for k, v in settings.items() if not (v > 0 if k == "lr" else v >= 1)]
    if bad:
        raise ValueError(f"bad training settings {', '.join(bad)}: epochs, batch_size, patience and horizon "
                         "must be >= 1 and lr > 0")


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


def early_stopping_loop(module: torch.nn.Module, train_index: torch.Tensor,
                        batch_loss: Callable[[torch.Tensor], torch.Tensor], eval_loss: Callable[[], float], *,
                        epochs: int, batch_size: int, lr: float, patience: int, seed: int, desc: str,
                        progress: bool, initial_best: float = float("inf")) -> dict:
    """Adam over shuffled minibatches of ``train_index`` (seeded), the eval loss after every epoch, stop
    after ``patience`` epochs without a better one; ``module`` ends with its best eval weights (or as
    it started if no epoch beat ``initial_best``). Returns the best loss and epoch and the history."""
    gen = torch.Generator().manual_seed(seed)
    opt = torch.optim.Adam([p for p in module.parameters() if p.requires_grad], lr=lr)
    best, best_epoch, best_state, history = initial_best, -1, None, []
    bar = tqdm(range(epochs), desc=desc, unit="epoch", disable=not progress)
    for epoch in bar:
        module.train()
        total = 0.0
        for batch in train_index[torch.randperm(len(train_index), generator=gen)].split(batch_size):
            loss = batch_loss(batch)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            total += loss.item() * len(batch)
        module.eval()
        current, train_loss = eval_loss(), total / len(train_index)
        if not np.isfinite(current):
            raise ValueError(f"the eval loss became {current} at epoch {epoch}: the data holds values the model "
                             "cannot fit (check the dataset) or the learning rate is too high")
        history.append({"epoch": epoch, "train_loss": train_loss, "eval_loss": current})
        bar.set_postfix(train=f"{train_loss:.4f}", eval=f"{current:.4f}")
        if current < best:
            best, best_epoch = current, epoch
            best_state = {k: v.clone() for k, v in module.state_dict().items()}
        elif epoch - best_epoch >= patience:
            log.info("early stop at epoch %d: no better eval loss since epoch %d", epoch, best_epoch)
            break
    if best_state is not None:
        module.load_state_dict(best_state)
    module.eval()
    return {"best_epoch": best_epoch, "best_eval_loss": best, "epochs_run": len(history), "loss_history": history}


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
