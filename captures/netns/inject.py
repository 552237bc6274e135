#!/usr/bin/python3
"""On-path RST/FIN injector (scapy), run in the router namespace next to router.py.

    inject.py SPEC_JSON LOGFILE

It sniffs the router's client-side interface (spec["iface"], frames arriving from the client,
i.e. *before* router.py's delay line) for a TLS ClientHello (record type 22, handshake type 1)
whose bytes contain spec["sni"], once, and then forges RSTs (or FINs) like a censor's tap would:

  spec["to_client"] / spec["to_server"]: null or
    {"ttl": int, "ip_id": int | "random" | "server+1", "flags": "R" | "RA" | "FPA" | …,
     "count": n, "seq_offsets": [..n], "delay_ms": first send after the ClientHello was seen,
     "interval_ms": gap between burst members, "tcp_timestamps": bool,
     "payload_hex": "000000000000" | "payload_text": "HTTP/1.1 403 …" (optional: bytes the
     forged segment carries, e.g. the 6 zero bytes of the Iranian censor's RST or a block
     page riding a FIN), "window": int (default 0)}

  toward the client: src = server, seq = ClientHello.ack + offset (the client's rcv_nxt),
    ack = ClientHello.seq + len; sent out of the router's client-side port (no delay line)
  toward the server: src = client, seq = ClientHello.seq + len + offset (the server's rcv_nxt
    once the ClientHello got there), ack = ClientHello.ack; sent out of the router's
    server-side port (spec["iface_server"]) — choose delay_ms > the one-way delay so it lands
    after the (not dropped) ClientHello.

"server+1": the server's last IP ID seen in the flow (SYN-ACK, as forwarded) plus one.
Timestamps: TSval continues the forged side's clock (last TSval seen from it + elapsed ms),
TSecr echoes the other side's last TSval. Everything sent is logged as JSON lines.
"""
import json, random, socket, sys, threading, time

from scapy.all import Ether, IP, IPv6, TCP, Raw, conf  # noqa: E402

conf.verb = 0
MAC = {"client": "02:00:00:00:01:02", "router_c": "02:00:00:00:01:01",
       "router_s": "02:00:00:00:02:01", "server": "02:00:00:00:02:02"}

spec = json.loads(sys.argv[1])
logf = open(sys.argv[2], "a", buffering=1)
state = {}   # (src, sport, dst, dport) -> {"ip_id":, "tsval":, "t":}
done = threading.Event()


def log(**kw):
    kw["t"] = time.time()
    logf.write(json.dumps(kw) + "\n")


def l3(pkt):
    return pkt[IP] if IP in pkt else pkt[IPv6]


def ts_of(tcp):
    for k, v in tcp.options:
        if k == "Timestamp":
            return v
    return None


def forge(direction, ch, d, i, off):
    ip, tcp = l3(ch), ch[TCP]
    plen = len(bytes(tcp.payload))
    if direction == "to_client":
        src, dst, sport, dport = ip.dst, ip.src, tcp.dport, tcp.sport
        seq, ack = (tcp.ack + off) & 0xFFFFFFFF, (tcp.seq + plen) & 0xFFFFFFFF
        eth = Ether(src=MAC["router_c"], dst=MAC["client"])
    else:
        src, dst, sport, dport = ip.src, ip.dst, tcp.sport, tcp.dport
        seq, ack = (tcp.seq + plen + off) & 0xFFFFFFFF, tcp.ack
        eth = Ether(src=MAC["router_s"], dst=MAC["server"])
    me = state.get((src, sport, dst, dport), {})
    peer = state.get((dst, dport, src, sport), {})
    opts = []
    if d.get("tcp_timestamps") and me.get("tsval") is not None:
        tsval = (me["tsval"] + int((time.monotonic() - me["t"]) * 1000)) & 0xFFFFFFFF
        opts = [("NOP", None), ("NOP", None), ("Timestamp", (tsval, peer.get("tsval") or 0))]
    data = bytes.fromhex(d["payload_hex"]) if "payload_hex" in d else d.get("payload_text", "").encode()
    t = TCP(sport=sport, dport=dport, flags=d["flags"], seq=seq,
            ack=ack if "A" in d["flags"] else 0, window=d.get("window", 0), options=opts)
    if data:
        t = t / Raw(data)
    ip_id = None
    if IP in ch:
        if d["ip_id"] == "random":
            ip_id = random.randrange(1, 65536)
        elif d["ip_id"] == "server+1":
            srv = state.get((ip.dst, tcp.dport, ip.src, tcp.sport), {})
            ip_id = (srv.get("ip_id", 0) + 1 + i) & 0xFFFF
        else:
            ip_id = int(d["ip_id"])
        l = IP(src=src, dst=dst, ttl=d["ttl"], id=ip_id, flags="DF" if d.get("df", False) else 0)
    else:
        l = IPv6(src=src, dst=dst, hlim=d["ttl"])
    return eth / l / t, dict(direction=direction, n=i, seq=seq, ack=t.ack, flags=d["flags"],
                             ttl=d["ttl"], ip_id=ip_id, seq_offset=off,
                             tcp_timestamps=bool(opts), payload_len=len(data),
                             payload_hex=data.hex() if data else None)


def fire(ch, seen_mono):
    jobs = []
    for direction in ("to_client", "to_server"):
        d = spec.get(direction)
        if not d:
            continue
        for i in range(d.get("count", 1)):
            off = d.get("seq_offsets", [0] * d.get("count", 1))[i]
            due = seen_mono + (d.get("delay_ms", 0) + i * d.get("interval_ms", 0)) / 1000.0
            jobs.append((due, direction, d, i, off))
    jobs.sort(key=lambda j: j[0])
    for due, direction, d, i, off in jobs:
        now = time.monotonic()
        if due > now:
            time.sleep(due - now)
        pkt, facts = forge(direction, ch, d, i, off)
        out[direction].send(bytes(pkt))
        facts["since_client_hello_ms"] = round((time.monotonic() - seen_mono) * 1000, 3)
        log(event="inject", **facts)
    done.set()


def on_pkt(pkt):
    if TCP not in pkt or done.is_set() or getattr(on_pkt, "fired", False):
        return
    ip, tcp = l3(pkt), pkt[TCP]
    key = (ip.src, tcp.sport, ip.dst, tcp.dport)
    ts = ts_of(tcp)
    st = state.setdefault(key, {})
    if IP in pkt:
        st["ip_id"] = ip.id
    if ts:
        st["tsval"], st["t"] = ts[0], time.monotonic()
    payload = bytes(tcp.payload)
    if (len(payload) > 5 and payload[0] == 0x16 and payload[5] == 0x01
            and spec["sni"].encode() in payload and pkt.src == MAC["client"]):
        on_pkt.fired = True
        seen = time.monotonic()
        log(event="client-hello-seen", src=ip.src, sport=tcp.sport, dst=ip.dst, dport=tcp.dport,
            seq=tcp.seq, ack=tcp.ack, len=len(payload))
        fire(pkt, seen)


# Raw AF_PACKET sockets (scapy only builds and dissects): scapy's sniff()/sendp() add
# 10-30 ms per packet, too slow for the timing this lab is about.
out = {}
for direction, iface in (("to_client", spec["iface"]), ("to_server", spec["iface_server"])):
    out[direction] = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(3))
    out[direction].bind((iface, 0))
tap = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(3))
tap.bind((spec["iface"], 0))
# Frames the router sends back toward the client (server's SYN-ACK etc.) appear here as
# outgoing frames: they give the server's IP ID / TSval as forwarded.
print("injector-up", flush=True)
log(event="injector-up", spec=spec)
port = spec["port"].to_bytes(2, "big")
while not done.is_set():
    frame, addr = tap.recvfrom(65535)
    if frame[12:14] == b"\x08\x00":
        l4 = 14 + (frame[14] & 15) * 4
        if frame[23] != 6:
            continue
    elif frame[12:14] == b"\x86\xdd":
        l4 = 54
        if frame[20] != 6:
            continue
    else:
        continue
    if port not in (frame[l4:l4 + 2], frame[l4 + 2:l4 + 4]):
        continue
    on_pkt(Ether(frame))
time.sleep(0.2)
