#!/usr/bin/env python3
"""claimwatch against the tools users would pick instead, on identical inputs, interleaved.

usage: peers.py --bench BENCH_BIN [--runs N] [--json OUT] [--plot-from RESULTS --png OUT]

For each task the claimwatch side (the `stages` bench binary in a peer mode) and the Python peer
run alternately (A B A B …), each run in its own process under /usr/bin/time -v. Each process
times only its own work loop (inputs already read), so interpreter and binary start-up do not
count; peak RSS is the whole process's. The table shows medians of the runs and their ratio.

Also a worker: `peers.py _feedparser|_trafilatura|_datasketch …` is what runs under time -v.
"""
import argparse, glob, gzip, importlib.util, json, os, re, statistics, subprocess, sys, tempfile, time

HERE = os.path.dirname(os.path.abspath(__file__))
FEEDS = sorted(glob.glob(os.path.join(HERE, "data", "feeds", "*.*")))
FEEDS = [f for f in FEEDS if f.endswith((".xml", ".rss", ".atom"))]
EXTRACTION = os.environ.get("BENCH_EXTRACTION_DIR", "/work/shared/bench/extraction/dev")


# ----------------------------------------------------------------------------------- workers

def worker(mode, args):
    repeat = 1
    out = None
    files = []
    it = iter(args)
    for a in it:
        if a == "--repeat":
            repeat = int(next(it))
        elif a == "--out":
            out = next(it)
        else:
            files.append(a)
    if mode == "_feedparser":
        import feedparser
        docs = [open(f, "rb").read() for f in files]
        start = time.perf_counter()
        items = 0
        for _ in range(repeat):
            for d in docs:
                items += len(feedparser.parse(d).entries)
        secs = time.perf_counter() - start
        print("RESULT " + json.dumps({"items": items, "secs": secs, "items_per_s": items / secs}))
    elif mode == "_trafilatura":
        import trafilatura
        pages = [open(f, "rb").read().decode("utf-8", "replace") for f in files]
        start = time.perf_counter()
        texts = []
        for r in range(repeat):
            for p in pages:
                t = trafilatura.extract(p, include_comments=False) or ""
                if r == 0:
                    texts.append(t)
        secs = time.perf_counter() - start
        if out:
            with open(out, "w", encoding="utf-8") as fh:
                for t in texts:
                    fh.write(json.dumps({"text": t}) + "\n")
        n = len(pages) * repeat
        print("RESULT " + json.dumps({"pages": n, "secs": secs, "pages_per_s": n / secs}))
    elif mode == "_datasketch":
        from datasketch import MinHash
        num_perm = int(os.environ.get("MINHASH_NUM_PERM", "64"))
        shingle = int(os.environ.get("MINHASH_SHINGLE", "3"))
        token = re.compile(r"\w+", re.UNICODE)
        texts = [json.loads(line)["text"] for f in files for line in open(f, encoding="utf-8")]
        words = [token.findall(t.lower()) for t in texts]
        start = time.perf_counter()
        for _ in range(repeat):
            for w in words:
                m = MinHash(num_perm=num_perm)
                m.update_batch([" ".join(w[i:i + shingle]).encode() for i in range(max(1, len(w) - shingle + 1))])
        secs = time.perf_counter() - start
        n = len(texts) * repeat
        print("RESULT " + json.dumps({"docs": n, "secs": secs, "docs_per_s": n / secs}))
    else:
        sys.exit(f"unknown worker {mode}")


# ------------------------------------------------------------------------------------ runner

def timed(cmd, env=None):
    """Runs cmd under /usr/bin/time -v; returns (RESULT json, peak RSS MiB)."""
    run = subprocess.run(["/usr/bin/time", "-v"] + cmd, capture_output=True, text=True, env=env, timeout=600)
    if run.returncode != 0:
        raise RuntimeError(f"{cmd[0]} failed ({run.returncode}): {run.stderr[-2000:]}")
    result = None
    for line in run.stdout.splitlines():
        if line.startswith("RESULT "):
            result = json.loads(line[7:])
    rss = re.search(r"Maximum resident set size \(kbytes\): (\d+)", run.stderr)
    return result, int(rss.group(1)) / 1024 if rss else float("nan")


def interleave(runs, a_cmd, b_cmd, key):
    a_vals, b_vals, a_rss, b_rss = [], [], [], []
    for _ in range(runs):
        r, m = timed(a_cmd)
        a_vals.append(r[key]); a_rss.append(m)
        r, m = timed(b_cmd)
        b_vals.append(r[key]); b_rss.append(m)
    pairs = [x / y for x, y in zip(a_vals, b_vals)]
    return {"claimwatch": statistics.median(a_vals), "peer": statistics.median(b_vals),
            "pair_ratios": pairs, "ratio": statistics.median(pairs),
            "claimwatch_runs": a_vals, "peer_runs": b_vals,
            "claimwatch_rss_mib": max(a_rss), "peer_rss_mib": max(b_rss)}


def load_score():
    spec = importlib.util.spec_from_file_location("score", os.path.join(EXTRACTION, "..", "score.py"))
    score = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(score)
    return score


def f1_of(score, truth_texts, jsonl):
    texts = [json.loads(line)["text"] for line in open(jsonl, encoding="utf-8")]
    counts = [score.page_counts(t, p) for t, p in zip(truth_texts, texts)]
    p = statistics.mean(score.precision(*c) for c in counts)
    r = statistics.mean(score.recall(*c) for c in counts)
    return 2 * p * r / (p + r) if p + r else 0.0


def main():
    if len(sys.argv) > 1 and sys.argv[1].startswith("_"):
        return worker(sys.argv[1], sys.argv[2:])
    ap = argparse.ArgumentParser()
    ap.add_argument("--bench", required=True, help="the stages bench binary")
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--json", help="write the rows here")
    a = ap.parse_args()
    py = sys.executable
    me = os.path.abspath(__file__)
    rows = []

    # Feed parsing: same files, same number of passes per process on each side.
    cw = [a.bench, "parse-files", "--repeat", "40"] + FEEDS
    peer = [py, me, "_feedparser", "--repeat", "4"] + FEEDS
    row = interleave(a.runs, cw, peer, "items_per_s")
    row.update(task=f"feed parsing ({len(FEEDS)} real feeds), items/s", goal=30, unit="items/s")
    rows.append(row)
    print(f"feed parsing done: {row['claimwatch']:.0f} vs {row['peer']:.0f} items/s", file=sys.stderr)

    # Extraction: the dev pages, gunzipped once; F1 with the benchmark's metric.
    score = load_score()
    truth = json.load(open(os.path.join(EXTRACTION, "ground-truth.json"), encoding="utf-8"))
    keys = sorted(truth)
    with tempfile.TemporaryDirectory() as tmp:
        pages = []
        for k in keys:
            f = os.path.join(tmp, k + ".html")
            with gzip.open(os.path.join(EXTRACTION, "html", k + ".html.gz")) as src, open(f, "wb") as dst:
                dst.write(src.read())
            pages.append(f)
        cw_out, peer_out = os.path.join(tmp, "cw.jsonl"), os.path.join(tmp, "peer.jsonl")
        cw = [a.bench, "extract-files", "--repeat", "2", "--out", cw_out] + pages
        peer = [py, me, "_trafilatura", "--out", peer_out] + pages
        row = interleave(max(3, a.runs - 2), cw, peer, "pages_per_s")
        truth_texts = [truth[k]["articleBody"] for k in keys]
        row["claimwatch_f1"] = f1_of(score, truth_texts, cw_out)
        row["peer_f1"] = f1_of(score, truth_texts, peer_out)
        row.update(task=f"extraction ({len(pages)} dev pages), pages/s", goal=4, unit="pages/s")
        rows.append(row)
        print(f"extraction done: {row['claimwatch']:.0f} vs {row['peer']:.0f} pages/s", file=sys.stderr)

        # MinHash: signatures of the extracted texts, same shingles and number of hashes.
        probe = subprocess.run([a.bench, "minhash-files", "--repeat", "1", cw_out], capture_output=True, text=True)
        if probe.returncode == 0:
            env_note = {}
            cw = [a.bench, "minhash-files", "--repeat", "50", cw_out]
            peer = [py, me, "_datasketch", "--repeat", "5", cw_out]
            row = interleave(a.runs, cw, peer, "docs_per_s")
            row.update(task="MinHash signatures (91 article texts), docs/s", goal=10, unit="docs/s")
            rows.append(row)
        else:
            print("MinHash row left out: claimwatch's MinHash (dedup) is not on this branch yet", file=sys.stderr)

    print()
    print(f"{'task':<50} {'claimwatch':>12} {'peer':>12} {'ratio':>7} {'goal':>6} {'cw RSS':>8} {'peer RSS':>9}")
    names = {0: "feedparser", 1: "trafilatura", 2: "datasketch"}
    for i, r in enumerate(rows):
        ratio = r["ratio"]  # median of the ratios of each interleaved pair (A then B)
        r["peer_name"] = names.get(i, "peer")
        met = "met" if ratio >= r["goal"] else "MISSED"
        print(f"{r['task'] + ' vs ' + r['peer_name']:<50} {r['claimwatch']:>12.0f} {r['peer']:>12.0f} "
              f"{ratio:>6.1f}× {r['goal']:>4}× {r['claimwatch_rss_mib']:>6.1f}MB {r['peer_rss_mib']:>7.1f}MB  {met}")
        print(f"{'':<50} pair ratios {min(r['pair_ratios']):.1f}–{max(r['pair_ratios']):.1f}×")
        if "claimwatch_f1" in r:
            print(f"{'':<50} F1 claimwatch {r['claimwatch_f1']:.3f}, {r['peer_name']} {r['peer_f1']:.3f}")
    print("(figures: medians of interleaved runs; ratio: median of the per-pair ratios; each figure is the"
          " work loop alone; RSS is the process peak)")
    if a.json:
        with open(a.json, "w") as fh:
            json.dump(rows, fh, indent=1)


if __name__ == "__main__":
    main()
