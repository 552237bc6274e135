#!/usr/bin/env bash
# make-bench-capture.sh -- build the tlsmortem benchmark capture from real TLS
# software talking over loopback.
#
#   scripts/make-bench-capture.sh [--mtu N] [--parallel N] [--seed N]
#                                 [--ports P12,P13] [--handshakes-per-mb N]
#                                 [OUT] [TARGET_MB]
#
#   OUT        output pcap            (default: bench-data/bench.pcap)
#   TARGET_MB  approximate size in MB (default: 420; with the default density,
#              ~8000 handshakes, a quarter of the 1.68 GB / 32k-handshake
#              capture BENCHMARKING.md scales it to)
#   --handshakes-per-mb N  handshake density of the job mix (default: 19)
#   --mtu N    MTU of `lo` for the duration of the capture (default: 1500,
#              "Ethernet-sized" segments; TSO/GSO on lo is switched off too,
#              otherwise tcpdump sees 64 KiB super-segments anyway).
#              `--mtu keep` leaves lo untouched (MTU 65536 => huge segments).
#              The original MTU and offload settings are restored on exit.
#   --parallel N  concurrent client processes (default: 2)
#   --seed N      seed for the job mix (default: 1), so runs are comparable
#   --ports A,B   TLS 1.2-only port and TLS 1.3-only port (default 8443,8444)
#
# What it does: creates a throw-away PKI (root -> intermediate -> RSA and
# ECDSA leaves, with several DNS names), starts nginx on 127.0.0.1 (config in
# a temp dir; one server TLS 1.2-only, one TLS 1.3-only; HTTP/1.1 + h2),
# serving incompressible files of 1 KiB, 64 KiB, 1 MiB and 4 MiB, and drives
# it with curl (--tlsv1.2/--tlsv1.3, --cacert, --resolve; various ciphers,
# h2 and http/1.1, some keep-alive reuse) and openssl s_client (plain
# GETs, and TLS 1.2 session resumption via -reconnect), while tcpdump
# records lo with -s 0 -B 65536.  The job list is a shuffled mix of many
# short handshakes and bulk transfers (bytes are mostly bulk), then bulk
# transfers are added until the file reaches TARGET_MB.
#
# Needs root (tcpdump, ip link), nginx, openssl, curl, tcpdump, awk.
# Note: loopback checksums are offloaded ("CHECKSUM_PARTIAL"), so TCP
# checksums in the capture are not valid; scripts/scale-capture.py rewrites
# them correctly.
set -euo pipefail

MTU=1500
PAR=2
SEED=1
PORT12=8443
PORT13=8444
HS_PER_MB=19
POS=()
while [[ $# -gt 0 ]]; do
    case "$1" in
        --mtu) MTU="$2"; shift 2 ;;
        --mtu=*) MTU="${1#*=}"; shift ;;
        --parallel) PAR="$2"; shift 2 ;;
        --parallel=*) PAR="${1#*=}"; shift ;;
        --seed) SEED="$2"; shift 2 ;;
        --seed=*) SEED="${1#*=}"; shift ;;
        --ports) PORT12="${2%,*}"; PORT13="${2#*,}"; shift 2 ;;
        --ports=*) v="${1#*=}"; PORT12="${v%,*}"; PORT13="${v#*,}"; shift ;;
        --handshakes-per-mb) HS_PER_MB="$2"; shift 2 ;;
        --handshakes-per-mb=*) HS_PER_MB="${1#*=}"; shift ;;
        -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
        --) shift; POS+=("$@"); break ;;
        -*) echo "unknown option: $1" >&2; exit 2 ;;
        *) POS+=("$1"); shift ;;
    esac
done
OUT="${POS[0]:-bench-data/bench.pcap}"
TARGET_MB="${POS[1]:-420}"

log() { printf '[%(%H:%M:%S)T] %s\n' -1 "$*" >&2; }
die() { log "error: $*"; exit 1; }

[[ $EUID -eq 0 ]] || die "must run as root (tcpdump on lo, ip link set lo mtu)"
for t in nginx openssl curl tcpdump awk ip; do
    command -v "$t" >/dev/null || die "$t not found"
done
[[ "$TARGET_MB" =~ ^[0-9]+$ && "$TARGET_MB" -gt 0 ]] || die "TARGET_MB must be a positive integer"
[[ "$HS_PER_MB" =~ ^[0-9]+$ ]] || die "--handshakes-per-mb must be a whole number"
[[ "$MTU" == keep || "$MTU" =~ ^[0-9]+$ ]] || die "--mtu takes a number or 'keep'"
for p in "$PORT12" "$PORT13"; do
    if ss -Hltn "sport = :$p" | grep -q .; then die "port $p already in use (use --ports)"; fi
done

mkdir -p "$(dirname "$OUT")"
OUT="$(cd "$(dirname "$OUT")" && pwd)/$(basename "$OUT")"
T="$(mktemp -d /tmp/tlsmortem-bench.XXXXXX)"
chmod 755 "$T"

NGINX_STARTED=0
TCPDUMP_PID=""
ORIG_MTU="$(cat /sys/class/net/lo/mtu)"
ORIG_TSO=""
ORIG_GSO=""
cleanup() {
    set +e
    if [[ -n "$TCPDUMP_PID" ]] && kill -0 "$TCPDUMP_PID" 2>/dev/null; then
        kill -INT "$TCPDUMP_PID"; wait "$TCPDUMP_PID" 2>/dev/null
    fi
    if [[ $NGINX_STARTED == 1 && -s "$T/nginx.pid" ]]; then
        kill -QUIT "$(cat "$T/nginx.pid")" 2>/dev/null
        sleep 0.5
    fi
    if [[ "$(cat /sys/class/net/lo/mtu)" != "$ORIG_MTU" ]]; then
        ip link set lo mtu "$ORIG_MTU" && log "restored lo mtu $ORIG_MTU"
    fi
    if [[ -n "$ORIG_TSO" ]] && command -v ethtool >/dev/null; then
        ethtool -K lo tso "$ORIG_TSO" gso "$ORIG_GSO" 2>/dev/null \
            && log "restored lo tso=$ORIG_TSO gso=$ORIG_GSO"
    fi
    rm -rf "$T"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ---------------------------------------------------------------- PKI ----
log "creating PKI in $T/pki"
P="$T/pki"; mkdir -p "$P"
NAMES=(bench.tlsmortem.test www.bench.tlsmortem.test api.bench.tlsmortem.test
       cdn.bench.tlsmortem.test static.bench.tlsmortem.test login.bench.tlsmortem.test)
SAN="$(printf 'DNS:%s,' "${NAMES[@]}")"; SAN="${SAN%,}"
(
    cd "$P"
    cat > ca.ext <<EOF
basicConstraints=critical,CA:TRUE,pathlen:0
keyUsage=critical,keyCertSign,cRLSign
subjectKeyIdentifier=hash
authorityKeyIdentifier=keyid:always
EOF
    cat > leaf.ext <<EOF
basicConstraints=critical,CA:FALSE
keyUsage=critical,digitalSignature,keyEncipherment
extendedKeyUsage=serverAuth
subjectAltName=$SAN
subjectKeyIdentifier=hash
authorityKeyIdentifier=keyid
EOF
    openssl req -x509 -newkey rsa:3072 -nodes -sha256 -days 3650 \
        -keyout root.key -out root.pem -subj "/O=tlsmortem bench/CN=tlsmortem bench Root CA" \
        -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign
    openssl req -new -newkey rsa:2048 -nodes -keyout int.key -out int.csr \
        -subj "/O=tlsmortem bench/CN=tlsmortem bench Intermediate CA 1"
    openssl x509 -req -in int.csr -CA root.pem -CAkey root.key -CAcreateserial \
        -days 1825 -sha256 -extfile ca.ext -out int.pem
    openssl req -new -newkey rsa:2048 -nodes -keyout rsa.key -out rsa.csr \
        -subj "/O=tlsmortem bench/CN=${NAMES[0]}"
    openssl x509 -req -in rsa.csr -CA int.pem -CAkey int.key -CAcreateserial \
        -days 397 -sha256 -extfile leaf.ext -out rsa.pem
    openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
        -keyout ecdsa.key -out ecdsa.csr -subj "/O=tlsmortem bench/CN=${NAMES[0]}"
    openssl x509 -req -in ecdsa.csr -CA int.pem -CAkey int.key -CAcreateserial \
        -days 397 -sha256 -extfile leaf.ext -out ecdsa.pem
    cat rsa.pem int.pem > rsa-chain.pem
    cat ecdsa.pem int.pem > ecdsa-chain.pem
    openssl verify -CAfile root.pem -untrusted int.pem rsa.pem ecdsa.pem >/dev/null
) 2> "$T/pki.log" >/dev/null || { cat "$T/pki.log" >&2; die "PKI creation failed"; }

# -------------------------------------------------------------- files ----
W="$T/www"; mkdir -p "$W"
head -c 1024     /dev/urandom > "$W/1k.bin"
head -c 65536    /dev/urandom > "$W/64k.bin"
head -c 1048576  /dev/urandom > "$W/1m.bin"
head -c 4194304  /dev/urandom > "$W/4m.bin"
echo "ok" > "$W/index.html"

# -------------------------------------------------------------- nginx ----
mkdir -p "$T/nginx-tmp"
cat > "$T/nginx.conf" <<EOF
user root;
worker_processes 2;
pid $T/nginx.pid;
error_log $T/nginx-error.log warn;
events { worker_connections 4096; }
http {
    access_log off;
    default_type application/octet-stream;
    client_body_temp_path $T/nginx-tmp/body;
    proxy_temp_path $T/nginx-tmp/proxy;
    fastcgi_temp_path $T/nginx-tmp/fastcgi;
    uwsgi_temp_path $T/nginx-tmp/uwsgi;
    scgi_temp_path $T/nginx-tmp/scgi;
    keepalive_requests 1000;
    ssl_certificate     $P/rsa-chain.pem;
    ssl_certificate_key $P/rsa.key;
    ssl_certificate     $P/ecdsa-chain.pem;
    ssl_certificate_key $P/ecdsa.key;
    ssl_session_cache shared:BENCH:10m;
    ssl_session_tickets on;
    ssl_prefer_server_ciphers off;
    server {
        listen 127.0.0.1:$PORT12 ssl http2;
        server_name ${NAMES[*]};
        ssl_protocols TLSv1.2;
        ssl_ciphers ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305:AES128-GCM-SHA256;
        root $W;
    }
    server {
        listen 127.0.0.1:$PORT13 ssl http2;
        server_name ${NAMES[*]};
        ssl_protocols TLSv1.3;
        root $W;
    }
}
EOF
nginx -t -q -c "$T/nginx.conf" -e "$T/nginx-error.log" || die "nginx config test failed"
nginx -c "$T/nginx.conf" -e "$T/nginx-error.log" || die "nginx failed to start"
NGINX_STARTED=1
for _ in $(seq 50); do [[ -s "$T/nginx.pid" ]] && break; sleep 0.1; done
log "nginx up on 127.0.0.1:$PORT12 (TLS 1.2) and 127.0.0.1:$PORT13 (TLS 1.3)"

# ------------------------------------------------------------ clients ----
# One job per line: KIND NAME PATH COUNT OPTS
#   c12/c13: curl, COUNT requests of PATH on one connection
#   s12/s13: openssl s_client, one GET with Connection: close
#   r12:     openssl s_client -reconnect (1 full + 5 resumed handshakes)
run_job() {
    local kind="$1" name="$2" path="$3" count="$4" opt="${5:-}"
    local port ver urls=() i extra=()
    case "$kind" in
        *12) port=$PORT12 ;;
        *13) port=$PORT13 ;;
    esac
    case "$kind" in
    c12|c13)
        if [[ $kind == c12 ]]; then extra+=(--tlsv1.2 --tls-max 1.2); else extra+=(--tlsv1.3); fi
        case "$opt" in
            h1) extra+=(--http1.1) ;;
            chacha) if [[ $kind == c12 ]]; then extra+=(--ciphers ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305)
                    else extra+=(--tls13-ciphers TLS_CHACHA20_POLY1305_SHA256); fi ;;
            aes256) if [[ $kind == c12 ]]; then extra+=(--ciphers ECDHE-RSA-AES256-GCM-SHA384 --http1.1)
                    else extra+=(--tls13-ciphers TLS_AES_256_GCM_SHA384 --http1.1); fi ;;
        esac
        for ((i = 0; i < count; i++)); do urls+=(-o /dev/null "https://$name:$port/$path"); done
        curl -sS --fail --cacert "$P/root.pem" \
            --resolve "$name:$port:127.0.0.1" "${extra[@]}" "${urls[@]}" \
            || echo "job failed: $*" >&2
        ;;
    s12|s13)
        if [[ $kind == s12 ]]; then ver=-tls1_2; else ver=-tls1_3; fi
        printf 'GET /%s HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n' "$path" "$name" \
            | openssl s_client -quiet $ver -connect "127.0.0.1:$port" -servername "$name" \
                -CAfile "$P/root.pem" -verify_return_error -alpn http/1.1 >/dev/null 2>&1 \
            || echo "job failed: $*" >&2
        ;;
    r12)
        openssl s_client -tls1_2 -reconnect -connect "127.0.0.1:$PORT12" -servername "$name" \
            -CAfile "$P/root.pem" </dev/null >/dev/null 2>&1 \
            || echo "job failed: $*" >&2
        ;;
    esac
}
export -f run_job
export P T PORT12 PORT13

# Job mix.  Handshake budget: HS_PER_MB per MB.  Byte budget: TARGET_MB minus
# framing overhead (Ethernet-sized segments + ACKs ~ 10%, 64 KiB segments ~2%).
if [[ "$MTU" == keep ]] || [[ "$MTU" -gt 9000 ]]; then OVH=1.03; else OVH=1.10; fi
awk -v seed="$SEED" -v mb="$TARGET_MB" -v hspermb="$HS_PER_MB" -v ovh="$OVH" -v names="${NAMES[*]}" '
function pick(a, n) { return a[1 + int(rand() * n)] }
function ver() { return rand() < 0.5 ? "12" : "13" }
function opt() { r = rand(); return r < 0.35 ? "h1" : r < 0.5 ? "chacha" : r < 0.6 ? "aes256" : "-" }
function job(s, w) { printf "%.9f %s\n", rand(), s; hs += w }
BEGIN {
    srand(seed); nn = split(names, N, " ")
    budget_hs = hspermb * mb
    budget_bytes = mb * 1e6 / ovh
    # bulk: cycles of 1x4MiB + 2x1MiB + 4x64KiB = 6.25 MiB, 7 handshakes,
    # leaving ~10% of the byte budget for the short jobs and the top-up.
    cycles = int(budget_bytes * 0.9 / (6.25 * 1048576))
    for (c = 0; c < cycles; c++) {
        job("c" ver() " " pick(N, nn) " 4m.bin 1 " opt(), 1)
        for (i = 0; i < 2; i++) job("c" ver() " " pick(N, nn) " 1m.bin 1 " opt(), 1)
        for (i = 0; i < 4; i++) {
            if (rand() < 0.8) job("c" ver() " " pick(N, nn) " 64k.bin 1 " opt(), 1)
            else              job("s" ver() " " pick(N, nn) " 64k.bin 1 -", 1)
        }
    }
    # short: many small handshakes
    while (hs < budget_hs) {
        r = rand()
        if      (r < 0.45) job("c" ver() " " pick(N, nn) " 1k.bin 1 " opt(), 1)
        else if (r < 0.55) job("c" ver() " " pick(N, nn) " 1k.bin " (2 + int(rand() * 4)) " " opt(), 1)
        else if (r < 0.63) job("c" ver() " " pick(N, nn) " index.html 1 " opt(), 1)
        else if (r < 0.93) job("s" ver() " " pick(N, nn) " 1k.bin 1 -", 1)
        else               job("r12 " pick(N, nn) " - 1 -", 6)
    }
    printf "expected handshakes (before top-up): %d\n", hs > "/dev/stderr"
}' 2> "$T/jobs.info" | sort -n | cut -d' ' -f2- > "$T/jobs.txt"
NJOBS=$(wc -l < "$T/jobs.txt")
log "job list: $NJOBS client runs, $(cat "$T/jobs.info")"

# ---------------------------------------------------------------- MTU ----
if [[ "$MTU" != keep ]]; then
    ip link set lo mtu "$MTU" || die "cannot set lo mtu $MTU"
    log "lo mtu $ORIG_MTU -> $MTU"
    if [[ "$MTU" -lt 65536 ]]; then
        if command -v ethtool >/dev/null; then
            ORIG_TSO="$(ethtool -k lo | awk '/^tcp-segmentation-offload:/ {print $2}')"
            ORIG_GSO="$(ethtool -k lo | awk '/^generic-segmentation-offload:/ {print $2}')"
            ethtool -K lo tso off gso off 2>/dev/null \
                && log "lo tso/gso off (was tso=$ORIG_TSO gso=$ORIG_GSO)" \
                || log "warning: could not switch off tso/gso on lo: captured segments may exceed the MTU"
        else
            log "warning: ethtool not installed: tso/gso stay on, captured segments may exceed the MTU (apt-get install ethtool)"
        fi
    fi
fi

# ------------------------------------------------------------ capture ----
rm -f "$OUT"
tcpdump -i lo -n -s 0 -B 65536 -Z root -w "$OUT" \
    "tcp and host 127.0.0.1 and (port $PORT12 or port $PORT13)" 2> "$T/tcpdump.log" &
TCPDUMP_PID=$!
for _ in $(seq 100); do grep -q 'listening on' "$T/tcpdump.log" 2>/dev/null && break; sleep 0.1; done
grep -q 'listening on' "$T/tcpdump.log" || { cat "$T/tcpdump.log" >&2; die "tcpdump did not start"; }
log "tcpdump capturing to $OUT"

START=$(date +%s)
# each line -> run_job KIND NAME PATH COUNT OPT
xargs -P "$PAR" -L 1 bash -c 'run_job "$@"' _ < "$T/jobs.txt" 2> "$T/jobs.err" || true
log "job list done in $(( $(date +%s) - START ))s, capture $(( $(stat -c %s "$OUT") / 1000000 )) MB"

# top up with bulk transfers until the (buffered) file reaches the target
TARGET_BYTES=$(( TARGET_MB * 1000000 ))
EXTRA=0
while [[ $(stat -c %s "$OUT") -lt $(( TARGET_BYTES - 4000000 )) ]]; do
    i=$(( EXTRA % 4 ))
    case $i in
        0) run_job c13 "${NAMES[2]}" 4m.bin 1 - ;;
        1) run_job c12 "${NAMES[3]}" 1m.bin 1 h1 ;;
        2) run_job c12 "${NAMES[0]}" 4m.bin 1 - ;;
        3) run_job c13 "${NAMES[4]}" 1m.bin 1 h1 ;;
    esac 2>> "$T/jobs.err"
    EXTRA=$((EXTRA + 1))
done
[[ $EXTRA -gt 0 ]] && log "top-up: $EXTRA extra bulk transfers"
sleep 1
kill -INT "$TCPDUMP_PID"
wait "$TCPDUMP_PID" || true
TCPDUMP_PID=""
log "capture finished in $(( $(date +%s) - START ))s"

FAILED=$(grep -c '^job failed' "$T/jobs.err" || true)
[[ "$FAILED" -gt 0 ]] && { log "warning: $FAILED client jobs failed:"; grep '^job failed' "$T/jobs.err" | head -5 >&2; }
grep -E 'packets (captured|received|dropped)' "$T/tcpdump.log" >&2 || cat "$T/tcpdump.log" >&2
DROPS=$(awk '/packets dropped by (kernel|interface)/ {s += $1} END {print s + 0}' "$T/tcpdump.log")
if [[ "$DROPS" -gt 0 ]]; then
    log "WARNING: tcpdump dropped $DROPS packets -- the capture has holes; rerun with --parallel 1"
fi
SIZE=$(stat -c %s "$OUT")
log "wrote $OUT: $SIZE bytes ($(( SIZE / 1000000 )) MB)"
[[ "$DROPS" -eq 0 ]]
