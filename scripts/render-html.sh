#!/usr/bin/env bash
# Renders the HTML report (--html) of every capture in captures/ with headless Chromium to PNG
# and fails when any page logs to the console (a script error, a refused load, anything).
#
#   scripts/render-html.sh [OUT_DIR]        pages and screenshots go to OUT_DIR (default: a
#                                           temporary folder, kept and named at the end)
#   scripts/render-html.sh --docs           also remakes the README's two screenshots in docs/
#
# Needs Debian's chromium (apt-get install chromium; fonts-wqy-microhei draws the Chinese in the
# advice), python3 for the DevTools driver (scripts/cdp-shot.py) and pngquant for --docs
# (apt-get install pngquant). Uses BIN, or builds the release binary. Prints one line per page with console output, then a closing count; exits 1 when any
# page logged to the console, 2 when it cannot run.
set -uo pipefail
cd "$(dirname "$0")/.."

docs=0
if [ "${1:-}" = "--docs" ]; then docs=1; shift; fi
out=${1:-$(mktemp -d /tmp/tlsmortem-render.XXXXXX)}
mkdir -p "$out"
out=$(cd "$out" && pwd)

command -v chromium >/dev/null || { echo "render-html: chromium not found (apt-get install chromium)" >&2; exit 2; }
bin=${BIN:-${CARGO_TARGET_DIR:-target}/release/tlsmortem}
if [ ! -x "$bin" ]; then
  cargo build --release --quiet || { echo "render-html: cannot build tlsmortem" >&2; exit 2; }
fi

# One headless Chromium per page, driven over a DevTools pipe by cdp-shot.py, with nothing that
# reaches the network; it prints the page's console messages and exits 1 when there were any.
# The page itself loads nothing (its content security policy says so).
shot() { # HTML PNG [cdp-shot options]
  local html=$1 png=$2
  shift 2
  python3 scripts/cdp-shot.py "$html" "$png" "$@" >"$png.console"
}

pages=0 bad=0
while IFS= read -r f; do
  name=$(echo "${f#captures/}" | tr '/' '_')
  html="$out/$name.html"
  "$bin" -q --html "$html" "$f" >/dev/null 2>"$out/$name.stderr"
  rc=$?
  if [ "$rc" -gt 1 ] || [ ! -s "$html" ]; then
    echo "render-html: tlsmortem could not run on $f (exit $rc)"
    bad=$((bad + 1))
    continue
  fi
  shot "$html" "$out/$name.png" --width 1280 --max-height 4000
  rc=$?
  if [ "$rc" -eq 2 ]; then
    echo "render-html: chromium could not render $html"
    bad=$((bad + 1))
    continue
  fi
  pages=$((pages + 1))
  if [ "$rc" -ne 0 ]; then
    echo "render-html: console output on $html:"
    sed 's/^/  /' "$out/$name.png.console"
    bad=$((bad + 1))
  fi
done < <(find captures -type f \( -name '*.pcap' -o -name '*.pcapng' \) | sort)

if [ "$docs" = 1 ]; then
  mkdir -p docs
  # An injected RST (the judged packet and its evidence) and a missing intermediate (the
  # dashed card), each scrolled to its part of the page.
  for spec in "netns/inject-single-rst.client.pcap #c0 ladder-injected-rst" \
              "certs/chain-leaf-only.pcap #c0-chain chain-missing-intermediate"; do
    read -r f sel png <<<"$spec"
    html="$out/docs-$png.html"
    "$bin" -q --html "$html" "captures/$f" >/dev/null 2>&1
    shot "$html" "$out/$png.png" --width 1300 --selector "$sel" \
      || { echo "render-html: chromium failed or logged on $html"; bad=$((bad + 1)); continue; }
    pngquant --force --quality 60-90 --strip --output "docs/$png.png" "$out/$png.png" \
      || cp "$out/$png.png" "docs/$png.png"
    echo "render-html: docs/$png.png ($(stat -c %s "docs/$png.png") bytes)"
  done
fi

echo "render-html: $pages pages rendered into $out, $bad with problems"
[ "$bad" -eq 0 ]
