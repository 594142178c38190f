"""invariance: group actions on data and (later) equivariance checks of learners.

Only light modules are imported here (numpy); the checker imports torch itself.
"""

from invariance.groups import GROUPS, sample

__all__ = ["GROUPS", "sample"]
