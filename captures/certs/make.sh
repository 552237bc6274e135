#!/usr/bin/env bash
# Regenerates every capture in captures/certs/ from scratch, plus pki/ and truth.json.
#
#   sudo bash captures/certs/make.sh
#
# Certificate-chain scenarios: a throwaway PKI (root → intermediate → leaves, plus a second
# intermediate, a sub-CA, a self-signed leaf, expired / not-yet-valid / SHA-1 / 1024-bit leaves,
# a client certificate and OCSP responses made with `openssl ca` / `openssl ocsp`), served by
# openssl s_server and nginx, fetched by openssl s_client, curl, Python's ssl and Java, captured with
# tcpdump on `lo`. TLS 1.2 everywhere (the certificates are visible) except tls13-rejected.pcap.
#
# Needs: root (tcpdump), openssl 3, nginx (ssl module), curl (OpenSSL backend), python3 (stdlib),
# java >= 11 (runs TlsClient.java from source),
# tcpdump, tshark (cross-check in truth.json), iproute2 `ss`.
# Network: loopback only (127.0.0.1), server ports 4451-4467. Client ports are ephemeral.
# Private keys live in a temp dir and are thrown away; pki/ keeps the public certificates.
# Each run makes a fresh PKI, so certificate hashes and truth.json change together.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
PY="${PYTHON:-python3}"
[ "$(id -u)" = 0 ] || { echo "make.sh: needs root for tcpdump (sudo bash $0)" >&2; exit 2; }

SNI=www.example.test
SNI_OTHER=api.example.test
CIPHER12=ECDHE-RSA-AES128-GCM-SHA256
AIA="caIssuers;URI:http://ca.example.test/intermediate.der,OCSP;URI:http://ocsp.example.test/"

TMP="$(mktemp -d /tmp/tlsmortem-certs.XXXXXX)"
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
rm -f "$HERE"/*.pcap "$HERE/truth.json"
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
start_capture() { # out-file port
  tcpdump -Z root --immediate-mode -U -s 0 -w "$1" -i lo "tcp port $2" 2>"$LOGS/tcpdump.err" &
  TCPDUMP_PID=$!; PIDS+=("$TCPDUMP_PID")
  for _ in $(seq 100); do grep -q "listening on" "$LOGS/tcpdump.err" && break; sleep 0.05; done
  sleep 0.2
}
stop_capture() {
  sleep 1   # tcpdump stops on SIGINT without draining the ring buffer: let it read first
  kill -INT "$TCPDUMP_PID"; wait "$TCPDUMP_PID" || true
}
s_server() { # port naccept log extra-args...
  local port="$1" n="$2" log="$3"; shift 3
  openssl s_server -accept "127.0.0.1:$port" -naccept "$n" "$@" >"$LOGS/$log" 2>&1 &
  SERVER_PID=$!; PIDS+=("$SERVER_PID")
  wait_listen "$port"
}
# s_client with a GET; never fails the script (rejections are the point). Logs to $LOGS/$1.
s_client() { # log port sni extra-args...
  local log="$1" port="$2" sni="$3"; shift 3
  printf 'GET / HTTP/1.0\r\n\r\n' | openssl s_client -connect "127.0.0.1:$port" -servername "$sni" \
    -ign_eof "$@" >"$LOGS/$log" 2>&1 || true
  sleep 0.2
}
# Facts for truth.json, as key/value pairs (lists are comma-separated).
file_fact() { "$PY" -c 'import json,sys; a=sys.argv[1:]; print(json.dumps(dict(zip(a[::2],a[1::2]))))' "$@" >>"$FACTS/files.jsonl"; }
conn_fact() { "$PY" -c 'import json,sys; a=sys.argv[1:]; print(json.dumps(dict(zip(a[::2],a[1::2]))))' "$@" >>"$FACTS/conns.jsonl"; }

# ---------------------------------------------------------------- PKI
cd "$PKI"
SUBJ="/O=tlsmortem test/CN="
openssl req -x509 -newkey rsa:2048 -nodes -keyout root.key -out root.pem -subj "${SUBJ}tlsmortem Test Root CA" \
  -days 7300 -set_serial 4500001 -sha256 \
  -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" \
  -addext "subjectKeyIdentifier=hash" 2>/dev/null
ca_ext() { printf 'basicConstraints=critical,CA:TRUE%s\nkeyUsage=critical,keyCertSign,cRLSign\nsubjectKeyIdentifier=hash\nauthorityKeyIdentifier=keyid\n' "$1"; }
mkca() { # name cn serial issuer pathlen-suffix
  openssl req -new -newkey rsa:2048 -nodes -keyout "$1.key" -out "$1.csr" -subj "${SUBJ}$2" 2>/dev/null
  ca_ext "$5" >"$1.ext"
  openssl x509 -req -in "$1.csr" -CA "$4.pem" -CAkey "$4.key" -set_serial "$3" -days 3650 -sha256 \
    -extfile "$1.ext" -out "$1.pem" 2>/dev/null
}
mkca inter "tlsmortem Test Intermediate CA" 4500002 root ',pathlen:1'
# A second intermediate under the same root that did NOT sign any served leaf (the "wrong" one).
mkca other-inter "tlsmortem Test Other Intermediate CA" 4500003 root ',pathlen:0'
# A sub-CA under the intermediate, for the 3-level out-of-order chain.
mkca issuing2 "tlsmortem Test Issuing CA 2" 4500004 inter ',pathlen:0'

# Leaves are issued by `openssl ca` (index.txt for OCSP, -startdate/-enddate for validity).
mkdir -p ca/new; : >ca/index.txt; echo 1000 >ca/serial
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
authorityInfoAccess = $AIA
[ client ]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature
extendedKeyUsage = clientAuth
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
authorityInfoAccess = $AIA
CNF
leaf() { # name bits cn ext extra-ca-args...
  local n="$1" bits="$2" cn="$3" ext="$4"; shift 4
  openssl req -new -newkey "rsa:$bits" -nodes -keyout "$n.key" -out "$n.csr" -subj "${SUBJ}$cn" 2>/dev/null
  openssl ca -batch -config ca.cnf -extensions "$ext" -preserveDN -notext -in "$n.csr" -out "$n.pem" "$@" 2>/dev/null
}
leaf leaf 2048 "$SNI" server                                      # valid 397 days from today
leaf leaf-revoked 2048 "$SNI" server                              # revoked below, for OCSP
leaf leaf-expired 2048 "$SNI" server -startdate 20200101000000Z -enddate 20210101000000Z
leaf leaf-notyet 2048 "$SNI" server -startdate 20400101000000Z -enddate 20410101000000Z
leaf leaf-sha1 2048 "$SNI" server -md sha1                        # sha1WithRSAEncryption
leaf leaf-weak 1024 "$SNI" server                                 # RSA 1024
leaf client 2048 "tlsmortem test client" client
openssl ca -batch -config ca.cnf -revoke leaf-revoked.pem -crl_reason keyCompromise 2>/dev/null

# Leaf under the sub-CA (AIA points at the sub-CA's certificate).
openssl req -new -newkey rsa:2048 -nodes -keyout leaf-sub.key -out leaf-sub.csr -subj "${SUBJ}$SNI" 2>/dev/null
printf 'basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\nsubjectKeyIdentifier=hash\nauthorityKeyIdentifier=keyid\nsubjectAltName=DNS:%s\nauthorityInfoAccess=caIssuers;URI:http://ca.example.test/issuing2.der,OCSP;URI:http://ocsp.example.test/\n' "$SNI" >leaf-sub.ext
openssl x509 -req -in leaf-sub.csr -CA issuing2.pem -CAkey issuing2.key -set_serial 4500010 -days 397 -sha256 \
  -extfile leaf-sub.ext -out leaf-sub.pem 2>/dev/null
# Self-signed leaf for www.example.test (no CA anywhere).
openssl req -x509 -newkey rsa:2048 -nodes -keyout selfsigned.key -out selfsigned.pem -subj "${SUBJ}$SNI" \
  -days 397 -set_serial 4500011 -sha256 -addext "subjectAltName=DNS:$SNI" \
  -addext "basicConstraints=critical,CA:FALSE" -addext "extendedKeyUsage=serverAuth" 2>/dev/null

# OCSP responses (signed by the intermediate itself), from the CA's index.txt.
ocsp_resp() { # cert out
  openssl ocsp -issuer inter.pem -cert "$1.pem" -no_nonce -reqout "$1.ocspreq" 2>/dev/null
  openssl ocsp -index ca/index.txt -CA inter.pem -rsigner inter.pem -rkey inter.key -ndays 7 \
    -reqin "$1.ocspreq" -respout "$2" 2>/dev/null
  openssl ocsp -respin "$2" -resp_text -noverify | grep -E 'Cert Status|Revocation' >&2
}
ocsp_resp leaf ocsp-good.der
ocsp_resp leaf-revoked ocsp-revoked.der

cat root.pem inter.pem >root+inter.pem
cat leaf.pem inter.pem >fullchain.pem
cat leaf.pem inter.pem root.pem >fullchain+root.pem
openssl verify -CAfile root.pem -untrusted inter.pem leaf.pem leaf-revoked.pem client.pem >&2
openssl verify -CAfile root.pem -untrusted inter.pem -untrusted issuing2.pem leaf-sub.pem >&2
for c in root inter other-inter issuing2 leaf leaf-revoked leaf-expired leaf-notyet leaf-sha1 leaf-weak \
         leaf-sub selfsigned client; do cp "$c.pem" "$HERE/pki/"; done
cp ocsp-good.der ocsp-revoked.der "$HERE/pki/"
cd "$HERE"

S12=(-tls1_2 -cipher "$CIPHER12")          # s_server, TLS 1.2
C12=(-tls1_2 -cipher "$CIPHER12")          # s_client, TLS 1.2
REJECT=(-CAfile "$PKI/root.pem" -verify_return_error)
serve() { echo -cert "$PKI/$1.pem" -key "$PKI/$1.key"; }

# ---------------------------------------------------------------- nginx (ports 4451, 4452, 4453)
mkdir -p "$TMP/nginx/www"; printf 'small\n' >"$TMP/nginx/www/index.html"
ngx_server() { # port chain-file
  printf '    server {\n        listen 127.0.0.1:%s ssl;\n        server_name %s;\n        ssl_certificate %s;\n        ssl_certificate_key %s;\n        ssl_protocols TLSv1.2;\n        ssl_ciphers %s;\n        root %s;\n    }\n' \
    "$1" "$SNI" "$2" "$PKI/leaf.key" "$CIPHER12" "$TMP/nginx/www"
}
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
$(ngx_server 4451 "$PKI/fullchain.pem")
$(ngx_server 4452 "$PKI/leaf.pem")
$(ngx_server 4453 "$PKI/fullchain+root.pem")
}
NGINX
nginx -p "$TMP/nginx" -c "$TMP/nginx/nginx.conf" &
NGINX_PID=$!; PIDS+=("$NGINX_PID")
wait_listen 4451; wait_listen 4452; wait_listen 4453
curl_get() { # log port  (curl --cacert root.pem, TLS 1.2 only)
  curl -sS -v --tlsv1.2 --tls-max 1.2 --cacert "$PKI/root.pem" --resolve "$SNI:$2:127.0.0.1" \
    "https://$SNI:$2/" -o /dev/null >"$LOGS/$1" 2>&1 || true
  sleep 0.2
}
py_get() { # log port name [cafile]
  "$PY" "$HERE/client.py" "$2" "$3" "${4:-$PKI/root.pem}" 1.2 >"$LOGS/$1" 2>&1 || true
  sleep 0.2
}

# 1. good full chain: nginx (leaf + intermediate), curl and Python with only the root.
F=chain-good.pcap
start_capture "$HERE/$F" 4451
curl_get good-curl.log 4451
py_get good-py.log 4451 "$SNI"
stop_capture
file_fact file $F shows "good full chain (leaf, intermediate) from nginx; curl and Python trust only the root and accept it" \
  how "nginx 1.22 on :4451, ssl_certificate = leaf+intermediate, TLSv1.2 only; curl --tlsv1.2 --tls-max 1.2 --cacert root.pem; client.py (Python ssl, cafile=root.pem)"
conn_fact file $F port 4451 sni $SNI client curl rejected no verdict complete findings "" served leaf,inter
conn_fact file $F port 4451 sni $SNI client python rejected no verdict complete findings "" served leaf,inter

# 2. leaf only, nginx: curl and Python (only the root) reject.
F=chain-leaf-only-nginx.pcap
start_capture "$HERE/$F" 4452
curl_get leafonly-curl.log 4452
py_get leafonly-py.log 4452 "$SNI"
stop_capture
file_fact file $F shows "nginx sends the leaf only; curl and Python (root only) reject with unknown_ca" \
  how "nginx on :4452, ssl_certificate = leaf.pem alone; curl --cacert root.pem; client.py cafile=root.pem"
conn_fact file $F port 4452 sni $SNI client curl rejected yes alert 48 verdict incomplete-chain findings incomplete-chain served leaf
conn_fact file $F port 4452 sni $SNI client python rejected yes alert 48 verdict incomplete-chain findings incomplete-chain served leaf

# 3. unnecessary root: nginx sends leaf + intermediate + root; curl accepts.
F=chain-with-root.pcap
start_capture "$HERE/$F" 4453
curl_get withroot-curl.log 4453
stop_capture
file_fact file $F shows "nginx sends leaf, intermediate and the root itself; curl accepts" \
  how "nginx on :4453, ssl_certificate = leaf+intermediate+root; curl --cacert root.pem"
conn_fact file $F port 4453 sni $SNI client curl rejected no verdict complete findings unnecessary-root-sent served leaf,inter,root
kill "$NGINX_PID"; wait "$NGINX_PID" || true

# 4. leaf only, s_server: s_client with only the root rejects; with root+intermediate succeeds.
F=chain-leaf-only.pcap
start_capture "$HERE/$F" 4454
s_server 4454 2 leafonly.log "${S12[@]}" $(serve leaf) -www
s_client leafonly-1.log 4454 "$SNI" "${C12[@]}" "${REJECT[@]}"
s_client leafonly-2.log 4454 "$SNI" "${C12[@]}" -CAfile "$PKI/root+inter.pem" -verify_return_error
wait "$SERVER_PID" || true
stop_capture
file_fact file $F shows "s_server sends the leaf only; a client with only the root rejects (unknown_ca), a client that also has the intermediate succeeds" \
  how "s_server -tls1_2 -cert leaf.pem (no -cert_chain) -www -naccept 2 on :4454; s_client -verify_return_error -CAfile root.pem, then s_client -verify_return_error -CAfile root+intermediate.pem"
conn_fact file $F port 4454 sni $SNI client s_client rejected yes alert 48 verdict incomplete-chain findings incomplete-chain served leaf
conn_fact file $F port 4454 sni $SNI client "s_client (root+intermediate)" rejected no verdict complete findings incomplete-chain served leaf

# 5. wrong intermediate.
F=chain-wrong-intermediate.pcap
start_capture "$HERE/$F" 4455
s_server 4455 1 wronginter.log "${S12[@]}" $(serve leaf) -cert_chain "$PKI/other-inter.pem" -www
s_client wronginter.log 4455 "$SNI" "${C12[@]}" "${REJECT[@]}"
wait "$SERVER_PID" || true
stop_capture
file_fact file $F shows "server sends the leaf with an intermediate that did not issue it (another CA under the same root); client rejects" \
  how "s_server -tls1_2 -cert leaf.pem -cert_chain other-inter.pem on :4455; s_client -verify_return_error -CAfile root.pem"
conn_fact file $F port 4455 sni $SNI client s_client rejected yes alert 48 verdict wrong-intermediate findings wrong-intermediate served leaf,other-inter

# 6. out of order: leaf, intermediate, sub-CA (the sub-CA should come second). OpenSSL copes.
F=chain-out-of-order.pcap
cat "$PKI/inter.pem" "$PKI/issuing2.pem" >"$PKI/ooo-chain.pem"
start_capture "$HERE/$F" 4456
s_server 4456 1 ooo.log "${S12[@]}" $(serve leaf-sub) -cert_chain "$PKI/ooo-chain.pem" -www
s_client ooo.log 4456 "$SNI" "${C12[@]}" "${REJECT[@]}"
wait "$SERVER_PID" || true
stop_capture
file_fact file $F shows "3-level chain sent out of order: leaf, intermediate, issuing CA (issuer of the leaf) — OpenSSL still builds the path and accepts" \
  how "s_server -tls1_2 -cert leaf-sub.pem -cert_chain (intermediate, issuing2) on :4456; s_client -verify_return_error -CAfile root.pem"
conn_fact file $F port 4456 sni $SNI client s_client rejected no verdict complete findings chain-out-of-order served leaf-sub,inter,issuing2

# 7. self-signed leaf.
F=chain-self-signed.pcap
start_capture "$HERE/$F" 4457
s_server 4457 1 selfsigned.log "${S12[@]}" $(serve selfsigned) -www
s_client selfsigned.log 4457 "$SNI" "${C12[@]}" "${REJECT[@]}"
wait "$SERVER_PID" || true
stop_capture
file_fact file $F shows "server sends a self-signed certificate for www.example.test; client rejects" \
  how "openssl req -x509 (SAN www.example.test); s_server -tls1_2 -cert selfsigned.pem on :4457; s_client -verify_return_error -CAfile root.pem"
conn_fact file $F port 4457 sni $SNI client s_client rejected yes alert 48 verdict self-signed findings self-signed served selfsigned

# 8. expired leaf (2020-01-01 .. 2021-01-01).
F=chain-expired.pcap
start_capture "$HERE/$F" 4458
s_server 4458 1 expired.log "${S12[@]}" $(serve leaf-expired) -cert_chain "$PKI/inter.pem" -www
s_client expired.log 4458 "$SNI" "${C12[@]}" "${REJECT[@]}"
wait "$SERVER_PID" || true
stop_capture
file_fact file $F shows "expired leaf (valid 2020-01-01 to 2021-01-01) with its intermediate; client rejects with certificate_expired" \
  how "openssl ca -startdate 20200101000000Z -enddate 20210101000000Z; s_server -tls1_2 -cert leaf-expired.pem -cert_chain inter.pem on :4458; s_client -verify_return_error -CAfile root.pem"
conn_fact file $F port 4458 sni $SNI client s_client rejected yes alert 45 verdict expired findings expired served leaf-expired,inter

# 9. not yet valid leaf (2040-01-01 .. 2041-01-01).
F=chain-not-yet-valid.pcap
start_capture "$HERE/$F" 4459
s_server 4459 1 notyet.log "${S12[@]}" $(serve leaf-notyet) -cert_chain "$PKI/inter.pem" -www
s_client notyet.log 4459 "$SNI" "${C12[@]}" "${REJECT[@]}"
wait "$SERVER_PID" || true
stop_capture
file_fact file $F shows "leaf valid only from 2040-01-01 (to 2041-01-01) with its intermediate; client rejects" \
  how "openssl ca -startdate 20400101000000Z -enddate 20410101000000Z; s_server -tls1_2 -cert leaf-notyet.pem -cert_chain inter.pem on :4459; s_client -verify_return_error -CAfile root.pem"
conn_fact file $F port 4459 sni $SNI client s_client rejected yes alert 42 verdict not-yet-valid findings not-yet-valid served leaf-notyet,inter

# 10. hostname mismatch: certificate for www.example.test, clients ask for api.example.test.
F=chain-hostname-mismatch.pcap
start_capture "$HERE/$F" 4460
s_server 4460 2 hostname.log "${S12[@]}" $(serve leaf) -cert_chain "$PKI/inter.pem" -www
s_client hostname-1.log 4460 "$SNI_OTHER" "${C12[@]}" "${REJECT[@]}" -verify_hostname "$SNI_OTHER"
py_get hostname-py.log 4460 "$SNI_OTHER"
wait "$SERVER_PID" || true
stop_capture
file_fact file $F shows "good chain for www.example.test; s_client and Python ask for api.example.test and reject" \
  how "s_server -tls1_2 -cert leaf.pem -cert_chain inter.pem -naccept 2 on :4460; s_client -servername api.example.test -verify_hostname api.example.test -verify_return_error -CAfile root.pem; client.py server_hostname=api.example.test cafile=root.pem"
conn_fact file $F port 4460 sni $SNI_OTHER client s_client rejected yes alert 42 verdict hostname-mismatch findings hostname-mismatch served leaf,inter
conn_fact file $F port 4460 sni $SNI_OTHER client python rejected yes alert 42 verdict hostname-mismatch findings hostname-mismatch served leaf,inter

# 11/12. mutual TLS: server requires a client certificate (-Verify 1).
MTLS=(-Verify 1 -CAfile "$PKI/root.pem")
F=mtls-with-client-cert.pcap
start_capture "$HERE/$F" 4461
s_server 4461 1 mtls-with.log "${S12[@]}" $(serve leaf) -cert_chain "$PKI/inter.pem" "${MTLS[@]}" -www
s_client mtls-with.log 4461 "$SNI" "${C12[@]}" "${REJECT[@]}" -cert "$PKI/client.pem" -key "$PKI/client.key" \
  -cert_chain "$PKI/inter.pem"
wait "$SERVER_PID" || true
stop_capture
file_fact file $F shows "server requires a client certificate; the client sends one (client, intermediate); completes" \
  how "s_server -tls1_2 -Verify 1 -CAfile root.pem -cert leaf.pem -cert_chain inter.pem on :4461; s_client -cert client.pem -key client.key -cert_chain inter.pem -verify_return_error -CAfile root.pem"
conn_fact file $F port 4461 sni $SNI client s_client rejected no verdict complete findings client-certificate-requested \
  served leaf,inter client_served client,inter

F=mtls-without-client-cert.pcap
start_capture "$HERE/$F" 4462
s_server 4462 1 mtls-without.log "${S12[@]}" $(serve leaf) -cert_chain "$PKI/inter.pem" "${MTLS[@]}" -www
s_client mtls-without.log 4462 "$SNI" "${C12[@]}" "${REJECT[@]}"
wait "$SERVER_PID" || true
stop_capture
file_fact file $F shows "server requires a client certificate; the client has none (empty Certificate); the server ends it with a fatal alert" \
  how "s_server -tls1_2 -Verify 1 -CAfile root.pem on :4462; s_client -verify_return_error -CAfile root.pem without -cert"
conn_fact file $F port 4462 sni $SNI client s_client rejected no server_alert 40 verdict alert \
  findings client-certificate-requested,client-certificate-missing served leaf,inter client_served ""

# 13/14. OCSP stapling (status_request), responses made by openssl ocsp from the CA's index.
F=ocsp-stapled-good.pcap
start_capture "$HERE/$F" 4463
s_server 4463 1 ocsp-good.log "${S12[@]}" $(serve leaf) -cert_chain "$PKI/inter.pem" -status_file "$PKI/ocsp-good.der" -www
s_client ocsp-good.log 4463 "$SNI" "${C12[@]}" "${REJECT[@]}" -status
wait "$SERVER_PID" || true
stop_capture
file_fact file $F shows "server staples a good OCSP response for its leaf" \
  how "openssl ocsp -index index.txt -CA inter.pem -rsigner inter.pem -ndays 7 → ocsp-good.der; s_server -tls1_2 -status_file ocsp-good.der on :4463; s_client -status -verify_return_error -CAfile root.pem"
conn_fact file $F port 4463 sni $SNI client s_client rejected no verdict complete findings ocsp-stapled served leaf,inter ocsp good

F=ocsp-stapled-revoked.pcap
start_capture "$HERE/$F" 4464
s_server 4464 1 ocsp-revoked.log "${S12[@]}" $(serve leaf-revoked) -cert_chain "$PKI/inter.pem" \
  -status_file "$PKI/ocsp-revoked.der" -www
s_client ocsp-revoked.log 4464 "$SNI" "${C12[@]}" "${REJECT[@]}" -status
wait "$SERVER_PID" || true
stop_capture
file_fact file $F shows "server staples an OCSP response saying its leaf is revoked (keyCompromise); s_client does not act on it and completes" \
  how "openssl ca -revoke leaf-revoked.pem -crl_reason keyCompromise; openssl ocsp … → ocsp-revoked.der; s_server -tls1_2 -cert leaf-revoked.pem -status_file ocsp-revoked.der on :4464; s_client -status"
conn_fact file $F port 4464 sni $SNI client s_client rejected no verdict complete findings ocsp-stapled,ocsp-revoked \
  served leaf-revoked,inter ocsp revoked

# 15/16. weak key (RSA 1024) and SHA-1 signature: default client (SECLEVEL 2) rejects,
# a client at SECLEVEL 0 accepts. The server needs SECLEVEL 0 to load them at all.
S12W=(-tls1_2 -cipher "$CIPHER12:@SECLEVEL=0")
F=chain-weak-key.pcap
start_capture "$HERE/$F" 4465
s_server 4465 2 weak.log "${S12W[@]}" $(serve leaf-weak) -cert_chain "$PKI/inter.pem" -www
s_client weak-1.log 4465 "$SNI" "${C12[@]}" "${REJECT[@]}"
s_client weak-2.log 4465 "$SNI" -tls1_2 -cipher "$CIPHER12:@SECLEVEL=0" "${REJECT[@]}"
wait "$SERVER_PID" || true
stop_capture
file_fact file $F shows "leaf with a 1024-bit RSA key; the default client rejects it, a client at SECLEVEL 0 accepts" \
  how "openssl req -newkey rsa:1024, openssl ca; s_server -tls1_2 -cipher …:@SECLEVEL=0 -naccept 2 on :4465; s_client -verify_return_error -CAfile root.pem, then the same with -cipher …:@SECLEVEL=0"
conn_fact file $F port 4465 sni $SNI client s_client rejected yes alert 42 verdict weak-key findings weak-key served leaf-weak,inter
conn_fact file $F port 4465 sni $SNI client "s_client @SECLEVEL=0" rejected no verdict complete findings weak-key served leaf-weak,inter

F=chain-sha1.pcap
start_capture "$HERE/$F" 4466
s_server 4466 2 sha1.log "${S12W[@]}" $(serve leaf-sha1) -cert_chain "$PKI/inter.pem" -www
s_client sha1-1.log 4466 "$SNI" "${C12[@]}" "${REJECT[@]}"
s_client sha1-2.log 4466 "$SNI" -tls1_2 -cipher "$CIPHER12:@SECLEVEL=0" "${REJECT[@]}"
wait "$SERVER_PID" || true
stop_capture
file_fact file $F shows "leaf signed with sha1WithRSAEncryption; the default client rejects it, a client at SECLEVEL 0 accepts" \
  how "openssl ca -md sha1; s_server -tls1_2 -cipher …:@SECLEVEL=0 -naccept 2 on :4466; s_client -verify_return_error -CAfile root.pem, then the same with -cipher …:@SECLEVEL=0"
conn_fact file $F port 4466 sni $SNI client s_client rejected yes alert 42 verdict weak-signature findings weak-signature served leaf-sha1,inter
conn_fact file $F port 4466 sni $SNI client "s_client @SECLEVEL=0" rejected no verdict complete findings weak-signature served leaf-sha1,inter

# 17. TLS 1.3, leaf only: the clients reject; the certificates are encrypted. OpenSSL's client
# sends its alert before switching to the handshake keys (a plaintext unknown_ca); Java (JSSE)
# sends a ChangeCipherSpec and an encrypted alert record.
F=tls13-rejected.pcap
start_capture "$HERE/$F" 4467
s_server 4467 2 tls13.log -tls1_3 $(serve leaf) -www
s_client tls13-1.log 4467 "$SNI" -tls1_3 "${REJECT[@]}"
java "$HERE/TlsClient.java" 4467 "$SNI" "$PKI/root.pem" TLSv1.3 >"$LOGS/tls13-java.log" 2>&1 || true
sleep 0.2
wait "$SERVER_PID" || true
stop_capture
file_fact file $F shows "TLS 1.3, server sends the leaf only (encrypted); s_client rejects with a plaintext unknown_ca alert (OpenSSL has not switched keys yet), Java rejects with an encrypted alert record right after the server's flight" \
  how "s_server -tls1_3 -cert leaf.pem (no chain) -naccept 2 on :4467; s_client -tls1_3 -verify_return_error -CAfile root.pem; java TlsClient.java (JSSE, TLSv1.3, trust store = root.pem)"
conn_fact file $F port 4467 sni $SNI client s_client rejected yes alert 48 verdict client-rejected-likely \
  findings certificate-not-visible served leaf tls13 yes
conn_fact file $F port 4467 sni $SNI client java rejected yes alert encrypted verdict client-rejected-likely \
  findings certificate-not-visible served leaf tls13 yes

# ---------------------------------------------------------------- truth.json
grep -h -E 'verify error|Verification|Verify return code|alert|OCSP Response Status|Cert Status|^ok|^rejected|SSL certificate problem|error' \
  "$LOGS"/*.log >"$FACTS/client-logs.txt" 2>/dev/null || true
"$PY" "$HERE/truth.py" "$HERE" "$FACTS" "$PKI" >"$HERE/truth.json"
chmod a+r "$HERE"/*.pcap "$HERE/truth.json" "$HERE"/pki/*
ls -l "$HERE"/*.pcap >&2
echo "make.sh: done" >&2
