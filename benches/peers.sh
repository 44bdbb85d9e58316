#!/bin/sh
# claimwatch side by side with trafilatura, feedparser, datasketch and Miniflux on identical inputs,
# then the scaling curve. Creates benches/.venv (PyPI) and benches/.peers (Miniflux from Debian),
# installs PostgreSQL if missing (as root), builds the bench binary, prints one table.
# Usage: benches/peers.sh [--runs N]   (env: BENCH_SIZE=quick|full, BENCH_SKIP_SCALE=1)
set -eu
cd "$(dirname "$0")/.."
started=$(date +%s)
stamp() { echo "[$(($(date +%s) - started)) s, load $(cut -d' ' -f1-3 /proc/loadavg)] $*" >&2; }
venv=benches/.venv
if [ ! -x "$venv/bin/python" ] || ! "$venv/bin/python" -c 'import trafilatura, feedparser, datasketch, matplotlib' 2>/dev/null; then
    python3 -m venv "$venv"
    "$venv/bin/pip" install -q --disable-pip-version-check trafilatura lxml_html_clean feedparser datasketch matplotlib
fi
stamp "Python peers ready"
# Miniflux, the feed daemon a user would run instead: Debian packages it from trixie on (none for
# bookworm, this machine's release). apt-get fetches the trixie .deb through a sources list of its
# own under benches/.peers (the system's apt configuration is left alone) and it is unpacked there;
# PostgreSQL, which Miniflux needs, comes from the machine's own release.
peers=benches/.peers
mkdir -p "$peers" benches/results
miniflux=$peers/miniflux/usr/bin/miniflux
if [ ! -x "$miniflux" ]; then
    mkdir -p "$peers/apt/lists/partial" "$peers/apt/cache/archives/partial"
    # The machine's own configured Debian mirror, for the trixie suite.
    mirror=$(grep -rhoE 'https?://[^ ]+/debian/?' /etc/apt/sources.list /etc/apt/sources.list.d/ 2>/dev/null | head -1)
    echo "deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] $mirror trixie main" \
        > "$peers/apt/sources.list"
    apt="-o Dir::Etc::SourceList=$PWD/$peers/apt/sources.list -o Dir::Etc::SourceParts=/dev/null
         -o Dir::State::Lists=$PWD/$peers/apt/lists -o Dir::Cache=$PWD/$peers/apt/cache
         -o Dir::State::status=/dev/null -o APT::Sandbox::User=root"
    # shellcheck disable=SC2086 # $apt is a list of options
    if apt-get -q $apt update >"$peers/apt.log" 2>&1 && (cd "$peers" && apt-get -q $apt download miniflux >>apt.log 2>&1); then
        dpkg-deb -x "$peers"/miniflux_*.deb "$peers/miniflux"
        rm -f "$peers"/miniflux_*.deb
    else
        echo "Miniflux could not be fetched (see $peers/apt.log); its rows are left out" >&2
    fi
fi
[ -x "$miniflux" ] || miniflux=
pg_bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
if [ -z "$pg_bin" ] && [ "$(id -u)" = 0 ]; then
    apt-get install -y -q --no-install-recommends postgresql >"$peers/postgresql.log" 2>&1 \
        || echo "PostgreSQL could not be installed (see $peers/postgresql.log); Miniflux's rows are left out" >&2
    pg_bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
fi
stamp "Miniflux and PostgreSQL ready"
# The bench binary (its peer modes and the local feed server) and the claimwatch binary.
artifacts=$(cargo bench --bench stages --no-run --message-format=json 2>/dev/null \
    | "$venv/bin/python" -c 'import json,sys
for line in sys.stdin:
    m = json.loads(line)
    if m.get("reason") == "compiler-artifact" and m["target"]["name"] in ("stages", "claimwatch") and m.get("executable"):
        print(m["target"]["name"], m["executable"])')
bench=$(echo "$artifacts" | sed -n 's/^stages //p')
claimwatch=$(echo "$artifacts" | sed -n 's/^claimwatch //p')
stamp "binaries built"
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'); $(date -u '+%Y-%m-%d %H:%M UTC')"
if [ "${BENCH_SIZE:-quick}" = quick ]; then poll_feeds=100; else poll_feeds=1000; fi
"$venv/bin/python" benches/peers.py --bench "$bench" --claimwatch "$claimwatch" --pg-bin "$pg_bin" \
    --miniflux "$miniflux" --poll-feeds "$poll_feeds" --json benches/results/peers.json "$@" \
    > benches/results/peers.txt
cat benches/results/peers.txt
stamp "peers done"
if [ "${BENCH_SKIP_SCALE:-}" != 1 ]; then
    # Scaling: claim judgement, dedup lookup and commit, and the daemon with 1,000 local feeds
    # over pre-filled stores, at growing sizes (BENCH_SIZE=full: up to 1M).
    # Quick sizes keep the whole script under 10 minutes on 2 busy cores (timed in BENCHMARKS.md):
    # the daemon's first poll of 1,000 feeds (20,000 on-topic pages) alone takes ~5 minutes here,
    # so quick polls 100 feeds.
    if [ "${BENCH_SIZE:-quick}" = quick ]; then
        export BENCH_CLAIMS="${BENCH_CLAIMS:-10000,30000}" BENCH_DEDUP="${BENCH_DEDUP:-10000,30000}"
        export BENCH_ARTICLES="${BENCH_ARTICLES:-0,10000}" BENCH_FEEDS="${BENCH_FEEDS:-100}"
    fi
    "$bench" claims dedup memory | tee benches/results/scale.txt
    "$venv/bin/python" benches/plot.py benches/results/scale.txt benches/scaling.png
    stamp "scaling done"
fi
