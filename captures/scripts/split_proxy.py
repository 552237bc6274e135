#!/usr/bin/env python3
"""One-shot TCP proxy on loopback that splits the client's first TLS record in two.

Usage: split_proxy.py LISTEN_PORT TARGET_PORT SPLIT_AT

Accepts one connection on 127.0.0.1:LISTEN_PORT, connects to 127.0.0.1:TARGET_PORT with
TCP_NODELAY, reads the client's first TLS record completely (5-byte header + length), writes
its first SPLIT_AT bytes, sleeps 50 ms, writes the rest, then relays both directions unchanged
until either side closes. Capture on TARGET_PORT to see the ClientHello in two TCP segments.
"""
import socket
import sys
import threading
import time


def read_record(sock):
    buf = b""
    while len(buf) < 5:
        chunk = sock.recv(65536)
        if not chunk:
            raise SystemExit("client closed before a TLS record")
        buf += chunk
    need = 5 + int.from_bytes(buf[3:5], "big")
    while len(buf) < need:
        chunk = sock.recv(65536)
        if not chunk:
            raise SystemExit("client closed inside the first TLS record")
        buf += chunk
    return buf


def pump(src, dst):
    try:
        while True:
            data = src.recv(65536)
            if not data:
                break
            dst.sendall(data)
    except OSError:
        pass
    try:
        dst.shutdown(socket.SHUT_WR)
    except OSError:
        pass


def main():
    listen_port, target_port, split_at = (int(a) for a in sys.argv[1:4])
    ls = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind(("127.0.0.1", listen_port))
    ls.listen(1)
    client, _ = ls.accept()
    ls.close()
    first = read_record(client)
    upstream = socket.create_connection(("127.0.0.1", target_port))
    upstream.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    upstream.sendall(first[:split_at])
    time.sleep(0.05)
    upstream.sendall(first[split_at:])
    t = threading.Thread(target=pump, args=(upstream, client))
    t.start()
    pump(client, upstream)
    t.join()
    client.close()
    upstream.close()


if __name__ == "__main__":
    main()
