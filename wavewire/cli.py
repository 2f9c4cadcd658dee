"""The ``wavewire`` command (also ``python -m wavewire``).

* ``wavewire serve`` -- every protocol on one port (``/ws`` raw PCM, ``/pipecat``
  Pipecat protobuf, …), the browser page at ``/``, ``/healthz`` and ``/metrics``.
* ``wavewire connect`` -- run a bot as a client of a WebSocket server.
* ``wavewire fake NAME`` -- a loopback fake of a provider (deepgram, cartesia,
  elevenlabs, openai) for tests and benchmarks.
* ``wavewire doctor`` -- what is installed and configured, and how to add the rest.

Importing this module costs only ``argparse``; servers, serializers and bots load when a
command runs.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from typing import Any

__all__ = ["main", "build_parser"]

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8765

def __getattr__(name: str) -> Any:
    """``PROTOCOLS``: the names ``wavewire connect --protocol`` accepts, from the one
    registry (:func:`wavewire.transports.endpoints.client_protocols`), loaded on use so
    importing this module stays cheap."""
    if name == "PROTOCOLS":
        from .transports.endpoints import client_protocols

        return client_protocols()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``wavewire`` command."""
    from .bots import bot_names
    from .transports.endpoints import client_protocols

    bots = bot_names()
    protocols = client_protocols()
    parser = argparse.ArgumentParser(prog="wavewire", description="Real-time voice agents.")
    parser.add_argument("--log-level", default="INFO",
                        help="DEBUG, INFO, WARNING or ERROR (default INFO)")
    sub = parser.add_subparsers(dest="command", required=True)

    serve = sub.add_parser("serve", help="serve every protocol on one port",
                           description="Serve WebSocket voice sessions (/ws raw PCM, /pipecat "
                           "Pipecat protobuf), the browser page, /healthz and /metrics.")
    serve.add_argument("--host", default=DEFAULT_HOST,
                       help=f"interface to listen on (default {DEFAULT_HOST})")
    serve.add_argument("--port", type=int, default=DEFAULT_PORT,
                       help=f"TCP port, 0 for any free one (default {DEFAULT_PORT})")
    serve.add_argument("--bot", default="assistant", choices=bots,
                       help="bot to run (default assistant)")
    _assistant_options(serve)
    serve.add_argument("--token", default=os.environ.get("WAVEWIRE_TOKEN"),
                       help="require this token on every WebSocket route (?token=, "
                       "'Authorization: Bearer', or a 'bearer.<token>' subprotocol); "
                       "default $WAVEWIRE_TOKEN, which keeps it out of the process list")
    serve.add_argument("--workers", type=int, default=1,
                       help="worker processes sharing the port with SO_REUSEPORT (default 1)")
    serve.add_argument("--max-sessions", type=int, default=None,
                       help="session cap per process; beyond it connections close with 1013")
    serve.add_argument("--origin", action="append", default=None, metavar="ORIGIN",
                       help="allowed Origin (repeat); clients without an Origin stay allowed")
    serve.add_argument("--certfile", default=None, help="TLS certificate chain (PEM)")
    serve.add_argument("--keyfile", default=None, help="TLS private key (PEM)")
    serve.add_argument("--idle-timeout", type=float, default=None,
                       help="cancel a session after this many seconds without a message")
    serve.add_argument("--session-timeout", type=float, default=None,
                       help="end a session after this many seconds")
    serve.add_argument("--drain-timeout", type=float, default=10.0,
                       help="seconds sessions get to end on SIGTERM (default 10)")
    serve.add_argument("--static", default=None, metavar="DIR",
                       help="serve this folder's files at / instead of the built-in page "
                       "(e.g. a built front end such as examples/pipecat-client/dist)")
    serve.add_argument("--reuse-port", action="store_true", help=argparse.SUPPRESS)
    _loop_option(serve)

    connect = sub.add_parser("connect", help="run a bot as a WebSocket client",
                             description="Connect to a WebSocket server and run a bot there.")
    connect.add_argument("--protocol", default="raw", choices=sorted(protocols),
                         help="wire protocol (default raw)")
    connect.add_argument("--url", required=True, help="ws:// or wss:// URL")
    connect.add_argument("--bot", default="assistant", choices=bots,
                         help="bot to run (default assistant)")
    _assistant_options(connect)
    connect.add_argument("--token", default=os.environ.get("WAVEWIRE_TOKEN"),
                         help="sent as 'Authorization: Bearer' (default $WAVEWIRE_TOKEN)")
    connect.add_argument("--sample-rate", type=int, default=16000,
                         help="wire sample rate (default 16000)")
    connect.add_argument("--channels", type=int, default=1, help="wire channels (default 1)")
    connect.add_argument("--attempts", type=int, default=8,
                         help="connection attempts in a row before giving up (default 8)")
    _loop_option(connect)
    from .emulators import EMULATORS

    emulate = sub.add_parser(
        "emulate",
        help="play a WAV into a bot as a platform would",
        description="Local stand-ins for Cloudflare, Twilio, VideoSDK and Vapi: play a WAV "
        "into a bot, record what comes back, print a summary. "
        "'wavewire emulate <platform> --help' lists its options.",
    )
    emulate.add_argument("platform", choices=sorted(EMULATORS))
    emulate.add_argument("options", nargs=argparse.REMAINDER, help="the platform's options")

    fake = sub.add_parser("fake", help="run a loopback fake of a provider",
                          description="Serve a deterministic fake of a provider's API "
                          "(wavewire.testing.fakes), following protocols.md, until Ctrl-C.")
    fake.add_argument("provider", choices=FAKES)
    fake.add_argument("--host", default=DEFAULT_HOST,
                      help=f"interface to listen on (default {DEFAULT_HOST})")
    fake.add_argument("--port", type=int, default=0,
                      help="TCP port, 0 for any free one (default 0; the address is printed)")
    sub.add_parser("doctor", help="what is installed and configured, and how to add the rest",
                   description="Report the installed extras, which providers have keys "
                   "(never their values) and whether Chromium is there, with the command "
                   "that adds each missing piece.")
    return parser


FAKES = ("deepgram", "cartesia", "elevenlabs", "openai")
"""``wavewire fake`` providers: each is ``wavewire.testing.fakes.<name>.run(host, port)``."""


async def _fake(args: argparse.Namespace) -> int:
    import importlib

    module = importlib.import_module(f"wavewire.testing.fakes.{args.provider}")
    await module.run(args.host, args.port)
    return 0


LOOPS = ("auto", "asyncio", "uvloop")


def _assistant_options(parser: argparse.ArgumentParser) -> None:
    """``--stt``, ``--llm``, ``--tts``: the assistant's services (see wavewire.bots.assistant)."""
    group = parser.add_argument_group("assistant", "services of --bot assistant")
    group.add_argument("--stt", default="local", choices=("local", "deepgram"),
                       help="speech to text: local (pocketsphinx, default) or deepgram")
    group.add_argument("--llm", default=None, choices=("local", "openai"),
                       help="responder: local (rule-based, offline) or openai (any "
                       "OpenAI-compatible server); default openai when OPENAI_API_KEY or "
                       "OPENAI_BASE_URL is set, else local")
    group.add_argument("--tts", default="local",
                       choices=("local", "deepgram", "cartesia", "elevenlabs"),
                       help="text to speech: local (espeak-ng, default), deepgram, cartesia "
                       "or elevenlabs")


def _bot(args: argparse.Namespace) -> Any:
    """The bot factory the command line asks for; exits with code 2 and one line when
    the assistant's choices miss a key or an extra."""
    from .bots import get_bot

    if args.bot != "assistant":
        return get_bot(args.bot)
    from .bots.assistant import AssistantBot, AssistantConfig, check, default_llm

    config = AssistantConfig(stt=args.stt, llm=args.llm or default_llm(), tts=args.tts)
    problem = check(config)
    if problem is not None:
        sys.stderr.write(f"wavewire: {problem}\n")
        raise SystemExit(2)
    return AssistantBot(config)


def _loop_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--loop", default="auto", choices=LOOPS,
                        help="event loop: auto (default: uvloop when installed, as with "
                        "pip install 'wavewire[fast]', else asyncio), asyncio, or uvloop. "
                        "Pinned to one core of a 2-core VM, uvloop cut the server's CPU "
                        "per echoed frame by ~8%% at 500 sessions")


def _run(coro: Any, loop: str) -> int:
    """Runs ``coro`` on the chosen event loop."""
    import asyncio

    if loop != "asyncio":
        try:
            import uvloop
        except ImportError:
            if loop == "uvloop":
                coro.close()
                raise SystemExit("wavewire: --loop uvloop needs uvloop "
                                 "(pip install 'wavewire[fast]')") from None
        else:
            return int(uvloop.run(coro))
    return int(asyncio.run(coro))


def _setup_logging(level: str) -> None:
    from loguru import logger

    logger.remove()
    logger.add(sys.stderr, level=level.upper())


def _ssl_context(certfile: str | None, keyfile: str | None) -> Any:
    if certfile is None:
        return None
    import ssl

    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(certfile, keyfile)
    return context


def _worker_args(args: argparse.Namespace) -> list[str]:
    out = ["--bot", args.bot, "--drain-timeout", str(args.drain_timeout), "--loop", args.loop,
           "--stt", args.stt, "--tts", args.tts]
    if args.llm is not None:
        out += ["--llm", args.llm]
    for flag, value in (("--max-sessions", args.max_sessions),
                        ("--certfile", args.certfile), ("--keyfile", args.keyfile),
                        ("--idle-timeout", args.idle_timeout),
                        ("--session-timeout", args.session_timeout),
                        ("--static", args.static)):
        if value is not None:
            out += [flag, str(value)]
    for origin in args.origin or ():
        out += ["--origin", origin]
    return out


async def _serve(args: argparse.Namespace) -> int:
    import errno

    from .audio import warm_up
    from .transports.auth import token_auth
    from .transports.server import WebSocketServer

    warm_up()  # numpy and tables load now, not in the first call's first frame
    bot = _bot(args)
    vad = getattr(bot, "vad", None)

    origins: list[str | None] | None = None
    if args.origin:
        origins = [*args.origin, None]
    server = WebSocketServer(
        bot,
        vad=vad,
        vad_frames=vad is not None,
        host=args.host,
        port=args.port,
        auth=token_auth(args.token) if args.token else None,
        max_sessions=args.max_sessions,
        origins=origins,
        ssl=_ssl_context(args.certfile, args.keyfile),
        idle_timeout=args.idle_timeout,
        session_timeout=args.session_timeout,
        drain_timeout=args.drain_timeout,
        reuse_port=args.reuse_port,
        web_dir=args.static,
    )
    try:
        await server.start()
    except OSError as exc:
        if exc.errno != errno.EADDRINUSE:
            raise
        sys.stderr.write(f"wavewire: port {args.port} on {args.host} is in use (another "
                         "server?); stop it or pick another with --port\n")
        return 2
    scheme = "https" if server.ssl is not None else "http"
    routes = ", ".join(r.pattern for r in server.routes)
    # One write of the whole line: with --workers every process says it on the same
    # stderr, and print() writes the text and its newline separately when unbuffered
    # (PYTHONUNBUFFERED), so two workers' lines could merge into one.
    sys.stderr.write(
        f"wavewire: serving on {scheme}://{args.host}:{server.port} (WebSocket: {routes})\n"
    )
    if not args.reuse_port:  # one process: say where the page is
        host = "127.0.0.1" if args.host in ("", "0.0.0.0", "::") else args.host
        sys.stderr.write(f"wavewire: open {scheme}://{host}:{server.port}/ in a browser "
                         f"to talk to the {args.bot} bot\n")
    sys.stderr.flush()
    await server.serve_forever()
    return 0


async def _connect(args: argparse.Namespace) -> int:
    from .audio import warm_up

    warm_up()  # not in the first frame of the call

    from .errors import WavewireError
    from .transports.client import Backoff, WebSocketClient
    from .transports.client_session import ClientSession
    from .transports.endpoints import client_protocols

    protocol = client_protocols()[args.protocol]
    if protocol.token:  # wavewire's own servers: the wavewire token
        headers = {"Authorization": f"Bearer {args.token}"} if args.token else None
    else:  # a third party: its own credentials, never the wavewire token
        headers = protocol.headers() or None
    client = WebSocketClient(
        args.url,
        lambda: protocol.serializer(args.sample_rate, args.channels),
        headers=headers,
        reconnect=Backoff(max_attempts=max(1, args.attempts)) if protocol.reconnect else None,
    )
    bot = _bot(args)
    processors = bot(None)
    if hasattr(processors, "__await__"):
        processors = await processors
    vad = getattr(bot, "vad", None)
    session = ClientSession(client, list(processors), vad=vad() if vad is not None else None)
    session.input_edge.vad_frames = vad is not None
    try:
        await session.run()
    except WavewireError as exc:
        print(f"wavewire: {exc}", file=sys.stderr)
        return 1
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``wavewire`` console script."""
    args = build_parser().parse_args(argv)
    if args.command == "serve" and args.static is not None and not os.path.isdir(args.static):
        print(f"wavewire: --static {args.static}: not a directory", file=sys.stderr)
        return 2
    if args.command in ("serve", "connect"):
        _bot(args)  # a missing key or extra: one line, before anything starts
    if args.command == "serve" and args.workers > 1:
        from .transports.workers import run_workers

        env = dict(os.environ)
        if args.token:
            env["WAVEWIRE_TOKEN"] = args.token  # never on a command line
        return run_workers(args.workers, args.host, args.port, _worker_args(args), env=env)
    if args.command == "doctor":
        from .doctor import run as run_doctor

        return run_doctor()
    if args.command == "emulate":
        from .emulators import run_emulator

        return run_emulator(args.platform, args.options)
    _setup_logging(args.log_level)
    try:
        if args.command == "fake":
            import asyncio

            return int(asyncio.run(_fake(args)))
        if args.command == "serve":
            return _run(_serve(args), args.loop)
        return _run(_connect(args), args.loop)
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
