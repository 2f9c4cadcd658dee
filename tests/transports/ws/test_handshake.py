"""The opening handshake without sockets (ws/handshake.py): RFC 6455's accept-key
example, the server's checks of a request and its 101, and the client's request and its
checks of the server's answer (accept key, subprotocol, refusals typed by status)."""

from __future__ import annotations

import base64

import pytest

from wavewire.errors import AuthError, ConnectError, RateLimitError, ServiceError
from wavewire.transports.http import parse_request
from wavewire.transports.ws.handshake import (
    accept_key,
    accept_response,
    check_response,
    client_request,
    find_head_end,
    parse_response,
    upgrade_error,
)

KEY = base64.b64encode(b"0123456789abcdef").decode()


def test_accept_key_is_the_rfc_6455_section_1_3_example() -> None:
    assert accept_key("dGhlIHNhbXBsZSBub25jZQ==") == "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="


def test_find_head_end_takes_crlf_or_bare_lf_and_waits_for_the_empty_line() -> None:
    assert find_head_end(b"GET / HTTP/1.1\r\nHost: x\r\n") is None
    assert find_head_end(b"GET / HTTP/1.1\r\n\r\nrest") == (14, 18)
    assert find_head_end(b"GET / HTTP/1.1\n\nrest") == (14, 16)


def _request(extra: str = "", *, version: str = "13", key: str = KEY,
             method: str = "GET") -> bytes:
    return (f"{method} /ws HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: {version}{extra}").encode()


@pytest.mark.parametrize(
    ("head", "status"),
    [
        (_request(method="POST"), 405),
        (b"GET / HTTP/1.1\r\nHost: x", 426),
        (_request(version="8"), 426),
        (_request(key="short"), 400),
        (_request(f"\r\nSec-WebSocket-Key: {KEY}"), 400),
    ],
    ids=["post", "plain-get", "old-version", "bad-key", "two-keys"],
)
def test_upgrade_error_refuses_what_is_not_a_valid_upgrade(head: bytes, status: int) -> None:
    response = upgrade_error(parse_request(head))
    assert response is not None and response.status_code == status


def test_a_server_101_passes_the_client_checks_and_names_the_subprotocol() -> None:
    request, key = client_request("example.com:8765", "/ws?x=1", subprotocols=["a", "b"],
                                  headers=[("X-Extra", "1")])
    parsed = parse_request(request[:find_head_end(request)[0]])  # type: ignore[index]
    assert upgrade_error(parsed) is None
    assert parsed.path == "/ws?x=1" and parsed.headers["Host"] == "example.com:8765"
    assert parsed.headers["Sec-WebSocket-Protocol"] == "a, b"
    assert parsed.headers["X-Extra"] == "1"
    assert len(base64.b64decode(key)) == 16
    assert client_request("h")[1] != key  # a fresh random key each time

    answer = accept_response(parsed.headers["Sec-WebSocket-Key"], "b", [("X-Server", "w")])
    assert answer.startswith(b"HTTP/1.1 101 ") and answer.endswith(b"\r\n\r\n")
    response = parse_response(answer[:find_head_end(answer)[0]])  # type: ignore[index]
    assert response.headers["X-Server"] == "w"
    assert check_response(response, key, ["a", "b"]) == "b"
    without = parse_response(accept_response(key)[:-4])
    assert check_response(without, key, ["a"]) is None


@pytest.mark.parametrize(
    "head",
    [
        f"HTTP/1.1 101 OK\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        f"Sec-WebSocket-Accept: {accept_key('b' * 22 + '==')}",
        f"HTTP/1.1 101 OK\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: {accept_key(KEY)}",
        f"HTTP/1.1 101 OK\r\nUpgrade: websocket\r\nSec-WebSocket-Accept: {accept_key(KEY)}",
        f"HTTP/1.1 101 OK\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        f"Sec-WebSocket-Accept: {accept_key(KEY)}\r\nSec-WebSocket-Protocol: c",
        f"HTTP/1.1 101 OK\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        f"Sec-WebSocket-Accept: {accept_key(KEY)}\r\nSec-WebSocket-Extensions: x",
    ],
    ids=["wrong-accept", "no-upgrade", "no-connection", "unoffered-subprotocol",
         "extension"],
)
def test_a_bad_101_is_a_connect_error_not_worth_retrying(head: str) -> None:
    with pytest.raises(ConnectError) as info:
        check_response(parse_response(head.encode()), KEY, ["a"])
    assert not info.value.retryable


def test_refusals_are_typed_by_status() -> None:
    def refused(status: int, extra: str = "") -> Exception:
        with pytest.raises(ServiceError) as info:
            check_response(parse_response(f"HTTP/1.1 {status} No\r\n{extra}".encode()
                                          .rstrip(b"\r\n")), KEY, where="fake")
        return info.value

    assert isinstance(refused(401), AuthError)
    assert isinstance(refused(403), AuthError)
    limited = refused(429, "Retry-After: 7")
    assert isinstance(limited, RateLimitError) and limited.retry_after == 7.0
    other = refused(503)
    assert type(other) is ConnectError and other.retryable and "fake" in str(other)


@pytest.mark.parametrize("head", [b"HTTP/1.0 101 OK", b"garbage", b"HTTP/1.1 1x1 OK",
                                  b"HTTP/1.1 101 OK\r\nno colon"])
def test_a_response_that_is_not_http_1_1_is_a_connect_error(head: bytes) -> None:
    with pytest.raises(ConnectError):
        parse_response(head)


def test_a_request_path_or_header_with_a_newline_is_refused() -> None:
    with pytest.raises(ValueError):
        client_request("h", "/a\r\nX: y")
    with pytest.raises(ValueError):
        client_request("h", "/", headers=[("X", "a\r\nY: b")])
