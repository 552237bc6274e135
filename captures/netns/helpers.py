#!/usr/bin/env python3
"""One-shot TCP/TLS helpers for make.sh (python3 stdlib; raw-client also needs scapy).

  helpers.py abort-server ADDR PORT   accept one connection, read one TLS record (the
                                      ClientHello), close with SO_LINGER {1,0} -> kernel RST
  helpers.py fin-server ADDR PORT     accept one, read the ClientHello, plain close() -> FIN
  helpers.py abort-client ADDR PORT SNI WAIT_MS
                                      connect, send a real ClientHello (ssl.MemoryBIO), wait
                                      WAIT_MS, close with SO_LINGER {1,0} -> RST from the client
  helpers.py silent-server ADDR PORT  accept one, read the ClientHello, answer nothing; close()
                                      (FIN) only once the client has closed (or after 30 s)
  helpers.py timeout-client ADDR PORT SNI TIMEOUT_S
                                      Python ssl client: connect, handshake with a TIMEOUT_S
                                      socket timeout; on timeout plain close() -> FIN
  helpers.py raw-client ADDR PORT SNI a raw-socket TCP client (scapy builds the segments, the
                                      kernel has no socket for them): SYN; whatever comes back
                                      (RST+ACK from a closed port), it still sends its real
                                      ClientHello as if the SYN-ACK had come (seq ISN+1,
                                      ack = answer's seq + 1, PSH+ACK); IPv4 only
Each prints one JSON line of facts on stdout.
"""
import json, random, select, socket, ssl, struct, sys, time


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


def silent_server(addr, port):
    s = listen(addr, port)
    c, peer = s.accept()
    rec = read_record(c)
    t0 = time.monotonic()
    c.settimeout(30)
    eof = False
    try:
        eof = c.recv(4096) == b""
    except socket.timeout:
        pass
    waited = time.monotonic() - t0
    c.close()
    s.close()
    print(json.dumps({"peer": list(peer[:2]), "record_bytes": len(rec), "answered": False,
                      "client_closed_first": eof, "waited_s": round(waited, 3), "close": "close()"}),
          flush=True)


def timeout_client(addr, port, sni, timeout):
    fam = socket.AF_INET6 if ":" in addr else socket.AF_INET
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    s = socket.socket(fam, socket.SOCK_STREAM)
    s.settimeout(timeout)
    s.connect((addr, port))
    local = s.getsockname()
    t0 = time.monotonic()
    tls = ctx.wrap_socket(s, server_hostname=sni, do_handshake_on_connect=False)
    outcome = "handshake completed"
    try:
        tls.do_handshake()
    except (socket.timeout, TimeoutError) as e:
        outcome = "timeout: " + (str(e) or type(e).__name__)
    except (ssl.SSLError, OSError) as e:
        outcome = "error: " + str(e)
    waited = time.monotonic() - t0
    tls.close()   # no close_notify before the handshake completed: just the FIN
    print(json.dumps({"local": list(local[:2]), "timeout_s": timeout, "outcome": outcome,
                      "waited_s": round(waited, 3), "close": "close()"}), flush=True)


def client_hello(sni):
    """A real ClientHello (Python's ssl / OpenSSL defaults), as bytes for the wire."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    inc, out = ssl.MemoryBIO(), ssl.MemoryBIO()
    obj = ctx.wrap_bio(inc, out, server_hostname=sni)
    try:
        obj.do_handshake()
    except ssl.SSLWantReadError:
        pass
    return out.read()


def raw_client(addr, port, sni):
    from scapy.all import IP, TCP, conf  # needs scapy; imported here so the rest needs only stdlib
    conf.verb = 0
    hello = client_hello(sni)
    sport = random.randrange(40000, 60000)
    isn = random.randrange(1 << 32)
    tsval = random.randrange(1 << 31)
    # Receives a copy of every TCP packet for this host; the kernel, having no socket for sport,
    # drops them itself (and never answers an RST).
    rx = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_TCP)
    tx = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW)   # IP_HDRINCL
    ip = IP(dst=addr, ttl=64, flags="DF")
    facts = {"sport": sport, "isn": isn, "client_hello_bytes": len(hello)}

    def send(pkt):
        tx.sendto(bytes(ip / pkt), (addr, 0))

    def answer(wait_s):
        end = time.monotonic() + wait_s
        while time.monotonic() < end:
            r, _, _ = select.select([rx], [], [], max(0.0, end - time.monotonic()))
            if not r:
                break
            pkt = IP(rx.recv(65535))
            if pkt.src == addr and TCP in pkt and pkt[TCP].sport == port and pkt[TCP].dport == sport:
                t = pkt[TCP]
                return {"flags": str(t.flags), "seq": t.seq, "ack": t.ack, "ttl": pkt.ttl}
        return None

    t0 = time.monotonic()
    send(TCP(sport=sport, dport=port, flags="S", seq=isn, window=64240,
             options=[("MSS", 1460), ("SAckOK", b""), ("Timestamp", (tsval, 0)), ("NOP", None),
                      ("WScale", 7)]))
    got = answer(2.0)
    facts["answer_to_syn"] = got
    facts["answer_to_syn_ms"] = round((time.monotonic() - t0) * 1000, 3)
    ack = ((got or {"seq": 0})["seq"] + 1) & 0xFFFFFFFF   # as if it were the SYN-ACK
    send(TCP(sport=sport, dport=port, flags="PA", seq=(isn + 1) & 0xFFFFFFFF, ack=ack, window=502,
             options=[("NOP", None), ("NOP", None), ("Timestamp", (tsval + 1, 0))]) / hello)
    facts["client_hello_sent"] = {"seq": (isn + 1) & 0xFFFFFFFF, "ack": ack, "flags": "PA"}
    facts["answer_to_client_hello"] = answer(2.0)
    print(json.dumps(facts), flush=True)


def abort_client(addr, port, sni, wait_ms):
    fam = socket.AF_INET6 if ":" in addr else socket.AF_INET
    hello = client_hello(sni)
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
    elif cmd == "silent-server":
        silent_server(sys.argv[2], int(sys.argv[3]))
    elif cmd == "timeout-client":
        timeout_client(sys.argv[2], int(sys.argv[3]), sys.argv[4], float(sys.argv[5]))
    elif cmd == "raw-client":
        raw_client(sys.argv[2], int(sys.argv[3]), sys.argv[4])
    else:
        sys.exit("unknown command " + cmd)
