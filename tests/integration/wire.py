"""A recording TCP forwarder on loopback: "the wire" a sender row points at.

A ``Wire`` listens on ``host:port`` and forwards every connection, byte for
byte, to ``target``; it counts the connections it accepted and keeps every
byte the client sent. A test points a sender at a wire to prove that nothing
(not even a TCP connection) went where a row points, and binds one on another
loopback address (127.0.0.2) to put a second server behind a host name that
differs from the first in nothing but the host.
"""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager

import attrs

from pwrecovery.testing.smtp import free_port


@attrs.define(eq=False)
class Wire:
    host: str
    port: int
    target: tuple[str, int]
    connections: int = 0
    sent: bytearray = attrs.Factory(bytearray)  # every byte a client sent through the wire
    _lock: threading.Lock = attrs.Factory(threading.Lock)

    def reset(self) -> None:
        with self._lock:
            self.connections = 0
            self.sent.clear()

    def _record(self, data: bytes) -> None:
        with self._lock:
            self.sent.extend(data)

    def _accepted(self) -> None:
        with self._lock:
            self.connections += 1


def _pump(source: socket.socket, sink: socket.socket, record: Wire | None) -> None:
    with contextlib.suppress(OSError):
        while data := source.recv(65536):
            if record is not None:
                record._record(data)
            sink.sendall(data)
    with contextlib.suppress(OSError):
        sink.shutdown(socket.SHUT_WR)


def _serve(wire: Wire, listener: socket.socket, stop: threading.Event) -> None:
    pairs: list[tuple[socket.socket, socket.socket]] = []
    threads: list[threading.Thread] = []
    listener.settimeout(0.05)
    while not stop.is_set():
        try:
            client, _ = listener.accept()
        except TimeoutError:
            continue
        except OSError:
            break
        wire._accepted()
        try:
            upstream = socket.create_connection(wire.target, timeout=5)
        except OSError:
            client.close()
            continue
        pairs.append((client, upstream))
        for args in ((client, upstream, wire), (upstream, client, None)):
            thread = threading.Thread(target=_pump, args=args, daemon=True)
            thread.start()
            threads.append(thread)
    for client, upstream in pairs:
        client.close()
        upstream.close()
    for thread in threads:
        thread.join(timeout=5)


@contextmanager
def running_wire(
    target: tuple[str, int], *, host: str = "127.0.0.1", port: int | None = None
) -> Iterator[Wire]:
    """Listen on ``host:port`` (a free port by default) and forward to ``target``."""
    listener = socket.socket()
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind((host, port if port is not None else free_port()))
    listener.listen(16)
    wire = Wire(host, int(listener.getsockname()[1]), target)
    stop = threading.Event()
    thread = threading.Thread(target=_serve, args=(wire, listener, stop), daemon=True)
    thread.start()
    try:
        yield wire
    finally:
        stop.set()
        thread.join(timeout=10)
        listener.close()
