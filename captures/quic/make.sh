#!/usr/bin/env bash
# Regenerates the QUIC captures in captures/quic/ and their truth.json from scratch.
#
#   sudo bash captures/quic/make.sh
#
# Real HTTP/3 software on loopback, nothing synthetic:
#   * ngtcp2 0.12 example client/server from Debian 12 (`apt-get install ngtcp2-client
#     ngtcp2-server`: /usr/bin/gtlsclient, /usr/sbin/gtlsserver, GnuTLS backend);
#   * aioquic (PyPI, `pip install aioquic`, tested with 1.7.2) through ./aioquic_pair.py,
#     for QUIC version 2 (RFC 9369), which ngtcp2 0.12 only knows as a draft.
# Needs root (tcpdump on lo; `unshare -m` to bind-mount a private /etc/hosts for the ngtcp2
# client, see below), tcpdump, openssl 3, python3, tshark (cross-check only).
# Network: 127.0.0.1 only, UDP ports 4443 (ngtcp2) and 4444 (aioquic).
#
# SNI: gtlsclient (GnuTLS build) ignores --sni and sends "localhost" when given an IP address,
# so it is given the host name www.example.test, resolved to 127.0.0.1 through a private
# /etc/hosts bind-mounted in a throwaway mount namespace (the real /etc/hosts is untouched).
# Secrets are never printed (no -s / --show-secret, no SSLKEYLOGFILE), no qlog is kept.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
PY="${PYTHON:-python3}"
[ "$(id -u)" = 0 ] || { echo "make.sh: needs root for tcpdump (sudo bash $0)" >&2; exit 2; }
command -v gtlsclient >/dev/null && command -v gtlsserver >/dev/null ||
  { echo "make.sh: apt-get install ngtcp2-client ngtcp2-server" >&2; exit 2; }
"$PY" -c 'import aioquic' 2>/dev/null || { echo "make.sh: pip install aioquic" >&2; exit 2; }

PORT_NG=4443 PORT_AIO=4444
SNI=www.example.test
DCID=00112233445566778899aabbccddeeff      # the base capture's client-chosen Initial DCID
DCID_RETRY=d1d2d3d4d5d6d7d8                 # the Retry capture's (8 bytes)
TMP="$(mktemp -d /tmp/tlsmortem-quic.XXXXXX)"
PIDS=()
cleanup() {
  for p in "${PIDS[@]:-}"; do [ -n "$p" ] && kill "$p" 2>/dev/null || true; done
  if [ -n "${KEEP_TMP:-}" ]; then echo "make.sh: kept $TMP" >&2; else rm -rf "$TMP"; fi
}
trap cleanup EXIT
LOGS="$TMP/logs"; mkdir -p "$LOGS" "$TMP/www"
printf 'hello over h3\n' >"$TMP/www/index.html"
printf '127.0.0.1 %s\n' "$SNI" >"$TMP/hosts"

rm -f "$HERE"/*.pcap "$HERE/truth.json"

# Throwaway PKI: root CA → leaf for www.example.test (P-256). Keys stay in $TMP.
cd "$TMP"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout root.key \
  -out root.pem -subj "/O=tlsmortem test/CN=tlsmortem QUIC Test Root" -days 7300 \
  -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign" 2>/dev/null
openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout leaf.key \
  -out leaf.csr -subj "/O=tlsmortem test/CN=$SNI" 2>/dev/null
printf 'subjectAltName=DNS:%s\nextendedKeyUsage=serverAuth\n' "$SNI" >leaf.ext
openssl x509 -req -in leaf.csr -CA root.pem -CAkey root.key -set_serial 4443001 -days 3650 \
  -sha256 -extfile leaf.ext -out leaf.pem 2>/dev/null
cd "$HERE"

TCPDUMP_PID=""
start_capture() { # out-file, filter
  tcpdump -Z root --immediate-mode -U -s 0 -w "$1" -i lo "$2" 2>"$LOGS/tcpdump.err" &
  TCPDUMP_PID=$!; PIDS+=("$TCPDUMP_PID")
  for _ in $(seq 100); do grep -q "listening on" "$LOGS/tcpdump.err" && break; sleep 0.05; done
  sleep 0.2
}
stop_capture() { sleep 1; kill -INT "$TCPDUMP_PID"; wait "$TCPDUMP_PID" || true; }
wait_udp() { for _ in $(seq 100); do ss -Hlun "sport = :$1" | grep -q . && return 0; sleep 0.05; done; return 1; }

ng_server() { # log, extra args...
  local log="$1"; shift
  gtlsserver -q -d "$TMP/www" "$@" 127.0.0.1 "$PORT_NG" "$TMP/leaf.key" "$TMP/leaf.pem" >"$LOGS/$log" 2>&1 &
  SERVER_PID=$!; PIDS+=("$SERVER_PID"); wait_udp "$PORT_NG"
}
ng_client() { # log, extra args...   (log kept for truth: packet headers, cipher, ALPN; no secrets)
  local log="$1"; shift
  unshare -m sh -c 'mount --bind "$0" /etc/hosts && exec "$@"' "$TMP/hosts" \
    timeout 20 gtlsclient --no-quic-dump --no-http-dump --exit-on-all-streams-close "$@" \
    "$SNI" "$PORT_NG" "https://$SNI:$PORT_NG/index.html" >"$LOGS/$log" 2>&1
}
stop_server() { kill "$SERVER_PID" 2>/dev/null || true; wait "$SERVER_PID" 2>/dev/null || true; }

# 1. QUIC v1, HTTP/3 GET, client offers only TLS_AES_256_GCM_SHA384, fixed Initial DCID.
start_capture "$HERE/h3-ngtcp2.pcap" "udp port $PORT_NG"
ng_server ngtcp2-server-base.log
ng_client h3-ngtcp2.log --dcid "$DCID" \
  --ciphers 'NORMAL:-VERS-ALL:+VERS-TLS1.3:-CIPHER-ALL:+AES-256-GCM'
stop_capture; stop_server

# 2. Retry: the server validates the address (-V), so it answers the first Initial with Retry.
start_capture "$HERE/h3-ngtcp2-retry.pcap" "udp port $PORT_NG"
ng_server ngtcp2-server-retry.log -V
ng_client h3-ngtcp2-retry.log --dcid "$DCID_RETRY" \
  --ciphers 'NORMAL:-VERS-ALL:+VERS-TLS1.3:-CIPHER-ALL:+CHACHA20-POLY1305'
stop_capture; stop_server

# 3. Version negotiation: the client's first Initial is version 0x1a2a3a4a (a reserved
#    "greasing" version, RFC 9000 §15); the server answers Version Negotiation, and the client
#    starts over with QUIC v1 from a NEW UDP socket (new source port, new DCID).
start_capture "$HERE/h3-ngtcp2-version-negotiation.pcap" "udp port $PORT_NG"
ng_server ngtcp2-server-vn.log
ng_client h3-ngtcp2-version-negotiation.log -v 0x1a2a3a4a --preferred-versions v1 \
  --ciphers 'NORMAL:-VERS-ALL:+VERS-TLS1.3:-CIPHER-ALL:+AES-128-GCM'
stop_capture; stop_server

# 4. QUIC version 2 (0x6b3343cf), aioquic client and server, client offers only ChaCha20.
start_capture "$HERE/h3-aioquic-v2.pcap" "udp port $PORT_AIO"
"$PY" "$HERE/aioquic_pair.py" "$PORT_AIO" "$SNI" "$TMP/leaf.pem" "$TMP/leaf.key" "$TMP/root.pem" \
  v2 CHACHA20_POLY1305_SHA256 >"$LOGS/h3-aioquic-v2.json"
stop_capture

"$PY" "$HERE/truth.py" "$HERE" "$LOGS" "$SNI" "$PORT_NG" "$PORT_AIO" >"$HERE/truth.json"
chmod a+r "$HERE"/*.pcap "$HERE/truth.json"
ls -l "$HERE"/*.pcap >&2
echo "quic/make.sh: done" >&2
