"""An HTTP proxy in front of the real Argilla that injects faults into chosen requests: a 503 answer (the request never
reaches Argilla), or a dropped connection after Argilla has done the request (the write happened, the answer is
lost). Argilla itself is the real server; only the network between it and the client misbehaves."""

from __future__ import annotations

import re
import threading
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx

HOP = {"connection", "keep-alive", "transfer-encoding", "content-length", "content-encoding", "host"}


class FaultyProxy:
    """`faults`: (method, path regex) -> the actions for the matching requests in turn ("503", "drop" or "pass");
    once a list is used up, requests pass. `seen` counts the matching requests, `injected` the faults sent."""

    def __init__(self, upstream: str, faults: dict[tuple[str, str], list[str]]):
        self.upstream = httpx.Client(base_url=upstream, timeout=120)
        self.faults = {(m, re.compile(p)): list(actions) for (m, p), actions in faults.items()}
        self.seen: Counter[str] = Counter()
        self.injected: Counter[str] = Counter()
        self.lock = threading.Lock()
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def _any(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                action = proxy._action(self.command, self.path)
                if action == "503":
                    payload = b'{"detail": "injected 503"}'
                    self.send_response(503)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(payload)))
                    self.end_headers()
                    self.wfile.write(payload)
                    return
                headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP}
                response = proxy.upstream.request(self.command, self.path, content=body, headers=headers)
                if action == "drop":  # Argilla did it; the client never hears
                    self.close_connection = True
                    self.connection.shutdown(2)
                    return
                self.send_response(response.status_code)
                for k, v in response.headers.items():
                    if k.lower() not in HOP:
                        self.send_header(k, v)
                self.send_header("Content-Length", str(len(response.content)))
                self.end_headers()
                self.wfile.write(response.content)

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _any

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def _action(self, method: str, path: str) -> str:
        with self.lock:
            for (m, pattern), actions in self.faults.items():
                if m == method and pattern.search(path.split("?")[0]):
                    self.seen[f"{m} {pattern.pattern}"] += 1
                    if actions:
                        action = actions.pop(0)
                        if action != "pass":
                            self.injected[action] += 1
                        return action
            return "pass"

    def __enter__(self) -> FaultyProxy:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.upstream.close()
