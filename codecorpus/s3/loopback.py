"""A real S3 server on loopback (moto's ThreadedMotoServer) and a fault-injecting HTTP proxy in front
of it, for tests and benchmarks: throttling, 500s, connection resets, slow responses, short bodies,
fixed latency, and per-key faults that never heal (denied, always 500, always slow).

Transient faults are chosen by a hash of (seed, path, attempt number of that path), so a run injects
the same faults into the same requests whatever the thread timing.
"""
from __future__ import annotations

import hashlib
import http.client
import socket
import struct
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

SLOW_DOWN = (b'<?xml version="1.0" encoding="UTF-8"?><Error><Code>SlowDown</Code>'
             b'<Message>Please reduce your request rate.</Message></Error>')
INTERNAL = b'<?xml version="1.0" encoding="UTF-8"?><Error><Code>InternalError</Code><Message>x</Message></Error>'
DENIED = b'<?xml version="1.0" encoding="UTF-8"?><Error><Code>AccessDenied</Code><Message>Access Denied</Message></Error>'
REDIRECT = (b'<?xml version="1.0" encoding="UTF-8"?><Error><Code>PermanentRedirect</Code>'
            b'<Message>The bucket you are attempting to access must be addressed using the specified endpoint.'
            b'</Message></Error>')


@dataclass
class Faults:
    """Shares of requests (to GETs of objects) that get each transient fault, plus permanent faults."""
    throttle: float = 0.0        # 503 SlowDown
    error_500: float = 0.0       # 500 InternalError
    reset: float = 0.0           # connection reset before any response
    short_body: float = 0.0      # full Content-Length, half the body, then the connection closes
    slow: float = 0.0            # the response waits slow_seconds
    slow_seconds: float = 0.3
    hang_seconds: float = 5.0    # the permanent "hang" fault: longer than any sane read timeout
    latency: float = 0.0         # seconds added to every request
    seed: int = 0
    # Path prefix -> denied|error_500|hang|redirect, for every request of any method under it.
    always: dict[str, str] = field(default_factory=dict)

    def permanent(self, path: str) -> str | None:
        return next((fault for prefix, fault in self.always.items() if path.startswith(prefix)), None)

    def pick(self, path: str, attempt: int) -> str | None:
        u = int.from_bytes(hashlib.sha1(f"{self.seed}|{path}|{attempt}".encode()).digest()[:8], "big") / 2 ** 64
        for name in ("throttle", "error_500", "reset", "short_body", "slow"):
            share = getattr(self, name)
            if u < share:
                return name
            u -= share
        return None


class FaultProxy:
    """HTTP proxy on 127.0.0.1 to ``upstream`` (host, port) injecting ``faults`` into object GETs."""

    def __init__(self, upstream: tuple[str, int], faults: Faults | None = None):
        self.upstream, self.faults = upstream, faults or Faults()
        self.requests: Counter[str] = Counter()      # GETs per path, faulty ones included
        self.injected: Counter[str] = Counter()      # faults injected, by name
        self._lock = threading.Lock()
        self._local = threading.local()
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):   # quiet
                pass

            def do_GET(self):
                proxy._handle(self)
            do_PUT = do_POST = do_DELETE = do_HEAD = do_GET

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def start(self) -> "FaultProxy":
        self.thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def reset_counts(self) -> None:
        with self._lock:
            self.requests.clear()
            self.injected.clear()

    def _upstream(self) -> http.client.HTTPConnection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = self._local.conn = http.client.HTTPConnection(*self.upstream, timeout=30)
        return conn

    def _forward(self, handler, body: bytes):
        headers = {k: v for k, v in handler.headers.items() if k.lower() not in ("connection", "keep-alive")}
        for tried in range(2):
            conn = self._upstream()
            try:
                conn.request(handler.command, handler.path, body=body, headers=headers)
                response = conn.getresponse()
                return response.status, response.getheaders(), response.read()
            except (http.client.HTTPException, OSError):
                conn.close()
                self._local.conn = None
                if tried:
                    raise

    def _handle(self, handler) -> None:
        body = self._read_body(handler)
        fault = self.faults.permanent(handler.path)
        is_object_get = handler.command == "GET" and handler.path.count("/") >= 2 and "?" not in handler.path
        if is_object_get:
            with self._lock:
                self.requests[handler.path] += 1
                attempt = self.requests[handler.path]
            fault = fault or self.faults.pick(handler.path, attempt)
        if fault:
            with self._lock:
                self.injected[fault] += 1
        if self.faults.latency:
            time.sleep(self.faults.latency)
        if fault == "reset":
            handler.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            handler.close_connection = True
            handler.connection.close()
            return
        if fault in ("throttle", "error_500", "denied", "redirect"):
            status, payload = {"throttle": (503, SLOW_DOWN), "error_500": (500, INTERNAL),
                               "denied": (403, DENIED), "redirect": (301, REDIRECT)}[fault]
            extra = {"x-amz-bucket-region": "eu-west-3"} if fault == "redirect" else {}
            self._reply(handler, status, [("Content-Type", "application/xml"), *extra.items()], payload)
            return
        if fault in ("slow", "hang"):
            time.sleep(self.faults.slow_seconds if fault == "slow" else self.faults.hang_seconds)
        status, headers, payload = self._forward(handler, body)
        if fault == "short_body":
            self._reply(handler, status, headers, payload[: len(payload) // 2], declared=len(payload))
            handler.close_connection = True
            handler.connection.shutdown(socket.SHUT_RDWR)
            return
        self._reply(handler, status, headers, payload)

    @staticmethod
    def _read_body(handler) -> bytes:
        if "chunked" in (handler.headers.get("Transfer-Encoding") or "").lower():
            chunks = []
            while True:
                size = int(handler.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if not size:
                    while handler.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass     # trailers
                    break
                chunks.append(handler.rfile.read(size + 2)[:size])
            del handler.headers["Transfer-Encoding"]
            handler.headers["Content-Length"] = str(sum(map(len, chunks)))
            return b"".join(chunks)
        length = int(handler.headers.get("Content-Length") or 0)
        return handler.rfile.read(length) if length else b""

    @staticmethod
    def _reply(handler, status: int, headers, payload: bytes, declared: int | None = None) -> None:
        if handler.command == "HEAD":     # no body, but the length of the object it describes
            declared = next((int(v) for k, v in headers if k.lower() == "content-length"), 0)
        handler.send_response_only(status)
        for key, value in headers:
            if key.lower() not in ("content-length", "connection", "transfer-encoding", "keep-alive", "date", "server"):
                handler.send_header(key, value)
        handler.send_header("Content-Length", str(len(payload) if declared is None else declared))
        handler.end_headers()
        if handler.command != "HEAD":
            handler.wfile.write(payload)
        handler.wfile.flush()


class LoopbackS3:
    """moto's S3 server on 127.0.0.1 (a free port) with a `FaultProxy` in front: use ``endpoint``."""

    def __init__(self, faults: Faults | None = None):
        from moto.server import ThreadedMotoServer
        self.moto = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
        self.faults = faults or Faults()
        self.proxy: FaultProxy | None = None

    def __enter__(self) -> "LoopbackS3":
        self.moto.start()
        self.proxy = FaultProxy(self.moto.get_host_and_port(), self.faults).start()
        return self

    def __exit__(self, *exc) -> None:
        self.proxy.stop()
        self.moto.stop()

    @property
    def direct_endpoint(self) -> str:
        host, port = self.moto.get_host_and_port()
        return f"http://{host}:{port}"

    @property
    def endpoint(self) -> str:
        return self.proxy.endpoint


def main(argv: list[str] | None = None) -> None:
    """`python -m codecorpus.s3.loopback --upstream HOST:PORT [--latency S] [--throttle SHARE]`: run a
    proxy in its own process (benchmarks keep it off the measured process's GIL); prints its port."""
    import argparse
    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("--upstream", required=True)
    parser.add_argument("--latency", type=float, default=0.0)
    parser.add_argument("--throttle", type=float, default=0.0)
    args = parser.parse_args(argv)
    host, port = args.upstream.rsplit(":", 1)
    proxy = FaultProxy((host, int(port)), Faults(latency=args.latency, throttle=args.throttle)).start()
    print(proxy.server.server_address[1], flush=True)
    proxy.thread.join()


if __name__ == "__main__":
    main()
