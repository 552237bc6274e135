#!/usr/bin/env python3
"""Writes captures/quic/truth.json from how the captures were made.

    python3 truth.py CAPTURE_DIR LOG_DIR SNI PORT_NGTCP2 PORT_AIOQUIC > truth.json

Facts come from the command lines in make.sh and from the CLIENTS' OWN LOGS: gtlsclient's
packet log (`pkt tx/rx ... dcid= scid= version= type=`, "Sent packet: local=...:PORT",
"Negotiated cipher suite is ...", "Negotiated ALPN is ...") and aioquic_pair.py's JSON (read
from aioquic's connection state). Never from tlsmortem. capinfos gives the frame count and
tshark's reading is kept under "tshark" as an independent cross-check only.
"""
import json
import os
import re
import subprocess
import sys

GNUTLS_SUITES = {"AES-128-GCM": 0x1301, "AES-256-GCM": 0x1302, "CHACHA20-POLY1305": 0x1303}
PKT = re.compile(r"pkt (tx|rx) pkn=(\d+) dcid=0x([0-9a-f]*) scid=0x([0-9a-f]*) "
                 r"version=0x([0-9a-f]+) type=(\w+)")
SENT = re.compile(r"Sent packet: local=\[127\.0\.0\.1\]:(\d+) remote")


def ngtcp2_connections(log):
    """One entry per client UDP socket (ngtcp2 starts a new one after Version Negotiation)."""
    conns, cur = [], None
    for line in open(log, errors="replace"):
        m = PKT.search(line)
        if m:
            d, pkn, dcid, scid, ver, typ = m.groups()
            if d == "tx" and typ == "Initial" and (cur is None or cur.get("_closed")):
                cur = {"client_port": None, "initial_version": int(ver, 16),
                       "client_initial_dcid": dcid, "client_scid": scid, "server_scid": None,
                       "retry": False, "retry_scid": None, "version_negotiation": False,
                       "server_initial": False, "version": None, "cipher_suite": None,
                       "alpn_negotiated": None}
                conns.append(cur)
            elif d == "rx" and typ == "Retry":
                cur["retry"], cur["retry_scid"] = True, scid
            elif d == "rx" and typ == "VN":
                cur["version_negotiation"] = True
            elif d == "rx" and typ == "Initial" and cur["server_scid"] is None:
                cur["server_initial"], cur["server_scid"] = True, scid
            continue
        if "ERR_RECV_VERSION_NEGOTIATION" in line and cur:
            cur["_closed"] = True
        m = SENT.search(line)
        if m and cur and cur["client_port"] is None:
            cur["client_port"] = int(m.group(1))
        m = re.search(r"the negotiated version is 0x([0-9a-f]+)", line)
        if m and cur:
            cur["version"] = int(m.group(1), 16)
        m = re.search(r"Negotiated cipher suite is (\S+)", line)
        if m and cur:
            cur["cipher_suite"] = GNUTLS_SUITES[m.group(1)]
            cur["cipher_suite_gnutls_name"] = m.group(1)
        m = re.search(r"Negotiated ALPN is (\S+)", line)
        if m and cur:
            cur["alpn_negotiated"] = m.group(1)
    for c in conns:
        c.pop("_closed", None)
    return conns


def capinfos_frames(path):
    out = subprocess.run(["capinfos", "-c", "-M", path], capture_output=True, text=True).stdout
    m = re.search(r"Number of packets:\s+(\d+)", out)
    return int(m.group(1)) if m else None


def tshark(path):
    fields = ["frame.number", "udp.srcport", "quic.version", "quic.long.packet_type",
              "tls.handshake.extensions_server_name", "tls.handshake.extensions_alpn_str",
              "tls.handshake.type", "tls.handshake.ciphersuite"]
    cmd = ["tshark", "-r", path, "-Y", "tls.handshake.type==1 || tls.handshake.type==2",
           "-T", "fields", "-E", "separator=|"] + sum([["-e", f] for f in fields], [])
    try:
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=60).stdout
    except (OSError, subprocess.TimeoutExpired):
        return None
    rows = []
    for line in out.splitlines():
        vals = dict(zip(fields, line.split("|")))
        rows.append({k.split(".")[-1]: v for k, v in vals.items() if v})
    return rows


def main():
    cap, logs, sni, port_ng, port_aio = sys.argv[1:6]
    files = {}
    common_ng = {
        "client": "gtlsclient (Debian ngtcp2-client 0.12, GnuTLS) "
                  f"www.example.test {port_ng} https://{sni}:{port_ng}/index.html",
        "server": f"gtlsserver (Debian ngtcp2-server 0.12) 127.0.0.1 {port_ng}",
        "transport": "udp", "server_port": int(port_ng), "sni": sni,
        "alpn_offered": ["h3"],
        "real": True,
    }
    desc = {
        "h3-ngtcp2.pcap": ("QUIC v1 HTTP/3 GET, client offers only TLS_AES_256_GCM_SHA384, "
                           "fixed Initial DCID (--dcid)", []),
        "h3-ngtcp2-retry.pcap": ("server with address validation (-V) answers the first "
                                 "Initial with Retry; client offers only ChaCha20", ["-V"]),
        "h3-ngtcp2-version-negotiation.pcap": (
            "client starts with version 0x1a2a3a4a; server answers Version Negotiation; "
            "client starts again with v1 from a new UDP port", []),
    }
    for name, (what, _) in desc.items():
        base = name[:-len(".pcap")]
        conns = ngtcp2_connections(os.path.join(logs, base + ".log"))
        files[name] = dict(common_ng, what=what, connections=conns)
    aio = json.load(open(os.path.join(logs, "h3-aioquic-v2.json")))
    files["h3-aioquic-v2.pcap"] = {
        "what": "QUIC version 2 (RFC 9369) HTTP/3 GET, aioquic both ends, client offers only "
                "TLS_CHACHA20_POLY1305_SHA256",
        "client": "aioquic_pair.py client: supported_versions=[VERSION_2], alpn h3, "
                  f"server_name {sni}",
        "server": f"aioquic_pair.py server on 127.0.0.1:{port_aio}",
        "transport": "udp", "server_port": int(port_aio), "sni": sni,
        "alpn_offered": aio["alpn_offered"], "real": True,
        "connections": [{
            "client_port": None, "initial_version": aio["version"],
            "client_initial_dcid": aio["client_original_dcid"],
            "client_scid": aio["client_scid"], "server_scid": aio["server_scid"],
            "retry": False, "retry_scid": None, "version_negotiation": False,
            "server_initial": True, "version": aio["version"],
            "cipher_suite": aio["cipher_suite"], "alpn_negotiated": aio["alpn_negotiated"],
            "http_status": aio["http_status"],
        }],
    }
    for name, t in files.items():
        path = os.path.join(cap, name)
        t["frames"] = capinfos_frames(path)
        t["size"] = os.path.getsize(path)
        t["tshark"] = tshark(path)
    json.dump({"generated_by": "captures/quic/make.sh", "files": files}, sys.stdout, indent=2)
    print()


if __name__ == "__main__":
    main()
