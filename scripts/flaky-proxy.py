#!/usr/bin/env python3
"""A deliberately unreliable HTTP proxy for scripts/deploy-e2e: forwards requests to a real
S3 server, but answers every 5th request `503 Slow Down` and drops the connection without an
answer on every 7th (a network drop after the request was sent). Loopback only.

    scripts/flaky-proxy.py LISTEN_PORT UPSTREAM_PORT COUNTS_FILE

Headers go through unchanged (the Host header is part of the S3 signature). COUNTS_FILE gets
`requests=N slowdowns=N drops=N` after every request. Standard library only.
"""

import http.client
import socket
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

listen_port, upstream_port, counts_file = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
lock = threading.Lock()
counts = {"requests": 0, "slowdowns": 0, "drops": 0}
HOP = {"connection", "keep-alive", "transfer-encoding", "te", "trailer", "upgrade", "proxy-connection"}


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def forward(self):
        length = int(self.headers.get("content-length") or 0)
        body = self.rfile.read(length) if length else None
        with lock:
            counts["requests"] += 1
            n = counts["requests"]
            fault = "slowdowns" if n % 5 == 0 else "drops" if n % 7 == 0 else None
            if fault:
                counts[fault] += 1
            with open(counts_file, "w") as f:
                f.write(" ".join(f"{k}={v}" for k, v in counts.items()) + "\n")
        if fault == "drops":
            self.close_connection = True
            self.connection.shutdown(socket.SHUT_RDWR)
            return
        if fault == "slowdowns":
            msg = b'<?xml version="1.0"?><Error><Code>SlowDown</Code><Message>injected</Message></Error>'
            self.send_response(503)
            self.send_header("Content-Type", "application/xml")
            self.send_header("Content-Length", str(len(msg)))
            self.end_headers()
            self.wfile.write(msg)
            return
        up = http.client.HTTPConnection("127.0.0.1", upstream_port, timeout=60)
        headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP}
        up.request(self.command, self.path, body=body, headers=headers)
        r = up.getresponse()
        data = r.read()
        self.send_response(r.status, r.reason)
        for k, v in r.getheaders():
            if k.lower() not in HOP and (k.lower() != "content-length" or self.command == "HEAD"):
                self.send_header(k, v)
        if self.command != "HEAD":
            self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)
        up.close()

    do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = forward


ThreadingHTTPServer(("127.0.0.1", listen_port), Handler).serve_forever()
