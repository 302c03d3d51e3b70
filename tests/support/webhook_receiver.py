#!/usr/bin/env python3
"""A webhook receiver for the tests that verifies every delivery with independent Standard
Webhooks implementations: the official `standardwebhooks` Python library for HMAC (v1) and
`cryptography` for Ed25519 (v1a). Usage: webhook_receiver.py HMAC_SECRET ED25519_PUBLIC_KEY.
Prints its port on the first line; GET /_log returns what it received."""

import base64
import json
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from standardwebhooks.webhooks import Webhook

HMAC_SECRET = sys.argv[1]
ED_PUBLIC = Ed25519PublicKey.from_public_bytes(base64.b64decode(sys.argv[2].removeprefix("whpk_")))
LOG = []
LOCK = threading.Lock()


def verify_ed25519(headers, body):
    msg_id = headers["webhook-id"]
    ts = headers["webhook-timestamp"]
    signed = f"{msg_id}.{ts}.{body.decode()}".encode()
    for sig in headers["webhook-signature"].split(" "):
        version, _, value = sig.partition(",")
        if version != "v1a":
            continue
        try:
            ED_PUBLIC.verify(base64.b64decode(value), signed)
            return True
        except Exception:
            pass
    return False


class Handler(BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def do_GET(self):
        with LOCK:
            data = json.dumps(LOG).encode()
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("content-length", "0")))
        headers = {k.lower(): v for k, v in self.headers.items()}
        if self.path.startswith("/hmac"):
            try:
                Webhook(HMAC_SECRET).verify(body, headers)
                verified = True
            except Exception:
                verified = False
        else:
            verified = verify_ed25519(headers, body)
        event = json.loads(body or b"{}")
        with LOCK:
            LOG.append({"path": self.path, "id": headers.get("webhook-id"), "verified": verified,
                        "type": event.get("type"), "data": event.get("data")})
        self.send_response(204 if verified else 400)
        self.end_headers()


server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
print(server.server_address[1], flush=True)
server.serve_forever()
