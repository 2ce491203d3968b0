"""The generic training loop of every small torch model here (the dynamics models, the residual, the
distilled student): Adam over seeded minibatches with early stopping on an eval loss, the check of its
settings, and the torch thread count it runs under."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable, Iterator

import numpy as np
import torch
from tqdm.auto import tqdm

log = logging.getLogger(__name__)


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


def check_training_settings(**settings: float) -> None:
    """Raise ValueError naming every setting that is not a positive number (lr > 0, the rest >= 1)."""
    bad = [f"{k}={v!r}" for k, v in settings.items() if not (v > 0 if k == "lr" else v >= 1)]
    if bad:
        raise ValueError(f"bad training settings {', '.join(bad)}: epochs, batch_size, patience and horizon "
                         "must be >= 1 and lr > 0")


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
