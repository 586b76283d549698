#!/usr/bin/env python3
"""collector.py DIR PORTFILE: a minimal HTTP collector for the boot tests.
Stores every PUT or POST body under DIR (file name = last path segment),
answers 201; writes the port it listens on (127.0.0.1, chosen by the OS)
to PORTFILE.  QEMU's user network shows the host as 10.0.2.2 to the guest."""
import http.server
import os
import sys

root, portfile = sys.argv[1], sys.argv[2]


class H(http.server.BaseHTTPRequestHandler):
    def _store(self):
        n = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(n)
        name = os.path.basename(self.path.split("?")[0]) or "unnamed"
        with open(os.path.join(root, name), "wb") as f:
            f.write(body)
        self.send_response(201)
        self.send_header("Content-Length", "0")
        self.end_headers()

    do_PUT = _store
    do_POST = _store

    def log_message(self, fmt, *args):
        sys.stderr.write("collector: " + fmt % args + "\n")


s = http.server.HTTPServer(("127.0.0.1", 0), H)
with open(portfile + ".tmp", "w") as f:
    f.write(str(s.server_address[1]))
os.rename(portfile + ".tmp", portfile)
s.serve_forever()
