"""DexNDM's core: the episode dataset, the joint-wise and whole-hand neural dynamics models, their
fitting and scoring, and the residual action correction trained through a frozen model."""

from dexndm_envs.dynamics.checkpoint import CheckpointError, load_ndm
from dexndm_envs.dynamics.dataset import DatasetError, EpisodeDataset, EpisodeWriter
from dexndm_envs.dynamics.evaluation import evaluate, evaluate_checkpoint
from dexndm_envs.dynamics.fitting import fit
from dexndm_envs.dynamics.models import JointWiseNDM, WholeHandNDM
from dexndm_envs.dynamics.transitions import Transitions

__all__ = ["CheckpointError", "DatasetError", "EpisodeDataset", "EpisodeWriter", "JointWiseNDM", "Transitions",
           "WholeHandNDM", "evaluate", "evaluate_checkpoint", "fit", "load_ndm"]
