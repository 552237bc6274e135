#!/usr/bin/env python3
"""Writes captures/truth.json from how each capture was made (never from tlsmortem's output).

Usage: truth.py CAPTURES_DIR FACTS_DIR   (called by make.sh, which exports the PORT_*, SNI*
and CIPHER* variables used below; FACTS_DIR holds pcaptool.py's JSON facts).

Facts come from: the flags make.sh passed to openssl/curl/nginx (SNI, versions, ciphers,
ALPN), the PEM files served (certificate SHA-256 over DER, in the order they were served),
capinfos (frame counts), and pcaptool.py (what the rewrites did). tshark's reading of each
file is recorded under "tshark" as an independent cross-check, not as the truth.
"""
import hashlib
import json
import os
import subprocess
import sys

CAPS, FACTS = sys.argv[1], sys.argv[2]
E = os.environ
IANA = {  # cipher suite names as given to openssl/curl → IANA code points
    "ECDHE-RSA-AES128-GCM-SHA256": 0xC02F,
    "ECDHE-RSA-AES256-GCM-SHA384": 0xC030,
    "ECDHE-RSA-AES128-SHA": 0xC013,
    "TLS_AES_256_GCM_SHA384": 0x1302,
}
TLS10, TLS12, TLS13 = 0x0301, 0x0303, 0x0304


def der_sha256(name):
    der = subprocess.run(["openssl", "x509", "-in", f"{CAPS}/pki/{name}.pem", "-outform", "der"],
                         check=True, capture_output=True).stdout
    return hashlib.sha256(der).hexdigest()


def subject(name):
    return subprocess.run(["openssl", "x509", "-in", f"{CAPS}/pki/{name}.pem", "-noout", "-subject",
                           "-nameopt", "RFC2253"], check=True, capture_output=True,
                          text=True).stdout.strip().removeprefix("subject=")


def facts(name):
    with open(f"{FACTS}/{name}.json") as f:
        return json.load(f)


def capinfos_frames(path):
    out = subprocess.run(["capinfos", "-c", "-M", "-T", "-r", path], capture_output=True, text=True)
    try:
        return int(out.stdout.strip().split("\t")[-1])
    except ValueError:
        return None


def tshark_view(path):
    ports = [E[k] for k in E if k.startswith("PORT_")]
    decode = []
    for p in ports:
        decode += ["-d", f"tcp.port=={p},tls"]
    fields = ["frame.number", "tcp.stream", "tcp.srcport", "tcp.dstport", "tls.handshake.type",
              "tls.handshake.extensions_server_name", "tls.handshake.extensions_alpn_str",
              "tls.handshake.ciphersuite", "tls.handshake.extensions.supported_version",
              "tls.handshake.version", "tls.handshake.certificate"]
    cmd = ["tshark", "-n", "-r", path, *decode, "-Y", "tls.handshake.type==1 || tls.handshake.type==2 || tls.handshake.type==11",
           "-T", "fields", "-E", "separator=|", "-E", "occurrence=a", "-E", "aggregator=,"]
    for f in fields:
        cmd += ["-e", f]
    out = subprocess.run(cmd, capture_output=True, text=True)
    streams = {}
    for line in out.stdout.splitlines():
        (frame, stream, sport, dport, htypes, sni, alpn, ciphers, sver, hver, certs) = line.split("|")
        s = streams.setdefault(stream, {"tcp_stream": int(stream), "server_port": None, "sni": None,
                                        "alpn_offered": None, "server_hello_cipher": None,
                                        "server_hello_version": None, "server_certificates_sha256": [],
                                        "client_certificates_sha256": []})
        types = htypes.split(",")
        if "1" in types:
            s["server_port"] = int(dport)
            s["sni"] = sni or None
            s["alpn_offered"] = alpn.split(",") if alpn else []
        if "2" in types:
            # The ServerHello's suite is the only one on a ServerHello-carrying frame;
            # its supported_versions (when present) is the negotiated version.
            s["server_hello_cipher"] = int(ciphers.split(",")[-1], 16) if ciphers else None
            if sver:
                s["server_hello_version"] = int(sver.split(",")[-1], 16)
            elif hver:
                s["server_hello_version"] = int(hver.split(",")[-1], 16)
        if "11" in types and certs:
            side = "server" if int(sport) == s["server_port"] else "client"
            s[f"{side}_certificates_sha256"] += [hashlib.sha256(bytes.fromhex(c.replace(":", ""))).hexdigest()
                                         for c in certs.split(",")]
    return [streams[k] for k in sorted(streams, key=int)]


def conn(port, sni, version, cipher, served, *, alpn_offered=(), alpn_negotiated=None,
         visible=True, alpn_visible=True, client_certs=(), outcome="complete", **extra):
    c = {
        "client_ip": "127.0.0.1", "server_ip": "127.0.0.1", "server_port": int(port),
        "sni": sni, "alpn_offered": list(alpn_offered), "alpn_negotiated": alpn_negotiated,
        # TLS 1.3 sends the chosen ALPN in EncryptedExtensions: not visible on the wire.
        "alpn_negotiated_visible": alpn_visible,
        "version": version, "cipher_suite": cipher,
        # What the server was configured to send, in wire order.
        "server_certificates_served_sha256": [der_sha256(n) for n in served],
        "server_certificates_served_subjects": [subject(n) for n in served],
        # What a passive observer can see: TLS 1.3 encrypts the Certificate message.
        "server_certificates_visible": visible,
        "server_certificates_sha256": [der_sha256(n) for n in served] if visible else [],
        "client_certificates_sha256": [der_sha256(n) for n in client_certs],
        "outcome": outcome,
    }
    c.update(extra)
    return c


def tls12_conn(port):
    return conn(port, E["SNI"], TLS12, IANA[E["CIPHER12"]], ["leaf", "inter"])


def tls13_conn(port, **kw):
    return conn(port, E["SNI"], TLS13, IANA[E["CIPHER13"]], ["leaf", "inter"], visible=False,
                alpn_visible=False, **kw)


long_chain = ["longleaf", "long3", "long2", "long1"]
files = {
    "tls12-openssl.pcap": {
        "shows": "TLS 1.2, openssl s_server -www with leaf+intermediate, s_client with SNI, forced ECDHE-RSA-AES128-GCM-SHA256, GET, clean close",
        "format": "pcap", "link_type": 1,
        "connections": [tls12_conn(E["PORT_TLS12"])],
    },
    "tls13-curl-nginx.pcap": {
        "shows": "TLS 1.3, curl --tlsv1.3 --tls13-ciphers TLS_AES_256_GCM_SHA384 against nginx (http2 on) with fullchain; two connections, the first offering h2+http/1.1, the second (--http1.1) only http/1.1",
        "format": "pcap", "link_type": 1,
        "connections": [
            tls13_conn(E["PORT_NGINX"], alpn_offered=["h2", "http/1.1"], alpn_negotiated="h2"),
            tls13_conn(E["PORT_NGINX"], alpn_offered=["http/1.1"], alpn_negotiated="http/1.1"),
        ],
    },
    "tls10-openssl.pcap": {
        "shows": "TLS 1.0 (-tls1, @SECLEVEL=0) with server-forced ECDHE-RSA-AES128-SHA",
        "format": "pcap", "link_type": 1,
        "connections": [conn(E["PORT_TLS10"], E["SNI"], TLS10, IANA[E["CIPHER10"]], ["leaf", "inter"])],
    },
    "client-hello-two-segments.pcap": {
        "shows": "ClientHello split by a proxy into two TCP segments (first SPLIT_AT bytes of the record, which ends inside the SNI host name, then the rest 50 ms later); proxy->server leg only",
        "format": "pcap", "link_type": 1, "client_hello_split_at": int(E["SPLIT_AT"]), "client_hello_segments": 2,
        "connections": [conn(E["PORT_SPLIT"], E["SNI"], TLS12, IANA[E["CIPHER12_SPLIT"]], ["leaf", "inter"])],
    },
    "long-chain-many-segments.pcap": {
        "shows": "TLS 1.2, chain leaf+3 intermediates with 4096-bit RSA keys, client SYN advertises MSS 536 so the server flight spans many segments",
        "format": "pcap", "link_type": 1, "client_mss": 536,
        "connections": [conn(E["PORT_LONG"], E["SNI"], TLS12, IANA[E["CIPHER12"]], long_chain)],
    },
    "reordered-retransmitted.pcap": {
        "shows": "long-chain-many-segments.pcap with two server segments swapped, one exact retransmission and one partially overlapping retransmission (identical bytes)",
        "format": "pcap", "link_type": 1, "derived_from": "long-chain-many-segments.pcap",
        "rewrite": facts("reorder"),
        "connections": [conn(E["PORT_LONG"], E["SNI"], TLS12, IANA[E["CIPHER12"]], long_chain)],
    },
    "rst-after-client-hello.pcap": {
        "shows": "server reads the ClientHello and closes with SO_LINGER {1,0}: the kernel sends RST; nothing else from the server",
        "format": "pcap", "link_type": 1,
        "connections": [conn(E["PORT_RST"], E["SNI_BLOCKED"], None, None, [], outcome="rst-after-client-hello",
                             server_hello=False, rst_from="server")],
    },
    "truncated.pcap": {
        "shows": "tls12-openssl.pcap cut in the middle of a frame near the end",
        "format": "pcap", "link_type": 1, "derived_from": "tls12-openssl.pcap",
        "truncation": facts("truncate"),
        "connections": [tls12_conn(E["PORT_TLS12"])],
    },
    "tls12-bigendian-nanosecond.pcap": {
        "shows": "tls12-openssl.pcap rewritten big-endian with nanosecond magic 0xa1b23c4d, same instants",
        "format": "pcap", "link_type": 1, "derived_from": "tls12-openssl.pcap",
        "rewrite": facts("bigendian"),
        "connections": [tls12_conn(E["PORT_TLS12"])],
    },
    "tls13.pcapng": {
        "shows": "TLS 1.3 openssl s_server/s_client, -ciphersuites TLS_AES_256_GCM_SHA384, written as pcapng with two interfaces (client->server on if 0 with if_tsresol 6, server->client on if 1 with if_tsresol 9)",
        "format": "pcapng", "link_type": 1,
        "rewrite": facts("pcapng"),
        "connections": [tls13_conn(E["PORT_TLS13"])],
    },
    "tls12-sll2.pcap": {
        "shows": "same setup as tls12-openssl.pcap on its own port, captured with tcpdump -i any (LINUX_SLL2, link type 276)",
        "format": "pcap", "link_type": 276, "same_facts_as": "tls12-openssl.pcap",
        "connections": [tls12_conn(E["PORT_SLL2"])],
    },
    "mtls-openssl.pcap": {
        "shows": "TLS 1.2 mutual TLS: s_server -Verify 2, s_client -cert client.pem -cert_chain inter.pem; both chains visible",
        "format": "pcap", "link_type": 1,
        "connections": [conn(E["PORT_MTLS"], E["SNI"], TLS12, IANA[E["CIPHER12"]], ["leaf", "inter"],
                             client_certs=["client", "inter"])],
    },
}

for name, entry in files.items():
    path = f"{CAPS}/{name}"
    entry["bytes"] = os.path.getsize(path)
    if name == "truncated.pcap":
        entry["frames"] = entry["truncation"]["frames_kept"]
    else:
        entry["frames"] = capinfos_frames(path)
    entry["tshark"] = tshark_view(path)

pki = {n: {"sha256": der_sha256(n), "subject": subject(n)} for n in
       ["root", "inter", "leaf", "client", "longroot", "long1", "long2", "long3", "longleaf"]}
print(json.dumps({
    "generated_by": "captures/make.sh (captures/scripts/truth.py)",
    "note": "Ground truth from how each capture was made; tshark's view is a cross-check only. Versions and cipher suites are IANA code points; null = not negotiated.",
    "pki": pki,
    "files": files,
}, indent=2))
