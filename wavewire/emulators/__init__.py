"""Local stand-ins for voice platforms, so bots can be developed and tested offline.

Each emulator plays a WAV file into a bot the way its platform does and records what
comes back into a WAV, then prints and returns a summary (frames each way, loss, pacing
jitter, latency and the normalized cross-correlation of what came back against what
was played):

* ``cloudflare`` -- :class:`~.cloudflare.CloudflareEmulator` dials the bot's two adapter
  sockets (``/cloudflare/{call_id}/stream`` with 48 kHz stereo Packets in real time,
  ``/cloudflare/{call_id}/ingest`` receiving);
* ``twilio`` -- :class:`~.twilio.TwilioEmulator` dials ``/twilio`` with
  ``connected``/``start``/``media``/``stop``, plays back in real time, echoes marks
  once the audio before them has played and honours ``clear``;
* ``videosdk`` -- :class:`~.videosdk.VideoSDKEmulator` *is* VideoSDK's ingest server:
  ``wavewire connect --protocol videosdk --url <its URL>`` connects to it;
* ``vapi`` -- :class:`~.vapi.VapiEmulator` *is* a Vapi call's ``websocketCallUrl``:
  ``wavewire connect --protocol vapi --url <its URL>`` connects to it.

Command line: ``wavewire emulate <platform> --help`` (:func:`main`).
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Sequence

__all__ = ["EMULATORS", "main", "run_emulator"]

EMULATORS: dict[str, str] = {
    "cloudflare": "wavewire.emulators.cloudflare",
    "twilio": "wavewire.emulators.twilio",
    "videosdk": "wavewire.emulators.videosdk",
    "vapi": "wavewire.emulators.vapi",
}
"""Platform name → module with a ``main(argv)``."""


def run_emulator(platform: str, argv: Sequence[str] = ()) -> int:
    """Run ``platform``'s emulator with command-line arguments ``argv``."""
    try:
        module = EMULATORS[platform]
    except KeyError:
        names = ", ".join(sorted(EMULATORS))
        print(f"wavewire emulate: unknown platform {platform!r} (one of {names})",
              file=sys.stderr)
        return 2
    return int(importlib.import_module(module).main(list(argv)))


def main(argv: Sequence[str] | None = None) -> int:
    """``wavewire emulate <platform> [options]``."""
    args = list(sys.argv[1:] if argv is None else argv)
    if not args or args[0] in ("-h", "--help"):
        names = "|".join(sorted(EMULATORS))
        print(f"usage: wavewire emulate {{{names}}} [options]\n\n"
              f"Play a WAV into a bot the way the platform does; "
              f"'wavewire emulate <platform> --help' for its options.")
        return 0 if args else 2
    return run_emulator(args[0], args[1:])


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
