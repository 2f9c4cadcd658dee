"""Former name of :mod:`wavewire.lazy`, kept only while ``transports/__init__.py`` (being
rewritten in parallel) still imports it; delete it once it imports :mod:`wavewire.lazy`
(``tests/test_layout.py`` lists it)."""

from .lazy import lazy_getattr

__all__ = ["lazy_getattr"]
