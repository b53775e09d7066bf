"""A counting TCP proxy in front of PostgreSQL: round trips and statements, per client.

fiscus connects to the proxy instead of the server (with `sslmode=disable`, so the wire is
readable). The proxy passes every byte through unchanged and counts, per connection and
per `application_name` from the startup message:

* round trips: how often the client starts sending after the server has answered, which is
  one network wait for the client however many messages it packs into the send;
* statements: `Execute` messages of the extended protocol plus the statements inside each
  simple `Query` (split on semicolons outside quotes: close enough for counting).

The counts are what the request path costs the database in waits and work, whatever the
library layers in between do.
"""

from __future__ import annotations

import asyncio
import contextlib
import struct
import threading
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field

from sqlalchemy.engine import make_url

SSL_REQUEST = 80877103
GSS_REQUEST = 80877104


def count_statements(sql: str) -> int:
    """Statements in a simple query: semicolons outside quotes and dollar quotes, plus one."""
    count, quote, i, n = 0, "", 0, len(sql)
    meaningful = False
    while i < n:
        ch = sql[i]
        if quote:
            if sql.startswith(quote, i):
                i += len(quote)
                quote = ""
                continue
        elif ch in ("'", '"'):
            quote = ch
            meaningful = True
        elif ch == "$":
            end = sql.find("$", i + 1)
            tag = sql[i : end + 1] if end > i else ""
            if tag and all(c.isalnum() or c == "_" for c in tag[1:-1]):
                quote = tag
                i += len(tag)
                meaningful = True
                continue
        elif ch == ";":
            if meaningful:
                count += 1
            meaningful = False
        elif not ch.isspace():
            meaningful = True
        i += 1
    return count + (1 if meaningful else 0)


@dataclass
class Tally:
    """Counts for one application name."""

    round_trips: int = 0
    statements: int = 0
    connections: int = 0


@dataclass
class CountingProxy:
    """Listen on 127.0.0.1:`port`, forward to `upstream_host`:`upstream_port`, count.

    An `upstream_host` that is a folder is a Unix-socket directory, as in libpq.
    """

    upstream_host: str
    upstream_port: int
    port: int = 0
    tallies: dict[str, Tally] = field(default_factory=dict)
    _server: asyncio.Server | None = None

    _loop: asyncio.AbstractEventLoop | None = None
    _thread: threading.Thread | None = None

    def start(self) -> int:
        """Start listening in a thread of its own (the bench's loop may block); the port."""
        ready = threading.Event()

        def serve() -> None:
            loop = asyncio.new_event_loop()
            self._loop = loop

            async def listen() -> None:
                self._server = await asyncio.start_server(self._serve, "127.0.0.1", self.port)
                self.port = int(self._server.sockets[0].getsockname()[1])
                ready.set()

            loop.run_until_complete(listen())
            loop.run_forever()

        self._thread = threading.Thread(target=serve, name="counting-proxy", daemon=True)
        self._thread.start()
        ready.wait(10)
        return self.port

    def stop(self) -> None:
        """Stop listening and end the proxy's thread."""
        loop = self._loop
        if loop is not None and self._server is not None:
            loop.call_soon_threadsafe(self._server.close)
            loop.call_soon_threadsafe(loop.stop)
        if self._thread is not None:
            self._thread.join(10)

    def reset(self) -> None:
        """Zero every count (connections already open keep being counted)."""
        for tally in self.tallies.values():
            tally.round_trips = tally.statements = 0

    def snapshot(self) -> dict[str, tuple[int, int]]:
        """(round trips, statements) per application name."""
        return {name: (t.round_trips, t.statements) for name, t in self.tallies.items()}

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self.upstream_host.startswith("/"):
            socket_path = f"{self.upstream_host}/.s.PGSQL.{self.upstream_port}"
            up_reader, up_writer = await asyncio.open_unix_connection(socket_path)
        else:
            up_reader, up_writer = await asyncio.open_connection(
                self.upstream_host, self.upstream_port
            )
        state = _Connection(self)
        pumps = [
            asyncio.create_task(self._pump(reader, up_writer, state.from_client)),
            asyncio.create_task(self._pump(up_reader, writer, state.from_server)),
        ]
        await asyncio.wait(pumps, return_when=asyncio.FIRST_COMPLETED)
        for pump in pumps:
            pump.cancel()
        for w in (writer, up_writer):
            with contextlib.suppress(Exception):
                w.close()

    @staticmethod
    async def _pump(
        source: asyncio.StreamReader, sink: asyncio.StreamWriter, observe: object
    ) -> None:
        while chunk := await source.read(65536):
            observe(chunk)  # type: ignore[operator]
            sink.write(chunk)
            await sink.drain()


class _Connection:
    """Protocol state of one client connection."""

    def __init__(self, proxy: CountingProxy) -> None:
        self.proxy = proxy
        self.buffer = b""
        self.started = False
        self.server_spoke_last = True
        self.name = "?"
        self.messages: Counter[str] = Counter()

    def tally(self) -> Tally:
        return self.proxy.tallies.setdefault(self.name, Tally())

    def from_server(self, chunk: bytes) -> None:
        self.server_spoke_last = True

    def from_client(self, chunk: bytes) -> None:
        if self.server_spoke_last and self.started:
            self.tally().round_trips += 1
        self.server_spoke_last = False
        self.buffer += chunk
        while True:
            if not self.started:
                if len(self.buffer) < 8:
                    return
                (length,) = struct.unpack("!I", self.buffer[:4])
                if len(self.buffer) < length:
                    return
                body, self.buffer = self.buffer[4:length], self.buffer[length:]
                (code,) = struct.unpack("!I", body[:4])
                if code in (SSL_REQUEST, GSS_REQUEST):
                    continue
                self._startup(body[4:])
                continue
            if len(self.buffer) < 5:
                return
            kind = chr(self.buffer[0])
            (length,) = struct.unpack("!I", self.buffer[1:5])
            if len(self.buffer) < 1 + length:
                return
            body, self.buffer = self.buffer[5 : 1 + length], self.buffer[1 + length :]
            if kind == "E":
                self.tally().statements += 1
            elif kind == "Q":
                self.tally().statements += count_statements(body.rstrip(b"\x00").decode())

    def _startup(self, params: bytes) -> None:
        parts = params.split(b"\x00")
        values = dict(zip(parts[0::2], parts[1::2], strict=False))
        self.name = values.get(b"application_name", b"?").decode() or "?"
        self.started = True
        self.tally().connections += 1


@contextlib.contextmanager
def proxied(url: str) -> Iterator[tuple[CountingProxy, str]]:
    """A counting proxy in front of the server of `url`, and the same URL through it.

    The server may be reached by TCP or by a Unix socket named in the query
    (`?host=/folder&port=N`, as the suite's fresh cluster is); the proxied URL is TCP.
    """
    upstream = make_url(url)
    query = dict(upstream.query)
    host = str(query.pop("host", None) or upstream.host or "127.0.0.1")
    upstream_port = int(str(query.pop("port", None) or upstream.port or 5432))
    proxy = CountingProxy(host, upstream_port)
    port = proxy.start()
    try:
        yield proxy, upstream.set(host="127.0.0.1", port=port, query=query).render_as_string(False)
    finally:
        proxy.stop()
