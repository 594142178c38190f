"""What every package of the project shares, one helper per concern:
:mod:`symbench.seeding` (hierarchical seeds), :mod:`symbench.threads` (thread
limits) and :mod:`symbench.imports` (``module:Object`` import paths).

It imports nothing of the project's own, so every package may use it.
"""
