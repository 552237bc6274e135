#!/usr/bin/env python3
"""Writes captures/certs/truth.json from how each capture was made (never from tlsmortem).

Usage: truth.py CERTS_DIR FACTS_DIR PKI_TMP   (called by make.sh)

FACTS_DIR/files.jsonl and conns.jsonl hold what make.sh did, one JSON object per line: the
scenario, the clients and servers, the PEM files served (in the order served), whether the
client rejected the chain and with which alert (openssl's mapping of the verify error, see
ssl_verify_alarm_type), and the tlsmortem finding / verdict ids that follow from that.
Certificate SHA-256s are over the DER of the PEM files in pki/. tshark's reading of each file
(certificates and plaintext alerts per TCP stream) is recorded under "tshark" as a cross-check;
make.sh fails if it disagrees with the facts.
"""
import base64
import hashlib
import json
import subprocess
import sys

CERTS, FACTS, PKI = sys.argv[1], sys.argv[2], sys.argv[3]
ALERTS = {40: "handshake_failure", 42: "bad_certificate", 45: "certificate_expired",
          46: "certificate_unknown", 48: "unknown_ca", 116: "certificate_required"}


def pem_der(name):
    with open(f"{CERTS}/pki/{name}.pem") as f:
        body = f.read().split("-----BEGIN CERTIFICATE-----")[1].split("-----END CERTIFICATE-----")[0]
    return base64.b64decode("".join(body.split()))


def sha(name):
    return hashlib.sha256(pem_der(name)).hexdigest()


def subject(name):
    return subprocess.run(["openssl", "x509", "-in", f"{CERTS}/pki/{name}.pem", "-noout", "-subject",
                           "-nameopt", "RFC2253"], check=True, capture_output=True,
                          text=True).stdout.strip().removeprefix("subject=")


def lines(path):
    with open(path) as f:
        return [json.loads(l) for l in f if l.strip()]


def split(v):
    return [x for x in (v or "").split(",") if x]


def tshark_view(path, port):
    base = ["tshark", "-n", "-r", path, "-d", f"tcp.port=={port},tls"]
    streams = {}

    def st(s):
        return streams.setdefault(int(s), {"tcp_stream": int(s), "sni": None, "server_certificates_sha256": [],
                                           "client_certificates_sha256": [], "alerts": [],
                                           "certificate_status": False})
    out = subprocess.run(base + ["-Y", "tls.handshake.type", "-T", "fields", "-E", "separator=|",
                                 "-E", "occurrence=a", "-E", "aggregator=,", "-e", "tcp.stream",
                                 "-e", "tcp.srcport", "-e", "tls.handshake.type",
                                 "-e", "tls.handshake.extensions_server_name",
                                 "-e", "tls.handshake.certificate"],
                         capture_output=True, text=True, check=True).stdout
    for line in out.splitlines():
        stream, sport, types, sni, certs = line.split("|")
        s = st(stream)
        types = types.split(",")
        if "1" in types:
            s["sni"] = sni or None
        if "22" in types:
            s["certificate_status"] = True
        if "11" in types:
            hashes = [hashlib.sha256(bytes.fromhex(c.replace(":", ""))).hexdigest() for c in split(certs)]
            key = "server_certificates_sha256" if int(sport) == port else "client_certificates_sha256"
            s[key] = hashes
    out = subprocess.run(base + ["-Y", "tls.alert_message", "-T", "fields", "-E", "separator=|",
                                 "-E", "occurrence=a", "-E", "aggregator=,", "-e", "tcp.stream",
                                 "-e", "tcp.srcport", "-e", "frame.number", "-e", "tls.alert_message.level",
                                 "-e", "tls.alert_message.desc"], capture_output=True, text=True, check=True).stdout
    for line in out.splitlines():
        stream, sport, frame, level, desc = line.split("|")
        for lv, d in zip(split(level), split(desc)):
            st(stream)["alerts"].append({"frame": int(frame), "from": "server" if int(sport) == port else "client",
                                         "level": int(lv), "description": int(d)})
    return [streams[k] for k in sorted(streams)]


names = ["root", "inter", "other-inter", "issuing2", "leaf", "leaf-revoked", "leaf-expired", "leaf-notyet",
         "leaf-sha1", "leaf-weak", "leaf-sub", "selfsigned", "client"]
truth = {
    "generated_by": "captures/certs/make.sh (captures/certs/truth.py)",
    "note": ("Ground truth from how each capture was made. Per connection: the finding ids that must be "
             "present, the verdict id, the chain served (SHA-256 of the DER, wire order, and the pki/ file "
             "names), the SNI, whether the client rejected the chain and with which alert. tshark's reading "
             "is a cross-check only."),
    "pki": {n: {"file": f"pki/{n}.pem", "sha256": sha(n), "subject": subject(n)} for n in names},
    "files": {},
}
conns = lines(f"{FACTS}/conns.jsonl")
problems = []
for fi in lines(f"{FACTS}/files.jsonl"):
    f = fi["file"]
    mine = [c for c in conns if c["file"] == f]
    port = int(mine[0]["port"])
    tshark = tshark_view(f"{CERTS}/{f}", port)
    out = []
    for i, c in enumerate(mine):
        rejected = c.get("rejected") == "yes"
        alert = None
        if rejected and c.get("alert") == "encrypted":
            alert = {"from": "client", "encrypted": True, "description": None, "name": None}
        elif rejected:
            d = int(c["alert"])
            alert = {"from": "client", "encrypted": False, "level": 2, "description": d, "name": ALERTS[d]}
        elif c.get("server_alert"):
            d = int(c["server_alert"])
            alert = {"from": "server", "encrypted": False, "level": 2, "description": d, "name": ALERTS[d]}
        served = split(c.get("served"))
        client_served = split(c.get("client_served"))
        tls13 = c.get("tls13") == "yes"
        conn = {
            "client": c["client"],
            "server_ip": "127.0.0.1",
            "server_port": port,
            "sni": c["sni"],
            "version": 0x0304 if tls13 else 0x0303,
            "certificates_visible": not tls13,
            "client_rejected": rejected,
            "alert": alert,
            "expected_verdict": c["verdict"],
            "expected_findings": split(c.get("findings")),
            "served_pem": served,
            "server_certificates_served_sha256": [sha(n) for n in served],
            "client_pem": client_served,
            "client_certificates_served_sha256": [sha(n) for n in client_served],
        }
        if c.get("ocsp"):
            conn["ocsp_stapled_status"] = c["ocsp"]
        # cross-check against tshark
        t = tshark[i] if i < len(tshark) else None
        if t is None:
            problems.append(f"{f} #{i}: tshark sees no such connection")
        else:
            if t["sni"] != c["sni"]:
                problems.append(f"{f} #{i}: tshark SNI {t['sni']}")
            if not tls13 and t["server_certificates_sha256"] != conn["server_certificates_served_sha256"]:
                problems.append(f"{f} #{i}: tshark server certs differ")
            if tls13 and t["server_certificates_sha256"]:
                problems.append(f"{f} #{i}: tshark sees TLS 1.3 certificates")
            if not tls13 and t["client_certificates_sha256"] != conn["client_certificates_served_sha256"] \
                    and conn["client_certificates_served_sha256"]:
                problems.append(f"{f} #{i}: tshark client certs differ")
            fatal = [a for a in t["alerts"] if a["level"] == 2]
            if alert and not alert["encrypted"]:
                if not fatal or fatal[0]["from"] != alert["from"] or fatal[0]["description"] != alert["description"]:
                    problems.append(f"{f} #{i}: tshark fatal alerts {fatal}, expected {alert}")
            elif fatal:
                problems.append(f"{f} #{i}: unexpected fatal alert {fatal}")
            if c.get("ocsp") and not t["certificate_status"]:
                problems.append(f"{f} #{i}: no CertificateStatus message seen by tshark")
        out.append(conn)
    truth["files"][f] = {"shows": fi["shows"], "how": fi["how"], "connections": out, "tshark": tshark}

print(json.dumps(truth, indent=2))
for p in problems:
    print("truth.py: cross-check:", p, file=sys.stderr)
if problems:
    sys.exit(1)
