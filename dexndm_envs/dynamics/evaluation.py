"""Scoring dynamics models: one-step and open-loop rollout errors, next to two naive predictors.

* ``rmse_1step``: root mean square of ``q_hat_{t+1} - q_{t+1}`` over all transitions and joints (rad),
  with the true history as input.
* ``rmse_10step``: open loop for ``horizon`` (10) steps from every start that has them: the model's own
  predictions replace the positions in its window, the recorded targets drive it; the error is that
  of the last step, ``q_hat_{t+10} - q_{t+10}`` (rad).
* The naive predictors: ``hold`` (next q = current q) and ``target`` (next q = current target), scored
  the same way.

Each also comes per joint (lists in motor order).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import torch

from dexndm_envs.dynamics.checkpoint import load_ndm
from dexndm_envs.dynamics.dataset import load_episodes
from dexndm_envs.dynamics.training import torch_threads
from dexndm_envs.dynamics.transitions import Transitions

Predictor = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
"""(q window [B, W, 16], target window [B, W, 16]) -> q_{t+1} [B, 16], all radians."""
HORIZON = 10
_CHUNK = 8192


def hold_predictor(q_hist: torch.Tensor, target_hist: torch.Tensor) -> torch.Tensor:
    """Naive: the joint stays where it is."""
    return q_hist[:, -1]


def target_predictor(q_hist: torch.Tensor, target_hist: torch.Tensor) -> torch.Tensor:
    """Naive: the joint reaches its target within the control period."""
    return target_hist[:, -1]


def _rms(sq_sum: torch.Tensor, count: int) -> tuple[float, list[float]]:
    per_joint = (sq_sum / count).sqrt()
    return float((sq_sum.sum() / (count * len(sq_sum))).sqrt()), [float(x) for x in per_joint]


@torch.no_grad()
def evaluate(predict: Predictor, data: Transitions, horizon: int = HORIZON) -> dict:
    """One-step and ``horizon``-step open-loop RMSE (rad) of ``predict`` on ``data``."""
    sq1 = torch.zeros(data.q.shape[1], dtype=torch.float64)
    for idx in torch.arange(len(data)).split(_CHUNK):
        err = predict(*data.histories(idx)) - data.q_next[idx]
        sq1 += (err.double() ** 2).sum(0)
    out = {}
    out["rmse_1step"], out["rmse_1step_per_joint"] = _rms(sq1, len(data))
    starts = data.rollout_starts(horizon)
    if len(starts) == 0:
        raise ValueError(f"no episode is long enough for a {horizon}-step rollout")
    sqh = torch.zeros_like(sq1)
    for s in starts.split(_CHUNK):
        q_hist = data.q[data.window[s]]
        for k in range(horizon):
            target_hist = data.targets[data.window[s + k]]
            q_hist = torch.cat([q_hist[:, 1:], predict(q_hist, target_hist)[:, None]], dim=1)
        sqh += ((q_hist[:, -1] - data.q_next[s + horizon - 1]).double() ** 2).sum(0)
    out[f"rmse_{horizon}step"], out[f"rmse_{horizon}step_per_joint"] = _rms(sqh, len(starts))
    return out


def evaluate_with_baselines(predict: Predictor, data: Transitions, horizon: int = HORIZON) -> dict:
    """:func:`evaluate` for the model, plus ``naive_hold`` and ``naive_target`` sub-dicts."""
    return {**evaluate(predict, data, horizon), "naive_hold": evaluate(hold_predictor, data, horizon),
            "naive_target": evaluate(target_predictor, data, horizon)}


def evaluate_checkpoint(checkpoint: str | Path, data_path: str | Path | Sequence[str | Path],
                        horizon: int = HORIZON) -> dict:
    """Score a saved dynamics model on every episode of one or more dataset directories.

    Returns ``rmse_1step``, ``rmse_10step`` (rad) and their ``*_per_joint`` lists (motor order), the
    same for the naive predictors under ``naive_hold`` and ``naive_target``, and ``model``,
    ``history``, ``episodes``, ``transitions``.
    """
    model = load_ndm(checkpoint)
    data = Transitions.from_episodes(load_episodes(data_path), model.history)
    with torch_threads(1):
        scores = evaluate_with_baselines(model.predict, data, horizon)
    return {"model": model.kind, "history": model.history, "episodes": data.episodes, "transitions": len(data),
            **scores}
