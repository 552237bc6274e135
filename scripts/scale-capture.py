#!/usr/bin/env python3
"""scale-capture.py -- grow a pcap to a target size by repeating it.

    scripts/scale-capture.py [options] IN OUT TARGET_BYTES

TARGET_BYTES accepts suffixes: K/M/G/T (powers of 1000), KiB/MiB/GiB/TiB
(powers of 1024); e.g. 1G, 2GB, 1.5GiB, 1000000000.

Copy k (k = 0, 1, 2, ...) of IN is written with
  * the client address of every IPv4/TCP packet rewritten: the two middle
    bytes are XORed with k (127.0.0.1 -> 127.0.1.1 for copy 1, 127.0.2.1 for
    copy 2, ..., up to 65535 copies), so each copy's connections are new
    4-tuples. The "client" is the side whose port is not a server port;
    server ports are the destination ports of SYNs seen in IN (or
    --server-ports), else the side with the higher port.
  * IPv4 header checksum and TCP checksum recomputed (correct, also for copy
    0 -- loopback captures carry offloaded, i.e. invalid, TCP checksums).
    If a packet is truncated by the snaplen, the TCP checksum is updated
    incrementally (RFC 1624) instead.
  * timestamps shifted by k * (duration of IN + --gap seconds), so the
    copies follow each other in time.
Non-IPv4/non-TCP packets and IP fragments are copied unchanged (only the
timestamp shifts).

By default whole copies are written, as many as bring the output closest
to TARGET_BYTES (round(TARGET / size(IN)), at least 1; --copies N forces N).
With --truncate the output instead stops at the first packet boundary where
it reaches TARGET_BYTES (the last copy is then cut mid-stream).

Classic pcap only (micro- or nanosecond, either byte order); link types
Ethernet (1), raw IP (101, 228), Linux cooked SLL (113) and SLL2 (276),
BSD null/loop (0, 108). Convert pcapng first: editcap -F pcap in.pcapng out.pcap

Streams frame by frame: memory use is constant, IN is read once per copy
(plus one pre-scan pass).
"""

import argparse
import math
import os
import struct
import sys
import time

PCAP_MAGIC = {
    b"\xd4\xc3\xb2\xa1": ("<", 1_000_000),
    b"\xa1\xb2\xc3\xd4": (">", 1_000_000),
    b"\x4d\x3c\xb2\xa1": ("<", 1_000_000_000),
    b"\xa1\xb2\x3c\x4d": (">", 1_000_000_000),
}
PCAPNG_MAGIC = b"\x0a\x0d\x0d\x0a"

_U16 = struct.Struct(">H")


def parse_size(s):
    t = s.strip().lower().replace("_", "")
    units = [("tib", 1 << 40), ("gib", 1 << 30), ("mib", 1 << 20), ("kib", 1 << 10),
             ("tb", 10**12), ("gb", 10**9), ("mb", 10**6), ("kb", 10**3),
             ("t", 10**12), ("g", 10**9), ("m", 10**6), ("k", 10**3), ("b", 1)]
    for suf, mul in units:
        if t.endswith(suf):
            return int(float(t[: -len(suf)]) * mul)
    return int(float(t))


def l3_offset(linktype, data):
    """Offset of the IPv4 header in a frame, or -1 if not IPv4."""
    if linktype == 1:  # Ethernet
        off, et = 14, data[12:14]
        while et in (b"\x81\x00", b"\x88\xa8") and len(data) >= off + 4:  # VLAN tags
            et = data[off + 2:off + 4]
            off += 4
        return off if et == b"\x08\x00" else -1
    if linktype in (101, 228):  # raw IP / raw IPv4
        return 0 if data and data[0] >> 4 == 4 else -1
    if linktype == 113:  # Linux SLL
        return 16 if data[14:16] == b"\x08\x00" else -1
    if linktype == 276:  # Linux SLL2
        return 20 if data[0:2] == b"\x08\x00" else -1
    if linktype in (0, 108):  # BSD null / loop: AF_INET = 2, host or network order
        return 4 if data[0:4] in (b"\x02\x00\x00\x00", b"\x00\x00\x00\x02") else -1
    return -1


def csum_fold(s):
    """Ones'-complement checksum from a sum congruent mod 0xffff."""
    r = s % 0xFFFF
    return 0xFFFF ^ (r or 0xFFFF)


def incremental(old_csum, old_words, new_words):
    """RFC 1624 eqn. 3: HC' = ~(~HC + ~m + m')."""
    s = (~old_csum) & 0xFFFF
    for m, m2 in zip(old_words, new_words):
        s += ((~m) & 0xFFFF) + m2
    s = (s & 0xFFFF) + (s >> 16)
    s = (s & 0xFFFF) + (s >> 16)
    return (~s) & 0xFFFF


class Pcap:
    def __init__(self, path):
        self.f = open(path, "rb", buffering=1 << 20)
        self.ghdr = self.f.read(24)
        if len(self.ghdr) < 24:
            raise SystemExit(f"{path}: too short for a pcap header")
        magic = self.ghdr[:4]
        if magic == PCAPNG_MAGIC:
            raise SystemExit(f"{path}: pcapng is not supported; convert with: editcap -F pcap {path} out.pcap")
        if magic not in PCAP_MAGIC:
            raise SystemExit(f"{path}: not a pcap file (magic {magic.hex()})")
        self.endian, self.tsunit = PCAP_MAGIC[magic]
        self.rec = struct.Struct(self.endian + "IIII")
        self.linktype = struct.unpack(self.endian + "I", self.ghdr[20:24])[0] & 0x0FFFFFFF

    def rewind(self):
        self.f.seek(24)

    def __iter__(self):
        read = self.f.read
        unpack = self.rec.unpack
        while True:
            h = read(16)
            if len(h) < 16:
                if h:
                    print("warning: truncated record header at end of input", file=sys.stderr)
                return
            sec, frac, incl, orig = unpack(h)
            data = read(incl)
            if len(data) < incl:
                print("warning: truncated packet at end of input", file=sys.stderr)
                return
            yield sec, frac, incl, orig, data


def prescan(pc):
    """First/last timestamp, packet count and server ports (SYN destinations)."""
    first = last = None
    n = 0
    ports = set()
    lt = pc.linktype
    unit = pc.tsunit
    for sec, frac, incl, orig, data in pc:
        t = sec * unit + frac
        if first is None or t < first:
            first = t
        if last is None or t > last:
            last = t
        n += 1
        o = l3_offset(lt, data)
        if o < 0 or len(data) < o + 20 or data[o + 9] != 6:
            continue
        ihl = (data[o] & 0x0F) * 4
        t4 = o + ihl
        if len(data) >= t4 + 14 and (data[t4 + 13] & 0x12) == 0x02:  # SYN, no ACK
            ports.add(_U16.unpack_from(data, t4 + 2)[0])
    return first or 0, last or 0, n, ports


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter,
                                 epilog=__doc__[__doc__.index("Copy k"):])
    ap.add_argument("input")
    ap.add_argument("output")
    ap.add_argument("target", type=parse_size, help="target output size in bytes (suffixes K, M, G, KiB, MiB, GiB)")
    ap.add_argument("--truncate", action="store_true",
                    help="stop exactly at the first packet boundary >= TARGET instead of writing whole copies")
    ap.add_argument("--gap", type=float, default=1.0, help="seconds between the end of one copy and the start of the next (default 1)")
    ap.add_argument("--server-ports", default=None,
                    help="comma-separated server ports (default: destination ports of SYNs in IN)")
    ap.add_argument("--copies", type=int, default=None, help="write exactly this many copies (overrides TARGET)")
    args = ap.parse_args()

    insize = os.path.getsize(args.input)
    pc = Pcap(args.input)
    t0 = time.monotonic()
    first, last, npkts, syn_ports = prescan(pc)
    if args.server_ports:
        server_ports = {int(p) for p in args.server_ports.split(",") if p}
    else:
        server_ports = syn_ports
    body = insize - 24
    if args.copies is not None:
        copies = max(1, args.copies)
    elif args.truncate:
        copies = max(1, math.ceil((args.target - 24) / body)) if body > 0 else 1
    else:
        # whole copies, as close to TARGET as possible
        copies = max(1, round((args.target - 24) / body)) if body > 0 else 1
    if copies > 65536:
        raise SystemExit(f"{copies} copies needed; at most 65536 are supported (client address space)")
    unit = pc.tsunit
    span = (last - first) + int(args.gap * unit)
    print(f"input: {insize} bytes, {npkts} packets, linktype {pc.linktype}, "
          f"{(last - first) / unit:.1f} s, server ports {sorted(server_ports) if server_ports else '(none found: higher port = client)'}",
          file=sys.stderr)
    print(f"writing {copies} cop{'y' if copies == 1 else 'ies'} to {args.output}"
          f"{' (truncated at %d bytes)' % args.target if args.truncate else ''}", file=sys.stderr)

    lt = pc.linktype
    rec = pc.rec
    pack_rec = rec.pack
    u16_from = _U16.unpack_from
    u16_into = _U16.pack_into
    from_bytes = int.from_bytes
    limit = args.target if args.truncate else None
    written = 24
    stats = {"rewritten": 0, "incremental": 0, "passthrough": 0}

    with open(args.output, "wb", buffering=1 << 22) as out:
        out.write(pc.ghdr)
        write = out.write
        done = False
        for k in range(copies):
            tc = time.monotonic()
            off = k * span
            mask = (k & 0xFFFF) << 8  # XOR into the two middle bytes of the client address
            ipmap = {}  # original client address -> rewritten address (per copy)
            pc.rewind()
            for sec, frac, incl, orig, data in pc:
                t = sec * unit + frac + off
                hdr = pack_rec(t // unit, t % unit, incl, orig)
                if limit is not None and written >= limit:
                    done = True
                    break
                o = l3_offset(lt, data) if incl >= 34 else -1
                if o < 0 or incl < o + 20 or data[o + 9] != 6 or (u16_from(data, o + 6)[0] & 0x3FFF):
                    # not IPv4/TCP, or a fragment: copy as is
                    write(hdr)
                    write(data)
                    written += 16 + incl
                    stats["passthrough"] += 1
                    continue
                ihl = (data[o] & 0x0F) * 4
                t4 = o + ihl
                if incl < t4 + 18 or ihl < 20:
                    write(hdr)
                    write(data)
                    written += 16 + incl
                    stats["passthrough"] += 1
                    continue
                sport, dport = u16_from(data, t4)[0], u16_from(data, t4 + 2)[0]
                if dport in server_ports and sport not in server_ports:
                    a = o + 12  # client = source
                elif sport in server_ports and dport not in server_ports:
                    a = o + 16  # client = destination
                else:
                    a = o + 12 if sport > dport else o + 16
                b = bytearray(data)
                old_ip = data[a:a + 4]
                new_ip = ipmap.get(old_ip)
                if new_ip is None:
                    new_ip = (from_bytes(old_ip, "big") ^ mask).to_bytes(4, "big")
                    ipmap[old_ip] = new_ip
                b[a:a + 4] = new_ip
                # IPv4 header checksum
                b[o + 10] = 0
                b[o + 11] = 0
                u16_into(b, o + 10, csum_fold(from_bytes(b[o:t4], "big")))
                # TCP checksum
                tot = u16_from(b, o + 2)[0]
                tcp_len = tot - ihl
                if tcp_len >= 20 and o + tot <= incl:
                    seg = b[t4:o + tot]
                    s = from_bytes(seg, "big")
                    if tcp_len & 1:
                        s <<= 8
                    s -= u16_from(b, t4 + 16)[0]  # remove the old checksum word
                    s += from_bytes(b[o + 12:o + 20], "big") + 6 + tcp_len  # pseudo header
                    u16_into(b, t4 + 16, csum_fold(s))
                    stats["rewritten"] += 1
                else:
                    # truncated by snaplen: patch the checksum incrementally
                    oldw = (from_bytes(old_ip[:2], "big"), from_bytes(old_ip[2:], "big"))
                    neww = (from_bytes(new_ip[:2], "big"), from_bytes(new_ip[2:], "big"))
                    u16_into(b, t4 + 16, incremental(u16_from(b, t4 + 16)[0], oldw, neww))
                    stats["incremental"] += 1
                write(hdr)
                write(b)
                written += 16 + incl
            dt = time.monotonic() - tc
            print(f"  copy {k + 1}/{copies}: {written / 1e6:.0f} MB written ({dt:.1f} s)", file=sys.stderr)
            if done:
                break
    print(f"done: {written} bytes in {time.monotonic() - t0:.1f} s; packets rewritten {stats['rewritten']}, "
          f"incremental checksum {stats['incremental']}, passed through {stats['passthrough']}", file=sys.stderr)


if __name__ == "__main__":
    main()
