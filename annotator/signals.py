"""Signals of the annotator app, for the apps above it (annotator imports none of them)."""

from django.dispatch import Signal

# Sent after the transaction that added instructions to a task's pool committed; kwargs: task_id.
# The pipeline draws an instruction for the task's samples that had none (pipeline.apps).
pool_gained_instructions = Signal()
