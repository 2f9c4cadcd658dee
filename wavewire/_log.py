"""Former name of :mod:`wavewire.log`, kept only while ``transports/`` and
``pipelines/task.py`` (being rewritten in parallel) still import it; delete it once they
import :mod:`wavewire.log` (``tests/test_layout.py`` lists them)."""

from .log import logger

__all__ = ["logger"]
