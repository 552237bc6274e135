#!/usr/bin/env python3
"""Writes the regression captures of tests/fuzz_regressions.rs: each input a fuzz target found
crashing or hanging tlsmortem, replayed as the TCP connection that carries it. Raw IPv4
(LINKTYPE_RAW), little-endian microsecond pcap, zero checksums (tlsmortem checks none).

The raw fuzzer inputs sit beside them in one folder per target (tests/data/fuzz/TARGET/);
fuzz/run.sh replays those on every run.

    python3 tests/data/fuzz/make.py      # from the repository root
"""
import os
import struct

CLIENT, SERVER = bytes([10, 0, 0, 1]), bytes([10, 0, 0, 2])
SYN, ACK, PSH_ACK = 0x02, 0x10, 0x18

# name: the client's TCP payloads to port 443, one segment each, after a three-way handshake.
CASES = {
    # tls target: after a TLS record, bytes that read as an SSLv2 ClientHello header (length
    # with the high bit set, type 1, version 3.3) looped between sniffing and record reading.
    "sslv2-header-after-tls-record": [
        bytes([22, 3, 1, 0, 4, 14, 0, 0, 0]),
        bytes([0xED, 3, 1, 3, 3, 0, 0x10]),
    ],
    # tls target: the header of a zero-length record cut after three bytes was checked again
    # and again once complete.
    "empty-record-header-across-chunks": [
        bytes([21, 3, 3]),
        bytes([0, 0]),
        bytes([22, 3, 1, 0, 4, 14, 0, 0, 0]),
    ],
}


def packet(src, dst, sport, dport, seq, ack, flags, payload):
    tcp = struct.pack(">HHIIBBHHH", sport, dport, seq, ack, 0x50, flags, 65535, 0, 0)
    ip = struct.pack(">BBHHHBBH4s4s", 0x45, 0, 40 + len(payload), 1, 0x4000, 64, 6, 0, src, dst)
    return ip + tcp + payload


def capture(segments):
    out = struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 101)
    usec = 1_700_000_000_000_000
    cseq, sseq, port = 1000, 5000, 40000
    frames = [
        packet(CLIENT, SERVER, port, 443, cseq, 0, SYN, b""),
        packet(SERVER, CLIENT, 443, port, sseq, cseq + 1, SYN | ACK, b""),
        packet(CLIENT, SERVER, port, 443, cseq + 1, sseq + 1, ACK, b""),
    ]
    seq = cseq + 1
    for s in segments:
        frames.append(packet(CLIENT, SERVER, port, 443, seq, sseq + 1, PSH_ACK, s))
        seq += len(s)
    for f in frames:
        usec += 1000
        out += struct.pack("<IIII", usec // 1_000_000, usec % 1_000_000, len(f), len(f)) + f
    return out


here = os.path.dirname(os.path.abspath(__file__))
for name, segments in CASES.items():
    with open(os.path.join(here, name + ".pcap"), "wb") as f:
        f.write(capture(segments))
