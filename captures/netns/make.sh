#!/usr/bin/env bash
# Regenerates captures/netns/*.pcap and captures/netns/truth.json: TLS handshakes killed by
# RSTs (injected, with and without payload, genuine server, client), a forged FIN carrying a
# block page, silent drops, ICMP rejections, FINs, a refused connection a raw client writes into
# anyway, a client refusing a 512-bit DH group, a client giving up on a silent server, and
# normal handshakes, made in three network namespaces and captured at the client AND at the
# server.
#
#   sudo bash captures/netns/make.sh
#
# Needs: root, iproute2 (ip netns, veth), ethtool, tcpdump, openssl 3 (s_server/s_client),
# nginx (ssl + http_v2), curl, /usr/bin/python3 with scapy (injector), iptables (legacy or nft
# front end; kernel with xt_string and REJECT) for the two host-firewall scenarios (skipped if
# missing), gnutls-serv (Debian gnutls-bin; the 512-bit DH server, skipped if missing), tshark
# (cross-check in truth.json).
#
# Network: everything stays inside namespaces this script creates (tlsm-client, tlsm-router,
# tlsm-server; removed on exit). Addresses: 10.200.1.0/24 + fd00:200::1:0/112 client side,
# 10.200.2.0/24 + fd00:200::2:0/112 server side (both inside fd00:200::/64). No host interface
# is touched.
#
# Path: the router namespace forwards with router.py (userspace, AF_PACKET), which adds a
# fixed one-way delay of $DELAY_MS (default 15 ms each way → RTT ≈ 30 ms) and decrements TTL /
# hop limit, so the server's packets reach the client with TTL 63 (Linux sends 64). Kernel
# forwarding stays off in the router. Reason: this kernel has no sch_netem (probed below and
# recorded in truth.json → path.netem_available); the userspace router is used even where
# netem exists, so that every run builds the same path (and the in-path drop, the ICMP
# rejection and the near-server injector live in it). Captures take "tcp port $PORT", plus
# "or icmp" in the two ICMP scenarios.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
PY=/usr/bin/python3           # has scapy
[ "$(id -u)" = 0 ] || { echo "make.sh: needs root (sudo bash $0)" >&2; exit 2; }
"$PY" -c 'import scapy' 2>/dev/null || { echo "make.sh: $PY lacks scapy" >&2; exit 2; }

NS_C=tlsm-client NS_R=tlsm-router NS_S=tlsm-server
C4=10.200.1.2 R4C=10.200.1.1 R4S=10.200.2.1 S4=10.200.2.2
C6=fd00:200::1:2 R6C=fd00:200::1:1 R6S=fd00:200::2:1 S6=fd00:200::2:2
PORT=443
DELAY_MS="${DELAY_MS:-15}"
SNI=www.example.test SNI_BLOCKED=blocked.example.test
export NS_C NS_R NS_S C4 S4 C6 S6 PORT DELAY_MS SNI SNI_BLOCKED

TMP="$(mktemp -d /tmp/tlsmortem-netns.XXXXXX)"
FACTS="$TMP/facts" LOGS="$TMP/logs" PKI="$TMP/pki"
mkdir -p "$FACTS" "$LOGS" "$PKI"
PIDS=()
cleanup() {
  for p in "${PIDS[@]:-}"; do [ -n "$p" ] && kill "$p" 2>/dev/null || true; done
  sleep 0.2
  net_down
  if [ -n "${KEEP_TMP:-}" ]; then echo "make.sh: kept $TMP" >&2; else rm -rf "$TMP"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# Idempotent: remove what this script makes.
rm -f "$HERE"/*.pcap "$HERE/truth.json"

inc() { ip netns exec "$NS_C" "$@"; }
inr() { ip netns exec "$NS_R" "$@"; }
ins() { ip netns exec "$NS_S" "$@"; }

# ---------------------------------------------------------------- namespaces
# Fresh namespaces for every scenario (net_up … finish → net_down): no socket, timer or
# firewall rule of one scenario can leak into the next one's captures.
net_down() { for ns in "$NS_C" "$NS_R" "$NS_S"; do ip netns del "$ns" 2>/dev/null || true; done; }
net_up() {
net_down
for ns in "$NS_C" "$NS_R" "$NS_S"; do ip netns del "$ns" 2>/dev/null || true; ip netns add "$ns"; done
ip -n "$NS_C" link add name veth-c type veth peer name veth-rc netns "$NS_R"
ip -n "$NS_S" link add name veth-s type veth peer name veth-rs netns "$NS_R"
ip -n "$NS_C" link set dev veth-c address 02:00:00:00:01:02
ip -n "$NS_R" link set dev veth-rc address 02:00:00:00:01:01
ip -n "$NS_R" link set dev veth-rs address 02:00:00:00:02:01
ip -n "$NS_S" link set dev veth-s address 02:00:00:00:02:02
for pair in "$NS_C veth-c" "$NS_R veth-rc" "$NS_R veth-rs" "$NS_S veth-s"; do
  set -- $pair
  ip netns exec "$1" sysctl -qw net.ipv6.conf.all.accept_dad=0 net.ipv6.conf.default.accept_dad=0 \
    net.ipv6.conf.all.accept_ra=0 net.ipv6.conf.default.accept_ra=0
  # Real segments on the wire and checksums filled in: the router forwards raw frames.
  ip netns exec "$1" ethtool -K "$2" tso off gso off gro off tx off rx off >/dev/null 2>&1 || true
  ip -n "$1" link set dev lo up
  ip -n "$1" link set dev "$2" up
done
ip -n "$NS_C" addr add "$C4/24" dev veth-c;  ip -n "$NS_C" addr add "$C6/112" dev veth-c nodad
ip -n "$NS_R" addr add "$R4C/24" dev veth-rc; ip -n "$NS_R" addr add "$R6C/112" dev veth-rc nodad
ip -n "$NS_R" addr add "$R4S/24" dev veth-rs; ip -n "$NS_R" addr add "$R6S/112" dev veth-rs nodad
ip -n "$NS_S" addr add "$S4/24" dev veth-s;  ip -n "$NS_S" addr add "$S6/112" dev veth-s nodad
ip -n "$NS_C" route add default via "$R4C"; ip -n "$NS_C" -6 route add default via "$R6C"
ip -n "$NS_S" route add default via "$R4S"; ip -n "$NS_S" -6 route add default via "$R6S"
# Static neighbours: no ARP/ND round trip inflates the first SYN/SYN-ACK.
ip -n "$NS_C" neigh replace "$R4C" lladdr 02:00:00:00:01:01 dev veth-c nud permanent
ip -n "$NS_C" neigh replace "$R6C" lladdr 02:00:00:00:01:01 dev veth-c nud permanent
ip -n "$NS_S" neigh replace "$R4S" lladdr 02:00:00:00:02:01 dev veth-s nud permanent
ip -n "$NS_S" neigh replace "$R6S" lladdr 02:00:00:00:02:01 dev veth-s nud permanent
inr sysctl -qw net.ipv4.ip_forward=0 net.ipv6.conf.all.forwarding=0

}
net_up
# netem probe (recorded; see the header for why the userspace router is used regardless).
if inr tc qdisc add dev veth-rc root netem delay 20ms 2>"$LOGS/netem.err"; then
  NETEM=true; inr tc qdisc del dev veth-rc root
else
  NETEM=false
fi
echo "{\"netem_available\": $NETEM, \"netem_error\": $(printf '%s' "$(cat "$LOGS/netem.err")" | "$PY" -c 'import json,sys; print(json.dumps(sys.stdin.read().strip()))')}" >"$FACTS/_netem.json"
net_down
IPT=""; command -v iptables >/dev/null && IPT=iptables
echo "make.sh: netem available: $NETEM; iptables: ${IPT:-missing}" >&2

# ---------------------------------------------------------------- PKI (throwaway)
openssl req -x509 -newkey rsa:2048 -nodes -keyout "$PKI/root.key" -out "$PKI/root.pem" -days 3650 \
  -subj "/O=tlsmortem test/CN=tlsmortem netns Root CA" -addext "basicConstraints=critical,CA:TRUE" \
  -addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null
openssl req -new -newkey rsa:2048 -nodes -keyout "$PKI/leaf.key" -out "$PKI/leaf.csr" \
  -subj "/O=tlsmortem test/CN=$SNI" 2>/dev/null
printf 'basicConstraints=critical,CA:FALSE\nextendedKeyUsage=serverAuth\nsubjectAltName=DNS:%s,DNS:%s\n' \
  "$SNI" "$SNI_BLOCKED" >"$PKI/leaf.ext"
openssl x509 -req -in "$PKI/leaf.csr" -CA "$PKI/root.pem" -CAkey "$PKI/root.key" -CAcreateserial \
  -days 3650 -sha256 -extfile "$PKI/leaf.ext" -out "$PKI/leaf.pem" 2>/dev/null

# ---------------------------------------------------------------- helpers
wait_for() { # file pattern [tries]
  for _ in $(seq "${3:-200}"); do grep -q "$2" "$1" 2>/dev/null && return 0; sleep 0.05; done
  echo "make.sh: timed out waiting for '$2' in $1" >&2; cat "$1" >&2 || true; return 1
}
wait_listen() { # ns addr-port-pattern
  for _ in $(seq 200); do ip netns exec "$1" ss -Hltn | grep -q "$2" && return 0; sleep 0.05; done
  echo "make.sh: nothing listening on $2 in $1" >&2; return 1
}
bg() { # log, cmd...   start in background, remember the pid in BG_PID
  local log="$1"; shift
  "$@" </dev/null >"$log" 2>&1 &
  BG_PID=$!; PIDS+=("$BG_PID")
}
stop() { for p in "$@"; do if [ -n "$p" ]; then kill "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; fi; done; }

CAP_C="" CAP_S=""
start_caps() { # name [capture filter, default "tcp port $PORT"]
  local filter="${2:-tcp port $PORT}"
  bg "$LOGS/$1.tcpdump-client.err" ip netns exec "$NS_C" tcpdump -Z root --immediate-mode -U -s 0 -i veth-c -w "$HERE/$1.client.pcap" "$filter"; CAP_C=$BG_PID
  bg "$LOGS/$1.tcpdump-server.err" ip netns exec "$NS_S" tcpdump -Z root --immediate-mode -U -s 0 -i veth-s -w "$HERE/$1.server.pcap" "$filter"; CAP_S=$BG_PID
  wait_for "$LOGS/$1.tcpdump-client.err" "listening on"
  wait_for "$LOGS/$1.tcpdump-server.err" "listening on"
  sleep 0.3
}
stop_caps() {
  sleep 1   # let the kernel ring buffer drain
  kill -INT "$CAP_C" "$CAP_S" 2>/dev/null || true
  wait "$CAP_C" 2>/dev/null || true; wait "$CAP_S" 2>/dev/null || true
}
ROUTER_PID=""
start_router() { # name [router.py options]   (also builds the namespaces)
  local name="$1"; shift
  net_up
  bg "$LOGS/$name.router.out" ip netns exec "$NS_R" "$PY" "$HERE/router.py" veth-rc veth-rs "$DELAY_MS" \
    "$FACTS/$name.router.jsonl" "$@"
  ROUTER_PID=$BG_PID
  wait_for "$LOGS/$name.router.out" router-up
}
INJ_PID=""
start_injector() { # name spec-json
  bg "$LOGS/$1.inject.out" ip netns exec "$NS_R" "$PY" "$HERE/inject.py" "$2" "$FACTS/$1.inject.jsonl"
  INJ_PID=$BG_PID
  wait_for "$LOGS/$1.inject.out" injector-up 400
  sleep 1.5   # sniff() opens its socket after the banner
}
S_PID=""
start_s_server() { # addr-for-accept (v4 or [v6])
  bg "$LOGS/s_server.$RANDOM.log" ip netns exec "$NS_S" openssl s_server -accept "$1:$PORT" -naccept 1 \
    -cert "$PKI/leaf.pem" -key "$PKI/leaf.key" -www
  S_PID=$BG_PID
  wait_listen "$NS_S" ":$PORT "
}
run_client() { # name seconds-max cmd...   (captures are stopped before a stuck client is killed)
  local name="$1" max="$2"; shift 2
  bg "$LOGS/$name.client.log" ip netns exec "$NS_C" "$@"
  local pid=$BG_PID
  for _ in $(seq $((max * 20))); do kill -0 "$pid" 2>/dev/null || break; sleep 0.05; done
  CLIENT_PID=$pid
}
s_client_blocked() { # addr
  echo openssl s_client -connect "$1:$PORT" -servername "$SNI_BLOCKED" -CAfile "$PKI/root.pem"
}
facts() { # name json   (what make.sh did, merged by truth.py)
  printf '%s\n' "$2" >"$FACTS/$1.json"
}
finish() { # stop captures first, then every process of the scenario
  stop_caps
  stop "${CLIENT_PID:-}" "$S_PID" "$INJ_PID" "$ROUTER_PID" "${H_PID:-}"
  CLIENT_PID="" S_PID="" INJ_PID="" ROUTER_PID="" H_PID=""
  net_down
}

# Injector specs. to_client forged "from the server", to_server forged "from the client".
spec() { # to_client-json to_server-json
  printf '{"iface":"veth-rc","iface_server":"veth-rs","port":%s,"sni":"%s","to_client":%s,"to_server":%s}' \
    "$PORT" "$SNI_BLOCKED" "$1" "$2"
}

# A scenario where the blocked SNI meets an on-path injector, over $1 (address family).
inject_scenario() { # name server-addr accept-addr client-timeout spec
  local name="$1" addr="$2" acc="$3" tmo="$4" sp="$5"
  start_router "$name"
  start_injector "$name" "$sp"
  start_s_server "$acc"
  start_caps "$name"
  run_client "$name" "$tmo" $(s_client_blocked "$addr")
  sleep 0.5
  finish
  facts "$name" "{\"injector\": $sp, \"client\": \"$(s_client_blocked "$addr") </dev/null\", \"server\": \"openssl s_server -accept $acc:$PORT -naccept 1 -www\"}"
}

# ---------------------------------------------------------------- 1. normal: s_client → s_server
name=normal-openssl
start_router "$name"; start_s_server "$S4"; start_caps "$name"
run_client "$name" 10 sh -c "printf 'GET / HTTP/1.0\r\n\r\n' | openssl s_client -connect $S4:$PORT -servername $SNI -CAfile $PKI/root.pem -verify_return_error -ign_eof"
finish
facts "$name" "{\"client\": \"printf 'GET / HTTP/1.0\\\\r\\\\n\\\\r\\\\n' | openssl s_client -connect $S4:$PORT -servername $SNI -ign_eof\", \"server\": \"openssl s_server -accept $S4:$PORT -naccept 1 -www\"}"

# ---------------------------------------------------------------- 2/3. normal: curl → nginx, IPv4 and IPv6
mkdir -p "$TMP/nginx/www"; printf 'small\n' >"$TMP/nginx/www/small.txt"
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
        listen $S4:$PORT ssl http2;
        listen [$S6]:$PORT ssl http2;
        server_name $SNI;
        ssl_certificate $PKI/leaf.pem;
        ssl_certificate_key $PKI/leaf.key;
        ssl_protocols TLSv1.2 TLSv1.3;
        root $TMP/nginx/www;
    }
}
NGINX
for fam in 4 6; do
  if [ $fam = 4 ]; then name=normal-curl-nginx addr=$S4 url_host=$S4; else name=normal-ipv6-curl-nginx addr=$S6 url_host="[$S6]"; fi
  start_router "$name"
  bg "$LOGS/nginx-$fam.log" ip netns exec "$NS_S" nginx -p "$TMP/nginx" -c "$TMP/nginx/nginx.conf"; H_PID=$BG_PID
  wait_listen "$NS_S" ":$PORT "
  start_caps "$name"
  run_client "$name" 10 curl -sS -v -$fam --cacert "$PKI/root.pem" --resolve "$SNI:$PORT:$url_host" \
    "https://$SNI:$PORT/small.txt" -o /dev/null
  sleep 0.3
  run_client "$name-h1" 10 curl -sS -v -$fam --http1.1 --cacert "$PKI/root.pem" --resolve "$SNI:$PORT:$url_host" \
    "https://$SNI:$PORT/small.txt" -o /dev/null
  finish
  facts "$name" "{\"client\": \"curl -$fam --resolve $SNI:$PORT:$url_host https://$SNI:$PORT/small.txt, then the same with --http1.1\", \"server\": \"nginx listen $url_host:$PORT ssl http2\"}"
done

# ---------------------------------------------------------------- 4-8. on-path injector in the router
# Single RST toward the client, the moment the ClientHello passes: TTL 50, IP ID 0, no options.
inject_scenario inject-single-rst "$S4" "$S4" 5 "$(spec \
  '{"ttl":50,"ip_id":0,"flags":"R","count":1,"seq_offsets":[0],"delay_ms":0,"tcp_timestamps":false}' null)"
# Burst of 3 RST+ACK toward the client, seq increasing, TTL 128, random IP IDs, 1 ms apart.
inject_scenario inject-rst-ack-burst "$S4" "$S4" 5 "$(spec \
  '{"ttl":128,"ip_id":"random","flags":"RA","count":3,"seq_offsets":[0,1460,4380],"delay_ms":0,"interval_ms":1,"tcp_timestamps":false}' null)"
# RSTs to both ends: toward the client at once (TTL 64, server IP ID + 1, TCP timestamps, RST+ACK);
# toward the server 25 ms later (after the ClientHello got there), TTL 64, IP ID 0, RST.
inject_scenario inject-rst-both-ends "$S4" "$S4" 5 "$(spec \
  '{"ttl":64,"ip_id":"server+1","flags":"RA","count":1,"seq_offsets":[0],"delay_ms":0,"tcp_timestamps":true}' \
  '{"ttl":64,"ip_id":0,"flags":"R","count":1,"seq_offsets":[0],"delay_ms":25,"tcp_timestamps":false}')"
# Racing the real ServerHello: nothing dropped, RST toward the client 27 ms after the
# ClientHello passed the router (the ServerHello reaches the client ≈ 33 ms after).
inject_scenario inject-rst-race-server-hello "$S4" "$S4" 5 "$(spec \
  '{"ttl":64,"ip_id":0,"flags":"R","count":1,"seq_offsets":[0],"delay_ms":28,"tcp_timestamps":false}' null)"
# IPv6: single RST toward the client, hop limit 50.
inject_scenario inject-single-rst-ipv6 "[$S6]" "[$S6]" 5 "$(spec \
  '{"ttl":50,"ip_id":0,"flags":"R","count":1,"seq_offsets":[0],"delay_ms":0,"tcp_timestamps":false}' null)"

# ---------------------------------------------------------------- 9. injector near the server
name=inject-near-server
NEAR='{"sni":"'$SNI_BLOCKED'","ttl":64,"ip_id":"server+1","flags":"RA","tcp_timestamps":true,"after_ms":0.5}'
start_router "$name" --near-server-inject "$NEAR"
start_s_server "$S4"; start_caps "$name"
run_client "$name" 5 $(s_client_blocked "$S4")
sleep 0.5; finish
facts "$name" "{\"near_server_injector\": $NEAR, \"client\": \"$(s_client_blocked "$S4") </dev/null\", \"server\": \"openssl s_server -accept $S4:$PORT -naccept 1 -www\"}"

# ---------------------------------------------------------------- 10. silent drop
name=silent-drop
start_router "$name" --drop-sni "$SNI_BLOCKED"
start_s_server "$S4"; start_caps "$name"
run_client "$name" 4 $(s_client_blocked "$S4")
finish   # captures stop while the client still waits; then it is killed
facts "$name" "{\"router\": \"router.py --drop-sni $SNI_BLOCKED (drops every client→server segment containing it)\", \"client\": \"$(s_client_blocked "$S4") </dev/null, stopped after 4 s\", \"server\": \"openssl s_server -accept $S4:$PORT -naccept 1 -www\"}"

# ---------------------------------------------------------------- 11. server app abort
name=server-app-abort
start_router "$name"
bg "$LOGS/$name.helper.out" ip netns exec "$NS_S" "$PY" "$HERE/helpers.py" abort-server "$S4" "$PORT"; H_PID=$BG_PID
wait_listen "$NS_S" ":$PORT "
start_caps "$name"
run_client "$name" 5 $(s_client_blocked "$S4")
sleep 0.5; finish
facts "$name" "{\"server\": \"helpers.py abort-server: reads one TLS record, close() with SO_LINGER {1,0}\", \"client\": \"$(s_client_blocked "$S4") </dev/null\"}"

# ---------------------------------------------------------------- 12. nothing listening
name=server-not-listening
start_router "$name"; start_caps "$name"
run_client "$name" 5 $(s_client_blocked "$S4")
sleep 0.5; finish
facts "$name" "{\"server\": \"nothing listening on $S4:$PORT (kernel RST+ACK to the SYN)\", \"client\": \"$(s_client_blocked "$S4") </dev/null\"}"

# ---------------------------------------------------------------- 13/14. host firewall REJECT
if [ -n "$IPT" ]; then
  name=server-firewall-reject-syn
  start_router "$name"
  ins $IPT -A INPUT -p tcp --dport "$PORT" -j REJECT --reject-with tcp-reset
 start_s_server "$S4"; start_caps "$name"
  run_client "$name" 5 $(s_client_blocked "$S4")
  sleep 0.5; finish
  facts "$name" "{\"server\": \"openssl s_server listening; iptables -A INPUT -p tcp --dport $PORT -j REJECT --reject-with tcp-reset\", \"client\": \"$(s_client_blocked "$S4") </dev/null\"}"

  name=server-firewall-reject-sni
  start_router "$name"
  ins $IPT -A INPUT -p tcp --dport "$PORT" -m string --string "$SNI_BLOCKED" --algo bm -j REJECT --reject-with tcp-reset
 start_s_server "$S4"; start_caps "$name"
  run_client "$name" 5 $(s_client_blocked "$S4")
  sleep 0.5; finish
  facts "$name" "{\"server\": \"openssl s_server listening; iptables -A INPUT -p tcp --dport $PORT -m string --string $SNI_BLOCKED --algo bm -j REJECT --reject-with tcp-reset\", \"client\": \"$(s_client_blocked "$S4") </dev/null\"}"
else
  echo "make.sh: iptables missing: host-firewall scenarios skipped" >&2
fi

# ---------------------------------------------------------------- 15. client abort
name=client-abort
start_router "$name"; start_s_server "$S4"; start_caps "$name"
run_client "$name" 5 "$PY" "$HERE/helpers.py" abort-client "$S4" "$PORT" "$SNI_BLOCKED" 0
sleep 0.5; finish
facts "$name" "{\"client\": \"helpers.py abort-client: real ClientHello (ssl.MemoryBIO, SNI $SNI_BLOCKED), then at once close() with SO_LINGER {1,0}\", \"server\": \"openssl s_server -accept $S4:$PORT -naccept 1 -www\"}"

# ---------------------------------------------------------------- 16. FIN after ClientHello
name=fin-after-client-hello
start_router "$name"
bg "$LOGS/$name.helper.out" ip netns exec "$NS_S" "$PY" "$HERE/helpers.py" fin-server "$S4" "$PORT"; H_PID=$BG_PID
wait_listen "$NS_S" ":$PORT "
start_caps "$name"
run_client "$name" 5 $(s_client_blocked "$S4")
sleep 0.5; finish
facts "$name" "{\"server\": \"helpers.py fin-server: reads one TLS record, plain close()\", \"client\": \"$(s_client_blocked "$S4") </dev/null\"}"

# ---------------------------------------------------------------- 17/18. injected RST with payload, forged FIN + block page
# Like the Iranian censor's RST: RST+ACK toward the client carrying 6 zero bytes, TTL 45 (the
# server's packets arrive with 63), random IP ID, at once; nothing dropped.
inject_scenario inject-rst-payload "$S4" "$S4" 5 "$(spec \
  '{"ttl":45,"ip_id":"random","flags":"RA","count":1,"seq_offsets":[0],"delay_ms":0,"tcp_timestamps":false,"payload_hex":"000000000000"}' null)"
# A forged FIN+PSH+ACK "from the server" at the server's next seq (the client's rcv_nxt),
# carrying an HTTP block page, TTL 50, IP ID 0, at once; the ClientHello is NOT dropped, so the
# real ServerHello flight (same seq) reaches the client one RTT later, behind the block page.
inject_scenario inject-fin-psh-blockpage "$S4" "$S4" 5 "$(spec \
  '{"ttl":50,"ip_id":0,"flags":"FPA","count":1,"seq_offsets":[0],"delay_ms":0,"tcp_timestamps":false,"window":502,"payload_text":"HTTP/1.1 403 Forbidden\r\nContent-Type: text/html\r\nConnection: close\r\n\r\nblocked"}' null)"

# ---------------------------------------------------------------- 19/20. router answers with ICMP admin-prohibited
# The router (the client's first hop) drops the ClientHello (matched by SNI) and every
# retransmission, each answered at once with ICMP 3/13 quoting it; captures stop at ~4 s.
ICMP_FILTER="tcp port $PORT or icmp"
name=icmp-reject
start_router "$name" --icmp-reject-sni "$SNI_BLOCKED"
start_s_server "$S4"; start_caps "$name" "$ICMP_FILTER"
run_client "$name" 4 $(s_client_blocked "$S4")
finish   # captures stop while the client still retransmits; then it is killed
facts "$name" "{\"router\": \"router.py --icmp-reject-sni $SNI_BLOCKED (drops every client→server segment containing it, answers each with ICMP type 3 code 13 from 10.200.1.1, TTL 64, at once)\", \"client\": \"$(s_client_blocked "$S4") </dev/null, stopped after 4 s\", \"server\": \"openssl s_server -accept $S4:$PORT -naccept 1 -www\", \"capture_filter\": \"$ICMP_FILTER\"}"

name=icmp-reject-syn
start_router "$name" --icmp-reject-syn
start_s_server "$S4"; start_caps "$name" "$ICMP_FILTER"
run_client "$name" 5 $(s_client_blocked "$S4")
sleep 0.5; finish
facts "$name" "{\"router\": \"router.py --icmp-reject-syn (drops every client→server SYN, answers it with ICMP type 3 code 13 from 10.200.1.1, TTL 64, at once)\", \"client\": \"$(s_client_blocked "$S4") </dev/null\", \"server\": \"openssl s_server -accept $S4:$PORT -naccept 1 -www\", \"capture_filter\": \"$ICMP_FILTER\"}"

# ---------------------------------------------------------------- 21. raw client ignores the refusal
name=raw-client-after-refused
start_router "$name"; start_caps "$name"
run_client "$name" 8 "$PY" "$HERE/helpers.py" raw-client "$S4" "$PORT" "$SNI_BLOCKED"
sleep 0.5; finish
facts "$name" "{\"server\": \"nothing listening on $S4:$PORT (kernel RST+ACK to the SYN, RST to the ClientHello)\", \"client\": \"helpers.py raw-client: scapy-built SYN over a raw socket; on the RST+ACK it still sends its real ClientHello (Python ssl, SNI $SNI_BLOCKED) with PSH+ACK, seq ISN+1, ack = RST's seq + 1\"}"

# ---------------------------------------------------------------- 22. server offers only a 512-bit DH group
# The server is gnutls-serv, not openssl s_server: OpenSSL 3 refuses to load DH parameters
# under 1024 bits even at @SECLEVEL=0 (its default security callback: "no EDH keys weaker
# than 1024 bits even at level 0"; s_server stops with "dh key too small"). GnuTLS serves the
# 512-bit group it is given. The client is OpenSSL 3's s_client at its default security
# level, which refuses the group when the ServerKeyExchange arrives.
if command -v gnutls-serv >/dev/null; then
  name=weak-dh-512
  openssl dhparam -out "$PKI/dh512.pem" 512 2>/dev/null
  GNUTLS_PRIO='NORMAL:-VERS-ALL:+VERS-TLS1.2:-KX-ALL:+DHE-RSA:-CIPHER-ALL:+AES-128-GCM'
  start_router "$name"
  bg "$LOGS/$name.gnutls-serv.log" ip netns exec "$NS_S" gnutls-serv --port "$PORT" \
    --x509certfile "$PKI/leaf.pem" --x509keyfile "$PKI/leaf.key" --dhparams "$PKI/dh512.pem" \
    --priority "$GNUTLS_PRIO" --disable-client-cert; S_PID=$BG_PID
  wait_listen "$NS_S" ":$PORT "
  start_caps "$name"
  run_client "$name" 5 openssl s_client -connect "$S4:$PORT" -servername "$SNI" -CAfile "$PKI/root.pem" \
    -tls1_2 -cipher DHE-RSA-AES128-GCM-SHA256
  sleep 0.5; finish
  facts "$name" "{\"server\": \"openssl dhparam -out dh512.pem 512; gnutls-serv $(gnutls-serv --version | head -1 | cut -d' ' -f2) --port $PORT --dhparams dh512.pem --priority '$GNUTLS_PRIO' --disable-client-cert (openssl s_server cannot: OpenSSL 3 refuses DH < 1024 bits even at @SECLEVEL=0)\", \"client\": \"openssl s_client -connect $S4:$PORT -servername $SNI -CAfile root.pem -tls1_2 -cipher DHE-RSA-AES128-GCM-SHA256 </dev/null (OpenSSL $(openssl version | cut -d' ' -f2), default security level)\"}"
else
  echo "make.sh: gnutls-serv missing (Debian: gnutls-bin): weak-dh-512 skipped" >&2
fi

# ---------------------------------------------------------------- 23. client gives up on a silent server
name=client-timeout-silent-server
start_router "$name"
bg "$LOGS/$name.helper.out" ip netns exec "$NS_S" "$PY" "$HERE/helpers.py" silent-server "$S4" "$PORT"; H_PID=$BG_PID
wait_listen "$NS_S" ":$PORT "
start_caps "$name"
run_client "$name" 6 "$PY" "$HERE/helpers.py" timeout-client "$S4" "$PORT" "$SNI_BLOCKED" 2
sleep 0.5; finish
facts "$name" "{\"server\": \"helpers.py silent-server: reads one TLS record, answers nothing, close() once the client closed\", \"client\": \"helpers.py timeout-client: Python ssl handshake with a 2 s socket timeout, then plain close()\"}"

# ---------------------------------------------------------------- truth.json
cp "$LOGS"/*.client.log "$LOGS"/*.helper.out "$FACTS/" 2>/dev/null || true
"$PY" "$HERE/truth.py" "$HERE" "$FACTS" >"$HERE/truth.json.tmp"
mv "$HERE/truth.json.tmp" "$HERE/truth.json"
chmod a+r "$HERE"/*.pcap "$HERE/truth.json"
ls -l "$HERE"/*.pcap >&2
echo "make.sh: done" >&2
