#!/usr/bin/env bash
# compare.sh -- measure tlsmortem beside the bare pcap-parser loop, Suricata and tshark, on one
# capture, in one run, and print the Markdown table BENCHMARKING.md shows.
#
#   scripts/compare.sh [--runs N] [--tshark-runs N] [--no-tshark] [--no-suricata] CAPTURE
#
#   --runs N         timed runs of each fast command after one warm-up (default 10)
#   --tshark-runs N  timed runs of tshark, which takes minutes on gigabytes (default 1)
#   --no-tshark, --no-suricata   leave that tool out
#
# What runs (all read CAPTURE from the page cache, write their records to /dev/null or a
# scratch folder):
#   bare loop          target/release/examples/bare_loop CAPTURE (pcap-parser, nothing decoded)
#   tlsmortem          tlsmortem --json --threads 1 CAPTURE, and --threads $(nproc)
#   Suricata           suricata -r CAPTURE, TLS EVE records only, no rules
#                      (config from scripts/suricata-tls-only.py), --runmode autofp and single
#   tshark             tshark -r CAPTURE -Y tls.handshake.type==1 -T fields
#                      -e tls.handshake.extensions_server_name
# Wall times are hyperfine medians; peak RssAnon (heap, not the mapped file) is sampled by
# scripts/peak-rss-anon.sh in one more run of each; max RSS (which counts the mapped file's
# pages) comes from /usr/bin/time. Needs hyperfine, GNU time, python3; Suricata and tshark
# unless left out (apt-get install hyperfine time tshark; suricata from bookworm-backports).
set -euo pipefail
cd "$(dirname "$0")/.."

RUNS=10 TSHARK_RUNS=1 TSHARK=1 SURICATA=1
while [[ $# -gt 1 ]]; do
    case "$1" in
        --runs) RUNS="$2"; shift 2 ;;
        --tshark-runs) TSHARK_RUNS="$2"; shift 2 ;;
        --no-tshark) TSHARK=0; shift ;;
        --no-suricata) SURICATA=0; shift ;;
        *) echo "unknown option: $1" >&2; exit 2 ;;
    esac
done
[[ $# -eq 1 && -f "$1" ]] || { sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//' >&2; exit 2; }
F="$1"
for t in hyperfine python3 /usr/bin/time; do
    command -v "$t" >/dev/null || { echo "$t not found" >&2; exit 2; }
done
[[ $SURICATA == 0 ]] || command -v suricata >/dev/null || { echo "suricata not found (or --no-suricata)" >&2; exit 2; }
[[ $TSHARK == 0 ]] || command -v tshark >/dev/null || { echo "tshark not found (or --no-tshark)" >&2; exit 2; }

cargo build --release --quiet --bin tlsmortem --example bare_loop
T="$(mktemp -d /tmp/tlsmortem-compare.XXXXXX)"
trap 'rm -rf "$T"' EXIT
N="$(nproc)"
TM=target/release/tlsmortem
SURI_CMD="suricata -c $T/suricata.yaml -S /dev/null -k none -l $T/suri -r $F"
if [[ $SURICATA == 1 ]]; then
    scripts/suricata-tls-only.py "$T/suricata.yaml" "$T/suri"
    mkdir -p "$T/suri"
fi

names=() cmds=()
add() { names+=("$1"); cmds+=("$2"); }
add "bare pcap-parser loop" "target/release/examples/bare_loop $F"
add "tlsmortem --threads 1" "$TM --json --threads 1 $F"
add "tlsmortem --threads $N" "$TM --json --threads $N $F"
if [[ $SURICATA == 1 ]]; then
    add "Suricata $(suricata -V | awk '{print $5}') autofp (TLS EVE only)" "$SURI_CMD --runmode autofp"
    add "Suricata single (TLS EVE only)" "$SURI_CMD --runmode single"
fi
TSHARK_CMD="tshark -r $F -Y tls.handshake.type==1 -T fields -e tls.handshake.extensions_server_name"

cat "$F" > /dev/null  # page cache
hf=()
for i in "${!names[@]}"; do hf+=(-n "${names[$i]}" "${cmds[$i]}"); done
hyperfine -N --warmup 1 --runs "$RUNS" --output null --prepare "rm -f $T/suri/eve.json" \
    --export-json "$T/fast.json" "${hf[@]}" >&2
if [[ $TSHARK == 1 ]]; then
    names+=("tshark $(tshark --version | head -1 | awk '{print $3}') (SNI fields)")
    cmds+=("$TSHARK_CMD")
    hyperfine -N --runs "$TSHARK_RUNS" --output null --export-json "$T/tshark.json" \
        -n "${names[-1]}" "$TSHARK_CMD" >&2
fi

# Memory and record counts: one more run of each.
: > "$T/mem.tsv"
for i in "${!names[@]}"; do
    rm -f "$T/suri/eve.json"
    anon=$(scripts/peak-rss-anon.sh -i 0.01 ${cmds[$i]} 2>&1 >"$T/out.$i" | awk '/peak RssAnon/ {print $3}')
    rm -f "$T/suri/eve.json"
    /usr/bin/time -f '%M' -o "$T/time.$i" ${cmds[$i]} >/dev/null 2>&1 || true
    maxrss=$(tail -1 "$T/time.$i")
    case "${names[$i]}" in
        tlsmortem*) recs=$(grep -c '"client"' "$T/out.$i" || true) ;;
        Suricata*) recs=$(grep -c '"event_type":"tls"' "$T/suri/eve.json" || true) ;;
        tshark*) recs=$(grep -c . "$T/out.$i" || true) ;;
        *) recs="" ;;
    esac
    printf '%s\t%s\t%s\t%s\n' "${names[$i]}" "$anon" "$maxrss" "$recs" >> "$T/mem.tsv"
done

python3 - "$F" "$T" <<'EOF'
import json, os, sys
f, t = sys.argv[1], sys.argv[2]
size = os.path.getsize(f)
runs = json.load(open(f"{t}/fast.json"))["results"]
if os.path.exists(f"{t}/tshark.json"):
    runs += json.load(open(f"{t}/tshark.json"))["results"]
mem = {}
for line in open(f"{t}/mem.tsv"):
    name, anon, maxrss, recs = line.rstrip("\n").split("\t")
    mem[name] = (anon, maxrss, recs)
base = runs[0]["median"]
print(f"{os.path.basename(f)}: {size:,} bytes\n")
print("| tool | median wall time | × bare loop | MB/s | peak RssAnon | max RSS | records |")
print("|---|---|---|---|---|---|---|")
for r in runs:
    med = r["median"]
    anon, maxrss, recs = mem.get(r["command"], ("", "", ""))
    mib = lambda k: f"{int(k) / 1024:.1f} MiB" if k else "–"
    wall = f"{med * 1000:.0f} ms" if med < 10 else f"{med:.1f} s"
    n = len(r["times"])
    print(f"| {r['command']} | {wall} ({n} runs) | {med / base:.2f} | {size / med / 1e6:,.0f} | "
          f"{mib(anon)} | {mib(maxrss)} | {recs or '–'} |")
EOF
