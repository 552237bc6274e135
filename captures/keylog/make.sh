#!/usr/bin/env bash
# Regenerates every capture in captures/keylog/ from scratch: the captures, the key log beside
# each (NAME.keys, NSS key log format, written by the client itself), pki/ and truth.json.
#
#   sudo bash captures/keylog/make.sh        # KEEP_TMP=1 keeps the temp dir (private keys, logs)
#
# TLS 1.3 / TLS 1.2 / QUIC handshakes whose interesting part is encrypted (certificates,
# EncryptedExtensions, alerts), made by real software that writes its own key log:
# openssl s_client -keylogfile, gnutls-cli, curl and Python's ssl with SSLKEYLOGFILE, aioquic's
# secrets_log_file; servers openssl s_server, nginx and aioquic. A throwaway PKI (root →
# intermediate → leaves made with `openssl ca`, an expired one, an ECDSA one, a client
# certificate, and an unrelated root) is made on every run.
#
# Needs: root (tcpdump on lo), openssl 3, gnutls-cli (Debian gnutls-bin), nginx (ssl + http_v2),
# curl (OpenSSL backend), python3 with aioquic (`pip install aioquic`), tcpdump, tshark and
# editcap (Wireshark 4 CLI tools; tshark decrypts every capture with its key log as the
# independent cross-check in truth.json), iproute2 `ss`.
# Network: loopback only (127.0.0.1), TCP ports 4601-4611, UDP 4612-4613. Client ports are
# ephemeral. Private keys stay in the temp dir and are thrown away; pki/ keeps the public
# certificates. The key logs hold only the secrets of these throwaway connections.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
CAPS="$(dirname "$HERE")"
PY="${PYTHON:-python3}"
[ "$(id -u)" = 0 ] || { echo "make.sh: needs root for tcpdump (sudo bash $0)" >&2; exit 2; }
for t in gnutls-cli nginx curl tcpdump tshark editcap; do
  command -v "$t" >/dev/null || { echo "make.sh: needs $t (apt-get install gnutls-bin nginx-light curl tcpdump tshark)" >&2; exit 2; }
done
"$PY" -c 'import aioquic' 2>/dev/null || { echo "make.sh: pip install aioquic" >&2; exit 2; }

SNI=www.example.test
SNI_OTHER=api.example.test

TMP="$(mktemp -d /tmp/tlsmortem-keylog.XXXXXX)"
PIDS=()
cleanup() {
  for p in "${PIDS[@]:-}"; do [ -n "$p" ] && kill "$p" 2>/dev/null || true; done
  if [ -n "${KEEP_TMP:-}" ]; then echo "make.sh: kept $TMP" >&2; else rm -rf "$TMP"; fi
}
trap cleanup EXIT
PKI="$TMP/pki"; FACTS="$TMP/facts"; LOGS="$TMP/logs"
mkdir -p "$PKI" "$FACTS" "$LOGS"
: >"$FACTS/files.jsonl"; : >"$FACTS/conns.jsonl"

# Idempotent: remove everything this script makes before making it again.
rm -f "$HERE"/*.pcap "$HERE"/*.pcapng "$HERE"/*.keys "$HERE/truth.json"
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
start_capture() { # out-file filter
  tcpdump -Z root --immediate-mode -U -s 0 -w "$1" -i lo "$2" 2>"$LOGS/tcpdump.err" &
  TCPDUMP_PID=$!; PIDS+=("$TCPDUMP_PID")
  for _ in $(seq 100); do grep -q "listening on" "$LOGS/tcpdump.err" && break; sleep 0.05; done
  sleep 0.2
}
stop_capture() {
  sleep 1   # tcpdump stops on SIGINT without draining the ring buffer: let it read first
  kill -INT "$TCPDUMP_PID"; wait "$TCPDUMP_PID" || true
}
s_server() { # port naccept log extra-args...   (leaves after naccept connections)
  local port="$1" n="$2" log="$3"; shift 3
  openssl s_server -accept "127.0.0.1:$port" -naccept "$n" "$@" >"$LOGS/$log" 2>&1 &
  SERVER_PID=$!; PIDS+=("$SERVER_PID")
  wait_listen "$port"
}
serve() { echo -cert "$PKI/$1.pem" -key "$PKI/$1.key"; }
# openssl s_client sending a GET, its secrets appended to KEYS; never fails the script
# (rejections are the point).
s_client() { # log port sni keys extra-args...
  local log="$1" port="$2" sni="$3" keys="$4"; shift 4
  printf 'GET / HTTP/1.0\r\n\r\n' | openssl s_client -connect "127.0.0.1:$port" -servername "$sni" \
    -keylogfile "$keys" -ign_eof "$@" >"$LOGS/$log" 2>&1 || true
  sleep 0.2
}
# gnutls-cli (GnuTLS 3.7) TLS 1.3 only, trusting root.pem; it writes SSLKEYLOGFILE itself.
gnutls_get() { # log port keys
  printf 'GET / HTTP/1.0\r\n\r\n' | SSLKEYLOGFILE="$3" timeout 10 gnutls-cli --x509cafile "$PKI/root.pem" \
    --sni-hostname "$SNI" --priority 'NORMAL:-VERS-ALL:+VERS-TLS1.3' -p "$2" 127.0.0.1 \
    >"$LOGS/$1" 2>&1 || true
  sleep 0.2
}
# Python ssl (captures/certs/client.py, TLS 1.3): its SSLContext.keylog_filename from SSLKEYLOGFILE.
py_get() { # log port name cafile keys
  SSLKEYLOGFILE="$5" "$PY" "$CAPS/certs/client.py" "$2" "$3" "$4" 1.3 >"$LOGS/$1" 2>&1 || true
  sleep 0.2
}
# Facts for truth.json, as key/value pairs (lists are comma-separated).
fact() { local out="$1"; shift; "$PY" -c 'import json,sys; a=sys.argv[1:]; print(json.dumps(dict(zip(a[::2],a[1::2]))))' "$@" >>"$out"; }
file_fact() { fact "$FACTS/files.jsonl" "$@"; }
conn_fact() { fact "$FACTS/conns.jsonl" "$@"; }

# ---------------------------------------------------------------- PKI
cd "$PKI"
SUBJ="/O=tlsmortem test/CN="
mkroot() { # name cn serial
  openssl req -x509 -newkey rsa:2048 -nodes -keyout "$1.key" -out "$1.pem" -subj "${SUBJ}$2" \
    -days 7300 -set_serial "$3" -sha256 \
    -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" \
    -addext "subjectKeyIdentifier=hash" 2>/dev/null
}
mkroot root "tlsmortem Keylog Root CA" 4600001
# A root no server chains to: the Python client that trusts only it rejects every chain here.
mkroot other-root "tlsmortem Keylog Other Root CA" 4600002
openssl req -new -newkey rsa:2048 -nodes -keyout inter.key -out inter.csr \
  -subj "${SUBJ}tlsmortem Keylog Intermediate CA" 2>/dev/null
printf 'basicConstraints=critical,CA:TRUE,pathlen:0\nkeyUsage=critical,keyCertSign,cRLSign\nsubjectKeyIdentifier=hash\nauthorityKeyIdentifier=keyid\n' >inter.ext
openssl x509 -req -in inter.csr -CA root.pem -CAkey root.key -set_serial 4600003 -days 3650 -sha256 \
  -extfile inter.ext -out inter.pem 2>/dev/null

# Leaves are issued by `openssl ca` (-startdate/-enddate for the expired one).
mkdir -p ca/new; : >ca/index.txt; echo 460100 >ca/serial   # hex, an even number of digits
cat >ca.cnf <<CNF
[ ca ]
default_ca = inter
[ inter ]
dir = $PKI/ca
database = \$dir/index.txt
new_certs_dir = \$dir/new
serial = \$dir/serial
certificate = $PKI/inter.pem
private_key = $PKI/inter.key
default_md = sha256
default_days = 397
policy = pol
unique_subject = no
email_in_dn = no
copy_extensions = none
[ pol ]
organizationName = optional
commonName = supplied
[ server ]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature,keyEncipherment
extendedKeyUsage = serverAuth
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
subjectAltName = DNS:$SNI
[ client ]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature
extendedKeyUsage = clientAuth
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
CNF
leaf() { # name cn ext keyalg extra-ca-args...
  local n="$1" cn="$2" ext="$3" alg="$4"; shift 4
  openssl req -new -newkey "$alg" -nodes -keyout "$n.key" -out "$n.csr" -subj "${SUBJ}$cn" 2>/dev/null
  openssl ca -batch -config ca.cnf -extensions "$ext" -preserveDN -notext -in "$n.csr" -out "$n.pem" "$@" 2>/dev/null
}
leaf leaf "$SNI" server rsa:2048                                   # valid 397 days from today
leaf leaf-expired "$SNI" server rsa:2048 -startdate 20200101000000Z -enddate 20210101000000Z
openssl ecparam -name prime256v1 -out p256.pem
leaf leaf-ec "$SNI" server ec:p256.pem                             # for ECDHE-ECDSA suites
leaf client "tlsmortem keylog client" client rsa:2048
cat leaf.pem inter.pem >fullchain.pem
openssl verify -CAfile root.pem -untrusted inter.pem leaf.pem leaf-ec.pem client.pem >&2
for c in root other-root inter leaf leaf-expired leaf-ec client; do cp "$c.pem" "$HERE/pki/"; done
cd "$HERE"

# ---------------------------------------------------------------- 1. TLS 1.3, intermediate missing
# OpenSSL's client sends its alert before it switches to the handshake keys (plaintext
# unknown_ca: X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY, ssl_verify_alarm_type); GnuTLS
# sends bad_certificate for any verification failure, encrypted under its handshake keys.
F=tls13-missing-intermediate.pcap; K="$HERE/${F%.pcap}.keys"
start_capture "$HERE/$F" "tcp port 4601"
s_server 4601 2 missing.log -tls1_3 $(serve leaf) -www
s_client missing-openssl.log 4601 "$SNI" "$K" -tls1_3 -CAfile "$PKI/root.pem" -verify_return_error
gnutls_get missing-gnutls.log 4601 "$K"
wait "$SERVER_PID" || true
stop_capture
file_fact file $F keylog "${F%.pcap}.keys" ca root \
  shows "TLS 1.3: the server sends its leaf without the intermediate; OpenSSL's client rejects it with a plaintext unknown_ca, GnuTLS's with an encrypted bad_certificate" \
  how "s_server -tls1_3 -cert leaf.pem (no -cert_chain) -www -naccept 2 on :4601; s_client -tls1_3 -CAfile root.pem -verify_return_error -keylogfile; SSLKEYLOGFILE=… gnutls-cli --x509cafile root.pem --priority NORMAL:-VERS-ALL:+VERS-TLS1.3"
conn_fact file $F client "openssl s_client" port 4601 sni $SNI version 1.3 cipher 0x1302 served leaf \
  alerts client:2:48 verdict incomplete-chain without_keys client-rejected-likely findings incomplete-chain
conn_fact file $F client gnutls-cli port 4601 sni $SNI version 1.3 cipher 0x1302 served leaf \
  alerts client:2:42 verdict incomplete-chain without_keys client-rejected-likely findings incomplete-chain

# ---------------------------------------------------------------- 2. TLS 1.3, expired leaf
F=tls13-expired.pcap; K="$HERE/${F%.pcap}.keys"
start_capture "$HERE/$F" "tcp port 4602"
s_server 4602 2 expired.log -tls1_3 $(serve leaf-expired) -cert_chain "$PKI/inter.pem" -www
s_client expired-openssl.log 4602 "$SNI" "$K" -tls1_3 -CAfile "$PKI/root.pem" -verify_return_error
gnutls_get expired-gnutls.log 4602 "$K"
wait "$SERVER_PID" || true
stop_capture
file_fact file $F keylog "${F%.pcap}.keys" ca root \
  shows "TLS 1.3: expired leaf (2020-01-01 to 2021-01-01) with its intermediate; OpenSSL's client rejects it with a plaintext certificate_expired, GnuTLS's with an encrypted bad_certificate" \
  how "openssl ca -startdate 20200101000000Z -enddate 20210101000000Z; s_server -tls1_3 -cert leaf-expired.pem -cert_chain inter.pem -naccept 2 on :4602; s_client -tls1_3 -CAfile root.pem -verify_return_error -keylogfile; gnutls-cli as above"
expired_conns() { # file
  conn_fact file "$1" client "openssl s_client" port 4602 sni $SNI version 1.3 cipher 0x1302 \
    served leaf-expired,inter alerts client:2:45 verdict expired without_keys client-rejected-likely findings expired
  conn_fact file "$1" client gnutls-cli port 4602 sni $SNI version 1.3 cipher 0x1302 \
    served leaf-expired,inter alerts client:2:42 verdict expired without_keys client-rejected-likely findings expired
}
expired_conns $F

# ---------------------------------------------------------------- 3. TLS 1.3, the pcapng with secrets
# The same capture as pcapng, its key log in a Decryption Secrets Block (no .keys file).
editcap --inject-secrets "tls,$K" "$HERE/$F" "$HERE/tls13-expired-embedded-secrets.pcapng"
F=tls13-expired-embedded-secrets.pcapng
file_fact file $F keylog "" keys pcapng ca root derived_from tls13-expired.pcap \
  shows "tls13-expired.pcap as pcapng with its key log embedded in a Decryption Secrets Block: decrypted with no --keylog" \
  how "editcap --inject-secrets tls,tls13-expired.keys tls13-expired.pcap tls13-expired-embedded-secrets.pcapng"
expired_conns $F

# ---------------------------------------------------------------- 4. TLS 1.3, a client trusting another root
F=tls13-unknown-ca.pcap; K="$HERE/${F%.pcap}.keys"
start_capture "$HERE/$F" "tcp port 4603"
s_server 4603 1 unknownca.log -tls1_3 $(serve leaf) -cert_chain "$PKI/inter.pem" -www
py_get unknownca-py.log 4603 "$SNI" "$PKI/other-root.pem" "$K"
wait "$SERVER_PID" || true
stop_capture
file_fact file $F keylog "${F%.pcap}.keys" ca other-root \
  shows "TLS 1.3: full chain (leaf, intermediate) to a root the Python client does not trust (it trusts only other-root.pem); it rejects with a plaintext unknown_ca. tlsmortem is given the client's trust store" \
  how "s_server -tls1_3 -cert leaf.pem -cert_chain inter.pem on :4603; SSLKEYLOGFILE=… client.py 4603 www.example.test other-root.pem 1.3 (SSLContext.keylog_filename)"
conn_fact file $F client python port 4603 sni $SNI version 1.3 cipher 0x1302 served leaf,inter \
  alerts client:2:48 verdict unknown-issuer without_keys client-rejected-likely findings unknown-issuer

# ---------------------------------------------------------------- 5. TLS 1.3, host name mismatch
# OpenSSL maps X509_V_ERR_HOSTNAME_MISMATCH to bad_certificate (s_client and Python alike).
F=tls13-hostname-mismatch.pcap; K="$HERE/${F%.pcap}.keys"
start_capture "$HERE/$F" "tcp port 4604"
s_server 4604 2 hostname.log -tls1_3 $(serve leaf) -cert_chain "$PKI/inter.pem" -www
s_client hostname-openssl.log 4604 "$SNI_OTHER" "$K" -tls1_3 -CAfile "$PKI/root.pem" -verify_return_error \
  -verify_hostname "$SNI_OTHER"
py_get hostname-py.log 4604 "$SNI_OTHER" "$PKI/root.pem" "$K"
wait "$SERVER_PID" || true
stop_capture
file_fact file $F keylog "${F%.pcap}.keys" ca root \
  shows "TLS 1.3: good chain for www.example.test; s_client and Python ask for api.example.test and reject it with a plaintext bad_certificate" \
  how "s_server -tls1_3 -cert leaf.pem -cert_chain inter.pem -naccept 2 on :4604; s_client -tls1_3 -servername api.example.test -verify_hostname api.example.test -verify_return_error -CAfile root.pem -keylogfile; SSLKEYLOGFILE=… client.py 4604 api.example.test root.pem 1.3"
for c in "openssl s_client" python; do
  conn_fact file $F client "$c" port 4604 sni $SNI_OTHER version 1.3 cipher 0x1302 served leaf,inter \
    alerts client:2:42 verdict hostname-mismatch without_keys client-rejected-likely findings hostname-mismatch
done

# ---------------------------------------------------------------- 6. TLS 1.3, client certificates
# The server requires one (-Verify 1). With it the client's chain is encrypted; without it the
# client sends an empty Certificate and the server answers certificate_required (RFC 8446
# §4.4.2.4) under its application keys. `sleep 1 |`: that client sends nothing of its own, so
# the alert is the first thing after the handshake either way.
F=tls13-client-certificate.pcap; K="$HERE/${F%.pcap}.keys"
start_capture "$HERE/$F" "tcp port 4605"
s_server 4605 2 mtls.log -tls1_3 $(serve leaf) -cert_chain "$PKI/inter.pem" -Verify 1 -CAfile "$PKI/root.pem" -www
s_client mtls-with.log 4605 "$SNI" "$K" -tls1_3 -CAfile "$PKI/root.pem" -verify_return_error \
  -cert "$PKI/client.pem" -key "$PKI/client.key" -cert_chain "$PKI/inter.pem"
sleep 1 | openssl s_client -connect 127.0.0.1:4605 -servername "$SNI" -keylogfile "$K" -tls1_3 \
  -CAfile "$PKI/root.pem" -verify_return_error >"$LOGS/mtls-without.log" 2>&1 || true
wait "$SERVER_PID" || true
stop_capture
file_fact file $F keylog "${F%.pcap}.keys" ca root \
  shows "TLS 1.3 with a server that requires a client certificate: one client sends client+intermediate (encrypted) and completes; one has none and gets an encrypted certificate_required" \
  how "s_server -tls1_3 -Verify 1 -CAfile root.pem -cert leaf.pem -cert_chain inter.pem -www -naccept 2 on :4605; s_client -tls1_3 -cert client.pem -key client.key -cert_chain inter.pem -keylogfile, GET; then s_client -tls1_3 without -cert, stdin open 1 s"
conn_fact file $F client "openssl s_client -cert" port 4605 sni $SNI version 1.3 cipher 0x1302 served leaf,inter \
  client_served client,inter alerts server:1:0,client:1:0 verdict complete without_keys complete \
  findings client-certificate-requested
conn_fact file $F client "openssl s_client" port 4605 sni $SNI version 1.3 cipher 0x1302 served leaf,inter \
  alerts server:2:116 verdict alert findings client-certificate-requested,client-certificate-missing

# ---------------------------------------------------------------- 7. TLS 1.3, HelloRetryRequest
# s_client sends a key share for its first group only (X25519); the server takes only P-256.
F=tls13-hello-retry.pcap; K="$HERE/${F%.pcap}.keys"
start_capture "$HERE/$F" "tcp port 4606"
s_server 4606 1 hrr.log -tls1_3 -groups P-256 $(serve leaf) -cert_chain "$PKI/inter.pem" -www
s_client hrr.log 4606 "$SNI" "$K" -tls1_3 -groups X25519:P-256 -CAfile "$PKI/root.pem" -verify_return_error
wait "$SERVER_PID" || true
stop_capture
file_fact file $F keylog "${F%.pcap}.keys" ca root \
  shows "TLS 1.3 HelloRetryRequest: the client's key share is X25519, the server takes only P-256 and asks again; then a full handshake, GET and close" \
  how "s_server -tls1_3 -groups P-256 -cert leaf.pem -cert_chain inter.pem -www on :4606; s_client -tls1_3 -groups X25519:P-256 -CAfile root.pem -verify_return_error -keylogfile"
conn_fact file $F client "openssl s_client" port 4606 sni $SNI version 1.3 cipher 0x1302 served leaf,inter \
  hrr yes alerts server:1:0,client:1:0 verdict complete without_keys complete findings hello-retry-request

# ---------------------------------------------------------------- 8. TLS 1.3, ChaCha20 and AES-256
F=tls13-chacha20-aes256.pcap; K="$HERE/${F%.pcap}.keys"
start_capture "$HERE/$F" "tcp port 4607"
s_server 4607 2 suites13.log -tls1_3 $(serve leaf) -cert_chain "$PKI/inter.pem" -www
for suite in TLS_CHACHA20_POLY1305_SHA256:0x1303 TLS_AES_256_GCM_SHA384:0x1302; do
  s_client "suites13-${suite%%:*}.log" 4607 "$SNI" "$K" -tls1_3 -ciphersuites "${suite%%:*}" \
    -CAfile "$PKI/root.pem" -verify_return_error
  conn_fact file $F client "openssl s_client -ciphersuites ${suite%%:*}" port 4607 sni $SNI version 1.3 \
    cipher "${suite##*:}" served leaf,inter alerts server:1:0,client:1:0 verdict complete without_keys complete
done
wait "$SERVER_PID" || true
stop_capture
file_fact file $F keylog "${F%.pcap}.keys" ca root \
  shows "TLS 1.3 with TLS_CHACHA20_POLY1305_SHA256, then with TLS_AES_256_GCM_SHA384 (client-chosen); GET and close" \
  how "s_server -tls1_3 -cert leaf.pem -cert_chain inter.pem -www -naccept 2 on :4607; s_client -tls1_3 -ciphersuites SUITE -keylogfile"

# ---------------------------------------------------------------- 9. TLS 1.2, renegotiation refused
# The client asks to renegotiate (s_client's `R` command): an encrypted ClientHello. The server
# refuses with an encrypted no_renegotiation warning, and OpenSSL's client, whose renegotiation
# was refused, ends the connection with an encrypted fatal handshake_failure (rec_layer_s3.c).
F=tls12-renegotiation-refused.pcap; K="$HERE/${F%.pcap}.keys"
start_capture "$HERE/$F" "tcp port 4608"
s_server 4608 1 reneg.log -tls1_2 -no_renegotiation -cipher ECDHE-RSA-AES128-GCM-SHA256 $(serve leaf) \
  -cert_chain "$PKI/inter.pem" -www
(sleep 0.5; printf 'R\n'; sleep 1) | openssl s_client -connect 127.0.0.1:4608 -servername "$SNI" -tls1_2 \
  -keylogfile "$K" -CAfile "$PKI/root.pem" -verify_return_error >"$LOGS/reneg-client.log" 2>&1 || true
wait "$SERVER_PID" || true
stop_capture
file_fact file $F keylog "${F%.pcap}.keys" ca root \
  shows "TLS 1.2 handshake completes; the client then asks to renegotiate (encrypted ClientHello), the server refuses with an encrypted no_renegotiation warning and the client ends it with an encrypted fatal handshake_failure" \
  how "s_server -tls1_2 -no_renegotiation -cipher ECDHE-RSA-AES128-GCM-SHA256 -www on :4608; s_client -tls1_2 -keylogfile, stdin: R after 0.5 s"
conn_fact file $F client "openssl s_client (R)" port 4608 sni $SNI version 1.2 cipher 0xc02f served leaf,inter \
  renegotiation yes alerts server:1:100,client:2:40 verdict complete without_keys complete

# ---------------------------------------------------------------- 10. TLS 1.2 cipher suites
# One server with an RSA and an ECDSA certificate; each client forces one suite; -no_etm turns
# encrypt-then-MAC (RFC 7366) off for a CBC suite. s_server -www answers and closes: its
# close_notify, then the client's.
F=tls12-suites.pcap; K="$HERE/${F%.pcap}.keys"
SUITES12=(
  "ECDHE-RSA-AES128-SHA 0xc013 etm"
  "ECDHE-RSA-AES128-SHA 0xc013 no_etm"
  "AES256-SHA256 0x003d etm"
  "AES256-SHA256 0x003d no_etm"
  "ECDHE-RSA-AES256-SHA384 0xc028 etm"
  "AES128-CCM 0xc09c aead"
  "ECDHE-ECDSA-AES128-CCM8 0xc0ae aead"
  "ECDHE-RSA-CHACHA20-POLY1305 0xcca8 aead"
)
start_capture "$HERE/$F" "tcp port 4609"
s_server 4609 "${#SUITES12[@]}" suites12.log -tls1_2 -cipher 'ALL:@SECLEVEL=0' $(serve leaf) \
  -cert_chain "$PKI/inter.pem" -dcert "$PKI/leaf-ec.pem" -dkey "$PKI/leaf-ec.key" -dcert_chain "$PKI/inter.pem" -www
for s in "${SUITES12[@]}"; do
  set -- $s
  extra=(); [ "$3" = no_etm ] && extra=(-no_etm)
  served=leaf,inter; case "$1" in *ECDSA*) served=leaf-ec,inter ;; esac
  s_client "suites12-$1-$3.log" 4609 "$SNI" "$K" -tls1_2 -cipher "$1:@SECLEVEL=0" "${extra[@]}" \
    -CAfile "$PKI/root.pem" -verify_return_error
  conn_fact file $F client "openssl s_client -cipher $1${extra[*]:+ -no_etm}" port 4609 sni $SNI version 1.2 \
    cipher "$2" mac "$3" served "$served" alerts server:1:0,client:1:0 verdict complete without_keys complete
done
wait "$SERVER_PID" || true
stop_capture
file_fact file $F keylog "${F%.pcap}.keys" ca root \
  shows "TLS 1.2 with CBC suites (HMAC-SHA1/SHA256/SHA384, with and without encrypt-then-MAC), AES-CCM, AES-CCM-8 (ECDSA certificate) and ChaCha20-Poly1305; GET, then encrypted close_notify alerts from both sides" \
  how "s_server -tls1_2 -cipher ALL:@SECLEVEL=0 -cert leaf.pem (RSA) -dcert leaf-ec.pem (P-256) -www -naccept 8 on :4609; s_client -tls1_2 -cipher SUITE:@SECLEVEL=0 [-no_etm] -keylogfile, one connection per suite"

# ---------------------------------------------------------------- 11. curl and Python → nginx
mkdir -p "$TMP/nginx/www"
printf 'small\n' >"$TMP/nginx/www/small.txt"
printf 'index\n' >"$TMP/nginx/www/index.html"
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
        listen 127.0.0.1:4610 ssl http2;
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
wait_listen 4610
F=tls13-curl-nginx-python.pcap; K="$HERE/${F%.pcap}.keys"
start_capture "$HERE/$F" "tcp port 4610"
curl_get() { # log extra-args...
  local log="$1"; shift
  SSLKEYLOGFILE="$K" curl -sS -v --tlsv1.3 --cacert "$PKI/root.pem" --resolve "$SNI:4610:127.0.0.1" \
    "$@" "https://$SNI:4610/small.txt" -o /dev/null 2>"$LOGS/$log"
  sleep 0.2
}
curl_get nginx-curl-h2.log
curl_get nginx-curl-h1.log --http1.1
py_get nginx-py.log 4610 "$SNI" "$PKI/root.pem" "$K"
stop_capture
kill "$NGINX_PID"; wait "$NGINX_PID" || true
grep -E 'ALPN|SSL connection using' "$LOGS"/nginx-curl-*.log >&2
file_fact file $F keylog "${F%.pcap}.keys" ca root \
  shows "TLS 1.3 to nginx (fullchain, http2 on) from curl (ALPN h2,http/1.1 → h2; then --http1.1 → http/1.1) and from Python ssl (no ALPN); all complete" \
  how "nginx 1.22 listen 127.0.0.1:4610 ssl http2, ssl_certificate = leaf+intermediate; SSLKEYLOGFILE=… curl --tlsv1.3 --cacert root.pem [--http1.1]; SSLKEYLOGFILE=… client.py 4610 www.example.test root.pem 1.3"
# curl closes its HTTP/1.1 connection with close_notify and its h2 one without; nginx closes
# Python's HTTP/1.0 connection after the answer with close_notify (Python closes the socket
# without unwrap, so no close_notify of its own).
conn_fact file $F client "curl (h2)" port 4610 sni $SNI version 1.3 cipher 0x1302 served leaf,inter \
  alpn_offered h2,http/1.1 alpn h2 alerts "" verdict complete without_keys complete
conn_fact file $F client "curl --http1.1" port 4610 sni $SNI version 1.3 cipher 0x1302 served leaf,inter \
  alpn_offered http/1.1 alpn http/1.1 alerts client:1:0 verdict complete without_keys complete
conn_fact file $F client python port 4610 sni $SNI version 1.3 cipher 0x1302 served leaf,inter \
  alerts server:1:0 verdict complete without_keys complete

# ---------------------------------------------------------------- 12. wrong key log
# Two connections (TLS 1.3 rejected for a missing intermediate, TLS 1.2 complete) are captured
# with their key log; the same two are run again, not captured, with another key log. The key
# log kept beside the capture has, for each captured connection's client random and label,
# the secret of the other run: real secrets of the right size for the right connections that
# do not decrypt them. The right key log stays in the temp dir (tshark checks it there).
F=tls13-wrong-keys.pcap; K="$HERE/${F%.pcap}.keys"
wrong_keys_pair() { # port keys log-tag
  s_server "$1" 1 "wrong-13-$3.log" -tls1_3 $(serve leaf) -www
  s_client "wrong-13-$3.log" "$1" "$SNI" "$2" -tls1_3 -CAfile "$PKI/root.pem" -verify_return_error
  wait "$SERVER_PID" || true
  s_server "$1" 1 "wrong-12-$3.log" -tls1_2 -cipher ECDHE-RSA-AES128-GCM-SHA256 $(serve leaf) \
    -cert_chain "$PKI/inter.pem" -www
  s_client "wrong-12-$3.log" "$1" "$SNI" "$2" -tls1_2 -CAfile "$PKI/root.pem" -verify_return_error
  wait "$SERVER_PID" || true
}
start_capture "$HERE/$F" "tcp port 4611"
wrong_keys_pair 4611 "$TMP/right.keys" captured
stop_capture
wrong_keys_pair 4611 "$TMP/other-run.keys" other
"$PY" "$HERE/swap_secrets.py" "$TMP/right.keys" "$TMP/other-run.keys" >"$K"
file_fact file $F keylog "${F%.pcap}.keys" ca root right_keys "$TMP/right.keys" \
  shows "a key log that does not decrypt: the client randoms of these two connections (TLS 1.3 rejected for a missing intermediate, TLS 1.2 complete) with the secrets of another run of the same two" \
  how "s_server -tls1_3 -cert leaf.pem, s_client -tls1_3 -CAfile root.pem -verify_return_error; then s_server -tls1_2 -cipher ECDHE-RSA-AES128-GCM-SHA256 leaf+intermediate, s_client -tls1_2; both on :4611, run twice (the second time not captured); swap_secrets.py right.keys other-run.keys"
conn_fact file $F client "openssl s_client -tls1_3" port 4611 sni $SNI version 1.3 cipher 0x1302 served leaf \
  alerts client:2:48 keys_decrypt no verdict client-rejected-likely without_keys client-rejected-likely \
  findings keys-do-not-decrypt
conn_fact file $F client "openssl s_client -tls1_2" port 4611 sni $SNI version 1.2 cipher 0xc02f served leaf,inter \
  alerts server:1:0,client:1:0 keys_decrypt no verdict complete without_keys complete findings keys-do-not-decrypt

# ---------------------------------------------------------------- 13/14. QUIC (aioquic)
# aioquic server and client in one process (captures/quic/aioquic_pair.py); the client writes
# the key log. aioquic's client sends bad_certificate for every chain it cannot verify
# (tls.py verify_certificate), as CONNECTION_CLOSE 0x100+42 in a Handshake packet.
F=quic-h3.pcap; K="$HERE/${F%.pcap}.keys"
start_capture "$HERE/$F" "udp port 4612"
"$PY" "$CAPS/quic/aioquic_pair.py" 4612 "$SNI" "$PKI/fullchain.pem" "$PKI/leaf.key" "$PKI/root.pem" \
  v1 AES_128_GCM_SHA256 "$K" >"$FACTS/quic-h3.json"
stop_capture
file_fact file $F keylog "${F%.pcap}.keys" ca root transport udp \
  shows "QUIC v1 HTTP/3 GET with aioquic: the server's chain (leaf, intermediate) and ALPN h3 are in Handshake packets" \
  how "aioquic_pair.py 4612 www.example.test fullchain.pem leaf.key root.pem v1 AES_128_GCM_SHA256 quic-h3.keys (client secrets_log_file)"
conn_fact file $F client aioquic port 4612 sni $SNI version 1.3 cipher 0x1301 served leaf,inter \
  alpn_offered h3 alpn h3 alerts "" verdict complete without_keys complete client_said "$(cat "$FACTS/quic-h3.json")"

F=quic-rejected.pcap; K="$HERE/${F%.pcap}.keys"
start_capture "$HERE/$F" "udp port 4613"
"$PY" "$CAPS/quic/aioquic_pair.py" 4613 "$SNI" "$PKI/leaf.pem" "$PKI/leaf.key" "$PKI/root.pem" \
  v1 CHACHA20_POLY1305_SHA256 "$K" >"$FACTS/quic-rejected.json" 2>"$LOGS/quic-rejected.err"
stop_capture
file_fact file $F keylog "${F%.pcap}.keys" ca root transport udp \
  shows "QUIC v1 with aioquic: the server sends its leaf without the intermediate; the client closes with crypto error 0x12a (bad_certificate) in a Handshake packet" \
  how "aioquic_pair.py 4613 www.example.test leaf.pem leaf.key root.pem v1 CHACHA20_POLY1305_SHA256 quic-rejected.keys"
# The server chose h3 in its EncryptedExtensions before the client judged the chain.
conn_fact file $F client aioquic port 4613 sni $SNI version 1.3 cipher 0x1303 served leaf \
  alpn_offered h3 alpn h3 alerts client:2:42 verdict incomplete-chain findings incomplete-chain \
  client_said "$(cat "$FACTS/quic-rejected.json")"

# ---------------------------------------------------------------- truth.json
"$PY" "$HERE/truth.py" "$HERE" "$FACTS" >"$HERE/truth.json"
chmod a+r "$HERE"/*.pcap "$HERE"/*.pcapng "$HERE"/*.keys "$HERE/truth.json" "$HERE"/pki/*
ls -l "$HERE"/*.pcap "$HERE"/*.pcapng "$HERE"/*.keys >&2
echo "make.sh: done" >&2
