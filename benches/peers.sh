#!/bin/sh
# claimwatch side by side with trafilatura, feedparser and datasketch on identical inputs, then the
# scaling curve. Creates benches/.venv (PyPI only), builds the bench binary, prints one table.
# Usage: benches/peers.sh [--runs N]   (env: BENCH_SIZE=quick|full, BENCH_SKIP_SCALE=1)
set -eu
cd "$(dirname "$0")/.."
venv=benches/.venv
if [ ! -x "$venv/bin/python" ] || ! "$venv/bin/python" -c 'import trafilatura, feedparser, datasketch, matplotlib' 2>/dev/null; then
    python3 -m venv "$venv"
    "$venv/bin/pip" install -q --disable-pip-version-check trafilatura lxml_html_clean feedparser datasketch matplotlib
fi
bench=$(cargo bench --bench stages --no-run --message-format=json 2>/dev/null \
    | "$venv/bin/python" -c 'import json,sys
for line in sys.stdin:
    m = json.loads(line)
    if m.get("reason") == "compiler-artifact" and m["target"]["name"] == "stages" and m.get("executable"):
        print(m["executable"])')
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'); $(date -u '+%Y-%m-%d %H:%M UTC')"
mkdir -p benches/results
"$venv/bin/python" benches/peers.py --bench "$bench" --json benches/results/peers.json "$@"
if [ "${BENCH_SKIP_SCALE:-}" != 1 ]; then
    # Scaling: claim judgement, dedup lookup and commit, and the daemon with 1,000 local feeds
    # over pre-filled stores, at growing sizes (BENCH_SIZE=full: up to 1M).
    # Quick sizes keep the whole script under 10 minutes on 2 busy cores; the figures in
    # BENCHMARKS.md used BENCH_CLAIMS=10000,100000 and BENCH_ARTICLES=0,2000,20000.
    if [ "${BENCH_SIZE:-quick}" = quick ]; then
        export BENCH_CLAIMS="${BENCH_CLAIMS:-10000,50000}" BENCH_ARTICLES="${BENCH_ARTICLES:-0,2000,10000}"
        export BENCH_DEDUP="${BENCH_DEDUP:-10000,50000}"
    fi
    "$bench" claims dedup memory | tee benches/results/scale.txt
    "$venv/bin/python" benches/plot.py benches/results/scale.txt benches/scaling.png
fi
