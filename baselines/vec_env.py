"""Several environments per worker process, for training on a few cores.

SB3's ``SubprocVecEnv`` gives every environment a process of its own. On a 2-core machine that means
two environments, so every policy step pays one batched inference for only two observations, and one
pipe round trip per environment. :class:`MultiEnvSubprocVecEnv` keeps one process per core and steps
``n_envs / n_workers`` environments in each, one after the other: the policy sees a batch of all of
them, and one message per worker carries its share. The semantics are SB3's ``VecEnv`` ones exactly
(auto-reset with ``terminal_observation`` and ``TimeLimit.truncated`` in ``info``, ``reset_infos``, the
per-environment seeds and options of ``VecEnv.seed`` / ``set_options``), so a model cannot tell it from
``SubprocVecEnv``; with the same seed the episodes are the same (tests/test_vec_env.py).
"""

from __future__ import annotations

import multiprocessing as mp
from collections.abc import Callable, Sequence
from typing import Any

import gymnasium as gym
import numpy as np
from stable_baselines3.common.vec_env.base_vec_env import CloudpickleWrapper, VecEnv, VecEnvIndices


def _step(env: gym.Env, action: np.ndarray) -> tuple[Any, float, bool, dict, dict]:
    """One SB3-style step: a finished episode's last observation goes to ``info`` and the env resets."""
    observation, reward, terminated, truncated, info = env.step(action)
    done = terminated or truncated
    info["TimeLimit.truncated"] = truncated and not terminated
    reset_info: dict = {}
    if done:
        info["terminal_observation"] = observation
        observation, reset_info = env.reset()
    return observation, reward, done, info, reset_info


def _worker(remote, parent_remote, env_fns_wrapper: CloudpickleWrapper) -> None:
    """A worker's loop: it owns the environments built by ``env_fns`` and answers the parent's commands
    for all of them at once (``indices`` are positions in this worker's list)."""
    from stable_baselines3.common.env_util import is_wrapped

    parent_remote.close()
    envs = [fn() for fn in env_fns_wrapper.var]
    while True:
        try:
            cmd, data = remote.recv()
        except (EOFError, KeyboardInterrupt):
            break
        if cmd == "step":
            remote.send([_step(env, action) for env, action in zip(envs, data)])
        elif cmd == "reset":
            remote.send([env.reset(seed=seed, **({"options": options} if options else {}))
                         for env, (seed, options) in zip(envs, data)])
        elif cmd == "close":
            for env in envs:
                env.close()
            remote.close()
            break
        elif cmd == "get_spaces":
            remote.send((envs[0].observation_space, envs[0].action_space))
        elif cmd == "render":
            (indices,) = data
            remote.send([envs[i].render() for i in indices])
        elif cmd == "env_method":
            indices, name, args, kwargs = data
            remote.send([envs[i].get_wrapper_attr(name)(*args, **kwargs) for i in indices])
        elif cmd == "get_attr":
            indices, name = data
            remote.send([envs[i].get_wrapper_attr(name) for i in indices])
        elif cmd == "has_attr":
            indices, name = data
            remote.send([_has_wrapper_attr(envs[i], name) for i in indices])
        elif cmd == "set_attr":
            indices, name, value = data
            remote.send([setattr(envs[i], name, value) for i in indices])
        elif cmd == "is_wrapped":
            indices, wrapper = data
            remote.send([is_wrapped(envs[i], wrapper) for i in indices])
        else:
            raise NotImplementedError(f"{cmd!r} is not a worker command")


def _has_wrapper_attr(env: gym.Env, name: str) -> bool:
    try:
        env.get_wrapper_attr(name)
    except AttributeError:
        return False
    return True


class MultiEnvSubprocVecEnv(VecEnv):
    """``len(env_fns)`` environments in ``n_workers`` processes (a contiguous share each, the first
    workers taking one more where they do not divide evenly), stepped in lock step.

    Args:
        env_fns: one factory per environment; each runs in its worker (so each environment owns its
            simulator client there).
        n_workers: worker processes, at most ``len(env_fns)`` (one per core is what measures best on
            a CPU; ``benchmarks/training.py``).
        start_method: multiprocessing start method (default ``forkserver`` where available, as SB3).
    """

    def __init__(self, env_fns: Sequence[Callable[[], gym.Env]], n_workers: int,
                 start_method: str | None = None) -> None:
        n_envs = len(env_fns)
        if not 1 <= n_workers <= n_envs:
            raise ValueError(f"n_workers must be between 1 and the number of envs ({n_envs}); got {n_workers}")
        self.waiting = False
        self.closed = False
        bounds = np.cumsum([0] + [n_envs // n_workers + (w < n_envs % n_workers) for w in range(n_workers)])
        self._slices = [slice(int(a), int(b)) for a, b in zip(bounds[:-1], bounds[1:])]
        self._where = [(w, i - s.start) for w, s in enumerate(self._slices) for i in range(s.start, s.stop)]
        if start_method is None:
            start_method = "forkserver" if "forkserver" in mp.get_all_start_methods() else "spawn"
        ctx = mp.get_context(start_method)
        self.remotes, work_remotes = zip(*[ctx.Pipe() for _ in range(n_workers)])
        self.processes = []
        for work_remote, remote, share in zip(work_remotes, self.remotes, self._slices):
            process = ctx.Process(target=_worker, args=(work_remote, remote, CloudpickleWrapper(list(env_fns[share]))),
                                  daemon=True)  # a crashed parent must not leave workers behind
            process.start()
            self.processes.append(process)
            work_remote.close()
        self.remotes[0].send(("get_spaces", None))
        observation_space, action_space = self.remotes[0].recv()
        super().__init__(n_envs, observation_space, action_space)

    @property
    def n_workers(self) -> int:
        return len(self.remotes)

    def step_async(self, actions: np.ndarray) -> None:
        for remote, share in zip(self.remotes, self._slices):
            remote.send(("step", actions[share]))
        self.waiting = True

    def step_wait(self):
        results = [r for remote in self.remotes for r in remote.recv()]
        self.waiting = False
        obs, rews, dones, infos, self.reset_infos = zip(*results)
        return np.stack(obs), np.asarray(rews, dtype=np.float32), np.asarray(dones), list(infos)

    def reset(self):
        for remote, share in zip(self.remotes, self._slices):
            remote.send(("reset", list(zip(self._seeds[share], self._options[share]))))
        results = [r for remote in self.remotes for r in remote.recv()]
        obs, self.reset_infos = zip(*results)
        self._reset_seeds()  # seeds and options apply to one reset only (SB3's VecEnv contract)
        self._reset_options()
        return np.stack(obs)

    def close(self) -> None:
        if self.closed:
            return
        if self.waiting:
            for remote in self.remotes:
                remote.recv()
        for remote in self.remotes:
            remote.send(("close", None))
        for process in self.processes:
            process.join()
        for remote in self.remotes:
            remote.close()
        self.closed = True

    def _ask(self, cmd: str, indices: VecEnvIndices, *data) -> list[Any]:
        """Send ``cmd`` to the workers holding ``indices`` and return the answers in the order asked."""
        wanted = self._get_indices(indices)
        by_worker: dict[int, list[int]] = {}
        for i in wanted:
            worker, local = self._where[i]
            by_worker.setdefault(worker, []).append(local)
        for worker, local in by_worker.items():
            self.remotes[worker].send((cmd, (local, *data)))
        answers = {worker: iter(self.remotes[worker].recv()) for worker in by_worker}
        return [next(answers[self._where[i][0]]) for i in wanted]

    def get_images(self) -> Sequence[np.ndarray | None]:
        return self._ask("render", None)

    def has_attr(self, attr_name: str) -> bool:
        return all(self._ask("has_attr", None, attr_name))

    def get_attr(self, attr_name: str, indices: VecEnvIndices = None) -> list[Any]:
        return self._ask("get_attr", indices, attr_name)

    def set_attr(self, attr_name: str, value: Any, indices: VecEnvIndices = None) -> None:
        self._ask("set_attr", indices, attr_name, value)

    def env_method(self, method_name: str, *method_args, indices: VecEnvIndices = None, **method_kwargs) -> list[Any]:
        return self._ask("env_method", indices, method_name, method_args, method_kwargs)

    def env_is_wrapped(self, wrapper_class: type[gym.Wrapper], indices: VecEnvIndices = None) -> list[bool]:
        return self._ask("is_wrapped", indices, wrapper_class)
