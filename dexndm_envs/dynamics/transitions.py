"""Episodes as one flat table of transitions, with history windows built by index arithmetic.

Transition ``n`` is ``(q_t, target_t) -> q_{t+1}`` of some episode. Its history window of length W is
the transitions ``t-W+1 .. t`` of the same episode; before the episode start the first transition is
repeated (:class:`~dexndm_envs.wrappers.NDMCorrection` pads its windows the same way). Windows are
integer index arrays into the flat table, so building them, gathering a batch of them and rolling a
model forward are all
vectorised: no Python loop over time steps or joints.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import torch


@dataclass
class Transitions:
    """All transitions of a set of episodes (tensors, float32, motor order, radians).

    Attributes:
        q: [N, 16] joint positions q_t.
        targets: [N, 16] executed targets target_t.
        q_next: [N, 16] the next readings q_{t+1}.
        window: [N, W] int64 flat indices of transitions t-W+1..t (clamped to the episode start).
        steps_left: [N] int64 transitions that follow this one in its episode (T-1-t).
        episodes: number of episodes.
    """

    q: torch.Tensor
    targets: torch.Tensor
    q_next: torch.Tensor
    window: torch.Tensor
    steps_left: torch.Tensor
    episodes: int

    @classmethod
    def from_episodes(cls, episodes: Iterable[dict], history: int) -> Transitions:
        """Flatten episode dicts (``q`` [T+1, 16], ``targets`` [T, 16]) with windows of ``history``."""
        if history < 1:
            raise ValueError(f"history must be >= 1 step; got {history}")
        qs, tgs, nexts, lengths = [], [], [], []
        for ep in episodes:
            q = np.asarray(ep["q"], dtype=np.float32)
            qs.append(q[:-1])
            nexts.append(q[1:])
            tgs.append(np.asarray(ep["targets"], dtype=np.float32))
            lengths.append(len(tgs[-1]))
        if not lengths:
            raise ValueError("no episodes to build transitions from")
        lengths_a = np.asarray(lengths)
        starts = np.repeat(np.cumsum(lengths_a) - lengths_a, lengths_a)  # episode start of each transition
        n = np.arange(len(starts))
        t = n - starts
        window = np.maximum(n[:, None] + np.arange(1 - history, 1)[None, :], starts[:, None])
        steps_left = np.repeat(lengths_a, lengths_a) - 1 - t
        return cls(q=torch.from_numpy(np.concatenate(qs)), targets=torch.from_numpy(np.concatenate(tgs)),
                   q_next=torch.from_numpy(np.concatenate(nexts)), window=torch.from_numpy(window),
                   steps_left=torch.from_numpy(steps_left), episodes=len(lengths))

    def __len__(self) -> int:
        return len(self.q)

    @property
    def history(self) -> int:
        return self.window.shape[1]

    def histories(self, index: torch.Tensor, targets: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """The (q, target) windows [B, W, 16] of the transitions ``index`` [B], oldest first.

        ``targets`` replaces the recorded targets (e.g. corrected ones) when given: [N, 16].
        """
        w = self.window[index]
        return self.q[w], (self.targets if targets is None else targets)[w]

    def rollout_starts(self, horizon: int) -> torch.Tensor:
        """Indices of the transitions from which ``horizon`` steps stay inside the episode."""
        return torch.nonzero(self.steps_left >= horizon - 1).squeeze(1)

