#!/usr/bin/env bash
# peak-rss-anon.sh -- run a command and report its peak RssAnon (anonymous
# resident memory: heap, stacks, anonymous mmaps -- NOT the page cache or
# file-backed mmaps such as a memory-mapped capture file).
#
#   scripts/peak-rss-anon.sh [-i SECONDS] CMD [ARGS...]
#
# Samples /proc/PID/status every 20 ms (-i to change) while CMD runs.
# The command's stdout/stderr are passed through; the report goes to stderr:
#   peak RssAnon: 12345 kB (12.1 MiB)  [samples: 250, exit status: 0]
# Exit status is the command's.  Only the direct child is sampled (wrap
# pipelines in `sh -c` and the shell, not the pipeline, is what is measured);
# a process that lives less than one interval may show 0.  For comparison,
# `/usr/bin/time -v` reports "Maximum resident set size", which includes
# file-backed pages (e.g. an mmap'ed input) -- both numbers are useful.
set -u
INTERVAL=0.02
if [[ "${1:-}" == "-i" ]]; then INTERVAL="$2"; shift 2; fi
if [[ $# -eq 0 || "$1" == "-h" || "$1" == "--help" ]]; then
    sed -n '2,/^set -u/p' "$0" | sed '$d; s/^# \{0,1\}//' >&2
    exit 2
fi

# Sampling uses bash builtins only (no fork per sample), so the sampler
# itself costs next to no CPU; the sleep is a read timeout on an idle pipe.
exec {SLEEPFD}<> <(:)
"$@" &
PID=$!
PEAK=0
N=0
while :; do
    V="" STATE=""
    if [[ -r /proc/$PID/status ]]; then
        while read -r KEY VAL _; do
            case "$KEY" in
                State:) STATE=$VAL ;;
                RssAnon:) V=$VAL; break ;;
            esac
        done < "/proc/$PID/status" 2>/dev/null
    fi
    if [[ -n "$V" ]]; then
        (( V > PEAK )) && PEAK=$V
        N=$((N + 1))
    fi
    # gone, or a zombie (exited, not yet reaped: no RssAnon line) -> stop
    [[ -z "$STATE" || "$STATE" == Z ]] && break
    read -r -t "$INTERVAL" -u "$SLEEPFD" _ || true
done
wait "$PID"
RC=$?
awk -v k="$PEAK" -v n="$N" -v rc="$RC" 'BEGIN {
    printf "peak RssAnon: %d kB (%.1f MiB)  [samples: %d, exit status: %d]\n", k, k / 1024, n, rc
}' >&2
exit "$RC"
