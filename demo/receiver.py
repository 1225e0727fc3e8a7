#!/usr/bin/env python3
"""The demo's stand-in for foresight_webhook: an Alertmanager webhook receiver that checks the
bearer token and appends every notification, one JSON object per line, to a file.

usage: demo/receiver.py PORT TOKEN_FILE OUTPUT_FILE

Answers 401 to a wrong token, 400 to a body that is not JSON, 200 otherwise; GET /metrics
answers an empty exposition so Prometheus's foresight_webhook scrape job finds it up.
"""

import hmac
import json
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def main():
    port, token_file, out_path = int(sys.argv[1]), sys.argv[2], sys.argv[3]
    with open(token_file, encoding="utf-8") as f:
        expected = "Bearer " + f.read().strip()

    class Handler(BaseHTTPRequestHandler):
        def reply(self, code, text):
            body = text.encode()
            self.send_response(code)
            self.send_header("Content-Type", "text/plain; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def authorized(self):
            return hmac.compare_digest(self.headers.get("Authorization", ""), expected)

        def do_GET(self):
            if self.path != "/metrics":
                return self.reply(404, "not found\n")
            if not self.authorized():
                return self.reply(401, "unauthorized\n")
            return self.reply(200, "")

        def do_POST(self):
            if self.path != "/api/v1/notifications":
                return self.reply(404, "not found\n")
            if not self.authorized():
                return self.reply(401, "unauthorized\n")
            raw = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            try:
                notification = json.loads(raw)
            except ValueError:
                return self.reply(400, "the body is not JSON\n")
            with open(out_path, "a", encoding="utf-8") as out:
                out.write(json.dumps(notification, sort_keys=True) + "\n")
            return self.reply(200, "ok\n")

        def log_message(self, fmt, *args):
            sys.stderr.write("receiver: " + (fmt % args) + "\n")

    ThreadingHTTPServer(("127.0.0.1", port), Handler).serve_forever()


if __name__ == "__main__":
    main()
