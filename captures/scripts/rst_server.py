#!/usr/bin/env python3
"""One-shot TCP server that resets the connection right after the ClientHello.

Usage: rst_server.py PORT

Accepts one connection on 127.0.0.1:PORT, reads one complete TLS record (5-byte header +
length), then closes with SO_LINGER {on, 0 s} so the kernel sends a RST instead of a FIN.
Nothing is ever written to the client. This mimics an SNI-filtering middlebox, but the RST
comes from the real server endpoint.
"""
import socket
import struct
import sys


def main():
    port = int(sys.argv[1])
    ls = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind(("127.0.0.1", port))
    ls.listen(1)
    conn, _ = ls.accept()
    ls.close()
    buf = b""
    while len(buf) < 5 or len(buf) < 5 + int.from_bytes(buf[3:5], "big"):
        chunk = conn.recv(65536)
        if not chunk:
            break
        buf += chunk
    conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    conn.close()


if __name__ == "__main__":
    main()
