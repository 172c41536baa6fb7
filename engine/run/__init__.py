"""The run stage: a Plan's steps decided into a ChangeSet, one step at a time (`step.py` drives a
step). This face is what other stages use; the modules behind it are the stage's own."""

from engine.run.context import RunContext
from engine.run.step import BATCH, run, run_step

__all__ = ["BATCH", "RunContext", "run", "run_step"]
