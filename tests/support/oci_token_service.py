#!/usr/bin/python3
"""A token service for the OCI registry tests (distribution's token auth spec), on 127.0.0.1.

GET /token?service=S&scope=repository:NAME:ACTIONS[&scope=...] with Basic credentials USER:PASS
answers {"token": JWT, "access_token": JWT, "expires_in": 3600}: an RS256 JWT signed with
--key, whose header carries the certificate (--cert) as x5c so the registry can check it
against its rootcertbundle. Wrong or missing credentials get 401. Prints the port, then serves.
Needs python3-jwt and python3-cryptography (Debian).
"""
import argparse, base64, http.server, json, os, socketserver, sys, time, urllib.parse

import jwt
from cryptography import x509
from cryptography.hazmat.primitives import serialization

ap = argparse.ArgumentParser()
ap.add_argument("--key", required=True)
ap.add_argument("--cert", required=True)
ap.add_argument("--issuer", required=True)
ap.add_argument("--user", required=True)
ap.add_argument("--password", required=True)
args = ap.parse_args()

with open(args.key, "rb") as f:
    KEY = serialization.load_pem_private_key(f.read(), password=None)
with open(args.cert, "rb") as f:
    CERT = x509.load_pem_x509_certificate(f.read())
X5C = [base64.b64encode(CERT.public_bytes(serialization.Encoding.DER)).decode()]


class Handler(http.server.BaseHTTPRequestHandler):
    def log_message(self, *a):
        pass

    def answer(self, code, body):
        data = json.dumps(body).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        url = urllib.parse.urlparse(self.path)
        if url.path != "/token":
            return self.answer(404, {"error": "not found"})
        want = "Basic " + base64.b64encode(f"{args.user}:{args.password}".encode()).decode()
        if self.headers.get("Authorization") != want:
            return self.answer(401, {"error": "bad credentials"})
        q = urllib.parse.parse_qs(url.query)
        access = []
        for scope in q.get("scope", []):
            for one in scope.split(" "):
                parts = one.split(":")
                if len(parts) == 3 and parts[0] == "repository":
                    access.append({"type": "repository", "name": parts[1],
                                   "actions": parts[2].split(",")})
        now = int(time.time())
        claims = {"iss": args.issuer, "sub": args.user, "aud": q.get("service", [""])[0],
                  "iat": now, "nbf": now - 10, "exp": now + 3600,
                  "jti": base64.b16encode(os.urandom(8)).decode(), "access": access}
        token = jwt.encode(claims, KEY, algorithm="RS256", headers={"x5c": X5C})
        self.answer(200, {"token": token, "access_token": token, "expires_in": 3600})


class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True


srv = Server(("127.0.0.1", 0), Handler)
print(srv.server_address[1], flush=True)
srv.serve_forever()
