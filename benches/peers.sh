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
    # Scaling: claim judgement at 10k/100k claims (BENCH_SIZE=full adds 1M) and the daemon with
    # 1,000 local feeds over stores pre-filled with 0/10k/100k (full: 1M) articles.
    "$bench" claims memory | tee benches/results/scale.txt
    "$venv/bin/python" benches/plot.py benches/results/scale.txt benches/scaling.png
fi
