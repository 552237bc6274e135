#!/usr/bin/env bash
# Version and cipher mismatches between real openssl peers on loopback (needs root for tcpdump).
#   version-mismatch.pcap   s_server -tls1_3 only; s_client -tls1_2 only   -> server alert protocol_version
#   no-shared-cipher.pcap   s_server -tls1_2 -cipher AES128-SHA; s_client -tls1_2 -cipher ECDHE-RSA-AES256-GCM-SHA384
#                                                                          -> server alert handshake_failure
set -euo pipefail
cd "$(dirname "$0")"
tmp=$(mktemp -d); trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$tmp"' EXIT
openssl req -x509 -newkey rsa:2048 -nodes -keyout "$tmp/k.pem" -out "$tmp/c.pem" -days 3650 \
    -subj /CN=www.example.test -addext subjectAltName=DNS:www.example.test 2>/dev/null
run() { # name port server-args client-args
    tcpdump -i lo -s 0 -w "$1.pcap" "tcp port $2" 2>/dev/null & local dump=$!
    sleep 1
    # s_server quits when its stdin ends: keep it open while the client runs.
    sleep 4 | openssl s_server -accept "127.0.0.1:$2" -cert "$tmp/c.pem" -key "$tmp/k.pem" -naccept 1 $3 >/dev/null 2>&1 &
    sleep 0.5
    echo | timeout 5 openssl s_client -connect "127.0.0.1:$2" -servername www.example.test $4 >/dev/null 2>&1 || true
    sleep 1; kill "$dump"; wait "$dump" 2>/dev/null || true
}
run version-mismatch 4480 "-tls1_3" "-tls1_2"
run no-shared-cipher 4481 "-tls1_2 -cipher AES128-SHA" "-tls1_2 -cipher ECDHE-RSA-AES256-GCM-SHA384"
