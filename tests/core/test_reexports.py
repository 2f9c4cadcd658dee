"""Names that moved into modules of their own stay importable from where they were, as
the very same objects (a copy would make ``isinstance`` and identity checks lie)."""

from __future__ import annotations

import importlib

import pytest

MOVED = [
    # (where users import it from, name, the module that defines it now)
    ("wavewire.processors.base", "FrameDirection", "wavewire.processors.direction"),
    ("wavewire.processors.base", "DOWNSTREAM", "wavewire.processors.direction"),
    ("wavewire.processors.base", "UPSTREAM", "wavewire.processors.direction"),
    ("wavewire.processors", "FrameDirection", "wavewire.processors.direction"),
    ("wavewire.processors.base", "TaskContext", "wavewire.processors.taskcontext"),
    ("wavewire.processors.base", "SessionContext", "wavewire.processors.taskcontext"),
    ("wavewire.processors.base", "FrameQueue", "wavewire.processors.queue"),
    ("wavewire.processors", "FrameQueue", "wavewire.processors.queue"),
    ("wavewire.pipelines.task", "TaskState", "wavewire.pipelines.lifecycle"),
    ("wavewire.pipelines.task", "PipelineParams", "wavewire.pipelines.params"),
    ("wavewire.pipelines.task", "TaskStats", "wavewire.pipelines.params"),
    ("wavewire.pipelines.task", "DEFAULT_IDLE_FRAMES", "wavewire.pipelines.params"),
    ("wavewire.pipelines", "TaskState", "wavewire.pipelines.lifecycle"),
    ("wavewire.pipelines", "PipelineParams", "wavewire.pipelines.params"),
    ("wavewire", "TaskState", "wavewire.pipelines.lifecycle"),
    ("wavewire", "PipelineParams", "wavewire.pipelines.params"),
    ("wavewire", "FrameDirection", "wavewire.processors.direction"),
]


@pytest.mark.parametrize(("old", "name", "new"), MOVED)
def test_moved_name_is_the_same_object(old: str, name: str, new: str):
    assert getattr(importlib.import_module(old), name) is getattr(
        importlib.import_module(new), name
    )


def test_server_keeps_its_public_surface():
    """The server's layers are mixed into one class: what users call is still on it."""
    import wavewire
    from wavewire.events import EventEmitter
    from wavewire.transports.server import BotFactory, WebSocketServer

    assert wavewire.WebSocketServer is WebSocketServer
    assert issubclass(WebSocketServer, EventEmitter)
    assert BotFactory is not None
    for attr in ("start", "serve_forever", "drain", "close", "add_route", "routes", "port",
                 "sessions", "connections", "draining", "live_totals", "event_handler"):
        assert hasattr(WebSocketServer, attr), attr
    server = WebSocketServer(lambda info: [], port=0)
    assert set(server.event_names) == {"on_websocket_ready", "on_client_connected",
                                       "on_client_disconnected", "on_session_timeout"}
