#!/usr/bin/env python3
"""Rewrites tcpdump's pcap files into the derived captures (pure `struct`, no dependencies).

Input is always what tcpdump -w writes here: classic pcap, little-endian, microsecond
timestamps. Subcommands (each prints a JSON object of facts on stdout for truth.json):

  bigendian-ns IN OUT
      Same frames, same instants: big-endian byte order, nanosecond magic 0xa1b23c4d,
      ts_frac = usec * 1000. Frame bytes are untouched.
  truncate IN OUT CUT_FROM_END
      Copies IN and cuts it in the middle of the frame data of frame number
      (total - CUT_FROM_END + 1), 1-based; so total - CUT_FROM_END frames remain complete.
  reorder IN OUT SERVER_PORT
      Ethernet/IPv4/TCP only. Counting the server's payload-carrying segments S0, S1, ...
      in file order: swaps S2 and S3 (their frame slots keep their timestamps), inserts an
      exact copy of S4 right after S6 (a retransmission), and inserts a new segment carrying
      the second half of S7 and the first half of S8 (identical bytes, seq = seq(S7) +
      len(S7)//2, checksums recomputed) right after S9 (a partially overlapping
      retransmission). Inserted frames take the timestamp of the frame they follow.
  pcapng IN OUT SERVER_PORT
      Writes a pcapng with one section and two Ethernet interfaces: interface 0
      (if_tsresol 6, microseconds) carries client->server frames (TCP dst port ==
      SERVER_PORT), interface 1 (if_tsresol 9, nanoseconds) carries server->client frames.
      All frames are Enhanced Packet Blocks with the same instants as IN.
"""
import json
import struct
import sys

PCAP_LE_US = 0xA1B2C3D4


def read_pcap(path):
    with open(path, "rb") as f:
        data = f.read()
    magic, vmaj, vmin, zone, sigfigs, snaplen, linktype = struct.unpack_from("<IHHiIII", data, 0)
    if magic != PCAP_LE_US:
        raise SystemExit(f"{path}: expected little-endian microsecond pcap, magic {magic:#x}")
    frames, off = [], 24
    while off + 16 <= len(data):
        sec, usec, caplen, origlen = struct.unpack_from("<IIII", data, off)
        frames.append({"sec": sec, "usec": usec, "origlen": origlen,
                       "data": data[off + 16: off + 16 + caplen], "offset": off})
        off += 16 + caplen
    header = {"vmaj": vmaj, "vmin": vmin, "zone": zone, "sigfigs": sigfigs,
              "snaplen": snaplen, "linktype": linktype}
    return header, frames, data


def write_pcap_le(path, header, frames):
    out = [struct.pack("<IHHiIII", PCAP_LE_US, header["vmaj"], header["vmin"], header["zone"],
                       header["sigfigs"], header["snaplen"], header["linktype"])]
    for fr in frames:
        out.append(struct.pack("<IIII", fr["sec"], fr["usec"], len(fr["data"]), fr["origlen"]))
        out.append(fr["data"])
    with open(path, "wb") as f:
        f.write(b"".join(out))


def bigendian_ns(src, dst):
    header, frames, _ = read_pcap(src)
    out = [struct.pack(">IHHiIII", 0xA1B23C4D, header["vmaj"], header["vmin"], header["zone"],
                       header["sigfigs"], header["snaplen"], header["linktype"])]
    for fr in frames:
        out.append(struct.pack(">IIII", fr["sec"], fr["usec"] * 1000, len(fr["data"]), fr["origlen"]))
        out.append(fr["data"])
    with open(dst, "wb") as f:
        f.write(b"".join(out))
    return {"frames": len(frames), "magic": "0xa1b23c4d", "byte_order": "big",
            "first_ts_ns": frames[0]["sec"] * 10**9 + frames[0]["usec"] * 1000}


def truncate(src, dst, cut_from_end):
    _, frames, data = read_pcap(src)
    total = len(frames)
    victim = frames[total - cut_from_end]
    # Cut inside the victim's frame data, half way through it.
    cut = victim["offset"] + 16 + len(victim["data"]) // 2
    with open(dst, "wb") as f:
        f.write(data[:cut])
    return {"source_frames": total, "frames_kept": total - cut_from_end,
            "cut_in_frame": total - cut_from_end + 1, "bytes_kept": cut,
            "source_bytes": len(data)}


def tcp_view(frame):
    d = frame["data"]
    if len(d) < 34 or d[12:14] != b"\x08\x00":
        return None
    ihl = (d[14] & 0x0F) * 4
    ip_total = struct.unpack_from(">H", d, 16)[0]
    if d[23] != 6:
        return None
    t = 14 + ihl
    sport, dport, seq, ack, off_flags = struct.unpack_from(">HHIIH", d, t)
    thl = (off_flags >> 12) * 4
    payload = d[t + thl: 14 + ip_total]
    return {"ihl": ihl, "tcp": t, "thl": thl, "sport": sport, "dport": dport, "seq": seq,
            "ack": ack, "flags": off_flags & 0x1FF, "payload": payload}


def csum(b):
    if len(b) % 2:
        b += b"\x00"
    s = sum(struct.unpack(f">{len(b)//2}H", b))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return (~s) & 0xFFFF


def build_segment(template, seq, ack, payload):
    """A copy of template's Ethernet/IPv4/TCP headers carrying payload at seq."""
    v = tcp_view(template)
    d = template["data"]
    eth = d[:14]
    ip = bytearray(d[14:14 + v["ihl"]])
    tcp = bytearray(d[v["tcp"]:v["tcp"] + v["thl"]])
    struct.pack_into(">H", ip, 2, v["ihl"] + v["thl"] + len(payload))
    struct.pack_into(">H", ip, 10, 0)
    struct.pack_into(">H", ip, 10, csum(bytes(ip)))
    struct.pack_into(">II", tcp, 4, seq, ack)
    struct.pack_into(">H", tcp, 16, 0)
    pseudo = ip[12:20] + struct.pack(">BBH", 0, 6, len(tcp) + len(payload))
    struct.pack_into(">H", tcp, 16, csum(bytes(pseudo) + bytes(tcp) + payload))
    data = eth + bytes(ip) + bytes(tcp) + payload
    return {"sec": template["sec"], "usec": template["usec"], "origlen": len(data), "data": data}


def reorder(src, dst, server_port):
    header, frames, _ = read_pcap(src)
    isn = None
    seg_idx = []  # indexes into frames of server payload segments
    for i, fr in enumerate(frames):
        v = tcp_view(fr)
        if v is None or v["sport"] != server_port:
            continue
        if v["flags"] & 0x12 == 0x12 and isn is None:
            isn = v["seq"]
        if v["payload"]:
            seg_idx.append(i)
    if len(seg_idx) < 10:
        raise SystemExit(f"reorder needs >= 10 server data segments, found {len(seg_idx)}")
    s = seg_idx
    rel = lambda seq: (seq - isn) % 2**32  # noqa: E731
    views = {k: tcp_view(frames[s[k]]) for k in range(10)}

    out = [dict(fr) for fr in frames]
    # 1. swap the data of S2 and S3; each slot keeps its own timestamp.
    d2, d3 = out[s[2]]["data"], out[s[3]]["data"]
    out[s[2]] = dict(out[s[2]], data=d3, origlen=len(d3))
    out[s[3]] = dict(out[s[3]], data=d2, origlen=len(d2))
    # 2. exact copy of S4 after S6; 3. overlap of S7/S8 after S9.
    dup = dict(frames[s[4]], sec=frames[s[6]]["sec"], usec=frames[s[6]]["usec"])
    v7, v8 = views[7], views[8]
    h7, h8 = len(v7["payload"]) // 2, len(v8["payload"]) // 2
    ov_payload = v7["payload"][h7:] + v8["payload"][:h8]
    ov = build_segment(frames[s[7]], (v7["seq"] + h7) % 2**32, v8["ack"], ov_payload)
    ov["sec"], ov["usec"] = frames[s[9]]["sec"], frames[s[9]]["usec"]
    inserts = {s[6]: dup, s[9]: ov}
    result, newpos = [], {}
    for i, fr in enumerate(out):
        result.append(fr)
        newpos[i] = len(result)  # 1-based frame number in the output
        if i in inserts:
            result.append(inserts[i])
            newpos[("ins", i)] = len(result)
    write_pcap_le(dst, header, result)
    seginfo = lambda k: {"rel_seq": rel(views[k]["seq"]), "len": len(views[k]["payload"])}  # noqa: E731
    return {
        "source_frames": len(frames),
        "frames": len(result),
        "server_data_segments_in_source": len(s),
        "swapped": {
            "description": "server data segments S2 and S3 exchanged frame slots",
            "S2": dict(seginfo(2), source_frame=s[2] + 1, output_frame=newpos[s[3]]),
            "S3": dict(seginfo(3), source_frame=s[3] + 1, output_frame=newpos[s[2]]),
        },
        "duplicate": {
            "description": "exact copy of S4 inserted after S6",
            "of_source_frame": s[4] + 1, "original_output_frame": newpos[s[4]],
            "output_frame": newpos[("ins", s[6])], **seginfo(4),
        },
        "overlap": {
            "description": "second half of S7 + first half of S8, identical bytes, inserted after S9",
            "output_frame": newpos[("ins", s[9])],
            "rel_seq": rel((v7["seq"] + h7) % 2**32), "len": len(ov_payload),
            "S7": dict(seginfo(7), output_frame=newpos[s[7]]),
            "S8": dict(seginfo(8), output_frame=newpos[s[8]]),
        },
    }


def pcapng_opt(code, value):
    pad = (-len(value)) % 4
    return struct.pack("<HH", code, len(value)) + value + b"\x00" * pad


def pcapng_block(btype, body):
    total = 12 + len(body)
    return struct.pack("<II", btype, total) + body + struct.pack("<I", total)


def to_pcapng(src, dst, server_port):
    header, frames, _ = read_pcap(src)
    blocks = []
    shb_opts = pcapng_opt(4, b"tlsmortem captures/scripts/pcaptool.py") + pcapng_opt(0, b"")
    blocks.append(pcapng_block(0x0A0D0D0A, struct.pack("<IHHq", 0x1A2B3C4D, 1, 0, -1) + shb_opts))
    for name, resol in ((b"lo-client-to-server", 6), (b"lo-server-to-client", 9)):
        opts = pcapng_opt(2, name) + pcapng_opt(9, bytes([resol])) + pcapng_opt(0, b"")
        blocks.append(pcapng_block(1, struct.pack("<HHI", header["linktype"], 0, header["snaplen"]) + opts))
    per_if = [0, 0]
    for fr in frames:
        v = tcp_view(fr)
        iface = 0 if (v is not None and v["dport"] == server_port) else 1
        per_if[iface] += 1
        us = fr["sec"] * 10**6 + fr["usec"]
        ts = us if iface == 0 else us * 1000
        d = fr["data"]
        body = struct.pack("<IIIII", iface, ts >> 32, ts & 0xFFFFFFFF, len(d), fr["origlen"])
        body += d + b"\x00" * ((-len(d)) % 4)
        blocks.append(pcapng_block(6, body))
    with open(dst, "wb") as f:
        f.write(b"".join(blocks))
    return {"frames": len(frames), "interfaces": [
        {"id": 0, "if_tsresol": 6, "direction": "client-to-server", "frames": per_if[0]},
        {"id": 1, "if_tsresol": 9, "direction": "server-to-client", "frames": per_if[1]}]}


def main():
    cmd, args = sys.argv[1], sys.argv[2:]
    if cmd == "bigendian-ns":
        facts = bigendian_ns(args[0], args[1])
    elif cmd == "truncate":
        facts = truncate(args[0], args[1], int(args[2]))
    elif cmd == "reorder":
        facts = reorder(args[0], args[1], int(args[2]))
    elif cmd == "pcapng":
        facts = to_pcapng(args[0], args[1], int(args[2]))
    else:
        raise SystemExit(f"unknown subcommand {cmd}")
    print(json.dumps(facts, indent=2))


if __name__ == "__main__":
    main()
