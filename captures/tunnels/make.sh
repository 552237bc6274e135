#!/usr/bin/env bash
# Regenerates captures/tunnels/*.pcap and captures/tunnels/truth.json: one TLS handshake
# (openssl 3 s_client → s_server) carried through each tunnel real software makes here, and
# handshakes whose ClientHello was cut into IP fragments, IPv4 and IPv6.
#
#   sudo bash captures/tunnels/make.sh
#
# Each tunnel scenario is captured twice at the same time in the client's namespace: on the
# underlay (NAME.pcap: the tunnel packets as they leave and arrive) and on the overlay interface
# (NAME.inner.pcap: the same connection, plain). Tests check that both give the handshake facts
# this script asked for (SNI, version, cipher, certificates served, a completed handshake).
#
# Tunnels, and who makes them:
#   vxlan          the Linux kernel (ip link add type vxlan id 42 dstport 4789)
#   gretap-key     Open vSwitch's userspace datapath (type=gre, key 5: Ethernet over GRE, 0x6558)
#   erspan2        Open vSwitch (type=erspan, erspan_ver=1: ERSPAN type II, session 7)
#   erspan3        Open vSwitch (type=erspan, erspan_ver=2: ERSPAN type III, session 8)
#   geneve         Open vSwitch (type=geneve, VNI 77)
# The kernel this was made on has VXLAN but no GRE, ERSPAN, Geneve, IP-in-IP, SIT, ip6tnl or MPLS
# routing modules (and loads no modules), so every tunnel but VXLAN is made by Open vSwitch
# 3.1's userspace datapath (datapath_type=netdev, Debian openvswitch-switch), which builds the
# tunnel headers itself, one ovsdb-server + ovs-vswitchd per namespace. No MPLS capture: the
# kernel cannot route MPLS, and OVS push_mpls/pop_mpls flows between two namespaces got the
# client's labelled packets across (label 100 seen and popped) but the server's kernel never
# answered them; not pursued. IP-in-IP, 6in4, 4in6, PPPoE and GTP-U have no maker here either:
# tests/tunnels.rs wraps the frames of a plain capture in them, and says so.
#
# Fragments, made by the kernel:
#   frag-ipv4-tcp  client (MTU 1500, ip_no_pmtu_disc=1 so DF is clear) → router (kernel
#                  forwarding, MTU 576 toward the server) → server: the router fragments the
#                  ClientHello (made ~1.4 KB by a long ALPN list). Captured at the server
#                  (NAME.pcap: fragments) and at the client (NAME.inner.pcap: whole).
#   frag-ipv6-dtls DTLS 1.2 over IPv6: s_client -mtu 3000 on a 1280-byte link, so the client's
#                  kernel fragments its ~1.4 KB ClientHello datagram (IPv6 routers never fragment).
#                  NAME.pcap captured at the client. The plain version is a second run with
#                  -mtu 1200 (NAME.inner.pcap): another connection with the same facts.
#
# Needs: root, iproute2, ethtool, tcpdump, openssl 3, Open vSwitch (ovsdb-server, ovs-vswitchd,
# ovs-vsctl, ovs-ofctl, ovs-appctl), python3. Namespaces tlsm-tun-c/-r/-s, removed on exit.
# Addresses (inside the namespaces only): underlay 10.203.0.0/24, overlay 10.204.0.0/24 +
# fd00:204::/64, fragment path 10.205.1.0/24 – 10.205.2.0/24 and fd00:205::/64.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
[ "$(id -u)" = 0 ] || { echo "make.sh: needs root (sudo bash $0)" >&2; exit 2; }
NS_C=tlsm-tun-c NS_R=tlsm-tun-r NS_S=tlsm-tun-s
UL_C=10.203.0.1 UL_S=10.203.0.2 OV_C=10.204.0.1 OV_S=10.204.0.2
PORT=443 SNI=www.example.test
# Five 240-byte protocol names: a ClientHello of ~1.4 KB, larger than a 1280-byte link.
LONG_ALPN=$(python3 -c 'print(",".join(c * 240 for c in "abcde"))')

TMP="$(mktemp -d /tmp/tlsmortem-tunnels.XXXXXX)"
FACTS="$TMP/facts" LOGS="$TMP/logs" PKI="$TMP/pki"
mkdir -p "$FACTS" "$LOGS" "$PKI"
PIDS=()
net_down() { for ns in "$NS_C" "$NS_R" "$NS_S"; do ip netns del "$ns" 2>/dev/null || true; done; }
ovs_down() {
  for d in "$TMP"/ovs-*; do
    [ -d "$d" ] || continue
    for p in vs.pid db.pid; do [ -f "$d/$p" ] && kill "$(cat "$d/$p")" 2>/dev/null || true; done
    rm -rf "$d"
  done
}
cleanup() {
  for p in "${PIDS[@]:-}"; do [ -n "$p" ] && kill "$p" 2>/dev/null || true; done
  ovs_down; net_down
  if [ -n "${KEEP_TMP:-}" ]; then echo "make.sh: kept $TMP" >&2; else rm -rf "$TMP"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM
rm -f "$HERE"/*.pcap "$HERE/truth.json"

# ---------------------------------------------------------------- PKI (throwaway)
openssl req -x509 -newkey rsa:2048 -nodes -keyout "$PKI/root.key" -out "$PKI/root.pem" -days 3650 \
  -subj "/O=tlsmortem test/CN=tlsmortem tunnels Root CA" -addext "basicConstraints=critical,CA:TRUE" \
  -addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null
openssl req -new -newkey rsa:2048 -nodes -keyout "$PKI/inter.key" -out "$PKI/inter.csr" \
  -subj "/O=tlsmortem test/CN=tlsmortem tunnels Intermediate CA" 2>/dev/null
printf 'basicConstraints=critical,CA:TRUE,pathlen:0\nkeyUsage=critical,keyCertSign,cRLSign\n' >"$PKI/inter.ext"
openssl x509 -req -in "$PKI/inter.csr" -CA "$PKI/root.pem" -CAkey "$PKI/root.key" -CAcreateserial \
  -days 3650 -sha256 -extfile "$PKI/inter.ext" -out "$PKI/inter.pem" 2>/dev/null
openssl req -new -newkey rsa:2048 -nodes -keyout "$PKI/leaf.key" -out "$PKI/leaf.csr" \
  -subj "/O=tlsmortem test/CN=$SNI" 2>/dev/null
printf 'basicConstraints=critical,CA:FALSE\nextendedKeyUsage=serverAuth\nsubjectAltName=DNS:%s\n' "$SNI" >"$PKI/leaf.ext"
openssl x509 -req -in "$PKI/leaf.csr" -CA "$PKI/inter.pem" -CAkey "$PKI/inter.key" -CAcreateserial \
  -days 3650 -sha256 -extfile "$PKI/leaf.ext" -out "$PKI/leaf.pem" 2>/dev/null
cat "$PKI/inter.pem" "$PKI/root.pem" >"$PKI/ca-bundle.pem"

# ---------------------------------------------------------------- helpers
wait_for() { # file pattern
  for _ in $(seq 200); do grep -q "$2" "$1" 2>/dev/null && return 0; sleep 0.05; done
  echo "make.sh: timed out waiting for '$2' in $1" >&2; cat "$1" >&2 || true; return 1
}
bg() { local log="$1"; shift; "$@" </dev/null >"$log" 2>&1 & BG_PID=$!; PIDS+=("$BG_PID"); }
stop() { for p in "$@"; do [ -n "$p" ] && { kill "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; }; done; }
quiet_if() { # ns dev: no offloads (real segments, checksums filled in), no IPv6 autoconf noise
  ip netns exec "$1" ethtool -K "$2" tso off gso off gro off tx off rx off >/dev/null 2>&1 || true
}
ns_up() {
  net_down
  for ns in "$@"; do
    ip netns add "$ns"; ip -n "$ns" link set lo up
    ip netns exec "$ns" sysctl -qw net.ipv6.conf.all.accept_dad=0 net.ipv6.conf.default.accept_dad=0 \
      net.ipv6.conf.all.accept_ra=0 net.ipv6.conf.default.accept_ra=0 \
      net.ipv6.conf.default.router_solicitations=0 net.ipv6.conf.all.router_solicitations=0
  done
}
CAPS=()
capture() { # ns dev file [filter]
  bg "$LOGS/$(basename "$3").tcpdump" ip netns exec "$1" tcpdump -Z root --immediate-mode -U -s 0 -i "$2" -w "$3" ${4:-}
  CAPS+=("$BG_PID"); wait_for "$LOGS/$(basename "$3").tcpdump" "listening on"
}
stop_caps() { sleep 1; for p in "${CAPS[@]}"; do kill -INT "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done; CAPS=(); }
S_PID=""
server() { # ns accept-addr [extra s_server args...]
  local ns="$1" acc="$2"; shift 2
  # stdin held open: without -www (DTLS), s_server reads it and stops at its end.
  bg "$LOGS/s_server.$RANDOM.log" sh -c 'sleep 30 | "$@"' sh ip netns exec "$ns" openssl s_server \
    -accept "$acc:$PORT" -naccept 1 -cert "$PKI/leaf.pem" -key "$PKI/leaf.key" -cert_chain "$PKI/inter.pem" "$@"
  S_PID=$BG_PID; sleep 0.5
}
client() { # name ns addr [extra s_client args...]   (HTTP GET; its output kept as a fact)
  local name="$1" ns="$2" addr="$3"; shift 3
  printf 'GET / HTTP/1.0\r\n\r\n' | timeout 20 ip netns exec "$ns" openssl s_client -connect "$addr:$PORT" \
    -servername "$SNI" -CAfile "$PKI/ca-bundle.pem" -verify_return_error -ign_eof "$@" >"$LOGS/$name.s_client" 2>&1 || true
}
facts() { # name json
  printf '%s\n' "$2" >"$FACTS/$1.json"
}

# Open vSwitch, userspace datapath, in namespace $1 with its state in $TMP/ovs-$1.
ovs_up() {
  local ns="$1" d="$TMP/ovs-$1"
  mkdir -p "$d"
  ovsdb-tool create "$d/conf.db" /usr/share/openvswitch/vswitch.ovsschema
  ip netns exec "$ns" env OVS_RUNDIR="$d" OVS_DBDIR="$d" OVS_LOGDIR="$d" ovsdb-server "$d/conf.db" \
    --remote=punix:"$d/db.sock" --pidfile="$d/db.pid" --detach --log-file="$d/db.log" 2>>"$d/stderr"
  vsctl "$ns" --no-wait init
  ip netns exec "$ns" env OVS_RUNDIR="$d" ovs-vswitchd unix:"$d/db.sock" --pidfile="$d/vs.pid" \
    --detach --log-file="$d/vs.log" 2>>"$d/stderr"
}
vsctl() { local ns="$1"; shift; ip netns exec "$ns" env OVS_RUNDIR="$TMP/ovs-$ns" ovs-vsctl --db=unix:"$TMP/ovs-$ns/db.sock" "$@"; }
appctl() { local ns="$1"; shift; ip netns exec "$ns" ovs-appctl -t "$TMP/ovs-$ns/ovs-vswitchd.$(cat "$TMP/ovs-$ns/vs.pid").ctl" "$@"; }
ofctl() { # ns command bridge [flow]
  ip netns exec "$1" ovs-ofctl "$2" "unix:$TMP/ovs-$1/$3.mgmt" ${4:+"$4"}
}

# Two namespaces joined by a veth pair "ul" (the underlay).
underlay() {
  ns_up "$NS_C" "$NS_S"
  ip -n "$NS_C" link add ul type veth peer name ul netns "$NS_S"
  for ns in "$NS_C" "$NS_S"; do quiet_if "$ns" ul; ip -n "$ns" link set ul up; done
}

# An OVS tunnel between the namespaces: br-phy holds the underlay address and the veth,
# br-int the overlay address (a tap device) and the tunnel port. $1: OVS interface type and
# options, for both ends alike; $2: "mpls" for a plain br-int patched to br-phy with MPLS flows.
ovs_tunnel() { # type options...
  underlay
  local side ul peer ov
  for side in c s; do
    if [ $side = c ]; then ns=$NS_C ul=$UL_C peer=$UL_S ov=$OV_C; else ns=$NS_S ul=$UL_S peer=$UL_C ov=$OV_S; fi
    ovs_up "$ns"
    vsctl "$ns" add-br br-phy -- set bridge br-phy datapath_type=netdev
    vsctl "$ns" add-port br-phy ul
    ip -n "$ns" addr add "$ul/24" dev br-phy; ip -n "$ns" link set br-phy up
    vsctl "$ns" add-br br-int -- set bridge br-int datapath_type=netdev
    vsctl "$ns" add-port br-int t0 -- set interface t0 type="$1" options:remote_ip="$peer" "${@:2}"
    ip -n "$ns" addr add "$ov/24" dev br-int; ip -n "$ns" link set br-int mtu 1400 up
    quiet_if "$ns" br-int; quiet_if "$ns" br-phy
    appctl "$ns" ovs/route/add "$peer/32" br-phy >/dev/null
  done
  sleep 1
}

# One handshake through whatever carries $OV_C → $OV_S, captured on $1 (underlay) and $2 (overlay).
handshake() { # name underlay-dev overlay-dev encapsulation-json how
  local name="$1"
  capture "$NS_C" "$2" "$HERE/$name.pcap" "not ip6"
  capture "$NS_C" "$3" "$HERE/$name.inner.pcap" "tcp port $PORT"
  server "$NS_S" "$OV_S" -www -tls1_2 -cipher ECDHE-RSA-AES128-GCM-SHA256
  client "$name" "$NS_C" "$OV_S" -tls1_2 -cipher ECDHE-RSA-AES128-GCM-SHA256
  stop_caps; stop "$S_PID"; ovs_down; net_down
  facts "$name" "{\"encapsulation\": $4, \"version\": 771, \"cipher\": 49199, \"server\": \"$OV_S\", \"how\": \"$5\", \"client\": \"openssl s_client -connect $OV_S:$PORT -servername $SNI -tls1_2 -cipher ECDHE-RSA-AES128-GCM-SHA256\", \"plain\": \"$name.inner.pcap\"}"
}

# ---------------------------------------------------------------- VXLAN (kernel)
underlay
for side in c s; do
  if [ $side = c ]; then ns=$NS_C ul=$UL_C peer=$UL_S ov=$OV_C; else ns=$NS_S ul=$UL_S peer=$UL_C ov=$OV_S; fi
  ip -n "$ns" addr add "$ul/24" dev ul
  ip -n "$ns" link add vx0 type vxlan id 42 local "$ul" remote "$peer" dstport 4789 dev ul
  ip -n "$ns" addr add "$ov/24" dev vx0; ip -n "$ns" link set vx0 up; quiet_if "$ns" vx0
done
handshake vxlan ul vx0 '["vxlan:42"]' "kernel VXLAN: ip link add vx0 type vxlan id 42 dstport 4789"

# ---------------------------------------------------------------- OVS tunnels
ovs_tunnel gre options:key=5
handshake gretap-key ul br-int '["gre:5"]' "Open vSwitch userspace: type=gre options:key=5 (Ethernet over GRE, key 5)"
ovs_tunnel erspan options:key=7 options:erspan_ver=1 options:erspan_idx=3
handshake erspan2 ul br-int '["gre", "erspan2:7"]' "Open vSwitch userspace: type=erspan options:key=7 erspan_ver=1 erspan_idx=3 (ERSPAN type II, session 7)"
ovs_tunnel erspan options:key=8 options:erspan_ver=2 options:erspan_dir=1 options:erspan_hwid=4
handshake erspan3 ul br-int '["gre", "erspan3:8"]' "Open vSwitch userspace: type=erspan options:key=8 erspan_ver=2 erspan_dir=1 erspan_hwid=4 (ERSPAN type III, session 8)"
ovs_tunnel geneve options:key=77
handshake geneve ul br-int '["geneve:77"]' "Open vSwitch userspace: type=geneve options:key=77 (VNI 77)"

# ---------------------------------------------------------------- IPv4 fragments (router)
ns_up "$NS_C" "$NS_R" "$NS_S"
ip -n "$NS_C" link add veth-c type veth peer name veth-rc netns "$NS_R"
ip -n "$NS_S" link add veth-s type veth peer name veth-rs netns "$NS_R"
for pair in "$NS_C veth-c" "$NS_R veth-rc" "$NS_R veth-rs" "$NS_S veth-s"; do set -- $pair; quiet_if "$1" "$2"; ip -n "$1" link set "$2" up; done
ip -n "$NS_R" link set veth-rs mtu 576
ip -n "$NS_C" addr add 10.205.1.2/24 dev veth-c; ip -n "$NS_R" addr add 10.205.1.1/24 dev veth-rc
ip -n "$NS_R" addr add 10.205.2.1/24 dev veth-rs; ip -n "$NS_S" addr add 10.205.2.2/24 dev veth-s
ip -n "$NS_C" route add default via 10.205.1.1
# The server sends packets of at most 576 bytes toward the client (the router's small-MTU port
# drops bigger ones) but advertises MSS 1460, so the client sends full-size segments.
ip -n "$NS_S" route add default via 10.205.2.1 mtu lock 576 advmss 1460
ip netns exec "$NS_R" sysctl -qw net.ipv4.ip_forward=1
# DF clear on the client's packets (no path-MTU discovery), so the router may fragment them.
ip netns exec "$NS_C" sysctl -qw net.ipv4.ip_no_pmtu_disc=1
name=frag-ipv4-tcp
capture "$NS_S" veth-s "$HERE/$name.pcap" "tcp port $PORT or (ip[6:2] & 0x1fff != 0)"
capture "$NS_C" veth-c "$HERE/$name.inner.pcap" "tcp port $PORT"
server "$NS_S" 10.205.2.2 -www -tls1_2 -cipher ECDHE-RSA-AES256-GCM-SHA384
client "$name" "$NS_C" 10.205.2.2 -tls1_2 -cipher ECDHE-RSA-AES256-GCM-SHA384 -alpn "$LONG_ALPN"
stop_caps; stop "$S_PID"; net_down
facts "$name" "{\"encapsulation\": [], \"version\": 771, \"cipher\": 49200, \"server\": \"10.205.2.2\", \"how\": \"router fragments: client MTU 1500 with net.ipv4.ip_no_pmtu_disc=1 (DF clear), router veth-rs MTU 576, kernel forwarding; ClientHello ~1.4 KB (ALPN of five 240-byte names); NAME.pcap captured at the server, NAME.inner.pcap at the client\", \"client\": \"openssl s_client -connect 10.205.2.2:$PORT -servername $SNI -tls1_2 -cipher ECDHE-RSA-AES256-GCM-SHA384 -alpn <5 x 240 bytes>\", \"plain\": \"$name.inner.pcap\", \"fragmented\": \"client\"}"

# ---------------------------------------------------------------- IPv6 fragments (source, DTLS)
dtls_run() { # file mtu-arg link-mtu
  local file="$1" mtu_arg="$2" link_mtu="$3"
  ns_up "$NS_C" "$NS_S"
  ip -n "$NS_C" link add veth-c type veth peer name veth-s netns "$NS_S"
  for pair in "$NS_C veth-c" "$NS_S veth-s"; do set -- $pair; quiet_if "$1" "$2"; ip -n "$1" link set "$2" mtu "$link_mtu" up; done
  ip -n "$NS_C" addr add fd00:205::1/64 dev veth-c nodad; ip -n "$NS_S" addr add fd00:205::2/64 dev veth-s nodad
  sleep 0.5
  capture "$NS_C" veth-c "$HERE/$file" "udp port $PORT or (ip6[6] == 44)"
  server "$NS_S" "[fd00:205::2]" -dtls1_2 -cipher ECDHE-RSA-AES128-GCM-SHA256
  client "$file" "$NS_C" "[fd00:205::2]" -dtls1_2 -cipher ECDHE-RSA-AES128-GCM-SHA256 -alpn "$LONG_ALPN" -mtu "$mtu_arg"
  stop_caps; stop "$S_PID"; net_down
}
name=frag-ipv6-dtls
dtls_run "$name.pcap" 3000 1280
dtls_run "$name.inner.pcap" 1200 1500
facts "$name" "{\"encapsulation\": [], \"version\": 65277, \"cipher\": 49199, \"server\": \"fd00:205::2\", \"how\": \"source fragmentation: DTLS 1.2 s_client -mtu 3000 on a 1280-byte link (the kernel fragments the ~1.4 KB ClientHello datagram); NAME.inner.pcap: a second run with -mtu 1200 on a 1500-byte link (DTLS fragments, no IP fragments)\", \"client\": \"openssl s_client -dtls1_2 -connect [fd00:205::2]:$PORT -servername $SNI -cipher ECDHE-RSA-AES128-GCM-SHA256 -alpn <5 x 240 bytes> -mtu 3000\", \"plain\": \"$name.inner.pcap\", \"fragmented\": \"client\"}"

# ---------------------------------------------------------------- truth.json
cp "$PKI/root.pem" "$PKI/inter.pem" "$PKI/leaf.pem" "$HERE/pki/" 2>/dev/null || { mkdir -p "$HERE/pki"; cp "$PKI/root.pem" "$PKI/inter.pem" "$PKI/leaf.pem" "$HERE/pki/"; }
python3 "$HERE/truth.py" "$HERE" "$FACTS" "$LOGS" "$PKI" "$SNI" "$PORT" >"$HERE/truth.json"
ls -l "$HERE"/*.pcap >&2
echo "make.sh: done" >&2
