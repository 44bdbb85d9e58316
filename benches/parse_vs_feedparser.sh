#!/usr/bin/env bash
# Feed parsing throughput, claimwatch (parse::parse_feed, release build) side by side with Python
# feedparser on the same files. Installs feedparser into a venv under the cargo target dir.
#
#   benches/parse_vs_feedparser.sh [CORPUS_DIR]      (default: /work/shared/feeds)
set -euo pipefail
cd "$(dirname "$0")/.."
corpus="${1:-/work/shared/feeds}"
target="${CARGO_TARGET_DIR:-target}"
venv="$target/bench-venv"
if [ ! -x "$venv/bin/python" ]; then
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet "feedparser==6.0.11"
fi
list="$(mktemp)"
trap 'rm -f "$list"' EXIT
find "$corpus" -type f \( -name '*.xml' -o -name '*.rss' -o -name '*.atom' -o -name '*.rdf' -o -name '*.json' \) \
    ! -name '*.serde.json' | sort > "$list"
echo "files: $(wc -l < "$list") from $corpus"
FILES_FROM_STDIN=1 cargo bench --quiet --bench parse < "$list"
"$venv/bin/python" - "$list" <<'PY'
import sys, time, warnings
import feedparser
warnings.simplefilter("ignore")
paths = [l.strip() for l in open(sys.argv[1]) if l.strip()]
docs = [open(p, "rb").read() for p in paths]
rounds, items, parsed = 0, 0, 0
start = time.perf_counter()
while rounds == 0 or time.perf_counter() - start < 3:
    for d in docs:
        try:
            f = feedparser.parse(d)
        except Exception:
            continue
        if not f.bozo or f.entries:
            parsed += 1
        items += len(f.entries)
    rounds += 1
secs = time.perf_counter() - start
print(f"python feedparser {feedparser.__version__}: {len(docs)} files, {rounds} rounds in {secs:.2f} s: "
      f"{len(docs) * rounds / secs:.0f} files/s, {items / secs:.0f} items/s "
      f"({parsed // rounds} parsed, {items // rounds} items per round)")
PY
