#!/usr/bin/env python3
"""Writes captures/starttls/truth.json from how the captures were made.

    python3 truth.py CAPTURE_DIR LOG_DIR LEAF_PEM > truth.json

Facts: the client command lines in make.sh (SNI, the one TLS version and cipher the client
offered), the CLIENTS' OWN reports (openssl s_client -brief: "Protocol version", "Ciphersuite";
psql: the server's pg_stat_ssl row for the session; smtp_stub.py's JSON), and the SHA-256 of
the served leaf certificate's DER. Frame numbers of the STARTTLS command, its reply and the
ClientHello are found by a minimal pcap reader below (the first client→server TCP payload
holding the command bytes the client is known to send, the next server→client payload, the
first client payload starting with a TLS handshake record). Never from tlsmortem.
"""
import base64
import hashlib
import json
import os
import re
import struct
import sys

IANA = {"TLSv1.2": 0x0303, "TLSv1.3": 0x0304,
        "ECDHE-ECDSA-AES128-GCM-SHA256": 0xC02B, "ECDHE-ECDSA-AES256-GCM-SHA384": 0xC02C,
        "TLS_AES_128_GCM_SHA256": 0x1301, "TLS_AES_256_GCM_SHA384": 0x1302,
        "TLS_CHACHA20_POLY1305_SHA256": 0x1303}
PG_SSLREQUEST = bytes.fromhex("0000000804d2162f")


def frames(path):
    """Yield (frame_no, src_port, dst_port, tcp_flags, payload) for Ethernet/IPv4/TCP pcap."""
    data = open(path, "rb").read()
    magic = data[:4]
    e = "<" if magic in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1") else ">"
    off, n = 24, 0
    while off + 16 <= len(data):
        _, _, incl, _ = struct.unpack(e + "IIII", data[off:off + 16])
        pkt = data[off + 16:off + 16 + incl]
        off += 16 + incl
        n += 1
        if len(pkt) < 34 or pkt[12:14] != b"\x08\x00":
            continue
        ip = pkt[14:]
        ihl = (ip[0] & 15) * 4
        tot = struct.unpack(">H", ip[2:4])[0]
        if ip[9] != 6:
            continue
        tcp = ip[ihl:tot]
        sp, dp = struct.unpack(">HH", tcp[:4])
        doff = (tcp[12] >> 4) * 4
        yield n, sp, dp, tcp[13], tcp[doff:]


def count_records(path):
    data = open(path, "rb").read()
    e = "<" if data[:4] in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1") else ">"
    off, n = 24, 0
    while off + 16 <= len(data):
        off += 16 + struct.unpack(e + "I", data[off + 8:off + 12])[0]
        n += 1
    return n


def locate(path, server_port, command):
    cmd_frame = reply_frame = ch_frame = None
    client_port = None
    for n, sp, dp, flags, pl in frames(path):
        if dp == server_port and client_port is None and flags & 0x02:
            client_port = sp
        if not pl:
            continue
        if dp == server_port:
            if cmd_frame is None and command in pl:
                cmd_frame = n
            elif cmd_frame and ch_frame is None and pl[:1] == b"\x16" and pl[5:6] == b"\x01":
                ch_frame = n
        elif sp == server_port and cmd_frame and reply_frame is None:
            reply_frame = n
    return {"client_port": client_port, "command_frame": cmd_frame,
            "reply_frame": reply_frame, "client_hello_frame": ch_frame}


def brief(log):
    txt = open(log, errors="replace").read()
    v = re.search(r"Protocol version: (\S+)", txt)
    c = re.search(r"Ciphersuite: (\S+)", txt)
    return (v.group(1) if v else None), (c.group(1) if c else None)


def main():
    cap, logs, leaf = sys.argv[1:4]
    pem = open(leaf).read()
    der = base64.b64decode("".join(l for l in pem.splitlines() if l and not l.startswith("-----")))
    leaf_sha = hashlib.sha256(der).hexdigest()
    files = {}

    def tls_case(name, protocol, port, sni, command, client, server, offered_v, offered_c,
                 reported, visible_certs):
        v, c = reported
        t = {"protocol": protocol, "server_port": port, "sni": sni, "client": client,
             "server": server, "real": True, "starttls": "accepted", "tls_followed": True,
             "client_offered": {"version": offered_v, "cipher": offered_c},
             "reported": {"version": v, "cipher": c},
             "tls_version": IANA[v], "cipher_suite": IANA[c],
             "server_certificates_sha256": [leaf_sha] if visible_certs else [],
             "command": command.decode("latin1").strip()}
        t.update(locate(os.path.join(cap, name), port, command))
        files[name] = t

    tls_case("smtp-postfix.pcap", "smtp", 2525, "mail.example.test", b"STARTTLS\r\n",
             "openssl s_client -starttls smtp -servername mail.example.test -tls1_2 "
             "-cipher ECDHE-ECDSA-AES128-GCM-SHA256, stdin QUIT",
             "Postfix 3.7 smtpd (Debian), smtpd_tls_security_level=may",
             "TLSv1.2", "ECDHE-ECDSA-AES128-GCM-SHA256",
             brief(os.path.join(logs, "smtp-postfix.log")), True)
    tls_case("imap-dovecot.pcap", "imap", 1143, "imap.example.test", b"STARTTLS\r\n",
             "openssl s_client -starttls imap -servername imap.example.test -tls1_3 "
             "-ciphersuites TLS_CHACHA20_POLY1305_SHA256, stdin 'a LOGOUT'",
             "Dovecot 2.3 imap-login (Debian), ssl=yes",
             "TLSv1.3", "TLS_CHACHA20_POLY1305_SHA256",
             brief(os.path.join(logs, "imap-dovecot.log")), False)
    row = open(os.path.join(logs, "postgres-psql.out")).read().strip().split("|")
    tls_case("postgres-psql.pcap", "postgres", 5433, "db.example.test", PG_SSLREQUEST,
             "psql 15 'host=db.example.test hostaddr=127.0.0.1 sslmode=verify-full sslsni=1' "
             "(libpq defaults for version and ciphers)",
             "PostgreSQL 15 (Debian), ssl=on; version/cipher reported by the server's pg_stat_ssl",
             None, None, (row[0], row[1]), False)
    tls_case("postgres-openssl.pcap", "postgres", 5433, "db.example.test", PG_SSLREQUEST,
             "openssl s_client -starttls postgres -servername db.example.test -tls1_2 "
             "-cipher ECDHE-ECDSA-AES256-GCM-SHA384",
             "PostgreSQL 15 (Debian), ssl=on",
             "TLSv1.2", "ECDHE-ECDSA-AES256-GCM-SHA384",
             brief(os.path.join(logs, "postgres-openssl.log")), True)
    files["postgres-psql.pcap"]["command"] = "SSLRequest"
    # PostgreSQL's default ssl_ecdh_curve is prime256v1 and libpq's OpenSSL sends its first
    # key share for X25519, so the server answers with a HelloRetryRequest and a second
    # ClientHello follows (a consequence of the two configurations, seen by tshark too).
    files["postgres-psql.pcap"]["hello_retry_request"] = True
    files["postgres-openssl.pcap"]["command"] = "SSLRequest"

    for name, mode, port in (("smtp-starttls-refused.pcap", "refused", 2526),
                             ("smtp-starttls-accepted-no-tls.pcap", "accepted-no-tls", 2527)):
        facts = json.load(open(os.path.join(logs, name[:-5] + ".json")))
        t = {"protocol": "smtp", "server_port": port, "sni": None, "real": False,
             "client": "smtp_stub.py client " + ("refuse (smtplib)" if mode == "refused"
                                                 else "accept (raw socket, closes after 220)"),
             "server": "smtp_stub.py server " + ("refuse" if mode == "refused" else "accept"),
             "starttls": mode, "tls_followed": False,
             "reply_code": facts["starttls_reply_code"], "reply": facts["starttls_reply"],
             "sent": facts["sent"], "command": "STARTTLS",
             "tls_version": None, "cipher_suite": None, "server_certificates_sha256": []}
        t.update(locate(os.path.join(cap, name), port, b"STARTTLS\r\n"))
        files[name] = t

    for name, t in files.items():
        t["size"] = os.path.getsize(os.path.join(cap, name))
        t["frames"] = count_records(os.path.join(cap, name))
    json.dump({"generated_by": "captures/starttls/make.sh", "leaf_sha256": leaf_sha,
               "files": files}, sys.stdout, indent=2)
    print()


if __name__ == "__main__":
    main()
