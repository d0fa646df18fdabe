"""Length-prefixed frames between the evaluator and its child processes.

A frame is a JSON header plus an optional raw byte payload (tensor data).
Nothing is ever unpickled: a child runs untrusted code, so whatever it sends
is parsed as JSON and raw bytes only.
"""
from __future__ import annotations

import json
import socket
import struct
import time

_HEAD = struct.Struct("!IQ")          # header length, payload length
MAX_HEADER = 1 << 20                  # 1 MiB of JSON is far more than any message needs


class ProtocolError(RuntimeError):
    """The peer sent something that is not a well-formed frame."""


class PeerClosed(ProtocolError):
    """The peer closed the connection (usually: the child exited or died)."""


def send(sock: socket.socket, header: dict, payload: bytes | memoryview = b"") -> None:
    data = json.dumps(header, separators=(",", ":")).encode()
    sock.sendall(_HEAD.pack(len(data), len(payload)) + data)
    if len(payload):
        sock.sendall(payload)


def _recv_exact(sock: socket.socket, n: int, deadline: float | None) -> bytearray:
    buf = bytearray(n)
    view = memoryview(buf)
    got = 0
    while got < n:
        if deadline is not None:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError("timed out waiting for the child")
            sock.settimeout(left)
        else:
            sock.settimeout(None)
        try:
            k = sock.recv_into(view[got:], min(n - got, 1 << 24))
        except socket.timeout as e:
            raise TimeoutError("timed out waiting for the child") from e
        if k == 0:
            raise PeerClosed("connection closed")
        got += k
    return buf


def recv_header(sock: socket.socket, deadline: float | None = None) -> tuple[dict, int]:
    """Read one frame's header; returns (header, payload length). The caller
    must then read or skip exactly that many payload bytes."""
    hlen, plen = _HEAD.unpack(bytes(_recv_exact(sock, _HEAD.size, deadline)))
    if hlen > MAX_HEADER:
        raise ProtocolError(f"frame header too large ({hlen} bytes)")
    try:
        header = json.loads(bytes(_recv_exact(sock, hlen, deadline)))
    except ValueError as e:
        raise ProtocolError("malformed frame header") from e
    if not isinstance(header, dict):
        raise ProtocolError("frame header is not an object")
    return header, plen


def recv_payload(sock: socket.socket, n: int, deadline: float | None = None) -> bytearray:
    return _recv_exact(sock, n, deadline) if n else bytearray()


def recv(sock: socket.socket, deadline: float | None = None, max_payload: int = 0) -> tuple[dict, bytearray]:
    header, plen = recv_header(sock, deadline)
    if plen > max_payload:
        raise ProtocolError(f"unexpected payload of {plen} bytes")
    return header, recv_payload(sock, plen, deadline)


def send_parts(sock: socket.socket, header: dict, parts: list) -> None:
    """Like send, with the payload given as a list of buffers (no concatenation copy)."""
    total = sum(len(p) for p in parts)
    data = json.dumps(header, separators=(",", ":")).encode()
    sock.sendall(_HEAD.pack(len(data), total) + data)
    for p in parts:
        if len(p):
            sock.sendall(p)
