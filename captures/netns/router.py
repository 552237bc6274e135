#!/usr/bin/python3
"""Userspace IPv4/IPv6 router with a fixed one-way delay, run inside the router namespace.

    router.py IF_CLIENT IF_SERVER DELAY_MS LOGFILE [--drop-sni NAME] [--near-server-inject JSON]
              [--icmp-reject-sni NAME] [--icmp-reject-syn]

Why: the kernel has no sch_netem here, so the path delay cannot come from `tc netem`. Kernel
forwarding stays off in the router namespace; this program forwards instead. It reads every
frame arriving on IF_CLIENT / IF_SERVER (AF_PACKET), keeps IP packets whose destination lies
on the other side, decrements TTL / hop limit (IPv4 header checksum recomputed; TCP checksum
does not cover TTL), rewrites the Ethernet addresses to the fixed MACs make.sh assigns, and
sends the frame out of the other interface DELAY_MS later (each direction, FIFO, so
RTT = 2 * DELAY_MS plus scheduling noise). Nothing else (no ICMP unless asked below, no ARP
proxying).

--drop-sni NAME: drop (silently) client→server TCP segments whose payload contains NAME —
  the silent-drop middlebox; retransmissions of the ClientHello are dropped too.
--near-server-inject JSON: an injector on the server side of the delay line. The first
  client→server segment that is a TLS ClientHello whose payload contains spec["sni"] is
  dropped when it leaves the delay line toward the server (so the server never sees it), and
  a forged RST "from the server" enters the server→client delay line `spec["after_ms"]` ms
  later, built to look like the server's own: TTL spec["ttl"] (the router then decrements it
  like any server packet), IP ID = server's last IP ID in the flow + 1, flags spec["flags"],
  seq = ClientHello's ack, ack = ClientHello seq + len, TCP timestamps mimicking the server.
  Later segments of that flow toward the server are dropped too.
--icmp-reject-sni NAME: the rejecting-firewall middlebox at the client's first hop (like
  `iptables -A FORWARD -m string --string NAME -j REJECT --reject-with icmp-admin-prohibited`):
  every client→server IPv4 TCP segment whose payload contains NAME is dropped on arrival and
  answered at once, toward the client, with an ICMP destination unreachable, communication
  administratively prohibited (type 3 code 13) from the router's client-side address
  (10.200.1.1, TTL 64, not delayed), quoting the segment as a forwarding Linux router would
  (IP header with the TTL already decremented, then as much of it as fits in 576 bytes).
  Retransmissions are rejected the same way.
--icmp-reject-syn: the same, for every client→server IPv4 SYN (without ACK) instead.

Every forwarding decision of interest (drops, injections) is logged as one JSON line.
"""
import heapq, json, select, socket, struct, sys, time

ETH_P_ALL = 0x0003
MAC = {
    "client": bytes.fromhex("020000000102"), "router_c": bytes.fromhex("020000000101"),
    "router_s": bytes.fromhex("020000000201"), "server": bytes.fromhex("020000000202"),
}
NET4 = {"client": socket.inet_aton("10.200.1.0")[:3], "server": socket.inet_aton("10.200.2.0")[:3]}
NET6 = {"client": socket.inet_pton(socket.AF_INET6, "fd00:200::1:0")[:14],
        "server": socket.inet_pton(socket.AF_INET6, "fd00:200::2:0")[:14]}
ROUTER4 = {socket.inet_aton("10.200.1.1"), socket.inet_aton("10.200.2.1")}
ROUTER_C4 = socket.inet_aton("10.200.1.1")   # source of the ICMP errors the router originates
ICMP_QUOTE_MAX = 576 - 20 - 8                # RFC 1812 4.3.2.3 / Linux icmp_send: fits in 576
ROUTER6 = {socket.inet_pton(socket.AF_INET6, "fd00:200::1:1"), socket.inet_pton(socket.AF_INET6, "fd00:200::2:1")}


def csum(b):
    if len(b) % 2:
        b += b"\0"
    s = sum(struct.unpack("!%dH" % (len(b) // 2), b))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return (~s) & 0xFFFF


class Log:
    def __init__(self, path):
        self.f = open(path, "a", buffering=1)

    def __call__(self, **kw):
        kw["t"] = time.time()
        self.f.write(json.dumps(kw) + "\n")


def parse(ip):
    """-> (version, src, dst, proto, l4_off) or None."""
    v = ip[0] >> 4
    if v == 4 and len(ip) >= 20:
        ihl = (ip[0] & 15) * 4
        return 4, ip[12:16], ip[16:20], ip[9], ihl
    if v == 6 and len(ip) >= 40:
        return 6, ip[8:24], ip[24:40], ip[6], 40  # no extension headers in this lab
    return None


def side_of(v, addr):
    if v == 4:
        if addr in ROUTER4:
            return None
        for k, n in NET4.items():
            if addr[:3] == n:
                return k
    else:
        if addr in ROUTER6:
            return None
        for k, n in NET6.items():
            if addr[:14] == n:
                return k
    return None


def is_client_hello(payload):
    return len(payload) > 5 and payload[0] == 0x16 and payload[5] == 0x01


def tcp_ts(tcp):
    """(tsval, tsecr) from the TCP options or None."""
    doff = (tcp[12] >> 4) * 4
    opts, i = tcp[20:doff], 0
    while i < len(opts):
        k = opts[i]
        if k == 0:
            break
        if k == 1:
            i += 1
            continue
        if i + 1 >= len(opts):
            break
        ln = opts[i + 1]
        if k == 8 and ln == 10:
            return struct.unpack("!II", opts[i + 2:i + 10])
        i += max(ln, 2)
    return None


class Router:
    def __init__(self, if_c, if_s, delay, log, drop_sni=None, near=None, icmp_sni=None, icmp_syn=False):
        self.delay = delay
        self.log = log
        self.icmp_sni = icmp_sni.encode() if icmp_sni else None
        self.icmp_syn = icmp_syn
        self.icmp_id = 0
        self.drop_sni = drop_sni.encode() if drop_sni else None
        self.near = near
        self.near_flows = set()   # flows whose ClientHello the near-server injector ate
        self.srv_state = {}       # flow key -> (last ip id, last tsval, time)
        self.socks = {}
        for name, ifname in (("client", if_c), ("server", if_s)):
            s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
            s.bind((ifname, 0))
            self.socks[name] = s
        self.q = {"client": [], "server": []}   # out side -> heap of (due, n, frame, meta)
        self.n = 0

    def enqueue(self, out, due, frame, meta=None):
        self.n += 1
        heapq.heappush(self.q[out], (due, self.n, frame, meta))

    def release(self, out, ip, meta):
        if meta == "near-check" and self.near_intercept(ip):
            return
        ip = self.decrement(ip)
        if ip is None:
            return
        src = MAC["router_c"] if out == "client" else MAC["router_s"]
        etype = b"\x08\x00" if ip[0] >> 4 == 4 else b"\x86\xdd"
        try:
            self.socks[out].send(MAC[out] + src + etype + ip)
        except OSError as e:
            self.log(event="send-error", error=str(e), len=len(ip))

    @staticmethod
    def decrement(ip):
        ip = bytearray(ip)
        if ip[0] >> 4 == 4:
            if ip[8] <= 1:
                return None
            ip[8] -= 1
            ihl = (ip[0] & 15) * 4
            ip[10:12] = b"\0\0"
            ip[10:12] = struct.pack("!H", csum(bytes(ip[:ihl])))
        else:
            if ip[7] <= 1:
                return None
            ip[7] -= 1
        return bytes(ip)

    def flow_key(self, v, src, dst, tcp):
        sp, dp = struct.unpack("!HH", tcp[:4])
        return (v, src, sp, dst, dp)

    def near_intercept(self, ip):
        """Called when a client→server segment leaves the delay line. True = eaten."""
        p = parse(ip)
        v, src, dst, proto, off = p
        tcp = ip[off:]
        key = self.flow_key(v, src, dst, tcp)
        if key in self.near_flows:
            self.log(event="near-server-drop-followup", len=len(ip))
            return True
        doff = (tcp[12] >> 4) * 4
        payload = tcp[doff:]
        if not (is_client_hello(payload) and self.near["sni"].encode() in payload):
            return False
        self.near_flows.add(key)
        seq, ack = struct.unpack("!II", tcp[4:12])
        sp, dp = key[2], key[4]
        rkey = (v, dst, dp, src, sp)
        last_id, last_ts, last_t = self.srv_state.get(rkey, (0, None, time.monotonic()))
        ts = tcp_ts(tcp)
        opts = b""
        if self.near.get("tcp_timestamps", True) and ts and last_ts is not None:
            tsval = (last_ts + int((time.monotonic() - last_t) * 1000)) & 0xFFFFFFFF
            opts = b"\x01\x01\x08\x0a" + struct.pack("!II", tsval, ts[0])
        flags = {"R": 0x04, "RA": 0x14}[self.near["flags"]]
        rst_ack = (seq + len(payload)) & 0xFFFFFFFF if flags & 0x10 else 0
        thdr = struct.pack("!HHIIBBHHH", dp, sp, ack, rst_ack, (5 + len(opts) // 4) << 4, flags, 0, 0, 0) + opts
        ip_id = (last_id + 1) & 0xFFFF if self.near.get("ip_id", "server+1") == "server+1" else int(self.near["ip_id"])
        if v == 4:
            pseudo = dst + src + struct.pack("!BBH", 0, 6, len(thdr))
            thdr = thdr[:16] + struct.pack("!H", csum(pseudo + thdr)) + thdr[18:]
            iph = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(thdr), ip_id, 0x4000,
                              self.near["ttl"], 6, 0, dst, src)
            iph = iph[:10] + struct.pack("!H", csum(iph)) + iph[12:]
        else:
            pseudo = dst + src + struct.pack("!II", len(thdr), 6)
            thdr = thdr[:16] + struct.pack("!H", csum(pseudo + thdr)) + thdr[18:]
            iph = struct.pack("!IHBB16s16s", 0x60000000, len(thdr), 6, self.near["ttl"], dst, src)
            ip_id = None
        forged = iph + thdr
        after = self.near.get("after_ms", 0.5) / 1000.0
        self.enqueue("client", time.monotonic() + after + self.delay, forged)
        self.log(event="near-server-inject", dropped_client_hello_seq=seq, dropped_len=len(payload),
                 rst_seq=ack, rst_ack=rst_ack, flags=self.near["flags"], ttl_sent=self.near["ttl"],
                 ip_id=ip_id, server_last_ip_id=last_id, tcp_timestamps=bool(opts),
                 after_ms=self.near.get("after_ms", 0.5), path_delay_ms=self.delay * 1000)
        return True

    def icmp_reject(self, ip, why):
        """Drops client→server IPv4 packet `ip` and answers it toward the client with ICMP type 3
        code 13 (communication administratively prohibited), sent at once from 10.200.1.1."""
        quoted = self.decrement(ip)
        if quoted is None or ip[0] >> 4 != 4:
            self.log(event="icmp-reject-skipped", why="not IPv4 or TTL expired", len=len(ip))
            return
        quoted = quoted[:ICMP_QUOTE_MAX]
        icmp = struct.pack("!BBHI", 3, 13, 0, 0) + quoted
        icmp = icmp[:2] + struct.pack("!H", csum(icmp)) + icmp[4:]
        self.icmp_id = (self.icmp_id + 1) & 0xFFFF
        src, dst = ROUTER_C4, ip[12:16]
        iph = struct.pack("!BBHHHBBH4s4s", 0x45, 0xC0, 20 + len(icmp), self.icmp_id, 0, 64, 1, 0, src, dst)
        iph = iph[:10] + struct.pack("!H", csum(iph)) + iph[12:]
        ihl = (ip[0] & 15) * 4
        tcp = ip[ihl:]
        seq = struct.unpack("!I", tcp[4:8])[0]
        payload_len = len(tcp) - (tcp[12] >> 4) * 4
        try:
            self.socks["client"].send(MAC["client"] + MAC["router_c"] + b"\x08\x00" + iph + icmp)
        except OSError as e:
            self.log(event="send-error", error=str(e), len=len(iph) + len(icmp))
            return
        self.log(event="icmp-reject", why=why, dropped_seq=seq, dropped_payload_len=payload_len,
                 dropped_tcp_flags=tcp[13], icmp_type=3, icmp_code=13, icmp_src="10.200.1.1",
                 icmp_ttl=64, icmp_ip_id=self.icmp_id, quoted_bytes=len(quoted))

    def receive(self, inside):
        sock = self.socks[inside]
        out = "server" if inside == "client" else "client"
        for _ in range(1):
            frame, addr = sock.recvfrom(65535)
            if addr[2] == socket.PACKET_OUTGOING:
                continue
            if len(frame) < 14:
                continue
            etype = frame[12:14]
            if etype not in (b"\x08\x00", b"\x86\xdd"):
                continue
            ip = frame[14:]
            p = parse(ip)
            if p is None:
                continue
            v, src, dst, proto, off = p
            if v == 4:
                ip = ip[:struct.unpack("!H", ip[2:4])[0]]   # strip Ethernet padding
            else:
                ip = ip[:40 + struct.unpack("!H", ip[4:6])[0]]
            if side_of(v, dst) != out or side_of(v, src) != inside:
                continue
            now = time.monotonic()
            meta = None
            if proto == 6:
                tcp = ip[off:]
                doff = (tcp[12] >> 4) * 4
                payload = tcp[doff:]
                if inside == "client" and v == 4 and self.icmp_sni and self.icmp_sni in payload:
                    self.icmp_reject(ip, "sni")
                    continue
                if inside == "client" and v == 4 and self.icmp_syn and tcp[13] & 0x12 == 0x02:
                    self.icmp_reject(ip, "syn")
                    continue
                if inside == "client" and self.drop_sni and self.drop_sni in payload:
                    seq = struct.unpack("!I", tcp[4:8])[0]
                    self.log(event="silent-drop", seq=seq, len=len(payload))
                    continue
                if inside == "server":
                    key = self.flow_key(v, src, dst, tcp)
                    ts = tcp_ts(tcp)
                    ip_id = struct.unpack("!H", ip[4:6])[0] if v == 4 else 0
                    self.srv_state[key] = (ip_id, ts[0] if ts else None, now)
                if inside == "client" and self.near:
                    meta = "near-check"
            self.enqueue(out, now + self.delay, ip, meta)

    def run(self):
        """One thread: select() on both ports, release due frames in time order."""
        by_fd = {s.fileno(): k for k, s in self.socks.items()}
        for s in self.socks.values():
            s.setblocking(False)
        self.log(event="router-up", delay_ms=self.delay * 1000, drop_sni=self.drop_sni and self.drop_sni.decode(),
                 near=self.near, icmp_reject_sni=self.icmp_sni and self.icmp_sni.decode(),
                 icmp_reject_syn=self.icmp_syn)
        print("router-up", flush=True)
        while True:
            now = time.monotonic()
            for out in ("client", "server"):
                q = self.q[out]
                while q and q[0][0] <= now:
                    _, _, ip, meta = heapq.heappop(q)
                    self.release(out, ip, meta)
            dues = [q[0][0] for q in self.q.values() if q]
            timeout = max(0.0, min(dues) - time.monotonic()) if dues else 1.0
            ready, _, _ = select.select(list(by_fd), [], [], timeout)
            for fd in ready:
                try:
                    self.receive(by_fd[fd])
                except BlockingIOError:
                    pass


def main():
    a = sys.argv[1:]
    drop = near = icmp_sni = None
    icmp_syn = False
    if "--drop-sni" in a:
        i = a.index("--drop-sni"); drop = a[i + 1]; del a[i:i + 2]
    if "--near-server-inject" in a:
        i = a.index("--near-server-inject"); near = json.loads(a[i + 1]); del a[i:i + 2]
    if "--icmp-reject-sni" in a:
        i = a.index("--icmp-reject-sni"); icmp_sni = a[i + 1]; del a[i:i + 2]
    if "--icmp-reject-syn" in a:
        a.remove("--icmp-reject-syn"); icmp_syn = True
    if_c, if_s, delay_ms, logf = a
    Router(if_c, if_s, float(delay_ms) / 1000.0, Log(logf), drop, near, icmp_sni, icmp_syn).run()


if __name__ == "__main__":
    main()
