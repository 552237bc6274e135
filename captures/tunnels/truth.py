#!/usr/bin/env python3
"""Writes captures/tunnels/truth.json (stdout) from how make.sh made each capture.

    truth.py CAPTURE_DIR FACTS_DIR LOGS_DIR PKI_DIR SNI PORT

Per scenario, make.sh recorded the tunnel it built (the layers the record must list, from the
ids it configured: VNI, GRE key, ERSPAN session, MPLS label), the TLS version and cipher it
forced on both ends, and the server address. The certificates served are the PKI files
(SHA-256 of the DER, leaf then intermediate, as s_server -cert/-cert_chain sends them). Each
handshake must have completed: s_client's own words ("Verify return code: 0 (ok)", the
protocol and cipher it reports) are checked here and kept under "programs_said". Nothing here
comes from tlsmortem. tshark's reading of the SNI is kept as a cross-check where it decodes the
tunnel.
"""
import glob, hashlib, json, os, re, subprocess, sys

cap_dir, facts_dir, logs_dir, pki_dir, sni, port = sys.argv[1:7]
port = int(port)


def der_sha256(pem_path):
    der = subprocess.run(["openssl", "x509", "-in", pem_path, "-outform", "DER"],
                         check=True, capture_output=True).stdout
    return hashlib.sha256(der).hexdigest()


chain = [der_sha256(os.path.join(pki_dir, f)) for f in ("leaf.pem", "inter.pem")]


def tshark_snis(path):
    try:
        out = subprocess.run(["tshark", "-r", path, "-Y", "tls.handshake.type == 1",
                              "-T", "fields", "-e", "tls.handshake.extensions_server_name",
                              "-e", "dtls.handshake.extensions_server_name"],
                             capture_output=True, text=True, timeout=60).stdout
    except (OSError, subprocess.TimeoutExpired):
        return None
    return sorted({v for line in out.splitlines() for v in line.split("\t") if v})


def said(name):
    path = os.path.join(logs_dir, name + ".s_client")
    text = open(path, errors="replace").read() if os.path.exists(path) else ""
    lines = [l.strip() for l in text.splitlines()
             if re.search(r"Verify return code|^\s*Protocol|^\s*Cipher|New, ", l)]
    if "Verify return code: 0 (ok)" not in text or not re.search(r"Cipher is (?!\(NONE\))", text):
        sys.exit(f"truth.py: {name}: s_client did not complete a verified handshake:\n{text[-2000:]}")
    return lines


files = {}
for fact_path in sorted(glob.glob(os.path.join(facts_dir, "*.json"))):
    name = os.path.basename(fact_path)[:-5]
    f = json.load(open(fact_path))
    pairs = [(name + ".pcap", f["encapsulation"]), (f["plain"], [])]
    for file, encapsulation in pairs:
        path = os.path.join(cap_dir, file)
        size = os.path.getsize(path)
        assert size < 1 << 20, f"{file} is {size} bytes"
        log = file if name.startswith("frag-ipv6") else name
        files[file] = {
            "scenario": name,
            "plain_version": f["plain"] if file != f["plain"] else None,
            "tunnel_version": name + ".pcap" if file == f["plain"] else None,
            "how_made": f["how"],
            "client": f["client"],
            "fragmented": f.get("fragmented") if file == name + ".pcap" else None,
            "programs_said": said(log),
            "tshark_sni": tshark_snis(path),
            "connections": [{
                "server_ip": f["server"],
                "server_port": port,
                "sni": sni,
                "version": f["version"],
                "cipher_suite": f["cipher"],
                "server_certificates_sha256": chain,
                "expected_verdict": "complete",
                "encapsulation": encapsulation,
            }],
        }

json.dump({
    "about": "captures/tunnels: how each capture was made and what it must give; see README.md",
    "sni": sni,
    "chain_sha256": chain,
    "files": files,
}, sys.stdout, indent=1, sort_keys=True)
print()
