"""A tiny study for testing the runner and the store: cheap, and able to fail or diverge on purpose."""

from __future__ import annotations

import os
import time

import numpy as np

from studies.spec import Outcome, Study


class ToyStudy(Study):
    name = "toy"
    description = "a toy study for the runner's tests"
    defaults = {"reps": 12, "groups": ["a", "b"], "sleep": 0.0, "fail_rep": -1, "diverge_rep": -1,
                "crash_batch_rep": -1, "exit_rep": -1, "seed": 0, "scale": 1.0}
    quick = {"reps": 4}
    design_keys = frozenset({"reps", "groups"})
    max_batch = 4

    def validate(self, config):
        if config["reps"] < 1:
            raise ValueError(f"reps must be at least 1, got {config['reps']}")

    def trials(self, config):
        return [{"group": g, "rep": r} for g in config["groups"] for r in range(config["reps"])]

    def batch_key(self, coords):
        return coords["group"]

    def run_batch(self, config, batch):
        time.sleep(config["sleep"] * len(batch))
        if config["exit_rep"] in [t.coords["rep"] for t in batch]:
            os._exit(13)  # the process dies, as on a segfault or the OOM killer (only ever on a Dask worker)
        if config["crash_batch_rep"] in [t.coords["rep"] for t in batch] and len(batch) > 1:
            raise RuntimeError("a batch-level crash")
        outcomes = []
        for trial in batch:
            rep = trial.coords["rep"]
            if rep == config["fail_rep"]:
                raise ValueError(f"trial {rep} fails on purpose")
            if rep == config["diverge_rep"]:
                outcomes.append(Outcome("diverged", {"step": 3}))
                continue
            value = np.random.default_rng(trial.seed).normal() * config["scale"]
            outcomes.append(Outcome("ok", {"value": float(value)}))
        return outcomes


STUDY = ToyStudy()
