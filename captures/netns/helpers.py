#!/usr/bin/env python3
"""One-shot TCP/TLS helpers for make.sh (python3 stdlib only).

  helpers.py abort-server ADDR PORT   accept one connection, read one TLS record (the
                                      ClientHello), close with SO_LINGER {1,0} -> kernel RST
  helpers.py fin-server ADDR PORT     accept one, read the ClientHello, plain close() -> FIN
  helpers.py abort-client ADDR PORT SNI WAIT_MS
                                      connect, send a real ClientHello (ssl.MemoryBIO), wait
                                      WAIT_MS, close with SO_LINGER {1,0} -> RST from the client
Each prints one JSON line of facts on stdout.
"""
import json, socket, ssl, struct, sys, time


def listen(addr, port):
    fam = socket.AF_INET6 if ":" in addr else socket.AF_INET
    s = socket.socket(fam, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((addr, port))
    s.listen(1)
    print(json.dumps({"listening": [addr, port]}), flush=True)
    return s


def read_record(c):
    buf = b""
    while len(buf) < 5:
        b = c.recv(5 - len(buf))
        if not b:
            return buf
        buf += b
    need = 5 + struct.unpack("!H", buf[3:5])[0]
    while len(buf) < need:
        b = c.recv(need - len(buf))
        if not b:
            break
        buf += b
    return buf


def server(addr, port, abort):
    s = listen(addr, port)
    c, peer = s.accept()
    rec = read_record(c)
    if abort:
        c.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    c.close()
    s.close()
    print(json.dumps({"peer": list(peer[:2]), "record_bytes": len(rec),
                      "close": "SO_LINGER{1,0}" if abort else "close()"}), flush=True)


def abort_client(addr, port, sni, wait_ms):
    fam = socket.AF_INET6 if ":" in addr else socket.AF_INET
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    inc, out = ssl.MemoryBIO(), ssl.MemoryBIO()
    obj = ctx.wrap_bio(inc, out, server_hostname=sni)
    try:
        obj.do_handshake()
    except ssl.SSLWantReadError:
        pass
    hello = out.read()
    s = socket.socket(fam, socket.SOCK_STREAM)
    s.connect((addr, port))
    s.sendall(hello)
    time.sleep(wait_ms / 1000.0)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    local = s.getsockname()
    s.close()
    print(json.dumps({"client_hello_bytes": len(hello), "local": list(local[:2]),
                      "wait_ms": wait_ms, "close": "SO_LINGER{1,0}"}), flush=True)


if __name__ == "__main__":
    cmd = sys.argv[1]
    if cmd == "abort-server":
        server(sys.argv[2], int(sys.argv[3]), True)
    elif cmd == "fin-server":
        server(sys.argv[2], int(sys.argv[3]), False)
    elif cmd == "abort-client":
        abort_client(sys.argv[2], int(sys.argv[3]), sys.argv[4], float(sys.argv[5]))
    else:
        sys.exit("unknown command " + cmd)
