#!/usr/bin/env python3
"""A fault-injecting HTTP/1.1 proxy for tests/test_http.cpp.

Forwards each GET (with its Range header) to --upstream and answers the client with the
upstream's response, except that requests number SKIP .. SKIP+COUNT-1 (counted from 0, all
requests) get the fault --fault instead. COUNT -1 means every request from SKIP on.
Listens on 127.0.0.1 on a free port and prints that port on the first line of stdout.

Faults:
  drop         headers with the full Content-Length, half the body, then the connection closes
  status500    500 Internal Server Error
  status429    429 with Retry-After: --retry-after seconds
  stall        headers and half the body, then nothing for --stall seconds
  wrong-range  the right body under a Content-Range shifted by one byte
  truncate     Content-Length and body cut to half, Content-Range unchanged
  truncate-close  half the body without a Content-Length, ended by closing the connection
  extra        16 bytes more than the range, Content-Length counting them
  extra-close  16 bytes more than the range without a Content-Length, then the close
  ok200        200 with the whole object, as a server ignoring Range does
  size         Content-Range total 4096 bytes more than the object
  gate         no fault: waits until --gate requests are in flight at once, then answers
               (shows that the client's requests run concurrently; --stall seconds at most)
"""
import argparse
import http.client
import http.server
import socket
import sys
import threading
import time
import urllib.parse


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--upstream", required=True)
    ap.add_argument("--fault", default="none")
    ap.add_argument("--skip", type=int, default=0)
    ap.add_argument("--count", type=int, default=-1)
    ap.add_argument("--retry-after", default="1")
    ap.add_argument("--stall", type=float, default=30.0)
    ap.add_argument("--gate", type=int, default=2)
    args = ap.parse_args()
    up = urllib.parse.urlsplit(args.upstream)
    lock = threading.Lock()
    state = {"n": 0}
    barrier = threading.Barrier(args.gate) if args.fault == "gate" else None

    def faulty():
        with lock:
            i = state["n"]
            state["n"] += 1
        return i >= args.skip and (args.count < 0 or i < args.skip + args.count)

    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *a):
            pass

        def upstream(self, with_range=True):
            c = http.client.HTTPConnection(up.hostname, up.port, timeout=30)
            headers = {}
            if with_range and self.headers.get("Range"):
                headers["Range"] = self.headers["Range"]
            c.request("GET", self.path, headers=headers)
            r = c.getresponse()
            body = r.read()
            hdrs = [(k, v) for k, v in r.getheaders()
                    if k.lower() not in ("connection", "keep-alive", "transfer-encoding",
                                         "content-length", "server", "date")]
            c.close()
            return r.status, r.reason, hdrs, body

        def answer(self, status, reason, hdrs, body, close_delimited=False):
            self.send_response_only(status, reason)
            for k, v in hdrs:
                self.send_header(k, v)
            if close_delimited:
                self.send_header("Connection", "close")
                self.close_connection = True
            else:
                self.send_header("Content-Length", str(len(body)))
            self.end_headers()

        def simple(self, status, extra=()):
            body = b"injected fault\n"
            self.answer(status, None, list(extra), body)
            self.wfile.write(body)

        def do_GET(self):
            fault = args.fault if faulty() else "none"
            if fault == "status500":
                return self.simple(500)
            if fault == "status429":
                return self.simple(429, [("Retry-After", args.retry_after)])
            if fault == "gate":
                try:
                    barrier.wait(timeout=args.stall)
                except threading.BrokenBarrierError:
                    return self.simple(503)
            if fault == "ok200":
                status, reason, hdrs, body = self.upstream(with_range=False)
                hdrs = [(k, v) for k, v in hdrs if k.lower() != "content-range"]
                self.answer(200, "OK", hdrs, body)
                self.wfile.write(body)
                return
            status, reason, hdrs, body = self.upstream()
            half = len(body) // 2
            if fault == "drop":
                self.answer(status, reason, hdrs, body)
                self.wfile.write(body[:half])
                self.wfile.flush()
                self.connection.shutdown(socket.SHUT_RDWR)
                self.close_connection = True
                return
            if fault == "stall":
                self.answer(status, reason, hdrs, body)
                self.wfile.write(body[:half])
                self.wfile.flush()
                time.sleep(args.stall)
                self.close_connection = True
                return
            if fault in ("wrong-range", "size"):
                fixed = []
                for k, v in hdrs:
                    if k.lower() == "content-range":
                        unit, spec = v.split(" ", 1)
                        rng, total = spec.split("/")
                        a, b = (int(x) for x in rng.split("-"))
                        if fault == "wrong-range":
                            a, b = a + 1, b + 1
                        else:
                            total = str(int(total) + 4096)
                        v = "%s %d-%d/%s" % (unit, a, b, total)
                    fixed.append((k, v))
                hdrs = fixed
            if fault in ("truncate", "truncate-close"):
                body = body[:half]
            if fault in ("extra", "extra-close"):
                body = body + b"X" * 16
            self.answer(status, reason, hdrs, body, close_delimited=fault.endswith("-close"))
            self.wfile.write(body)

    class Server(http.server.ThreadingHTTPServer):
        daemon_threads = True

        def handle_error(self, request, client_address):
            pass  # clients hang up on faults by design: no tracebacks

    server = Server(("127.0.0.1", 0), Handler)
    sys.stdout.write("%d\n" % server.server_address[1])
    sys.stdout.flush()
    server.serve_forever()


if __name__ == "__main__":
    main()
