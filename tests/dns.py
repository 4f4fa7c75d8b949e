"""A tiny authoritative DNS server on UDP for tests: the A records of some names, as a
Kubernetes headless Service's name resolves to its ready pods. gRPC's resolver asks it
when a target names it: `dns://127.0.0.1:<port>/<name>:<grpc port>`."""

from __future__ import annotations

import socket
import struct
import threading
from types import TracebackType

A, IN = 1, 1


class Resolver:
    """Answers each name with its IPv4 addresses (TTL 1 s); other names do not exist."""

    def __init__(self, records: dict[str, list[str]]) -> None:
        self.records = {name.lower().rstrip("."): addresses for name, addresses in records.items()}
        self.queries = 0
        self._socket = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self._socket.bind(("127.0.0.1", 0))
        self.port = int(self._socket.getsockname()[1])
        self._thread = threading.Thread(target=self._serve, daemon=True)

    def target(self, name: str, port: int) -> str:
        """The gRPC target for name that resolves through this server."""
        return f"dns://127.0.0.1:{self.port}/{name}:{port}"

    def __enter__(self) -> Resolver:
        self._thread.start()
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None, tb: TracebackType | None) -> None:
        self._socket.close()

    def _serve(self) -> None:
        while True:
            try:
                query, peer = self._socket.recvfrom(512)
            except OSError:
                return
            answer = self.answer(query)
            if answer:
                self._socket.sendto(answer, peer)

    def answer(self, query: bytes) -> bytes:
        """The response to one query ('' for a packet that is not one)."""
        if len(query) < 17:
            return b""
        ident, _flags, questions = struct.unpack("!HHH", query[:6])
        labels, at = [], 12
        while at < len(query) and query[at]:
            labels.append(query[at + 1 : at + 1 + query[at]].decode(errors="replace"))
            at += 1 + query[at]
        end = at + 5
        if questions != 1 or end > len(query):
            return b""
        kind, _klass = struct.unpack("!HH", query[at + 1 : end])
        self.queries += 1
        addresses = self.records.get(".".join(labels).lower())
        known = addresses is not None
        records = [socket.inet_aton(a) for a in addresses or []] if kind == A else []
        header = struct.pack("!HHHHHH", ident, 0x8400 | (0 if known else 3), 1, len(records), 0, 0)
        body = b"".join(struct.pack("!HHHIH", 0xC00C, A, IN, 1, 4) + ip for ip in records)
        return header + query[12:end] + body
