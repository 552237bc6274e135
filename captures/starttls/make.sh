#!/usr/bin/env bash
# Regenerates the STARTTLS captures in captures/starttls/ and their truth.json from scratch.
#
#   sudo bash captures/starttls/make.sh
#
# Real servers from Debian 12 on loopback, each with a throwaway test PKI:
#   Postfix 3.7 smtpd (apt-get install postfix)          SMTP STARTTLS   127.0.0.1:2525
#   Dovecot 2.3 imap-login (apt-get install dovecot-imapd) IMAP STARTTLS  127.0.0.1:1143
#   PostgreSQL 15 (apt-get install postgresql-15)        SSLRequest       127.0.0.1:5433
# Clients: openssl s_client -starttls smtp|imap|postgres, and psql (libpq 15).
# The refused / accepted-without-TLS cases come from ./smtp_stub.py (stdlib python, server and
# client) on 127.0.0.1:2526 and :2527, because no real server refuses on demand.
# Each server runs from a private config in a temp dir (Postfix `-c DIR`, `dovecot -c FILE`,
# `initdb` of a throwaway cluster): nothing under /etc is changed, nothing is left running.
# Needs root (tcpdump; postfix/dovecot start as root; initdb via `su postgres`), tcpdump,
# openssl 3, python3, `script` (util-linux, to see postfix's errors), ss.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
PY="${PYTHON:-python3}"
[ "$(id -u)" = 0 ] || { echo "make.sh: needs root (sudo bash $0)" >&2; exit 2; }
PGBIN=/usr/lib/postgresql/15/bin
for t in postfix dovecot "$PGBIN/initdb" psql tcpdump openssl; do
  command -v "$t" >/dev/null || { echo "make.sh: missing $t (apt-get install postfix dovecot-imapd postgresql-15)" >&2; exit 2; }
done

PORT_SMTP=2525 PORT_IMAP=1143 PORT_PG=5433 PORT_REFUSE=2526 PORT_NOTLS=2527
SNI_SMTP=mail.example.test SNI_IMAP=imap.example.test SNI_PG=db.example.test

TMP="$(mktemp -d /tmp/tlsmortem-starttls.XXXXXX)"
chmod 755 "$TMP"
PIDS=()
cleanup() {
  set +e
  [ -f "$TMP/pf/conf/main.cf" ] && postfix -c "$TMP/pf/conf" stop >/dev/null 2>&1
  [ -f "$TMP/dv/dovecot.conf" ] && dovecot -c "$TMP/dv/dovecot.conf" stop >/dev/null 2>&1
  [ -f "$TMP/pg/data/postmaster.pid" ] && su postgres -s /bin/sh -c "$PGBIN/pg_ctl -D $TMP/pg/data -m fast stop" >/dev/null 2>&1
  for p in "${PIDS[@]:-}"; do [ -n "$p" ] && kill "$p" 2>/dev/null; done
  sleep 0.5
  if [ -n "${KEEP_TMP:-}" ]; then echo "make.sh: kept $TMP" >&2; else rm -rf "$TMP"; fi
}
trap cleanup EXIT
LOGS="$TMP/logs"; mkdir -p "$LOGS"

rm -f "$HERE"/*.pcap "$HERE/truth.json"
rm -rf "$HERE/pki"; mkdir -p "$HERE/pki"

# ---------------------------------------------------------------- PKI (P-256, keys in $TMP)
cd "$TMP"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout root.key \
  -out root.pem -subj "/O=tlsmortem test/CN=tlsmortem STARTTLS Test Root" -days 7300 \
  -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign" 2>/dev/null
openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout leaf.key \
  -out leaf.csr -subj "/O=tlsmortem test/CN=$SNI_SMTP" 2>/dev/null
printf 'subjectAltName=DNS:%s,DNS:%s,DNS:%s\nextendedKeyUsage=serverAuth\n' \
  "$SNI_SMTP" "$SNI_IMAP" "$SNI_PG" >leaf.ext
openssl x509 -req -in leaf.csr -CA root.pem -CAkey root.key -set_serial 2525001 -days 3650 \
  -sha256 -extfile leaf.ext -out leaf.pem 2>/dev/null
chmod 644 leaf.key   # throwaway; postfix and dovecot read it after dropping privileges
cp root.pem leaf.pem "$HERE/pki/"
cd "$HERE"

wait_listen() { for _ in $(seq 200); do ss -Hltn "sport = :$1" | grep -q . && return 0; sleep 0.05; done
  echo "nothing listening on $1" >&2; return 1; }
TCPDUMP_PID=""
start_capture() { # out-file, filter
  tcpdump -Z root --immediate-mode -U -s 0 -w "$1" -i lo "$2" 2>"$LOGS/tcpdump.err" &
  TCPDUMP_PID=$!; PIDS+=("$TCPDUMP_PID")
  for _ in $(seq 100); do grep -q "listening on" "$LOGS/tcpdump.err" && break; sleep 0.05; done
  sleep 0.2
}
stop_capture() { sleep 1; kill -INT "$TCPDUMP_PID"; wait "$TCPDUMP_PID" || true; }

# ---------------------------------------------------------------- 1. SMTP, Postfix
mkdir -p "$TMP/pf/conf" "$TMP/pf/queue" "$TMP/pf/data"; chown postfix "$TMP/pf/data"
cat >"$TMP/pf/conf/main.cf" <<EOF
compatibility_level = 3.6
queue_directory = $TMP/pf/queue
data_directory = $TMP/pf/data
myhostname = $SNI_SMTP
mydomain = example.test
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
mydestination =
relayhost =
mynetworks = 127.0.0.0/8
alias_maps =
alias_database =
smtpd_tls_cert_file = $TMP/leaf.pem
smtpd_tls_key_file = $TMP/leaf.key
smtpd_tls_security_level = may
smtpd_tls_loglevel = 1
maillog_file = $TMP/pf/maillog
maillog_file_prefixes = /tmp
EOF
# Only the services smtpd needs; smtpd itself on 127.0.0.1:2525, not chrooted.
cat >"$TMP/pf/conf/master.cf" <<EOF
127.0.0.1:$PORT_SMTP inet n - n - - smtpd
cleanup   unix  n - n - 0 cleanup
qmgr      unix  n - n 300 1 qmgr
tlsmgr    unix  - - n 1000? 1 tlsmgr
rewrite   unix  - - n - - trivial-rewrite
bounce    unix  - - n - 0 bounce
defer     unix  - - n - 0 bounce
trace     unix  - - n - 0 bounce
verify    unix  - - n - 1 verify
proxymap  unix  - - n - - proxymap
anvil     unix  - - n - 1 anvil
scache    unix  - - n - 1 scache
error     unix  - - n - - error
retry     unix  - - n - - error
postlog   unix-dgram n - n - 1 postlogd
EOF
script -qec "postfix -c $TMP/pf/conf start" /dev/null >"$LOGS/postfix-start.log" 2>&1 ||
  { cat "$LOGS/postfix-start.log" "$TMP/pf/maillog" >&2; exit 1; }
wait_listen "$PORT_SMTP"
start_capture "$HERE/smtp-postfix.pcap" "tcp port $PORT_SMTP"
printf 'QUIT\n' | openssl s_client -connect "127.0.0.1:$PORT_SMTP" -starttls smtp -crlf \
  -servername "$SNI_SMTP" -tls1_2 -cipher ECDHE-ECDSA-AES128-GCM-SHA256 -CAfile "$TMP/root.pem" \
  -verify_return_error -brief >"$LOGS/smtp-postfix.out" 2>"$LOGS/smtp-postfix.log"
stop_capture
postfix -c "$TMP/pf/conf" stop >/dev/null 2>&1 || true

# ---------------------------------------------------------------- 2. IMAP, Dovecot
mkdir -p "$TMP/dv/base" "$TMP/dv/state"
cat >"$TMP/dv/dovecot.conf" <<EOF
base_dir = $TMP/dv/base
state_dir = $TMP/dv/state
protocols = imap
listen = 127.0.0.1
log_path = $TMP/dv/dovecot.log
ssl = yes
ssl_cert = <$TMP/leaf.pem
ssl_key = <$TMP/leaf.key
auth_mechanisms = plain
passdb {
  driver = static
  args = password=unused
}
userdb {
  driver = static
  args = uid=nobody gid=nogroup home=$TMP/dv/home
}
service imap-login {
  chroot =
  inet_listener imap {
    address = 127.0.0.1
    port = $PORT_IMAP
  }
  inet_listener imaps {
    port = 0
  }
}
service anvil {
  chroot =
}
EOF
dovecot -c "$TMP/dv/dovecot.conf"
wait_listen "$PORT_IMAP"
start_capture "$HERE/imap-dovecot.pcap" "tcp port $PORT_IMAP"
printf 'a LOGOUT\n' | openssl s_client -connect "127.0.0.1:$PORT_IMAP" -starttls imap -crlf \
  -servername "$SNI_IMAP" -tls1_3 -ciphersuites TLS_CHACHA20_POLY1305_SHA256 \
  -CAfile "$TMP/root.pem" -verify_return_error -brief >"$LOGS/imap-dovecot.out" 2>"$LOGS/imap-dovecot.log"
stop_capture
dovecot -c "$TMP/dv/dovecot.conf" stop >/dev/null 2>&1 || true

# ---------------------------------------------------------------- 3/4. PostgreSQL 15
mkdir -p "$TMP/pg"; cp "$TMP/leaf.pem" "$TMP/leaf.key" "$TMP/pg/"
chown -R postgres "$TMP/pg"; chmod 600 "$TMP/pg/leaf.key"
su postgres -s /bin/sh -c "$PGBIN/initdb -D $TMP/pg/data -A trust -U postgres" >"$LOGS/initdb.log" 2>&1
cat >>"$TMP/pg/data/postgresql.conf" <<EOF
listen_addresses = '127.0.0.1'
port = $PORT_PG
unix_socket_directories = '$TMP/pg'
ssl = on
ssl_cert_file = '$TMP/pg/leaf.pem'
ssl_key_file = '$TMP/pg/leaf.key'
EOF
su postgres -s /bin/sh -c "$PGBIN/pg_ctl -D $TMP/pg/data -l $TMP/pg/server.log -w start" >"$LOGS/pg_ctl.log" 2>&1
wait_listen "$PORT_PG"
# 3. psql: SNI from host= (libpq sslsni=1), TCP to hostaddr=; the server reports the version
#    and cipher of this very session from pg_stat_ssl.
start_capture "$HERE/postgres-psql.pcap" "tcp port $PORT_PG"
psql "host=$SNI_PG hostaddr=127.0.0.1 port=$PORT_PG user=postgres dbname=postgres sslmode=verify-full sslrootcert=$TMP/root.pem sslsni=1" \
  -Atc "select version, cipher from pg_stat_ssl where pid = pg_backend_pid()" >"$LOGS/postgres-psql.out" 2>"$LOGS/postgres-psql.log"
stop_capture
# 4. openssl s_client -starttls postgres (SSLRequest, 'S'), TLS 1.2.
start_capture "$HERE/postgres-openssl.pcap" "tcp port $PORT_PG"
openssl s_client -connect "127.0.0.1:$PORT_PG" -starttls postgres -servername "$SNI_PG" \
  -tls1_2 -cipher ECDHE-ECDSA-AES256-GCM-SHA384 -CAfile "$TMP/root.pem" -verify_return_error \
  -brief </dev/null >"$LOGS/postgres-openssl.out" 2>"$LOGS/postgres-openssl.log"
stop_capture
su postgres -s /bin/sh -c "$PGBIN/pg_ctl -D $TMP/pg/data -m fast stop" >/dev/null 2>&1 || true

# ---------------------------------------------------------------- 5. STARTTLS refused (454)
start_capture "$HERE/smtp-starttls-refused.pcap" "tcp port $PORT_REFUSE"
"$PY" "$HERE/smtp_stub.py" server refuse "$PORT_REFUSE" & PIDS+=($!); SP=$!
wait_listen "$PORT_REFUSE"
"$PY" "$HERE/smtp_stub.py" client refuse "$PORT_REFUSE" >"$LOGS/smtp-starttls-refused.json"
wait "$SP" || true
stop_capture

# ---------------------------------------------------------------- 6. accepted (220), no TLS
start_capture "$HERE/smtp-starttls-accepted-no-tls.pcap" "tcp port $PORT_NOTLS"
"$PY" "$HERE/smtp_stub.py" server accept "$PORT_NOTLS" & PIDS+=($!); SP=$!
wait_listen "$PORT_NOTLS"
"$PY" "$HERE/smtp_stub.py" client accept "$PORT_NOTLS" >"$LOGS/smtp-starttls-accepted-no-tls.json"
wait "$SP" || true
stop_capture

"$PY" "$HERE/truth.py" "$HERE" "$LOGS" "$TMP/leaf.pem" >"$HERE/truth.json"
chmod a+r "$HERE"/*.pcap "$HERE/truth.json" "$HERE"/pki/*
ls -l "$HERE"/*.pcap >&2
echo "starttls/make.sh: done" >&2
