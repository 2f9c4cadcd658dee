"""Pipelines, sessions and the runner."""

from .observers import BaseObserver, FramePushed
from .pipeline import ParallelPipeline, Pipeline
from .runner import PipelineRunner
from .task import PipelineParams, PipelineTask, TaskState, TaskStats

__all__ = [
    "BaseObserver",
    "FramePushed",
    "ParallelPipeline",
    "Pipeline",
    "PipelineParams",
    "PipelineRunner",
    "PipelineTask",
    "TaskState",
    "TaskStats",
]
