"""Optimizers (torch.optim.Optimizer classes) and the registry that builds them from spec strings.

    opt = optimizers.create("adam(lr=3e-4)", model)
    optimizers.supports_batching("agd")   # honours p.batch_dims
    optimizers.describe()                 # {name: one-line description}
    optimizers.create(optimizers.PerMember(["sgd(lr=0.1)", "sgd(lr=1.0)"]), batched_model)  # one per member
"""

from optimizers.adam_layerwise import AdamLayerwise
from optimizers.agd import AGD, agd_init_, layer_scale
from optimizers.agd_l2 import AGDL2, regularised_step_size
from optimizers.composite import CompositeOptimizer
from optimizers.lamb import LAMB
from optimizers.lars import LARS
from optimizers.layers import layer_groups
from optimizers.lion import Lion
from optimizers.muon import Muon, MuonMatrices, newton_schulz5
from optimizers.per_member import PerMember, PerMemberOptimizer, zero_member_state_
from optimizers.registry import create, describe, names, parse_spec, resolve, supports_batching
from optimizers.signsgd import SignSGD

__all__ = [
    "AGD",
    "AGDL2",
    "LAMB",
    "LARS",
    "AdamLayerwise",
    "CompositeOptimizer",
    "Lion",
    "Muon",
    "MuonMatrices",
    "PerMember",
    "PerMemberOptimizer",
    "SignSGD",
    "agd_init_",
    "create",
    "describe",
    "layer_groups",
    "layer_scale",
    "names",
    "newton_schulz5",
    "parse_spec",
    "regularised_step_size",
    "resolve",
    "supports_batching",
    "zero_member_state_",
]
