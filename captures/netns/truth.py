#!/usr/bin/env python3
"""Writes captures/netns/truth.json (stdout) from how make.sh made each capture.

    truth.py CAPTURE_DIR FACTS_DIR

Expected verdicts (and, where the capture shows their cause, expected findings) come from the
SCENARIOS table below (what each scenario did), the injector / router logs (what was forged,
dropped or rejected, exactly) and make.sh's facts; never from tlsmortem. tshark's reading of
every file is recorded under "tshark" as an independent cross-check: each RST and FIN it sees is
labelled with its origin by matching it against the injector logs, ICMP errors are listed with
the connection whose header they quote, TLS alerts and the ServerKeyExchange DH prime size are
noted. What the client and server programs printed (helpers' JSON facts, openssl's error lines)
is kept under "programs_said".

Per scenario side: verdict (tlsmortem id or None), by (who cut), acceptable_by, must_not_be,
findings (→ expected_findings in every connection entry), note, connections (how many the
capture holds when it is not one per connection made, e.g. 0: nothing reached that side).
"""
import glob, json, os, re, subprocess, sys

DELAY_MS = float(os.environ.get("DELAY_MS", "15"))
PORT = int(os.environ.get("PORT", "443"))

MB = "middlebox"
# scenario -> description, expected at the client capture, expected at the server capture.
# Each expectation: verdict (tlsmortem id or None), by (for a cut), note, and optionally
# acceptable_by, must_not_be, findings, connections (see the module doc).
SCENARIOS = {
    "normal-openssl": dict(
        what="normal TLS 1.3 handshake, openssl s_client → s_server -www, HTTP/1.0 GET",
        client=dict(verdict="complete"), server=dict(verdict="complete")),
    "normal-curl-nginx": dict(
        what="normal TLS 1.3 handshakes, curl → nginx, two connections (ALPN h2, then http/1.1)",
        client=dict(verdict="complete"), server=dict(verdict="complete")),
    "normal-ipv6-curl-nginx": dict(
        what="as normal-curl-nginx over IPv6",
        client=dict(verdict="complete"), server=dict(verdict="complete")),
    "inject-single-rst": dict(
        what="on-path injector in the router: one RST toward the client as soon as the ClientHello "
             "(SNI blocked.example.test) passes; nothing dropped",
        client=dict(verdict="rst-after-client-hello", by=MB,
                    note="forged RST arrives ~1-2 ms after the ClientHello (far sooner than the ~30 ms RTT), "
                         "TTL 50 vs the server's 63, IP ID 0, no TCP options; the real server's ServerHello "
                         "flight arrives afterwards and the client's kernel answers it with RSTs"),
        server=dict(verdict=None, must_not_be=["complete"],
                    note="the injected RST went only toward the client and is invisible here; the server "
                         "answered (ServerHello flight) and then got RSTs from the real client kernel (TTL 63, "
                         "IP ID 0, seq = end of ClientHello) for a socket the forged RST had torn down")),
    "inject-rst-ack-burst": dict(
        what="on-path injector: burst of 3 RST+ACK toward the client, seq = client's rcv_nxt + 0, 1460, 4380, "
             "1 ms apart, TTL 128, random IP IDs",
        client=dict(verdict="rst-after-client-hello", by=MB,
                    note="the first RST+ACK is exact (seq = rcv_nxt) and kills the socket; the two later ones have "
                         "increasing seq; all TTL 128 vs the server's 63; then the real ServerHello arrives"),
        server=dict(verdict=None, must_not_be=["complete"],
                    note="as inject-single-rst: the burst is invisible here; the server answered and got the "
                         "real client kernel's RSTs")),
    "inject-rst-both-ends": dict(
        what="on-path injector: RST+ACK toward the client at once (TTL 64, IP ID = server's SYN-ACK IP ID + 1, "
             "TCP timestamps continuing the server's clock) and RST toward the server 25 ms later (TTL 64, "
             "IP ID 0, seq = end of the ClientHello)",
        client=dict(verdict="rst-after-client-hello", by=MB,
                    note="forged RST+ACK arrives ~2 ms after the ClientHello with TTL 64 (server's packets: 63) "
                         "and IP ID 1 (the server's SYN-ACK had 0)"),
        server=dict(verdict="rst-after-client-hello", by=MB,
                    note="the forged RST 'from the client' arrives with TTL 64 while the client's own packets "
                         "arrive with 63; it lands ~10 ms after the ClientHello, after the server's ServerHello "
                         "flight had already left (the server could not be beaten); the real client kernel's "
                         "RSTs (TTL 63) follow when the ServerHello reaches the already-reset client")),
    "inject-rst-race-server-hello": dict(
        what="on-path injector, nothing dropped: one RST toward the client 28 ms after the ClientHello passed "
             "the router, racing the real ServerHello (which reaches the client ~33 ms after)",
        client=dict(verdict="rst-after-client-hello", by=MB,
                    note="the forged RST (TTL 64 vs 63, IP ID 0) arrives a few ms (1-6 ms in test runs) before the server's real ACK and "
                         "ServerHello flight; the ServerHello after the RST is the injection's tell-tale"),
        server=dict(verdict=None, must_not_be=["complete"],
                    note="injected RST invisible here; the server answered and got the real client kernel's RSTs")),
    "inject-single-rst-ipv6": dict(
        what="as inject-single-rst over IPv6: one RST toward the client, hop limit 50",
        client=dict(verdict="rst-after-client-hello", by=MB,
                    note="hop limit 50 vs the server's 63, ~1-2 ms after the ClientHello"),
        server=dict(verdict=None, must_not_be=["complete"],
                    note="as inject-single-rst")),
    "inject-near-server": dict(
        what="injector at the server side of the path (router.py --near-server-inject): the ClientHello is "
             "dropped where it would leave toward the server, and a forged RST+ACK 'from the server' "
             "(TTL 64 → 63 after the router, IP ID = server's last + 1, TCP timestamps continuing the server's "
             "clock, seq/ack exactly what the server would send) travels back through the full delay",
        client=dict(verdict="rst-after-client-hello", by=MB, acceptable_by=[MB, "server", "unknown"],
                    note="made by a middlebox but, at this capture point, indistinguishable from a genuine server "
                         "abort: arrives one RTT after the ClientHello, TTL 63 like the server, IP ID and "
                         "timestamps continue the server's; 'server' or 'unknown' is the honest reading"),
        server=dict(verdict="no-client-hello",
                    note="the ClientHello never reached the server; only the TCP handshake is visible; nothing "
                         "here indicates the cut")),
    "silent-drop": dict(
        what="router drops every client→server segment containing 'blocked.example.test' (router.py --drop-sni); "
             "the client retransmits the ClientHello; captures stop after ~4 s, before the client is killed",
        client=dict(verdict="dropped-on-path", by=MB,
                    note="the router dropped the ClientHello and each retransmission; the server's ACKs "
                         "never covered it and it sent nothing"),
        server=dict(verdict="no-client-hello",
                    note="only the TCP handshake arrived; nothing here indicates the cut")),
    "server-app-abort": dict(
        what="server app (helpers.py abort-server) reads the ClientHello record, closes with SO_LINGER {1,0}",
        client=dict(verdict="rst-after-client-hello", by="server",
                    note="RST+ACK from the server one RTT after the ClientHello, TTL 63 like the server's other "
                         "packets, preceded by the server's ACK of the ClientHello"),
        server=dict(verdict="rst-after-client-hello", by="server")),
    "server-not-listening": dict(
        what="nothing listens on the server port: kernel RST+ACK to the SYN",
        client=dict(verdict="connection-refused"), server=dict(verdict="connection-refused")),
    "server-firewall-reject-syn": dict(
        what="openssl s_server listens, but the server's host firewall has "
             "iptables -A INPUT -p tcp --dport 443 -j REJECT --reject-with tcp-reset",
        client=dict(verdict="connection-refused", note="the SYN is answered by an RST+ACK from the server host"),
        server=dict(verdict="connection-refused")),
    "server-firewall-reject-sni": dict(
        what="openssl s_server listens; server host firewall: iptables -A INPUT -p tcp --dport 443 -m string "
             "--string blocked.example.test --algo bm -j REJECT --reject-with tcp-reset",
        client=dict(verdict="rst-after-client-hello", by="server",
                    note="the server host's own netfilter answers the ClientHello with an RST (no ACK flag, "
                         "IP ID 0, no TCP options, TTL 63 at the client) one RTT later; the server app never "
                         "sees the ClientHello. It is a genuine RST of the server host"),
        server=dict(verdict="rst-after-client-hello", by="server")),
    "client-abort": dict(
        what="client (helpers.py abort-client) sends a real ClientHello (Python ssl, MemoryBIO) and at once "
             "closes with SO_LINGER {1,0}; real openssl s_server",
        client=dict(verdict="rst-after-client-hello", by="client",
                    note="RST+ACK from the client ~0.2 ms after its ClientHello; the server's answer arrives "
                         "later and is met by more client RSTs"),
        server=dict(verdict="rst-after-client-hello", by="client")),
    "fin-after-client-hello": dict(
        what="server app (helpers.py fin-server) reads the ClientHello record and close()s normally; "
             "openssl s_client",
        client=dict(verdict="fin-after-client-hello",
                    note="the server's FIN comes first; the client then sends a decode_error alert and its FIN, "
                         "which the server's kernel answers with RSTs (socket already closed) — those RSTs are "
                         "consequences, not the cut"),
        server=dict(verdict="fin-after-client-hello", note="as at the client")),
    "inject-rst-payload": dict(
        what="on-path injector: one RST+ACK toward the client the moment the ClientHello (SNI "
             "blocked.example.test) passes, carrying 6 zero bytes of payload like the Iranian censor's RSTs, "
             "TTL 45, random IP ID, no TCP options; nothing dropped",
        client=dict(verdict="rst-after-client-hello", by=MB,
                    note="the forged RST+ACK (Len=6, six zero bytes) arrives ~2 ms after the ClientHello, far "
                         "sooner than the ~30 ms RTT, with TTL 45 vs the server's 63; a Linux server never puts "
                         "data in an RST; the real server's ACK and ServerHello flight follow one RTT after the "
                         "ClientHello and draw the client kernel's RSTs"),
        server=dict(verdict=None, must_not_be=["complete"],
                    note="as inject-single-rst: the forged RST went only toward the client; the server answered "
                         "and then got the real client kernel's RSTs")),
    "inject-fin-psh-blockpage": dict(
        what="on-path injector: one forged FIN+PSH+ACK toward the client the moment the ClientHello passes, at "
             "the server's next sequence number (the client's rcv_nxt), carrying an HTTP block page "
             "('HTTP/1.1 403 Forbidden' … 'blocked', 77 bytes), TTL 50, IP ID 0, window 502, no TCP options; "
             "the ClientHello is NOT dropped, so the real ServerHello flight (same seq) races in one RTT later",
        client=dict(verdict="fin-after-client-hello", by=MB, must_not_be=["not-tls"],
                    note="the forged FIN (with the block page as data, TTL 50 vs the server's 63, IP ID 0) "
                         "arrives ~1-2 ms after the ClientHello; OpenSSL reads 'HTTP/' as a record header ('wrong "
                         "version number') and closes without an alert (its FIN acks the 77 bytes + FIN); one RTT after the "
                         "ClientHello the real server's ACK and ServerHello flight arrive at the same seq the "
                         "block page took (tshark marks them Out-Of-Order or Retransmission and does not "
                         "dissect the ServerHello) and draw the client kernel's RSTs. "
                         "The HTTP bytes are the middlebox's, not the server's: the connection is TLS cut by a "
                         "FIN, not a non-TLS server"),
        server=dict(verdict=None, must_not_be=["complete"],
                    note="the forged FIN and the block page went only toward the client and are invisible here; "
                         "the server got the client's FIN, which acks seq+79 (the block page's 77 bytes + its "
                         "FIN, never sent by this server: tshark flags 'ACKed unseen segment'), within ~2 ms "
                         "of the ClientHello, just before or just after its own ServerHello flight left "
                         "(path jitter decides), then the client kernel's RSTs when that flight reached the "
                         "closed socket")),
    "icmp-reject": dict(
        what="router (the client's first hop, router.py --icmp-reject-sni blocked.example.test) drops every "
             "client→server segment containing the SNI and answers each at once with ICMP destination "
             "unreachable, communication administratively prohibited (type 3 code 13) from 10.200.1.1, TTL 64, "
             "quoting the segment; the client retransmits the ClientHello; captures stop after ~4 s, before "
             "the client is killed",
        client=dict(verdict="dropped-on-path", by=MB, findings=["icmp-unreachable"],
                    note="the ClientHello and each retransmission are answered within 1 ms by an ICMP 3/13 "
                         "quoting them (the ClientHello's own bytes, SNI included, are in the quote); Linux "
                         "takes it as a soft error on an established socket and keeps retransmitting; the "
                         "server never got the ClientHello and sent nothing after its SYN-ACK. The router "
                         "dropped every copy, as in silent-drop, and said so each time"),
        server=dict(verdict="no-client-hello",
                    note="only the TCP handshake arrived; the ICMP went only toward the client; nothing here "
                         "indicates the cut")),
    "icmp-reject-syn": dict(
        what="router (router.py --icmp-reject-syn) drops the client's SYN and answers it at once with ICMP "
             "type 3 code 13 from 10.200.1.1, TTL 64, quoting it; openssl s_server listens behind it",
        client=dict(verdict="connection-refused", findings=["icmp-unreachable"],
                    note="the SYN is answered within 1 ms by an ICMP 3/13 quoting it; Linux aborts a "
                         "connection in SYN-SENT on it (connect() fails with EHOSTUNREACH, 'No route to host'): "
                         "no retransmitted SYN, no ClientHello"),
        server=dict(verdict=None, connections=0,
                    note="empty capture: the SYN never reached the server")),
    "raw-client-after-refused": dict(
        what="nothing listens on the server port; a raw-socket client (helpers.py raw-client, scapy) sends a "
             "SYN, gets the server kernel's RST+ACK, and still sends its real ClientHello (PSH+ACK, seq ISN+1, "
             "ack = the RST's seq + 1) into the dead connection",
        client=dict(verdict="connection-refused",
                    note="RST+ACK to the SYN one RTT later; the ClientHello that follows ~1 ms after it is "
                         "answered by another server RST (no ACK flag, seq = the segment's ack); the connection "
                         "was refused before any ClientHello, which does not make it a handshake cut"),
        server=dict(verdict="connection-refused", note="as at the client")),
    "weak-dh-512": dict(
        what="server offers only DHE-RSA-AES128-GCM-SHA256 (TLS 1.2) with a 512-bit DH group (openssl dhparam "
             "512, served by gnutls-serv: OpenSSL 3 will not load DH < 1024 bits even at @SECLEVEL=0); the "
             "client is OpenSSL 3 s_client -tls1_2 -cipher DHE-RSA-AES128-GCM-SHA256 at its default security "
             "level, which refuses the group",
        client=dict(verdict="weak-dh", findings=["weak-dh"],
                    note="the ServerKeyExchange carries a 512-bit DH prime (tshark: p length 64 bytes); "
                         "OpenSSL 3 at its default security level refuses it ('dh key too small', "
                         "tls_process_ske_dhe) right after the server's first flight: a fatal handshake_failure "
                         "alert (40), then its FIN; the server FINs back. The alert is generic: the cause is "
                         "the group size, visible only in the ServerKeyExchange"),
        server=dict(verdict="weak-dh", findings=["weak-dh"], note="as at the client")),
    "client-timeout-silent-server": dict(
        what="server app (helpers.py silent-server) accepts, reads the ClientHello and never answers; the "
             "client (helpers.py timeout-client, Python ssl) gives up after its 2 s socket timeout with a "
             "plain close() (FIN); the server closes (FIN) once it has read the client's EOF",
        client=dict(verdict="no-server-response",
                    note="the server's kernel ACKed the ClientHello and nothing else came for 2 s; the client's "
                         "FIN is first, the server's FIN follows ~one RTT later: the client gave up, nobody cut "
                         "the handshake"),
        server=dict(verdict="no-server-response", note="as at the client: the client's FIN came first")),
}


def tshark(path):
    fields = ["frame.number", "frame.time_epoch", "frame.time_relative", "tcp.stream", "ip.src", "ip.dst",
              "ipv6.src", "ipv6.dst", "tcp.srcport", "tcp.dstport", "ip.ttl", "ipv6.hlim", "ip.id", "tcp.flags",
              "tcp.seq_raw", "tcp.ack_raw", "tcp.len", "tls.handshake.type", "tls.handshake.extensions_server_name",
              "tcp.options.timestamp.tsval", "tcp.analysis.retransmission", "icmp.type", "icmp.code",
              "tls.alert_message.level", "tls.alert_message.desc", "tls.handshake.p_len"]
    cmd = ["tshark", "-r", path, "-o", "tcp.analyze_sequence_numbers:TRUE", "-T", "fields",
           "-E", "separator=|", "-E", "aggregator=;"]
    for f in fields:
        cmd += ["-e", f]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    rows = []
    for line in out.splitlines():
        v = dict(zip(fields, line.split("|")))
        rows.append(v)
    return rows


def summarize(rows, client_point, inj_events):
    """Per TCP stream: who is who, SNI, ClientHello, ServerHello, RSTs with TTL/IP ID/origin."""
    # ICMP errors: tshark dissects the quoted IP/TCP header (and the quoted ClientHello bytes)
    # into the same fields, ';'-joined with the outer ones: kept apart, matched by the quoted ports.
    icmp_rows = [r for r in rows if r["icmp.type"]]
    rows = [r for r in rows if not r["icmp.type"]]
    streams = {}
    for r in rows:
        if r["tcp.stream"]:
            streams.setdefault(r["tcp.stream"], []).append(r)
    conns = []
    for sid, rs in sorted(streams.items(), key=lambda kv: int(kv[0])):
        src = lambda r: r["ip.src"] or r["ipv6.src"]
        syn = next((r for r in rs if int(r["tcp.flags"], 16) & 0x12 == 0x02), rs[0])
        client_ip, client_port = src(syn), int(syn["tcp.srcport"])
        server_ip = syn["ip.dst"] or syn["ipv6.dst"]
        server_port = int(syn["tcp.dstport"])
        from_client = lambda r: src(r) == client_ip and int(r["tcp.srcport"]) == client_port
        ttl = lambda r: int(r["ip.ttl"] or r["ipv6.hlim"])
        ch = next((r for r in rs if "1" in r["tls.handshake.type"].split(";") and from_client(r)), None)
        sh = next((r for r in rs if "2" in r["tls.handshake.type"].split(";") and not from_client(r)), None)
        synack = next((r for r in rs if int(r["tcp.flags"], 16) & 0x12 == 0x12), None)
        srv_ttls = sorted({ttl(r) for r in rs if not from_client(r) and not int(r["tcp.flags"], 16) & 0x04})
        cli_ttls = sorted({ttl(r) for r in rs if from_client(r) and not int(r["tcp.flags"], 16) & 0x04})
        rsts = []
        for r in rs:
            fl = int(r["tcp.flags"], 16)
            if not fl & 0x04:
                continue
            side = "client" if from_client(r) else "server"
            seq = int(r["tcp.seq_raw"])
            d = dict(frame=int(r["frame.number"]), time_rel=float(r["frame.time_relative"]),
                     as_from=side, ttl=ttl(r), ip_id=int(r["ip.id"], 16) if r["ip.id"] else None,
                     flags="RA" if fl & 0x10 else "R", seq_raw=seq,
                     ack_raw=int(r["tcp.ack_raw"]) if fl & 0x10 else None,
                     tcp_timestamps=bool(r["tcp.options.timestamp.tsval"]))
            if ch:
                d["ms_after_client_hello"] = round((float(r["frame.time_epoch"]) - float(ch["frame.time_epoch"])) * 1000, 3)
                nxt = (int(ch["tcp.seq_raw"]) + int(ch["tcp.len"])) & 0xFFFFFFFF
                base = int(ch["tcp.ack_raw"]) if side == "server" else nxt
                d["seq_offset"] = (seq - base + 2**31) % 2**32 - 2**31
            if sh:
                d["before_server_hello"] = int(r["frame.number"]) < int(sh["frame.number"])
            origin = "genuine " + side + " host"
            for e in inj_events:
                # toward the client: visible only at the client; toward the server: only there.
                if e["direction"] != ("to_client" if client_point == "client" else "to_server"):
                    continue
                if e["seq"] == seq and e["ttl"] == d["ttl"] and e.get("ip_id") in (None, d["ip_id"]) and \
                        ("client" if e["direction"] == "to_server" else "server") == side:
                    origin = "injector (forged)"
            d["origin"] = origin
            rsts.append(d)
        fins = []
        for r in rs:
            fl = int(r["tcp.flags"], 16)
            if not fl & 0x01:
                continue
            side = "client" if from_client(r) else "server"
            d = dict(frame=int(r["frame.number"]), as_from=side, ttl=ttl(r),
                     ip_id=int(r["ip.id"], 16) if r["ip.id"] else None,
                     flags="".join(f for f, bit in (("F", 0x01), ("R", 0x04), ("P", 0x08), ("A", 0x10))
                                   if fl & bit),
                     seq_raw=int(r["tcp.seq_raw"]), len=int(r["tcp.len"] or 0))
            if ch:
                d["ms_after_client_hello"] = round((float(r["frame.time_epoch"]) - float(ch["frame.time_epoch"])) * 1000, 3)
            origin = "genuine " + side + " host"
            for e in inj_events:
                if e["direction"] != ("to_client" if client_point == "client" else "to_server"):
                    continue
                if "F" in e.get("flags", "") and e["seq"] == d["seq_raw"] and e["ttl"] == d["ttl"] and \
                        e.get("ip_id") in (None, d["ip_id"]) and \
                        ("client" if e["direction"] == "to_server" else "server") == side:
                    origin = "injector (forged)"
            d["origin"] = origin
            fins.append(d)
        icmps = []
        for r in icmp_rows:
            if not (r["tcp.srcport"] == str(client_port) and r["tcp.dstport"] == str(server_port)):
                continue
            outer_src = r["ip.src"].split(";")[0]
            qfl = int(r["tcp.flags"].split(";")[0], 16)
            d = dict(frame=int(r["frame.number"]), time_rel=float(r["frame.time_relative"]), src=outer_src,
                     ttl=int(r["ip.ttl"].split(";")[0]), ip_id=int(r["ip.id"].split(";")[0], 16),
                     type=int(r["icmp.type"].split(";")[0]), code=int(r["icmp.code"].split(";")[0]),
                     quoted_flags=qfl,
                     quotes_client_hello="1" in r["tls.handshake.type"].split(";"),
                     quoted_sni=r["tls.handshake.extensions_server_name"] or None)
            if ch:
                d["ms_after_client_hello"] = round((float(r["frame.time_epoch"]) - float(ch["frame.time_epoch"])) * 1000, 3)
            else:
                d["ms_after_syn"] = round((float(r["frame.time_epoch"]) - float(syn["frame.time_epoch"])) * 1000, 3)
            icmps.append(d)
        alerts = []
        for r in rs:
            if not r["tls.alert_message.desc"]:
                continue
            for lvl, desc in zip(r["tls.alert_message.level"].split(";"), r["tls.alert_message.desc"].split(";")):
                alerts.append(dict(frame=int(r["frame.number"]),
                                   as_from="client" if from_client(r) else "server",
                                   level=int(lvl), description=int(desc)))
        p_len = next((int(r["tls.handshake.p_len"].split(";")[0]) for r in rs
                      if r["tls.handshake.p_len"] and not from_client(r)), None)
        retrans = sum(1 for r in rs if r["tcp.analysis.retransmission"] and from_client(r) and int(r["tcp.len"] or 0))
        conns.append(dict(
            stream=int(sid), client_ip=client_ip, client_port=client_port, server_ip=server_ip,
            server_port=server_port, frames=len(rs),
            sni=(ch or {}).get("tls.handshake.extensions_server_name") or None,
            client_hello_frame=int(ch["frame.number"]) if ch else None,
            client_hello_retransmissions=retrans,
            server_hello_frame=int(sh["frame.number"]) if sh else None,
            syn_ack=bool(synack),
            server_ttl=srv_ttls, client_ttl=cli_ttls,
            syn_to_syn_ack_ms=round((float(synack["frame.time_epoch"]) - float(syn["frame.time_epoch"])) * 1000, 3)
            if synack else None,
            rsts=rsts,
            fins=fins,
        ))
        if icmps:
            conns[-1]["icmp"] = icmps
        if alerts:
            conns[-1]["alerts"] = alerts
        if p_len is not None:
            conns[-1]["server_key_exchange_dh_p_bits"] = p_len * 8
    return conns


def jsonl(path):
    if not os.path.exists(path):
        return []
    return [json.loads(l) for l in open(path) if l.strip()]


def main():
    here, facts = sys.argv[1], sys.argv[2]
    netem = json.load(open(os.path.join(facts, "_netem.json")))
    doc = {
        "generated_by": "captures/netns/make.sh (truth.py); expectations from how each capture was made",
        "path": {
            "namespaces": ["tlsm-client", "tlsm-router", "tlsm-server"],
            "client": {"ipv4": "10.200.1.2", "ipv6": "fd00:200::1:2", "iface": "veth-c"},
            "server": {"ipv4": "10.200.2.2", "ipv6": "fd00:200::2:2", "iface": "veth-s", "port": PORT},
            "router": "router.py (userspace AF_PACKET forwarder in tlsm-router; kernel forwarding off)",
            "netem_available": netem["netem_available"], "netem_error": netem["netem_error"],
            "one_way_delay_ms": DELAY_MS, "rtt_configured_ms": 2 * DELAY_MS,
            "initial_ttl": {"client": 64, "server": 64},
            "hops_between": 1,
            "server_ttl_at_client": 63, "client_ttl_at_server": 63,
            "note": "injected packets toward the client leave the router's client-side port directly: they "
                    "skip the delay line and keep the TTL the injector wrote; toward the server likewise on "
                    "the server-side port. The near-server injector's RST goes through the delay line and "
                    "is decremented like any server packet.",
        },
        "files": {},
    }
    for name, sc in SCENARIOS.items():
        made = os.path.join(facts, name + ".json")
        if not os.path.exists(made):
            continue   # scenario skipped (e.g. no iptables)
        how = json.load(open(made))
        inj = [e for e in jsonl(os.path.join(facts, name + ".inject.jsonl")) if e["event"] == "inject"]
        seen = [e for e in jsonl(os.path.join(facts, name + ".inject.jsonl")) if e["event"] == "client-hello-seen"]
        rlog = [e for e in jsonl(os.path.join(facts, name + ".router.jsonl")) if e["event"] != "router-up"]
        events = [dict(direction=e["direction"], seq=e["seq"], ttl=e["ttl"], ip_id=e["ip_id"], flags=e["flags"])
                  for e in inj]
        events += [dict(direction="to_client", seq=e["rst_seq"], ttl=e["ttl_sent"] - 1, ip_id=e["ip_id"],
                        flags=e["flags"])
                   for e in rlog if e["event"] == "near-server-inject"]
        # What the client and server programs said: helpers print JSON facts, openssl its errors.
        said = {}
        for point, fn in (("client", name + ".client.log"), ("server", name + ".helper.out")):
            f = os.path.join(facts, fn)
            if not os.path.exists(f):
                continue
            lines = [l.strip() for l in open(f, errors="replace") if l.strip()]
            js = []
            for l in lines:
                if l.startswith("{"):
                    try:
                        js.append(json.loads(l))
                    except ValueError:
                        pass
            errs = [l for l in lines if ":error:" in l or re.match(r"^\w+:errno=", l)]
            if js or errs:
                said[point] = js + errs
        for point in ("client", "server"):
            fn = "%s.%s.pcap" % (name, point)
            path = os.path.join(here, fn)
            rows = tshark(path)
            conns = summarize(rows, point, events)
            if point == "client":
                sent_sni = {c["client_port"]: c["sni"] for c in conns}
            exp = dict(sc[point])
            entry = {
                "scenario": name, "capture_point": point,
                "interface": "veth-c in tlsm-client" if point == "client" else "veth-s in tlsm-server",
                "what": sc["what"], "how_made": how,
                "bytes": os.path.getsize(path),
                "connections": [],
                "tshark": {"frames": len(rows), "connections": conns},
            }
            if inj or seen:
                entry["injector"] = {"client_hello_seen": seen, "sent": inj}
            if rlog:
                entry["router_events"] = rlog
            if said:
                entry["programs_said"] = said
            if "connections" in exp:
                entry["expected_connections"] = exp["connections"]
                entry["expected_note"] = exp.get("note")
            for c in conns:
                e = {"server_ip": c["server_ip"], "server_port": c["server_port"], "client_ip": c["client_ip"],
                     "client_port": c["client_port"], "sni": c["sni"],
                     "sni_sent_by_client": sent_sni.get(c["client_port"]),
                     "expected_verdict": exp.get("verdict")}
                if exp.get("by"):
                    e["by"] = exp["by"]
                for k in ("acceptable_by", "must_not_be"):
                    if k in exp:
                        e[k] = exp[k]
                if exp.get("findings"):
                    e["expected_findings"] = exp["findings"]
                if exp.get("note"):
                    e["expected_verdict_note"] = exp["note"]
                e["server_ttl_seen"] = c["server_ttl"]
                e["visible_rsts"] = [{k: r[k] for k in ("frame", "as_from", "origin", "ttl", "ip_id", "flags")
                                      if k in r} for r in c["rsts"]]
                e["visible_fins"] = [{k: r[k] for k in ("frame", "as_from", "origin", "ttl", "ip_id", "flags", "len")
                                      if k in r} for r in c["fins"]]
                if c.get("icmp"):
                    e["visible_icmp"] = [{k: r[k] for k in ("frame", "src", "type", "code", "ttl", "quotes_client_hello")}
                                         for r in c["icmp"]]
                if name == "client-abort" and point == "server":
                    first = next((r for r in c["rsts"] if r["as_from"] == "client"), None)
                    if first and first.get("before_server_hello") is False:
                        e["expected_verdict_note"] = (
                            "the client's RST (sent ~0.2 ms after its ClientHello) reached the server after the "
                            "server's ServerHello flight had left (path jitter): the server answered, then the "
                            "client reset; the cut is the client's")
                entry["connections"].append(e)
            doc["files"][fn] = entry
    json.dump(doc, sys.stdout, indent=1)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
