"""``--workers N``: several server processes sharing one port with ``SO_REUSEPORT``.

The parent reserves the port (binds a ``SO_REUSEPORT`` socket without listening, which
also resolves ``--port 0`` to a real port), starts N worker processes
(``python -m wavewire serve … --reuse-port``), forwards SIGTERM/SIGINT to them, and exits
when they all have, with the worst exit status. The kernel spreads new connections over
the workers' listening sockets; sessions are independent, so nothing is shared. A worker
that dies is not restarted (a process supervisor or Kubernetes does that better).
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from collections.abc import Mapping, Sequence
from types import FrameType

__all__ = ["reserve_port", "run_workers"]


def reserve_port(host: str, port: int) -> socket.socket:
    """A bound, non-listening ``SO_REUSEPORT`` socket holding ``host:port``."""
    if not hasattr(socket, "SO_REUSEPORT"):
        raise OSError("--workers needs SO_REUSEPORT, which this platform lacks")
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind((host, port))
    return sock


def run_workers(
    n: int,
    host: str,
    port: int,
    worker_args: Sequence[str],
    *,
    env: Mapping[str, str] | None = None,
) -> int:
    """Run ``n`` workers of ``wavewire serve <worker_args>`` on ``host:port`` (with
    ``env``, where secrets travel instead of the command line); returns the exit status
    for the parent."""
    if n < 1:
        raise ValueError("--workers must be at least 1")
    reserved = reserve_port(host, port)
    port = reserved.getsockname()[1]
    cmd = [sys.executable, "-m", "wavewire", "serve", *worker_args,
           "--host", host, "--port", str(port), "--reuse-port"]
    children: list[subprocess.Popen[bytes]] = []

    def forward(signum: int, _frame: FrameType | None) -> None:
        for child in children:
            if child.poll() is None:
                try:
                    child.send_signal(signum)
                except OSError:
                    pass

    previous = {sig: signal.signal(sig, forward) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        print(f"wavewire: {n} workers on {host}:{port} (parent pid {os.getpid()})",
              file=sys.stderr, flush=True)
        for _ in range(n):
            children.append(subprocess.Popen(cmd, env=dict(env) if env is not None else None))
        status = 0
        for child in children:
            while True:
                try:
                    code = child.wait()
                    break
                except InterruptedError:  # pragma: no cover - PEP 475 retries already
                    continue
            status = max(status, abs(code))
        return status
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        for child in children:
            if child.poll() is None:
                child.kill()
                child.wait()
        reserved.close()
