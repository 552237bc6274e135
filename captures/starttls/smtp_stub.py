#!/usr/bin/env python3
"""Tiny one-connection SMTP server and client for the STARTTLS captures that real servers
cannot make on demand (stdlib only).

    smtp_stub.py server refuse PORT     # advertises STARTTLS, answers it "454 4.7.0 TLS not available"
    smtp_stub.py server accept PORT     # advertises STARTTLS, answers it "220 2.0.0 Ready to start TLS"
    smtp_stub.py client refuse PORT     # smtplib: EHLO, STARTTLS (gets 454), QUIT
    smtp_stub.py client accept PORT     # raw socket: EHLO, STARTTLS (gets 220), then closes
                                        # WITHOUT sending any TLS (no ClientHello ever)

The server binds 127.0.0.1:PORT, serves one connection and exits; it closes when the client
does. The client prints one JSON line of what it sent and got, for truth.json.
"""
import json
import smtplib
import socket
import sys
import time

HOST = "mail.example.test"


def server(mode, port):
    ls = socket.socket()
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind(("127.0.0.1", port))
    ls.listen(1)
    c, _ = ls.accept()
    f = c.makefile("rb")
    c.sendall(f"220 {HOST} ESMTP stub\r\n".encode())
    while True:
        line = f.readline()
        if not line:
            break
        cmd = line.strip().upper()
        if cmd.startswith(b"EHLO"):
            c.sendall(f"250-{HOST}\r\n250-PIPELINING\r\n250-STARTTLS\r\n250 8BITMIME\r\n".encode())
        elif cmd == b"STARTTLS":
            if mode == "refuse":
                c.sendall(b"454 4.7.0 TLS not available due to local problem\r\n")
            else:
                c.sendall(b"220 2.0.0 Ready to start TLS\r\n")
                # Wait for a TLS ClientHello that never comes: the client just closes.
                c.settimeout(5)
                try:
                    while c.recv(4096):
                        pass
                except OSError:
                    pass
                break
        elif cmd == b"QUIT":
            c.sendall(b"221 2.0.0 Bye\r\n")
            break
        else:
            c.sendall(b"502 5.5.2 Error: command not recognized\r\n")
    c.close()
    ls.close()


def client(mode, port):
    if mode == "refuse":
        s = smtplib.SMTP("127.0.0.1", port, local_hostname="client.example.test", timeout=5)
        s.ehlo()
        code = msg = None
        try:
            s.starttls()
        except smtplib.SMTPResponseException as e:
            code, msg = e.smtp_code, e.smtp_error.decode()
        s.quit()
        print(json.dumps({"sent": ["EHLO client.example.test", "STARTTLS", "QUIT"],
                          "starttls_reply_code": code, "starttls_reply": msg, "tls": False}))
        return
    s = socket.create_connection(("127.0.0.1", port), timeout=5)
    f = s.makefile("rb")
    f.readline()
    s.sendall(b"EHLO client.example.test\r\n")
    while True:
        line = f.readline()
        if line[3:4] != b"-":
            break
    s.sendall(b"STARTTLS\r\n")
    reply = f.readline().decode().strip()
    time.sleep(0.2)
    s.close()
    print(json.dumps({"sent": ["EHLO client.example.test", "STARTTLS"],
                      "starttls_reply_code": int(reply[:3]), "starttls_reply": reply[4:],
                      "tls": False, "client_closed_after_reply": True}))


if __name__ == "__main__":
    role, mode, port = sys.argv[1], sys.argv[2], int(sys.argv[3])
    (server if role == "server" else client)(mode, port)
