#!/usr/bin/env python3
"""One-shot Python `ssl` client for captures/certs/make.sh.

Usage: client.py PORT SERVER_NAME CAFILE [MAX_VERSION]

Connects to 127.0.0.1:PORT with SNI SERVER_NAME, verifies the chain against CAFILE only
(no system roots) and the host name (check_hostname=True), sends `GET / HTTP/1.0` and reads
the answer. MAX_VERSION is `1.2` (default) or `1.3`. Prints `ok` or `rejected: <reason>` and
always exits 0: a rejection is an expected outcome here, not an error.

With SSLKEYLOGFILE set, the TLS secrets are appended there in the NSS key log format, as
`ssl.create_default_context()` does (`SSLContext.keylog_filename`, Python 3.8+); a bare
SSLContext does not read that variable itself.
"""
import os
import socket
import ssl
import sys

port, name, cafile = int(sys.argv[1]), sys.argv[2], sys.argv[3]
maxv = sys.argv[4] if len(sys.argv) > 4 else "1.2"
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
ctx.load_verify_locations(cafile=cafile)
ctx.check_hostname = True
ctx.verify_mode = ssl.CERT_REQUIRED
ctx.maximum_version = ssl.TLSVersion.TLSv1_2 if maxv == "1.2" else ssl.TLSVersion.TLSv1_3
ctx.minimum_version = ssl.TLSVersion.TLSv1_2
if os.environ.get("SSLKEYLOGFILE"):
    ctx.keylog_filename = os.environ["SSLKEYLOGFILE"]
with socket.create_connection(("127.0.0.1", port), timeout=5) as raw:
    try:
        with ctx.wrap_socket(raw, server_hostname=name) as s:
            print("ok", s.version(), flush=True)
            s.sendall(b"GET / HTTP/1.0\r\nHost: " + name.encode() + b"\r\n\r\n")
            try:
                while s.recv(4096):
                    pass
            except (ssl.SSLError, OSError):
                pass
    except ssl.SSLError as e:
        print("rejected:", e)
