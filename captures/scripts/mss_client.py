#!/usr/bin/env python3
"""TLS 1.2 client with a small advertised MSS, so the server's flight spans many segments.

Usage: mss_client.py PORT SNI CAFILE MSS CIPHER

Sets TCP_MAXSEG=MSS before connect (the SYN advertises it, so the server sends segments of at
most MSS payload bytes), does a verified TLS 1.2 handshake with SNI, sends
"GET / HTTP/1.0\\r\\n\\r\\n", reads until the server closes, and closes.
"""
import socket
import ssl
import sys


def main():
    port = int(sys.argv[1])
    sni, cafile = sys.argv[2], sys.argv[3]
    mss = int(sys.argv[4])
    cipher = sys.argv[5]
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.load_verify_locations(cafile)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.maximum_version = ssl.TLSVersion.TLSv1_2
    ctx.set_ciphers(cipher)
    raw = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    raw.setsockopt(socket.IPPROTO_TCP, socket.TCP_MAXSEG, mss)
    raw.connect(("127.0.0.1", port))
    with ctx.wrap_socket(raw, server_hostname=sni) as tls:
        tls.sendall(b"GET / HTTP/1.0\r\n\r\n")
        total = 0
        while True:
            try:
                data = tls.recv(65536)
            except (ssl.SSLZeroReturnError, ssl.SSLEOFError):
                break
            if not data:
                break
            total += len(data)
        print(f"received {total} bytes, cipher {tls.cipher()}, version {tls.version()}")


if __name__ == "__main__":
    main()
