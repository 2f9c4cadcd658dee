"""deploy/: the Dockerfile and the Kubernetes manifests parse and agree with the command
line (flags, port, routes, drain timeout), and readiness really fails while draining."""

from __future__ import annotations

import asyncio
import json
import re
import shlex
from pathlib import Path

import pytest
import yaml

from wavewire.cli import build_parser
from wavewire.frames import EndFrame, Frame
from wavewire.processors.base import FrameDirection, FrameProcessor
from wavewire.transports.endpoints import default_routes
from wavewire.transports.metrics import ServerMetrics, SessionTotals
from wavewire.transports.server import WebSocketServer

from .transports.conftest import wait_for

ROOT = Path(__file__).resolve().parent.parent
DEPLOY = ROOT / "deploy"
K8S = DEPLOY / "kubernetes"


def docs() -> dict[str, dict]:
    """Every manifest by kind (each kind once)."""
    found: dict[str, dict] = {}
    for path in sorted(K8S.glob("*.yaml")):
        for doc in yaml.safe_load_all(path.read_text()):
            assert doc["apiVersion"] and doc["kind"], path
            assert doc["kind"] not in found, f"{doc['kind']} twice"
            found[doc["kind"]] = doc
    return found


def container() -> dict:
    [c] = docs()["Deployment"]["spec"]["template"]["spec"]["containers"]
    return c


def serve_args(args: list[str]):
    assert args[0] == "serve"
    return build_parser().parse_args(args)


def test_manifests_parse_and_kustomization_lists_them_all():
    kinds = docs()
    assert {"Deployment", "Service", "HorizontalPodAutoscaler", "PodDisruptionBudget",
            "Kustomization"} <= set(kinds)
    listed = set(kinds["Kustomization"]["resources"])
    assert listed == {p.name for p in K8S.glob("*.yaml")} - {"kustomization.yaml"}


def test_deployment_args_are_real_flags_and_ports_agree():
    c = container()
    args = serve_args(c["args"])  # argparse exits on an unknown flag
    assert args.host == "0.0.0.0"
    [port] = c["ports"]
    assert port["containerPort"] == args.port and port["name"] == "ws"
    pod = docs()["Deployment"]["spec"]["template"]
    assert pod["metadata"]["annotations"]["prometheus.io/port"] == str(args.port)
    svc = docs()["Service"]["spec"]
    assert svc["ports"][0]["targetPort"] in (port["name"], args.port)


def test_probes_use_the_servers_routes():
    c = container()
    ready = c["readinessProbe"]["httpGet"]
    assert ready["path"] == "/healthz" and ready["port"] == "ws"
    pod = docs()["Deployment"]["spec"]["template"]
    assert pod["metadata"]["annotations"]["prometheus.io/path"] == "/metrics"
    # The WebSocket routes the Service fronts are the server's own.
    paths = {r.pattern for r in default_routes()}
    assert {"/ws", "/pipecat", "/twilio"} <= paths
    # Liveness must not kill a draining pod: it allows longer than the drain.
    live = c["livenessProbe"]
    args = serve_args(c["args"])
    assert "httpGet" not in live  # /healthz is 503 while draining
    assert live["periodSeconds"] * live["failureThreshold"] > args.drain_timeout


def test_grace_period_covers_prestop_and_drain_timeout():
    spec = docs()["Deployment"]["spec"]["template"]["spec"]
    c = container()
    drain = serve_args(c["args"]).drain_timeout
    command = c["lifecycle"]["preStop"]["exec"]["command"]
    assert command[0] == "sleep"
    pre_stop = float(command[1])
    grace = spec["terminationGracePeriodSeconds"]
    # Enough for the preStop pause, the drain and the final cancel/close deadlines, and
    # not so much that a stuck pod lingers.
    assert pre_stop + drain + 5 <= grace <= pre_stop + drain + 30


def test_selectors_match_the_pods():
    kinds = docs()
    labels = kinds["Deployment"]["spec"]["template"]["metadata"]["labels"]
    selectors = [
        kinds["Deployment"]["spec"]["selector"]["matchLabels"],
        kinds["Service"]["spec"]["selector"],
        kinds["PodDisruptionBudget"]["spec"]["selector"]["matchLabels"],
    ]
    for sel in selectors:
        assert sel.items() <= labels.items()
    target = kinds["HorizontalPodAutoscaler"]["spec"]["scaleTargetRef"]
    assert target["kind"] == "Deployment"
    assert target["name"] == kinds["Deployment"]["metadata"]["name"]


def test_hpa_metric_is_one_the_server_exports():
    [metric] = docs()["HorizontalPodAutoscaler"]["spec"]["metrics"]
    name = metric["pods"]["metric"]["name"]
    body = ServerMetrics().render(SessionTotals(), 3, False)
    assert re.search(rf"^# TYPE {name} gauge$", body, re.M)
    assert re.search(rf"^{name} 3$", body, re.M)
    cap = serve_args(container()["args"]).max_sessions
    assert cap is None or float(metric["pods"]["target"]["averageValue"]) < cap


def test_security_context_is_non_root():
    pod = docs()["Deployment"]["spec"]["template"]["spec"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["runAsUser"] != 0
    sc = container()["securityContext"]
    assert sc["allowPrivilegeEscalation"] is False and sc["capabilities"]["drop"] == ["ALL"]


def dockerfile() -> list[tuple[str, str]]:
    """(instruction, argument) pairs, continuation lines joined."""
    text = re.sub(r"\\\n", " ", (DEPLOY / "Dockerfile").read_text())
    out = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            op, _, rest = line.partition(" ")
            out.append((op.upper(), rest.strip()))
    return out


def test_dockerfile_is_slim_non_root_and_runs_the_cli():
    steps = dockerfile()
    froms = [a for op, a in steps if op == "FROM"]
    assert froms and all("-slim" in f for f in froms)
    users = [a for op, a in steps if op == "USER"]
    assert users and users[-1].split(":")[0] not in ("0", "root")
    expose = [a for op, a in steps if op == "EXPOSE"]
    entry = json.loads(next(a for op, a in steps if op == "ENTRYPOINT"))
    cmd = json.loads(next(a for op, a in steps if op == "CMD"))
    assert entry == ["wavewire"]
    args = serve_args(cmd)
    assert expose == [str(args.port)] and args.host == "0.0.0.0"
    assert args.drain_timeout == serve_args(container()["args"]).drain_timeout
    # The health check asks the server's own route on its port.
    health = next(a for op, a in steps if op == "HEALTHCHECK")
    assert f"127.0.0.1:{args.port}/healthz" in health


def test_dockerfile_offline_extra_is_optional():
    steps = dockerfile()
    assert ("ARG", "OFFLINE=0") in steps
    run = " ".join(a for op, a in steps if op == "RUN")
    assert '"$OFFLINE" = "1"' in run and "offline" in run
    assert "pip install" in run
    # Every extra the image may install exists.
    extras = next(a for op, a in steps if op == "ARG" and a.startswith("EXTRAS=")).split("=", 1)[1]
    import tomllib

    known = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]
    assert set(extras.split(",")) | {"offline"} <= set(known)
    assert shlex.split(next(a for op, a in steps if op == "STOPSIGNAL")) == ["SIGTERM"]


class HoldEnd(FrameProcessor):
    """Holds the EndFrame until released: a session that takes a while to drain."""

    def __init__(self, release: asyncio.Event) -> None:
        super().__init__()
        self.release = release

    async def process_frame(self, frame: Frame, direction: FrameDirection) -> None:
        if isinstance(frame, EndFrame):
            async with asyncio.timeout(10):
                await self.release.wait()
        await self.push(frame, direction)


async def http_get_on(reader, writer, path: str) -> tuple[int, bytes]:
    writer.write(f"GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode())
    await writer.drain()
    try:
        async with asyncio.timeout(10):
            raw = await reader.read()
    finally:
        writer.close()
    head, _, body = raw.partition(b"\r\n\r\n")
    return int(head.split()[1]), body


async def test_readiness_fails_while_draining():
    from websockets.asyncio.client import connect

    release = asyncio.Event()
    server = WebSocketServer(lambda info: [HoldEnd(release)], host="127.0.0.1", port=0,
                             drain_timeout=10)
    await server.start()
    drain = None
    try:
        port = server.port
        async with connect(f"ws://127.0.0.1:{port}/ws", proxy=None):
            await wait_for(lambda: len(server.sessions) == 1)
            status, body = await http_get_on(
                *await asyncio.open_connection("127.0.0.1", port), "/healthz"
            )
            assert status == 200 and json.loads(body)["ok"] is True
            # A connection accepted before the drain, asked after it began (as a probe
            # that raced the SIGTERM would be).
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            drain = asyncio.ensure_future(server.drain())
            await wait_for(lambda: server.draining)
            status, body = await http_get_on(reader, writer, "/healthz")
            assert status == 503
            assert json.loads(body) == {"ok": False, "sessions": 1, "draining": True}
            # New probes cannot even connect: the listener is closed.
            with pytest.raises(OSError):
                await asyncio.open_connection("127.0.0.1", port)
            release.set()
            await asyncio.wait_for(drain, 15)
    finally:
        release.set()
        if drain is not None and not drain.done():
            drain.cancel()
        await server.close()
