#!/bin/sh
# Regenerates the certificates and OCSP responses that src/chain.rs tests read.
# Validity dates are fixed (openssl ca -startdate/-enddate) so the tests never depend on the
# clock; keys are fresh each run and are not kept. Needs openssl 3.
#
#   root.der          Test Root CA (EC P-256), self-signed, 2015..2049
#   inter.der         Test Intermediate CA (RSA 2048), issued by root, 2015..2049
#   other-inter.der   Test Other Intermediate (EC P-256), issued by root, unrelated to the leaves
#   leaf.der          www.example.test + example.test, issued by inter, 2025-01-01..2025-12-31,
#                     AIA caIssuers http://ca.example.test/inter.der
#   wildcard.der      *.example.test, same dates
#   sha1.der          www.example.test signed sha1WithRSAEncryption
#   rsa1024.der       www.example.test with an RSA-1024 key
#   must-staple.der   www.example.test with TLS Feature status_request
#   expired.der       www.example.test, 2020-01-01..2021-01-01
#   future.der        www.example.test, 2040-01-01..2040-12-31
#   revoked.der       revoked.example.test, revoked in inter's database
#   self-signed.der   www.example.test, self-signed, CA:FALSE
#   long.der          www.example.test, 2025-01-01..2027-01-01 (730 days)
#   root.pem          root.der as PEM, for TrustStore::add_pem
#   ocsp-good.der     OCSP response for leaf.der: good, nextUpdate = thisUpdate + 7 days
#   ocsp-revoked.der  OCSP response for revoked.der: revoked
set -eu
cd "$(dirname "$0")"
out=$(pwd)
w=$(mktemp -d)
trap 'rm -rf "$w"' EXIT
cd "$w"

# Runs a command, showing its chatter only when it fails.
quiet() {
    "$@" >"$w/log" 2>&1 || { cat "$w/log" >&2; exit 1; }
}

cat > ca.cnf <<'CNF'
[ca]
default_ca = ca
[ca]
dir = .
database = $dir/$ENV::DB/index.txt
new_certs_dir = $dir/$ENV::DB
serial = $dir/$ENV::DB/serial
default_md = sha256
policy = pol
unique_subject = no
copy_extensions = none
email_in_dn = no
[pol]
commonName = supplied
organizationName = optional
[root]
basicConstraints = critical, CA:TRUE
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
[inter]
basicConstraints = critical, CA:TRUE, pathlen:0
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
[leaf]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature, keyEncipherment
extendedKeyUsage = serverAuth, clientAuth
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
subjectAltName = DNS:www.example.test, DNS:example.test
authorityInfoAccess = caIssuers;URI:http://ca.example.test/inter.der, OCSP;URI:http://ocsp.example.test/
[wildcard]
basicConstraints = critical, CA:FALSE
extendedKeyUsage = serverAuth
authorityKeyIdentifier = keyid
subjectAltName = DNS:*.example.test
[staple]
basicConstraints = critical, CA:FALSE
extendedKeyUsage = serverAuth
authorityKeyIdentifier = keyid
subjectAltName = DNS:www.example.test
tlsfeature = status_request
[revoked]
basicConstraints = critical, CA:FALSE
extendedKeyUsage = serverAuth
authorityKeyIdentifier = keyid
subjectAltName = DNS:revoked.example.test
[self]
basicConstraints = critical, CA:FALSE
extendedKeyUsage = serverAuth
subjectKeyIdentifier = hash
subjectAltName = DNS:www.example.test
CNF

mkdir rootdb interdb
: > rootdb/index.txt
: > interdb/index.txt
echo 1000 > rootdb/serial
echo 2000 > interdb/serial

ec() { quiet openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1"; }
csr() { openssl req -new -key "$1" -subj "$2" -out "$3"; }
# sign DB CAKEY CACERT CSR OUT START END EXT [extra args]
sign() {
    db=$1 key=$2 cert=$3 req=$4 crt=$5 start=$6 end=$7 ext=$8
    shift 8
    quiet env DB=$db openssl ca -config ca.cnf -batch -notext -keyfile "$key" -cert "$cert" -in "$req" \
        -out "$crt" -startdate "$start" -enddate "$end" -extfile ca.cnf -extensions "$ext" "$@"
}

ec root.key
csr root.key "/O=tlsmortem tests/CN=Test Root CA" root.csr
quiet env DB=rootdb openssl ca -config ca.cnf -batch -notext -selfsign -keyfile root.key -in root.csr \
    -out root.pem -startdate 20150101000000Z -enddate 20491231000000Z -extfile ca.cnf \
    -extensions root

quiet openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out inter.key
csr inter.key "/O=tlsmortem tests/CN=Test Intermediate CA" inter.csr
sign rootdb root.key root.pem inter.csr inter.pem 20150101000000Z 20491231000000Z inter

ec other.key
csr other.key "/O=tlsmortem tests/CN=Test Other Intermediate" other.csr
sign rootdb root.key root.pem other.csr other-inter.pem 20150101000000Z 20491231000000Z inter

ec leaf.key
csr leaf.key "/CN=www.example.test" leaf.csr
sign interdb inter.key inter.pem leaf.csr leaf.pem 20250101000000Z 20251231000000Z leaf
sign interdb inter.key inter.pem leaf.csr sha1.pem 20250101000000Z 20251231000000Z leaf -md sha1
sign interdb inter.key inter.pem leaf.csr must-staple.pem 20250101000000Z 20251231000000Z staple
sign interdb inter.key inter.pem leaf.csr expired.pem 20200101000000Z 20210101000000Z leaf
sign interdb inter.key inter.pem leaf.csr future.pem 20400101000000Z 20401231000000Z leaf
sign interdb inter.key inter.pem leaf.csr long.pem 20250101000000Z 20270101000000Z leaf

csr leaf.key "/CN=*.example.test" wild.csr
sign interdb inter.key inter.pem wild.csr wildcard.pem 20250101000000Z 20251231000000Z wildcard

quiet openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:1024 -out weak.key
csr weak.key "/CN=www.example.test" weak.csr
sign interdb inter.key inter.pem weak.csr rsa1024.pem 20250101000000Z 20251231000000Z leaf

csr leaf.key "/CN=revoked.example.test" revoked.csr
sign interdb inter.key inter.pem revoked.csr revoked.pem 20250101000000Z 20251231000000Z revoked
quiet env DB=interdb openssl ca -config ca.cnf -keyfile inter.key -cert inter.pem -revoke revoked.pem \
    -crl_reason keyCompromise

quiet env DB=interdb openssl req -x509 -new -key leaf.key -subj "/CN=www.example.test" -days 365 -config ca.cnf \
    -extensions self -out self-signed.pem

for c in root inter other-inter leaf wildcard sha1 rsa1024 must-staple expired future revoked \
    self-signed long; do
    openssl x509 -in "$c.pem" -outform DER -out "$out/$c.der"
done

cp root.pem "$out/root.pem"

for pair in leaf:ocsp-good revoked:ocsp-revoked; do
    c=${pair%%:*} r=${pair#*:}
    quiet openssl ocsp -issuer inter.pem -cert "$c.pem" -no_nonce -reqout "$c.req"
    quiet openssl ocsp -index interdb/index.txt -rsigner inter.pem -rkey inter.key -CA inter.pem \
        -reqin "$c.req" -respout "$out/$r.der" -ndays 7
done
