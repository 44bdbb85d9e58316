#!/usr/bin/env python3
"""claimwatch against the tools users would pick instead, on identical inputs, interleaved.

usage: peers.py --bench BENCH_BIN [--runs N] [--json OUT] [--plot-from RESULTS --png OUT]

For each task the claimwatch side (the `stages` bench binary in a peer mode) and the Python peer
run alternately (A B A B …), each run in its own process under /usr/bin/time -v. Each process
times only its own work loop (inputs already read), so interpreter and binary start-up do not
count; peak RSS is the whole process's. The table shows medians of the runs and their ratio.

Also a worker: `peers.py _feedparser|_trafilatura|_datasketch …` is what runs under time -v.
"""
import argparse, glob, gzip, importlib.util, json, os, re, shutil, statistics, subprocess, sys, tempfile, threading, time

HERE = os.path.dirname(os.path.abspath(__file__))
FEEDS = sorted(glob.glob(os.path.join(HERE, "data", "feeds", "*.*")))
FEEDS = [f for f in FEEDS if f.endswith((".xml", ".rss", ".atom"))]
EXTRACTION = os.environ.get("BENCH_EXTRACTION_DIR", os.path.join(HERE, "..", "..", "shared", "bench", "extraction", "dev"))
# trafilatura's own evaluation corpus (dev half): snippets that must / must not be extracted.
EXTRACTION_PEER = os.environ.get("BENCH_EXTRACTION_PEER_DIR", os.path.join(HERE, "..", "..", "shared", "bench", "extraction-peer", "dev"))


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

def run_timed(cmd, env=None):
    """Runs cmd under /usr/bin/time -v; returns (stdout, wall s, CPU s (user + system), peak RSS MiB)."""
    start = time.perf_counter()
    run = subprocess.run(["/usr/bin/time", "-v"] + cmd, capture_output=True, text=True, env=env, timeout=900)
    wall = time.perf_counter() - start
    if run.returncode != 0:
        raise RuntimeError(f"{cmd[0]} failed ({run.returncode}): {run.stderr[-2000:]}")
    field = lambda name: float(re.search(name + r": ([\d.]+)", run.stderr).group(1))
    cpu = field(r"User time \(seconds\)") + field(r"System time \(seconds\)")
    return run.stdout, wall, cpu, field(r"Maximum resident set size \(kbytes\)") / 1024


def timed(cmd, env=None):
    """Runs cmd under /usr/bin/time -v; returns (its RESULT json, peak RSS MiB)."""
    out, _, _, rss = run_timed(cmd, env)
    result = None
    for line in out.splitlines():
        if line.startswith("RESULT "):
            result = json.loads(line[7:])
    return result, rss


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


# ------------------------------------------------------------------------- daemons: Miniflux

class LocalSite:
    """The poll stage's local site (`stages serve-feeds N`): N feeds of 20 items on 127.0.0.1."""

    def __init__(self, bench, feeds):
        self.proc = subprocess.Popen([bench, "serve-feeds", str(feeds)], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, text=True)
        self.base = self.proc.stdout.readline().split()[1]

    def counts(self):
        """Requests, 304 answers and pages served so far."""
        self.proc.stdin.write("\n")
        self.proc.stdin.flush()
        return json.loads(self.proc.stdout.readline()[len("COUNTS "):])

    def close(self):
        self.proc.stdin.close()
        self.proc.wait(timeout=10)


def served(site, before):
    now = site.counts()
    return {k: now[k] - before[k] for k in now}


class Postgres:
    """A throwaway PostgreSQL cluster in a temp dir (unix socket only), as the `postgres` user when
    run as root (PostgreSQL refuses root). Its CPU and memory are Miniflux's too."""

    def __init__(self, bin_dir, tmp):
        self.bin = bin_dir
        self.dir = tmp
        self.sock = os.path.join(tmp, "sock")
        os.makedirs(self.sock)
        self.as_user = []
        if os.geteuid() == 0:
            import pwd
            pw = pwd.getpwnam("postgres")
            for d in (tmp, self.sock):
                os.chown(d, pw.pw_uid, pw.pw_gid)
            self.as_user = ["runuser", "-u", "postgres", "--"]
        self.data = os.path.join(tmp, "data")
        checked(self.as_user + [f"{bin_dir}/initdb", "-D", self.data, "-A", "trust", "-U", "postgres"])
        checked(self.as_user + [f"{bin_dir}/pg_ctl", "-D", self.data, "-w", "-l", os.path.join(tmp, "log"),
                                "-o", f"-c listen_addresses='' -c unix_socket_directories={self.sock}", "start"])
        self.pid = int(open(os.path.join(self.data, "postmaster.pid")).readline())

    def url(self, db):
        return f"host={self.sock} user=postgres dbname={db} sslmode=disable"

    def sql(self, db, statement):
        checked([f"{self.bin}/psql", "-q", "-h", self.sock, "-U", "postgres", "-d", db, "-c", statement])

    def processes(self):
        kids = open(f"/proc/{self.pid}/task/{self.pid}/children").read().split()
        return [self.pid] + [int(k) for k in kids]

    def cpu_seconds(self):
        """User + system of the postmaster, its live children and its reaped ones."""
        tick = os.sysconf("SC_CLK_TCK")
        total = 0
        for pid in self.processes():
            try:
                fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
            except FileNotFoundError:
                continue
            total += sum(int(f) for f in fields[11:13])  # utime, stime
            if pid == self.pid:
                total += sum(int(f) for f in fields[13:15])  # cutime, cstime
        return total / tick

    def pss_mib(self):
        """Proportional set size of the whole cluster (shared buffers counted once)."""
        total = 0
        for pid in self.processes():
            try:
                for line in open(f"/proc/{pid}/smaps_rollup"):
                    if line.startswith("Pss:"):
                        total += int(line.split()[1])
            except (FileNotFoundError, ProcessLookupError):
                pass
        return total / 1024

    def stop(self):
        checked(self.as_user + [f"{self.bin}/pg_ctl", "-D", self.data, "-m", "fast", "-w", "stop"])


def checked(cmd):
    """Runs a setup command; its output is shown only if it fails."""
    run = subprocess.run(cmd, capture_output=True, text=True)
    if run.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed ({run.returncode}): {run.stdout[-1000:]}{run.stderr[-2000:]}")


def free_port():
    import socket
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def miniflux_template(miniflux, pg, site, feeds):
    """A database `template_feeds` with Miniflux's schema, one user and the N local feeds, never
    polled, with Miniflux's crawler on (it then fetches each entry's page, as claimwatch does).
    Each measured run copies it (CREATE DATABASE … TEMPLATE): a fresh store each time."""
    import base64, urllib.request
    pg.sql("postgres", "CREATE DATABASE template_feeds")
    port = free_port()
    env = dict(os.environ, DATABASE_URL=pg.url("template_feeds"), RUN_MIGRATIONS="1", CREATE_ADMIN="1",
               ADMIN_USERNAME="bench", ADMIN_PASSWORD="bench-password", LISTEN_ADDR=f"127.0.0.1:{port}",
               DISABLE_SCHEDULER_SERVICE="1", LOG_LEVEL="error")
    daemon = subprocess.Popen([miniflux], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        opml = "".join(f'<outline type="rss" text="Feed {i}" xmlUrl="{site.base}/f/{i}.xml"/>' for i in range(feeds))
        opml = f'<?xml version="1.0"?><opml version="2.0"><head/><body><outline text="bench">{opml}</outline></body></opml>'
        auth = "Basic " + base64.b64encode(b"bench:bench-password").decode()
        deadline = time.monotonic() + 60
        while True:
            try:
                request = urllib.request.Request(f"http://127.0.0.1:{port}/v1/import", data=opml.encode(),
                                                 headers={"Authorization": auth}, method="POST")
                urllib.request.urlopen(request, timeout=30).read()
                break
            except OSError:
                if time.monotonic() > deadline or daemon.poll() is not None:
                    raise RuntimeError("miniflux did not start (migrations, admin, API) within 60 s")
                time.sleep(0.2)
    finally:
        daemon.terminate()
        daemon.wait(timeout=30)
    pg.sql("template_feeds", "UPDATE feeds SET crawler = true")


def miniflux_round(miniflux, pg, db, feeds):
    """One `miniflux -refresh-feeds` (every due feed, then exit) with the cluster's CPU and PSS."""
    pg.sql(db, "UPDATE feeds SET next_check_at = now()")
    env = dict(os.environ, DATABASE_URL=pg.url(db), BATCH_SIZE=str(feeds), LOG_LEVEL="error")
    peak = [pg.pss_mib()]
    done = threading.Event()

    def sample():
        while not done.wait(0.2):
            peak.append(pg.pss_mib())

    sampler = threading.Thread(target=sample)
    cpu0 = pg.cpu_seconds()
    sampler.start()
    try:
        _, wall, cpu, rss = run_timed([miniflux, "-refresh-feeds"], env)
    finally:
        done.set()
        sampler.join()
    time.sleep(0.5)  # its connections' backends exit and are reaped
    pg_cpu = pg.cpu_seconds() - cpu0
    return {"wall": wall, "cpu": cpu + pg_cpu, "process_cpu": cpu, "pg_cpu": pg_cpu, "rss": rss, "pg_pss": max(peak)}


def claimwatch_config(path, state, seeds, site, feeds):
    """The daemon's configuration for the local feeds: defaults, private networks allowed (the
    site is on 127.0.0.1) and no per-host delay (all feeds share one host here)."""
    lines = [f'state_dir = "{state}"', f'seeds_dir = "{seeds}"', "[log]", 'level = "warn"',
             "[fetch]", "allow_private_networks = true", 'per_host_delay = "0s"', "per_host = 16",
             "[server]", 'listen = ""']
    for i in range(feeds):
        lines += ["[[feeds]]", f'url = "{site.base}/f/{i}.xml"']
    with open(path, "w") as fh:
        fh.write("\n".join(lines) + "\n")


def daemons(a):
    """claimwatch (`run --once`) against Miniflux (`-refresh-feeds` + PostgreSQL) on the same local
    feeds: a first poll (every feed and its 20 pages) and a second one (every feed answers 304),
    each on a fresh store, interleaved claimwatch, Miniflux, claimwatch, Miniflux …"""
    feeds = a.poll_feeds
    site = LocalSite(a.bench, feeds)
    tmp = tempfile.mkdtemp(prefix="peers-daemons-")
    os.chmod(tmp, 0o755)  # PostgreSQL's own user works below it
    runs = {(side, r): [] for side in ("claimwatch", "miniflux") for r in (1, 2)}
    pg = None
    try:
        pg = Postgres(a.pg_bin, os.path.join(tmp, "pg"))
        miniflux_template(a.miniflux, pg, site, feeds)
        for i in range(max(3, a.runs - 2)):
            state = os.path.join(tmp, f"cw{i}")
            os.makedirs(state)
            config = os.path.join(state, "claimwatch.toml")
            claimwatch_config(config, os.path.join(state, "state"), a.seeds, site, feeds)
            checked([a.claimwatch, "--config", config, "seed"])
            db = f"run{i}"
            pg.sql("postgres", f"CREATE DATABASE {db} TEMPLATE template_feeds")
            for r in (1, 2):
                before = site.counts()
                _, wall, cpu, rss = run_timed([a.claimwatch, "--config", config, "run", "--once"])
                runs["claimwatch", r].append({"wall": wall, "cpu": cpu, "rss": rss, "served": served(site, before)})
                before = site.counts()
                m = miniflux_round(a.miniflux, pg, db, feeds)
                m["served"] = served(site, before)
                runs["miniflux", r].append(m)
            shutil.rmtree(state)
    finally:
        if pg:
            pg.stop()
        site.close()
        shutil.rmtree(tmp, ignore_errors=True)
    for (side, r), rs in runs.items():
        for run in rs:  # the same work on both sides, or no figure
            want_pages, want_304 = (feeds * 20, 0) if r == 1 else (0, feeds)
            if run["served"]["pages"] != want_pages or run["served"]["not_modified"] != want_304:
                raise RuntimeError(f"{side} round {r} did not do the expected work: {run['served']}")
    rows = []
    for r, what in ((1, f"first poll, {feeds} feeds × 20 new pages"), (2, f"second poll, {feeds} feeds, all 304")):
        cw, mf = runs["claimwatch", r], runs["miniflux", r]
        for key, unit in (("wall", "s"), ("cpu", "CPU s")):
            pairs = [m[key] / c[key] if c[key] else float("inf") for c, m in zip(cw, mf)]
            rows.append({"task": f"{what}, {unit}", "unit": unit, "goal": None, "lower_is_better": True,
                         "claimwatch": statistics.median(c[key] for c in cw),
                         "peer": statistics.median(m[key] for m in mf),
                         "pair_ratios": pairs, "ratio": statistics.median(pairs),
                         "claimwatch_runs": [c[key] for c in cw], "peer_runs": [m[key] for m in mf],
                         "claimwatch_rss_mib": max(c["rss"] for c in cw),
                         "peer_rss_mib": max(m["rss"] for m in mf),
                         "peer_pg_pss_mib": max(m["pg_pss"] for m in mf),
                         "peer_process_cpu": statistics.median(m["process_cpu"] for m in mf),
                         "peer_pg_cpu": statistics.median(m["pg_cpu"] for m in mf),
                         "served": {"claimwatch": cw[0]["served"], "peer": mf[0]["served"]},
                         "peer_name": "Miniflux"})
    return rows


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


def libraries(a):
    """claimwatch's parser, extractor and MinHash against feedparser, trafilatura and datasketch."""
    py = sys.executable
    me = os.path.abspath(__file__)
    rows = []

    # Feed parsing: same files, same number of passes per process on each side.
    cw = [a.bench, "parse-files", "--repeat", "40"] + FEEDS
    peer = [py, me, "_feedparser", "--repeat", "4"] + FEEDS
    row = interleave(a.runs, cw, peer, "items_per_s")
    row.update(task=f"feed parsing ({len(FEEDS)} real feeds), items/s", goal=30, unit="items/s",
               peer_name="feedparser")
    rows.append(row)
    print(f"feed parsing done: {row['claimwatch']:.0f} vs {row['peer']:.0f} items/s", file=sys.stderr)

    # Extraction: the dev pages, gunzipped once; F1 with the benchmark's metric.
    score = load_score()
    truth = json.load(open(os.path.join(EXTRACTION, "ground-truth.json"), encoding="utf-8"))
    keys = sorted(truth)
    with tempfile.TemporaryDirectory() as tmp:
        row, cw_out, peer_out = extraction(a, tmp, [os.path.join(EXTRACTION, "html", k + ".html.gz") for k in keys])
        truth_texts = [truth[k]["articleBody"] for k in keys]
        row["claimwatch_f1"] = f1_of(score, truth_texts, cw_out)
        row["peer_f1"] = f1_of(score, truth_texts, peer_out)
        row.update(task=f"extraction ({len(keys)} dev pages), pages/s", goal=4, unit="pages/s",
                   peer_name="trafilatura")
        rows.append(row)
        print(f"extraction done: {row['claimwatch']:.0f} vs {row['peer']:.0f} pages/s", file=sys.stderr)

        # MinHash: signatures of the extracted texts, same shingles and number of hashes.
        cw = [a.bench, "minhash-files", "--repeat", "50", cw_out]
        peer = [py, me, "_datasketch", "--repeat", "5", cw_out]
        row = interleave(a.runs, cw, peer, "docs_per_s")
        row.update(task="MinHash signatures (91 article texts), docs/s", goal=10, unit="docs/s",
                   peer_name="datasketch")
        rows.append(row)

    # Extraction on trafilatura's own test pages (it plays at home): F1 with that corpus's metric.
    if os.path.isdir(EXTRACTION_PEER):
        data = json.load(open(os.path.join(EXTRACTION_PEER, "evaldata.json"), encoding="utf-8"))
        urls = sorted(data)
        with tempfile.TemporaryDirectory() as tmp:
            files = [os.path.join(EXTRACTION_PEER, "html", data[u]["file"]) for u in urls]
            row, cw_out, peer_out = extraction(a, tmp, files)
            row["claimwatch_f1"] = snippet_f1(data, urls, cw_out)
            row["peer_f1"] = snippet_f1(data, urls, peer_out)
            row.update(task=f"extraction ({len(urls)} trafilatura test pages), pages/s", goal=10,
                       unit="pages/s", peer_name="trafilatura")
            rows.append(row)
            print(f"peer-corpus extraction done: {row['claimwatch']:.0f} vs {row['peer']:.0f} pages/s", file=sys.stderr)
    return rows


def extraction(a, tmp, gz_files):
    """Gunzips the pages into tmp, then times claimwatch's extractor against trafilatura on them,
    interleaved; returns the row and the two JSONL outputs (one text per page, in order)."""
    pages = []
    for i, gz in enumerate(gz_files):
        f = os.path.join(tmp, f"{i:04d}.html")
        with gzip.open(gz) as src, open(f, "wb") as dst:
            dst.write(src.read())
        pages.append(f)
    cw_out, peer_out = os.path.join(tmp, "cw.jsonl"), os.path.join(tmp, "peer.jsonl")
    cw = [a.bench, "extract-files", "--repeat", "2", "--out", cw_out] + pages
    peer = [sys.executable, os.path.abspath(__file__), "_trafilatura", "--out", peer_out] + pages
    return interleave(max(3, a.runs - 2), cw, peer, "pages_per_s"), cw_out, peer_out


def snippet_f1(data, urls, jsonl):
    """The peer corpus's metric: `with` snippets found are true positives, missed ones false
    negatives, `without` snippets found false positives; summed over pages."""
    norm = lambda t: re.sub(r"\s+", " ", t or "").strip()
    texts = [norm(json.loads(line)["text"]) for line in open(jsonl, encoding="utf-8")]
    tp = fp = fn = 0
    for url, text in zip(urls, texts):
        hits = [norm(s) in text for s in data[url]["with"] if norm(s)]
        tp += sum(hits)
        fn += len(hits) - sum(hits)
        fp += sum(norm(s) in text for s in data[url]["without"] if norm(s))
    return 2 * tp / (2 * tp + fp + fn) if tp else 0.0


def main():
    if len(sys.argv) > 1 and sys.argv[1].startswith("_"):
        return worker(sys.argv[1], sys.argv[2:])
    ap = argparse.ArgumentParser()
    ap.add_argument("--bench", required=True, help="the stages bench binary")
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--json", help="write the rows here")
    ap.add_argument("--only", choices=["libraries", "daemons"], help="one half of the table")
    ap.add_argument("--claimwatch", help="the claimwatch binary (daemon comparison)")
    ap.add_argument("--miniflux", help="the miniflux binary; without it the daemon comparison is left out")
    ap.add_argument("--pg-bin", help="PostgreSQL's bin dir (initdb, pg_ctl, psql) for Miniflux")
    ap.add_argument("--seeds", default=os.path.join(HERE, "..", "seeds"), help="claimwatch's seed set")
    ap.add_argument("--poll-feeds", type=int, default=100, help="local feeds of 20 items for the daemons")
    a = ap.parse_args()
    load = [os.getloadavg()]
    rows = []
    if a.only != "daemons":
        rows += libraries(a)
    if a.only != "libraries":
        if a.miniflux and a.claimwatch and a.pg_bin:
            rows += daemons(a)
            print("daemons done", file=sys.stderr)
        else:
            print("Miniflux row left out: no miniflux binary or PostgreSQL (see benches/peers.sh's output)",
                  file=sys.stderr)
    load.append(os.getloadavg())

    print()
    print(f"{'task':<58} {'claimwatch':>10} {'peer':>10} {'ratio':>7} {'goal':>5} {'cw RSS':>8} {'peer RSS':>9}")
    for r in rows:
        ratio = r["ratio"]  # median of the ratios of each interleaved pair (A then B)
        verdict = "" if r["goal"] is None else "met" if ratio >= r["goal"] else "MISSED"
        goal = "" if r["goal"] is None else f"{r['goal']}×"
        digits = 2 if r.get("lower_is_better") else 0
        print(f"{r['task'] + ' vs ' + r['peer_name']:<58} {r['claimwatch']:>10.{digits}f} {r['peer']:>10.{digits}f} "
              f"{ratio:>6.1f}× {goal:>5} {r['claimwatch_rss_mib']:>6.1f}MB {r['peer_rss_mib']:>7.1f}MB  {verdict}")
        print(f"{'':<58} pair ratios {min(r['pair_ratios']):.1f}–{max(r['pair_ratios']):.1f}×")
        if "claimwatch_f1" in r:
            print(f"{'':<58} F1 claimwatch {r['claimwatch_f1']:.3f}, {r['peer_name']} {r['peer_f1']:.3f}")
        if "peer_pg_cpu" in r and r["unit"] == "CPU s":
            print(f"{'':<58} Miniflux CPU s: its process {r['peer_process_cpu']:.2f} + PostgreSQL {r['peer_pg_cpu']:.2f}")
        if "peer_pg_pss_mib" in r and r["unit"] == "s":
            print(f"{'':<58} peer RSS is miniflux's own; PostgreSQL adds {r['peer_pg_pss_mib']:.1f} MB (PSS);"
                  f" requests served: claimwatch {r['served']['claimwatch']['requests']},"
                  f" Miniflux {r['served']['peer']['requests']}")
    print("(figures: medians of interleaved runs; ratio: median of the per-pair ratios, > 1 = claimwatch ahead;"
          " library rows time the work loop alone, daemon rows the whole process; RSS is the process peak)")
    print("load average (1, 5, 15 min): at start " + " ".join(f"{x:.2f}" for x in load[0]) +
          ", at end " + " ".join(f"{x:.2f}" for x in load[1]))
    if a.json:
        with open(a.json, "w") as fh:
            json.dump({"load_average": load, "rows": rows}, fh, indent=1)


if __name__ == "__main__":
    main()
