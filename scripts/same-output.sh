#!/usr/bin/env bash
# Shows that two builds of tlsmortem say the same thing: runs OLD_BIN and NEW_BIN over every
# capture in captures/ and ../shared (corpus, realworld, keylog) with each output mode, and
# compares stdout, stderr and exit code byte for byte.
#
#   scripts/same-output.sh OLD_BIN NEW_BIN
#
# MODES='-q --json;summary -q' runs only those modes (separated by ';'); NEW_FLAGS='--no-ladder'
# adds flags to NEW_BIN's runs only (to compare a mode that a new flag must leave as it was).
# Prints one line per difference and a closing count; exits 1 when any run differs.
set -uo pipefail
cd "$(dirname "$0")/.."
old=$1 new=$2
[ -x "$old" ] && [ -x "$new" ] || { echo "usage: $0 OLD_BIN NEW_BIN (two tlsmortem executables)" >&2; exit 2; }

ca=captures/pki/root.pem
modes=(
  "-q"
  "-q --json"
  "-q --json --summary --all-flows"
  "-q --json --at 2040-01-01T00:00:00Z"
  "summary -q"
  "certs -q"
)
[ -f "$ca" ] && modes+=("-q --json --ca-file $ca")
if [ -n "${MODES:-}" ]; then
  IFS=';' read -r -a modes <<<"$MODES"
fi
new_flags=${NEW_FLAGS:-}

mapfile -t files < <(find captures ../shared/corpus ../shared/realworld ../shared/keylog -type f \
  \( -name '*.pcap' -o -name '*.pcapng' -o -name '*.cap' -o -name '*.pcap.gz' -o -name '*.pcapng.gz' \) 2>/dev/null | sort)

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
runs=0 differ=0
for f in "${files[@]}"; do
  for m in "${modes[@]}"; do
    # shellcheck disable=SC2086
    "$old" $m "$f" >"$tmp/o.out" 2>"$tmp/o.err"; orc=$?
    # shellcheck disable=SC2086
    "$new" $m $new_flags "$f" >"$tmp/n.out" 2>"$tmp/n.err"; nrc=$?
    runs=$((runs + 1))
    if [ "$orc" != "$nrc" ] || ! cmp -s "$tmp/o.out" "$tmp/n.out" || ! cmp -s "$tmp/o.err" "$tmp/n.err"; then
      differ=$((differ + 1))
      echo "differs: tlsmortem $m $f (exit $orc vs $nrc)"
    fi
  done
done
echo "same-output: $((runs - differ)) of $runs runs identical over ${#files[@]} captures, $differ differ"
[ "$differ" -eq 0 ]
