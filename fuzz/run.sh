#!/usr/bin/env bash
# Builds the fuzz targets, cuts seed corpora from the captures, and fuzzes each target in turn.
#
#   fuzz/run.sh [SECONDS] [TARGET...]
#
# SECONDS per target (default 20); every target when none is named. A target stops after
# SECONDS or FUZZ_RUNS executions (if set), whichever comes first; extra libFuzzer flags go in
# FUZZ_ARGS. Work files live under $CARGO_TARGET_DIR/fuzz (or target/fuzz): seeds/ (made anew on
# every run from captures/, tests/data/ and ../shared/corpus when present), corpus/ (what the
# fuzzer found, kept between runs), logs/. A crash stops the script with libFuzzer's report,
# the input under fuzz/artifacts/TARGET/, and the command that replays it. Inputs that once
# failed a target are kept under tests/data/fuzz/TARGET/ and replayed on every run.
#
# Needs cargo-fuzz (`cargo install cargo-fuzz`). libFuzzer needs nightly rustc flags;
# RUSTC_BOOTSTRAP=1 lets the stable toolchain take them. The targets are built without a
# sanitizer (`-s none`): tlsmortem forbids unsafe code outside its file map, so AddressSanitizer
# would find nothing that Rust's own checks miss, at twice the cost per run; debug assertions
# (overflow checks included) stay on.
set -euo pipefail
cd "$(dirname "$0")/.."

secs=${1:-20}
shift || true
export RUSTC_BOOTSTRAP=1
work="${CARGO_TARGET_DIR:-$PWD/target}/fuzz"
mkdir -p "$work/logs"

if [ $# -gt 0 ]; then
    targets=("$@")
else
    mapfile -t targets < <(cargo fuzz list | grep -vx seeds)
fi

cargo fuzz build -s none
inputs=(captures tests/data)
[ -d ../shared/corpus ] && inputs+=(../shared/corpus)
rm -rf "$work/seeds"
cargo run -q --manifest-path fuzz/Cargo.toml --features seeds --bin seeds -- "$work/seeds" "${inputs[@]}"

# Longest input per target: whole captures are cut to 64 KiB (16 KiB for the reader alone), which
# keeps most of their handshakes; the stage formats need far less.
max_len() {
    case $1 in
        pipeline | pipeline_workers) echo 65536 ;;
        tls) echo 32768 ;;
        capture | flow | reassembly | x509) echo 16384 ;;
        net) echo 4096 ;;
        *) echo 8192 ;;
    esac
}

dict() {
    case $1 in
        capture | net | pipeline | pipeline_workers) echo capture ;;
        tls | flow) echo tls ;;
        quic | quic_frames) echo quic ;;
        x509 | dtls | starttls) echo "$1" ;;
    esac
}

for t in "${targets[@]}"; do
    corpus="$work/corpus/$t"
    mkdir -p "$corpus" "$work/seeds/$t"
    flags=(-max_total_time="$secs" -max_len="$(max_len "$t")" -timeout=10 -rss_limit_mb=2048
        -print_final_stats=1)
    [ -n "${FUZZ_RUNS:-}" ] && flags+=(-runs="$FUZZ_RUNS")
    d=$(dict "$t")
    [ -n "$d" ] && flags+=(-dict="fuzz/dict/$d.dict")
    # shellcheck disable=SC2206 # FUZZ_ARGS is a list of flags
    flags+=(${FUZZ_ARGS:-})
    log="$work/logs/$t.log"
    start=$(date +%s)
    dirs=("$corpus" "$work/seeds/$t")
    # Inputs that once crashed or hung the target are replayed first.
    [ -d "tests/data/fuzz/$t" ] && dirs+=("tests/data/fuzz/$t")
    if ! cargo fuzz run -s none "$t" "${dirs[@]}" -- "${flags[@]}" >"$log" 2>&1; then
        tail -n 60 "$log"
        echo "fuzz/run.sh: target $t failed; full log in $log" >&2
        exit 1
    fi
    runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
    last=$(grep -E '^#[0-9]+' "$log" | tail -n 1 | grep -oE 'cov: [0-9]+ ft: [0-9]+ corp: [0-9]+/[^ ]+' || true)
    echo "fuzz $t: ${runs:-?} runs in $(($(date +%s) - start)) s, $last"
done
