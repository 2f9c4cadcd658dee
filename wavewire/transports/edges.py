"""The edges of every session: where wire messages become frames and frames become wire
messages. Every transport (WebSocket server, client, anything else) uses these two.

* :class:`InputEdge` (:mod:`.input_edge`, first processor): decodes each message,
  checks and converts its audio, runs the VAD, pushes user speaking events.
* :class:`OutputEdge` (:mod:`.output_edge`, last processor): converts and chunks output
  audio, plays it out through a paced :class:`~.player.Player`, and keeps the bot's
  :class:`~.utterance.Utterance` (speaking, marks, what was heard).
* :class:`EdgeStats` (:mod:`.edge_stats`): both edges' counters.

Format conversion for both is :class:`wavewire.audio.convert.Conversion`. This module
keeps the names importable from one place.
"""

from __future__ import annotations

from .edge_stats import EdgeStats
from .input_edge import InputEdge
from .output_edge import OutputEdge

__all__ = ["EdgeStats", "InputEdge", "OutputEdge"]
