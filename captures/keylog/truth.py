#!/usr/bin/env python3
"""Writes captures/keylog/truth.json from how each capture was made (never from tlsmortem).

Usage: truth.py KEYLOG_DIR FACTS_DIR   (called by make.sh)

FACTS_DIR/files.jsonl and conns.jsonl hold what make.sh did, one JSON object per line: the
scenario, the key log written beside the capture, the trust store the client had, and per
connection the client, the version and cipher suite forced, the PEM files served (in the order
served), the ALPN configured, the alerts the programs were set up to send (sender, level,
description: OpenSSL's ssl_verify_alarm_type mapping for s_client and Python, bad_certificate
for GnuTLS and aioquic, certificate_required from a TLS 1.3 server, close_notify from the end
that closes), and the tlsmortem verdict and finding ids that follow from that.

tshark (4.0) reads every capture twice, with the key log and without, as the independent
cross-check: it must decrypt exactly the certificates served and the alerts expected, and it
gives what the setup cannot know in advance: frame numbers, client ports, whether an alert was
encrypted (tshark reads it only with the keys). truth.py fails if tshark disagrees with the
facts. Both readings are stored under "tshark" and "tshark_without_keys".
"""
import base64
import hashlib
import json
import os
import subprocess
import sys

HERE, FACTS = sys.argv[1], sys.argv[2]
ALERTS = {0: "close_notify", 40: "handshake_failure", 42: "bad_certificate", 45: "certificate_expired",
          48: "unknown_ca", 100: "no_renegotiation", 116: "certificate_required"}
VERSIONS = {"1.2": 0x0303, "1.3": 0x0304}
# RFC 8446 §4.1.3: a HelloRetryRequest is a ServerHello with this random.
HRR_RANDOM = "cf21ad74e59a6111be1d8c021e65b891c2a211167abb8c5e079e09e2c8a8339c"
# Handshake types only sent under TLS 1.3 application keys: NewSessionTicket, KeyUpdate.
APP_KEY_HANDSHAKES = {"4", "24"}


def pem_der(name):
    with open(f"{HERE}/pki/{name}.pem") as f:
        body = f.read().split("-----BEGIN CERTIFICATE-----")[1].split("-----END CERTIFICATE-----")[0]
    return base64.b64decode("".join(body.split()))


def sha(name):
    return hashlib.sha256(pem_der(name)).hexdigest()


def subject(name):
    return subprocess.run(["openssl", "x509", "-in", f"{HERE}/pki/{name}.pem", "-noout", "-subject",
                           "-nameopt", "RFC2253"], check=True, capture_output=True,
                          text=True).stdout.strip().removeprefix("subject=")


def lines(path):
    with open(path) as f:
        return [json.loads(line) for line in f if line.strip()]


def split(v, sep=","):
    return [x for x in (v or "").split(sep) if x]


def tshark_rows(path, udp, port, keylog, display, fields):
    """tshark's field rows for the packets matching `display`, one list of lists per row."""
    cmd = ["tshark", "-n", "-r", path, "-d", f"{'udp' if udp else 'tcp'}.port=={port},{'quic' if udp else 'tls'}"]
    if keylog:
        cmd += ["-o", f"tls.keylog_file:{keylog}"]
    cmd += ["-Y", display, "-T", "fields", "-E", "separator=|", "-E", "occurrence=a", "-E", "aggregator=,"]
    for f in fields:
        cmd += ["-e", f]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    return [line.split("|") for line in out.splitlines()]


def tshark_view(path, udp, port, keylog):
    """What tshark reads per connection (TCP or UDP stream), with `keylog` or without keys.

    For a pcapng with a Decryption Secrets Block tshark uses the embedded keys by itself."""
    stream_field = "udp.stream" if udp else "tcp.stream"
    sport_field = "udp.srcport" if udp else "tcp.srcport"
    streams = {}

    def st(s):
        return streams.setdefault(int(s), {
            "stream": int(s), "client_port": None, "sni": None, "alpn_offered": [],
            "client_hello_frames": [], "hello_retry_request": False, "server_hello_version": None,
            "server_hello_cipher": None, "encrypt_then_mac": False, "alpn_negotiated": None,
            "server_certificates_sha256": [], "client_certificates_sha256": [], "alerts": []})

    rows = tshark_rows(path, udp, port, keylog, "tls.handshake", [
        stream_field, sport_field, "frame.number", "tls.handshake.type",
        "tls.handshake.extensions_server_name", "tls.handshake.extensions_alpn_str",
        "tls.handshake.ciphersuite", "tls.handshake.extensions.supported_version",
        "tls.handshake.version", "tls.handshake.random", "tls.handshake.extension.type",
        "tls.handshake.certificate"])
    for stream, sport, frame, types, sni, alpn, ciphers, sver, hver, randoms, exts, certs in rows:
        s = st(stream)
        types = split(types)
        from_server = int(split(sport)[0]) == port
        if not from_server:
            s["client_port"] = int(split(sport)[0])
            if "1" in types:
                if not s["client_hello_frames"]:
                    s["sni"] = sni or None
                    s["alpn_offered"] = split(alpn)
                s["client_hello_frames"].append(int(frame))
            if "11" in types:
                s["client_certificates_sha256"] = [hashlib.sha256(bytes.fromhex(c.replace(":", ""))).hexdigest()
                                                   for c in split(certs)]
            continue
        if "2" in types:
            if HRR_RANDOM in split(randoms):
                s["hello_retry_request"] = True
            if HRR_RANDOM not in split(randoms) or len(split(randoms)) > 1:
                s["server_hello_cipher"] = int(split(ciphers)[-1], 16)
                v = split(sver) or split(hver)
                s["server_hello_version"] = int(v[-1], 16)
                s["encrypt_then_mac"] = "22" in split(exts)
        if ("2" in types or "8" in types) and alpn:
            s["alpn_negotiated"] = alpn
        if "11" in types:
            s["server_certificates_sha256"] = [hashlib.sha256(bytes.fromhex(c.replace(":", ""))).hexdigest()
                                               for c in split(certs)]
    # Frames in which each side sent a record under TLS 1.3 application keys (as tshark reads
    # them with the keys: decrypted application data, NewSessionTicket, KeyUpdate).
    app_frames = {}
    if not udp:
        for stream, sport, frame, ctypes, htypes in tshark_rows(
                path, udp, port, keylog, "tls.record",
                [stream_field, sport_field, "frame.number", "tls.record.content_type", "tls.handshake.type"]):
            if "23" in split(ctypes) or APP_KEY_HANDSHAKES & set(split(htypes)):
                side = "server" if int(sport) == port else "client"
                app_frames.setdefault((int(stream), side), []).append(int(frame))
        for stream, sport, frame, level, desc in tshark_rows(
                path, udp, port, keylog, "tls.alert_message",
                [stream_field, sport_field, "frame.number", "tls.alert_message.level", "tls.alert_message.desc"]):
            side = "server" if int(sport) == port else "client"
            for lv, d in zip(split(level), split(desc)):
                first_app = min(app_frames.get((int(stream), side), [10**9]))
                st(stream)["alerts"].append({"frame": int(frame), "from": side, "level": int(lv),
                                             "description": int(d), "after_first_application_record": int(frame) >= first_app})
    else:
        # RFC 9001 §4.8: a TLS alert becomes CONNECTION_CLOSE (0x1c) with error 0x100 + alert.
        for stream, sport, frame, codes in tshark_rows(path, udp, port, keylog, "quic.frame_type == 0x1c",
                                                       [stream_field, sport_field, "frame.number", "quic.cc.error_code"]):
            for code in split(codes):
                if 0x100 <= int(code) <= 0x1ff:
                    st(stream)["alerts"].append({"frame": int(frame), "from": "server" if int(sport) == port else "client",
                                                 "level": 2, "description": int(code) - 0x100,
                                                 "after_first_application_record": False})
    return [streams[k] for k in sorted(streams)]


def capinfos_frames(path):
    out = subprocess.run(["capinfos", "-c", "-M", "-T", "-r", path], capture_output=True, text=True)
    return int(out.stdout.strip().split("\t")[-1])


names = ["root", "other-root", "inter", "leaf", "leaf-expired", "leaf-ec", "client"]
truth = {
    "generated_by": "captures/keylog/make.sh (captures/keylog/truth.py)",
    "note": ("Ground truth from how each capture was made, with frame numbers, client ports and "
             "which alerts were encrypted read by tshark with the key log. Run tlsmortem with "
             "--keylog KEYLOG (none for a pcapng with embedded secrets) and --ca-file CA_FILE "
             "--no-default-roots: CA_FILE is the trust store the client had. Per connection: "
             "the chain served (SHA-256 of the DER, wire order), the alerts (an encrypted one "
             "must come out decrypted unless after_first_application_record: RFC 8446 records "
             "past the first one under application keys need not be decrypted), the verdict with "
             "and without the keys (null: not stated), finding ids that must be present. "
             "tshark's readings are a cross-check only."),
    "pki": {n: {"file": f"pki/{n}.pem", "sha256": sha(n), "subject": subject(n)} for n in names},
    "files": {},
}
conns = lines(f"{FACTS}/conns.jsonl")
problems = []
for fi in lines(f"{FACTS}/files.jsonl"):
    f = fi["file"]
    mine = [c for c in conns if c["file"] == f]
    port = int(mine[0]["port"])
    udp = fi.get("transport") == "udp"
    path = f"{HERE}/{f}"
    keylog = f"{HERE}/{fi['keylog']}" if fi["keylog"] else None
    source = f"{HERE}/{fi.get('derived_from', f)}"
    right_keys = fi.get("right_keys") or keylog
    with_keys = tshark_view(path, udp, port, right_keys)
    given_keys = tshark_view(path, udp, port, keylog) if right_keys != keylog else with_keys
    without = tshark_view(source, udp, port, None)
    if len(with_keys) != len(mine) or len(without) != len(mine):
        problems.append(f"{f}: tshark sees {len(with_keys)} connections with keys, {len(without)} without; made {len(mine)}")
        continue
    out = []
    for i, (c, t, g, w) in enumerate(zip(mine, with_keys, given_keys, without)):
        where = f"{f} #{i} ({c['client']})"
        served, client_served = split(c.get("served")), split(c.get("client_served"))
        tls13 = c["version"] == "1.3"
        plain = {a["frame"] for a in w["alerts"]}
        alerts = []
        for spec in split(c.get("alerts")):
            side, level, desc = spec.split(":")
            alerts.append({"from": side, "level": int(level), "description": int(desc), "name": ALERTS[int(desc)]})
        seen = [(a["from"], a["level"], a["description"]) for a in t["alerts"]]
        if seen != [(a["from"], a["level"], a["description"]) for a in alerts]:
            problems.append(f"{where}: tshark with keys reads alerts {seen}, expected {alerts}")
        for a, ta in zip(alerts, t["alerts"]):
            a["frame"] = ta["frame"]
            a["encrypted"] = ta["frame"] not in plain
            # TLS 1.3 only: records past the first under application keys need not be decrypted.
            a["must_decrypt"] = a["encrypted"] and not (tls13 and not udp and ta["after_first_application_record"])
        decrypts = c.get("keys_decrypt") != "no"
        conn = {
            "client": c["client"],
            "transport": "udp" if udp else "tcp",
            "server_ip": "127.0.0.1",
            "server_port": port,
            "client_port": t["client_port"],
            "sni": c["sni"],
            "version": VERSIONS[c["version"]],
            "cipher_suite": int(c["cipher"], 16),
            "hello_retry_request": c.get("hrr") == "yes",
            "alpn_offered": split(c.get("alpn_offered")),
            "alpn_negotiated": c.get("alpn") or None,
            "keys": fi.get("keys", "keylog"),
            "keys_decrypt": decrypts,
            "served_pem": served,
            "server_certificates_sha256": [sha(n) for n in served],
            "client_pem": client_served,
            "client_certificates_sha256": [sha(n) for n in client_served],
            "alerts": alerts,
            "renegotiation_client_hello_frames": [x for x in t["client_hello_frames"] if x not in w["client_hello_frames"]],
            "expected_verdict": c["verdict"],
            "expected_verdict_without_keys": c.get("without_keys") or None,
            "expected_findings": split(c.get("findings")),
        }
        if c.get("mac"):
            conn["mac"] = c["mac"]
        if c.get("client_said"):
            conn["client_said"] = json.loads(c["client_said"])
        out.append(conn)

        # ---- cross-check against tshark
        def check(what, got, want):
            if got != want:
                problems.append(f"{where}: tshark {what} {got!r}, expected {want!r}")
        check("SNI", t["sni"], conn["sni"])
        check("ALPN offered", t["alpn_offered"], conn["alpn_offered"])
        check("version", t["server_hello_version"], conn["version"])
        check("cipher", t["server_hello_cipher"], conn["cipher_suite"])
        check("HelloRetryRequest", t["hello_retry_request"], conn["hello_retry_request"])
        check("server chain with keys", t["server_certificates_sha256"], conn["server_certificates_sha256"])
        check("client chain with keys", t["client_certificates_sha256"], conn["client_certificates_sha256"])
        check("ALPN chosen", t["alpn_negotiated"], conn["alpn_negotiated"])
        check("renegotiation", bool(conn["renegotiation_client_hello_frames"]), c.get("renegotiation") == "yes")
        if c.get("mac"):
            check("encrypt_then_mac", t["encrypt_then_mac"], c["mac"] == "etm")
        if tls13:
            check("server chain without keys", w["server_certificates_sha256"], [])
        if not decrypts:
            # The key log given names these connections but decrypts nothing: tshark reads with
            # it exactly what it reads without keys.
            check("reading with the wrong key log", g, w)
        said = conn.get("client_said") or {}
        if said.get("rejected"):
            check("client's CONNECTION_CLOSE", said["error_code"] - 0x100, alerts[-1]["description"])
        elif said:
            check("client's cipher", said["cipher_suite"], conn["cipher_suite"])
            check("client's ALPN", said["alpn_negotiated"], conn["alpn_negotiated"])
    entry = {"shows": fi["shows"], "how": fi["how"], "format": "pcapng" if f.endswith(".pcapng") else "pcap",
             "keylog": fi["keylog"] or None, "keys": fi.get("keys", "keylog"),
             "ca_file": f"pki/{fi['ca']}.pem", "bytes": os.path.getsize(path), "frames": capinfos_frames(path),
             "connections": out, "tshark": with_keys, "tshark_without_keys": without}
    if fi.get("derived_from"):
        entry["derived_from"] = fi["derived_from"]
    if fi.get("right_keys"):
        entry["tshark_with_given_keys"] = given_keys
    truth["files"][f] = entry

print(json.dumps(truth, indent=2))
for p in problems:
    print("truth.py: cross-check:", p, file=sys.stderr)
if problems:
    sys.exit(1)
