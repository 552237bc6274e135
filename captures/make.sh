#!/usr/bin/env bash
# Regenerates every capture in captures/ from scratch, plus captures/pki/ and truth.json.
#
#   sudo bash captures/make.sh
#
# Needs: root (tcpdump on `lo`; `ethtool -K lo tso off gso off` for one capture, restored
# afterwards), bash, ethtool, tcpdump >= 4.99 (for `-i any` → LINUX_SLL2), openssl 3,
# nginx with ssl + http_v2 modules (Debian nginx-light), curl, python3 (stdlib only),
# tshark/capinfos (Wireshark CLI tools), iproute2 `ss`.
# Network: loopback only (127.0.0.1), fixed server ports 4410, 4433-4439, 4440 (proxy), 8443.
# Private keys live in a temp dir and are thrown away; captures/pki/ keeps the public certs.
# Each run makes a fresh PKI, so certificate hashes and truth.json change together.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
SCRIPTS="$HERE/scripts"
PY="${PYTHON:-python3}"
[ "$(id -u)" = 0 ] || { echo "make.sh: needs root for tcpdump (sudo bash $0)" >&2; exit 2; }

export PORT_TLS12=4433 PORT_TLS10=4410 PORT_SPLIT=4434 PORT_SPLIT_PROXY=4440 PORT_LONG=4435 \
       PORT_RST=4436 PORT_TLS13=4437 PORT_MTLS=4438 PORT_SLL2=4439 PORT_NGINX=8443
export SNI=www.example.test SNI_BLOCKED=blocked.example.test
# Split the ClientHello record after 70 bytes: with this s_client that is inside the SNI host name.
export SPLIT_AT=70
export CIPHER12=ECDHE-RSA-AES128-GCM-SHA256 CIPHER12_SPLIT=ECDHE-RSA-AES256-GCM-SHA384 \
       CIPHER10=ECDHE-RSA-AES128-SHA CIPHER13=TLS_AES_256_GCM_SHA384

TMP="$(mktemp -d /tmp/tlsmortem-captures.XXXXXX)"
PIDS=()
cleanup() {
  for p in "${PIDS[@]:-}"; do [ -n "$p" ] && kill "$p" 2>/dev/null || true; done
  if [ -n "${LO_OFFLOAD:-}" ]; then ethtool -K lo $LO_OFFLOAD 2>/dev/null || true; fi
  if [ -n "${KEEP_TMP:-}" ]; then echo "make.sh: kept $TMP" >&2; else rm -rf "$TMP"; fi
}
trap cleanup EXIT
PKI="$TMP/pki"; FACTS="$TMP/facts"; LOGS="$TMP/logs"
mkdir -p "$PKI" "$FACTS" "$LOGS"

# Idempotent: remove everything this script makes before making it again.
rm -f "$HERE"/*.pcap "$HERE"/*.pcapng "$HERE/truth.json"
rm -rf "$HERE/pki"; mkdir -p "$HERE/pki"

# ---------------------------------------------------------------- helpers
wait_listen() { # port
  for _ in $(seq 100); do
    ss -Hltn "sport = :$1" | grep -q . && return 0
    sleep 0.05
  done
  echo "nothing listening on $1" >&2; return 1
}
TCPDUMP_PID=""
start_capture() { # out-file, then tcpdump args (interface, filter)
  local out="$1"; shift
  tcpdump -Z root --immediate-mode -U -s 0 -w "$out" "$@" 2>"$LOGS/tcpdump.err" &
  TCPDUMP_PID=$!; PIDS+=("$TCPDUMP_PID")
  for _ in $(seq 100); do grep -q "listening on" "$LOGS/tcpdump.err" && break; sleep 0.05; done
  sleep 0.2
}
stop_capture() {
  # tcpdump stops on SIGINT without draining the kernel ring buffer: give it time to read.
  sleep 1
  kill -INT "$TCPDUMP_PID"; wait "$TCPDUMP_PID" || true
  cat "$LOGS/tcpdump.err" >&2
}
s_server() { # port, log, extra args...  (one connection, then exits)
  local port="$1" log="$2"; shift 2
  openssl s_server -accept "127.0.0.1:$port" -naccept 1 "$@" >"$LOGS/$log" 2>&1 &
  SERVER_PID=$!; PIDS+=("$SERVER_PID")
  wait_listen "$port"
}
http_get() { printf 'GET / HTTP/1.0\r\n\r\n'; }

# ---------------------------------------------------------------- PKI
cd "$PKI"
ca_ext() { printf 'basicConstraints=critical,CA:TRUE%s\nkeyUsage=critical,keyCertSign,cRLSign\nsubjectKeyIdentifier=hash\nauthorityKeyIdentifier=keyid\n' "$1"; }
leaf_ext() { printf 'basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=%s\nsubjectKeyIdentifier=hash\nauthorityKeyIdentifier=keyid\n%s\n' "$1" "$2"; }
mkroot() { # name bits cn serial
  openssl req -x509 -newkey "rsa:$2" -nodes -keyout "$1.key" -out "$1.pem" -subj "/O=tlsmortem test/CN=$3" \
    -days 7300 -set_serial "$4" -sha256 \
    -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" \
    -addext "subjectKeyIdentifier=hash" 2>/dev/null
}
mkcert() { # name bits cn serial issuer extfile-content
  openssl req -new -newkey "rsa:$2" -nodes -keyout "$1.key" -out "$1.csr" -subj "/O=tlsmortem test/CN=$3" 2>/dev/null
  printf '%s\n' "$6" >"$1.ext"
  openssl x509 -req -in "$1.csr" -CA "$5.pem" -CAkey "$5.key" -set_serial "$4" -days 3650 -sha256 \
    -extfile "$1.ext" -out "$1.pem" 2>/dev/null
}
mkroot root 2048 "tlsmortem Test Root CA" 4096001
mkcert inter 2048 "tlsmortem Test Intermediate CA" 4096002 root "$(ca_ext ',pathlen:0')"
mkcert leaf 2048 "www.example.test" 4096003 inter \
  "$(leaf_ext serverAuth 'subjectAltName=DNS:www.example.test,DNS:example.test')"
mkcert client 2048 "tlsmortem test client" 4096004 inter "$(leaf_ext clientAuth '')"
cat leaf.pem inter.pem >fullchain.pem
# Long chain: root → L1 → L2 → L3 → leaf, all 4096-bit; the server sends leaf, L3, L2, L1.
mkroot longroot 4096 "tlsmortem Long Chain Root CA" 4096101
mkcert long1 4096 "tlsmortem Long Chain Intermediate 1" 4096102 longroot "$(ca_ext '')"
mkcert long2 4096 "tlsmortem Long Chain Intermediate 2" 4096103 long1 "$(ca_ext '')"
mkcert long3 4096 "tlsmortem Long Chain Intermediate 3" 4096104 long2 "$(ca_ext '')"
mkcert longleaf 4096 "www.example.test" 4096105 long3 \
  "$(leaf_ext serverAuth 'subjectAltName=DNS:www.example.test,DNS:example.test')"
cat long3.pem long2.pem long1.pem >longchain.pem
openssl verify -CAfile root.pem -untrusted inter.pem leaf.pem client.pem >&2
openssl verify -CAfile longroot.pem -untrusted longchain.pem longleaf.pem >&2
for c in root inter leaf client longroot long1 long2 long3 longleaf; do cp "$c.pem" "$HERE/pki/"; done
cd "$HERE"

# ---------------------------------------------------------------- 1. TLS 1.2 openssl
make_tls12() { # out port iface
  local out="$1" port="$2" iface="$3"
  start_capture "$out" -i "$iface" "tcp port $port"
  s_server "$port" "s_server-$port.log" -tls1_2 -cipher "$CIPHER12" \
    -cert "$PKI/leaf.pem" -key "$PKI/leaf.key" -cert_chain "$PKI/inter.pem" -www
  http_get | openssl s_client -connect "127.0.0.1:$port" -tls1_2 -cipher "$CIPHER12" \
    -servername "$SNI" -CAfile "$PKI/root.pem" -verify_return_error -ign_eof >"$LOGS/s_client-$port.log" 2>&1
  wait "$SERVER_PID" || true
  stop_capture
}
make_tls12 "$HERE/tls12-openssl.pcap" "$PORT_TLS12" lo

# ---------------------------------------------------------------- 2. TLS 1.3 curl → nginx
mkdir -p "$TMP/nginx/www"
printf 'small\n' >"$TMP/nginx/www/small.txt"
cat >"$TMP/nginx/nginx.conf" <<NGINX
user root;
worker_processes 1;
daemon off;
pid $TMP/nginx/nginx.pid;
error_log $TMP/nginx/error.log;
events { worker_connections 64; }
http {
    access_log off;
    client_body_temp_path $TMP/nginx/body;
    proxy_temp_path $TMP/nginx/proxy;
    fastcgi_temp_path $TMP/nginx/fastcgi;
    uwsgi_temp_path $TMP/nginx/uwsgi;
    scgi_temp_path $TMP/nginx/scgi;
    server {
        listen 127.0.0.1:$PORT_NGINX ssl http2;
        server_name $SNI;
        ssl_certificate $PKI/fullchain.pem;
        ssl_certificate_key $PKI/leaf.key;
        ssl_protocols TLSv1.2 TLSv1.3;
        root $TMP/nginx/www;
    }
}
NGINX
nginx -p "$TMP/nginx" -c "$TMP/nginx/nginx.conf" &
NGINX_PID=$!; PIDS+=("$NGINX_PID")
wait_listen "$PORT_NGINX"
start_capture "$HERE/tls13-curl-nginx.pcap" -i lo "tcp port $PORT_NGINX"
# Connection 1: curl's default ALPN offer (h2, http/1.1); nginx has http2 on → h2.
curl -sS -v --tlsv1.3 --tls13-ciphers "$CIPHER13" --cacert "$PKI/root.pem" \
  --resolve "$SNI:$PORT_NGINX:127.0.0.1" "https://$SNI:$PORT_NGINX/small.txt" \
  -o /dev/null 2>"$LOGS/curl-h2.log"
sleep 0.3
# Connection 2: --http1.1 → curl offers only http/1.1.
curl -sS -v --http1.1 --tlsv1.3 --tls13-ciphers "$CIPHER13" --cacert "$PKI/root.pem" \
  --resolve "$SNI:$PORT_NGINX:127.0.0.1" "https://$SNI:$PORT_NGINX/small.txt" \
  -o /dev/null 2>"$LOGS/curl-h1.log"
stop_capture
kill "$NGINX_PID"; wait "$NGINX_PID" || true
grep -E 'ALPN|SSL connection using' "$LOGS/curl-h2.log" "$LOGS/curl-h1.log" | tee "$FACTS/curl-alpn.txt" >&2

# ---------------------------------------------------------------- 3. TLS 1.0
start_capture "$HERE/tls10-openssl.pcap" -i lo "tcp port $PORT_TLS10"
s_server "$PORT_TLS10" s_server-tls10.log -tls1 -cipher "$CIPHER10:@SECLEVEL=0" \
  -cert "$PKI/leaf.pem" -key "$PKI/leaf.key" -cert_chain "$PKI/inter.pem" -www
http_get | openssl s_client -connect "127.0.0.1:$PORT_TLS10" -tls1 -cipher 'DEFAULT@SECLEVEL=0' \
  -servername "$SNI" -CAfile "$PKI/root.pem" -ign_eof >"$LOGS/s_client-tls10.log" 2>&1
wait "$SERVER_PID" || true
stop_capture

# ---------------------------------------------------------------- 4. ClientHello in two segments
# s_client → split_proxy (:4440) → s_server (:4434); only the proxy→server leg is captured.
start_capture "$HERE/client-hello-two-segments.pcap" -i lo "tcp port $PORT_SPLIT"
s_server "$PORT_SPLIT" s_server-split.log -tls1_2 -cipher "$CIPHER12_SPLIT" \
  -cert "$PKI/leaf.pem" -key "$PKI/leaf.key" -cert_chain "$PKI/inter.pem" -www
"$PY" "$SCRIPTS/split_proxy.py" "$PORT_SPLIT_PROXY" "$PORT_SPLIT" "$SPLIT_AT" &
PROXY_PID=$!; PIDS+=("$PROXY_PID")
wait_listen "$PORT_SPLIT_PROXY"
http_get | openssl s_client -connect "127.0.0.1:$PORT_SPLIT_PROXY" -tls1_2 -cipher "$CIPHER12_SPLIT" \
  -servername "$SNI" -CAfile "$PKI/root.pem" -ign_eof >"$LOGS/s_client-split.log" 2>&1
wait "$SERVER_PID" || true
wait "$PROXY_PID" || true
stop_capture

# ---------------------------------------------------------------- 5. long chain, small MSS
# lo does TSO/GSO, so tcpdump would see multi-MSS super-segments; switch both off for this one
# capture (the trap restores the previous setting if anything fails).
LO_OFFLOAD="tso $(ethtool -k lo | awk '/^tcp-segmentation-offload:/ {print $2}') gso $(ethtool -k lo | awk '/^generic-segmentation-offload:/ {print $2}')"
ethtool -K lo tso off gso off
start_capture "$HERE/long-chain-many-segments.pcap" -i lo "tcp port $PORT_LONG"
s_server "$PORT_LONG" s_server-long.log -tls1_2 -cipher "$CIPHER12" \
  -cert "$PKI/longleaf.pem" -key "$PKI/longleaf.key" -cert_chain "$PKI/longchain.pem" -www
"$PY" "$SCRIPTS/mss_client.py" "$PORT_LONG" "$SNI" "$PKI/longroot.pem" 536 "$CIPHER12" >&2
wait "$SERVER_PID" || true
stop_capture
ethtool -K lo $LO_OFFLOAD; LO_OFFLOAD=""

# ---------------------------------------------------------------- 6. reordered / retransmitted
"$PY" "$SCRIPTS/pcaptool.py" reorder "$HERE/long-chain-many-segments.pcap" \
  "$HERE/reordered-retransmitted.pcap" "$PORT_LONG" >"$FACTS/reorder.json"

# ---------------------------------------------------------------- 7. RST after ClientHello
start_capture "$HERE/rst-after-client-hello.pcap" -i lo "tcp port $PORT_RST"
"$PY" "$SCRIPTS/rst_server.py" "$PORT_RST" &
RST_PID=$!; PIDS+=("$RST_PID")
wait_listen "$PORT_RST"
openssl s_client -connect "127.0.0.1:$PORT_RST" -servername "$SNI_BLOCKED" \
  </dev/null >"$LOGS/s_client-rst.log" 2>&1 || true
wait "$RST_PID" || true
stop_capture

# ---------------------------------------------------------------- 8. truncated
"$PY" "$SCRIPTS/pcaptool.py" truncate "$HERE/tls12-openssl.pcap" "$HERE/truncated.pcap" 3 \
  >"$FACTS/truncate.json"

# ---------------------------------------------------------------- 9. big-endian, nanoseconds
"$PY" "$SCRIPTS/pcaptool.py" bigendian-ns "$HERE/tls12-openssl.pcap" \
  "$HERE/tls12-bigendian-nanosecond.pcap" >"$FACTS/bigendian.json"

# ---------------------------------------------------------------- 10. TLS 1.3 pcapng
start_capture "$TMP/tls13.pcap" -i lo "tcp port $PORT_TLS13"
s_server "$PORT_TLS13" s_server-tls13.log -tls1_3 -ciphersuites "$CIPHER13" \
  -cert "$PKI/leaf.pem" -key "$PKI/leaf.key" -cert_chain "$PKI/inter.pem" -www
http_get | openssl s_client -connect "127.0.0.1:$PORT_TLS13" -tls1_3 -ciphersuites "$CIPHER13" \
  -servername "$SNI" -CAfile "$PKI/root.pem" -ign_eof >"$LOGS/s_client-tls13.log" 2>&1
wait "$SERVER_PID" || true
stop_capture
"$PY" "$SCRIPTS/pcaptool.py" pcapng "$TMP/tls13.pcap" "$HERE/tls13.pcapng" "$PORT_TLS13" \
  >"$FACTS/pcapng.json"

# ---------------------------------------------------------------- 11. SLL2 (tcpdump -i any)
make_tls12 "$HERE/tls12-sll2.pcap" "$PORT_SLL2" any

# ---------------------------------------------------------------- 12. mutual TLS
start_capture "$HERE/mtls-openssl.pcap" -i lo "tcp port $PORT_MTLS"
s_server "$PORT_MTLS" s_server-mtls.log -tls1_2 -cipher "$CIPHER12" -Verify 2 -CAfile "$PKI/root.pem" \
  -cert "$PKI/leaf.pem" -key "$PKI/leaf.key" -cert_chain "$PKI/inter.pem" -www
http_get | openssl s_client -connect "127.0.0.1:$PORT_MTLS" -tls1_2 -cipher "$CIPHER12" \
  -servername "$SNI" -CAfile "$PKI/root.pem" -cert "$PKI/client.pem" -key "$PKI/client.key" \
  -cert_chain "$PKI/inter.pem" -ign_eof >"$LOGS/s_client-mtls.log" 2>&1
wait "$SERVER_PID" || true
stop_capture

# ---------------------------------------------------------------- truth.json
"$PY" "$SCRIPTS/truth.py" "$HERE" "$FACTS" >"$HERE/truth.json"
chmod a+r "$HERE"/*.pcap "$HERE"/*.pcapng "$HERE/truth.json" "$HERE"/pki/*
ls -l "$HERE"/*.pcap "$HERE"/*.pcapng >&2
echo "make.sh: done" >&2
