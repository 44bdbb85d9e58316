#!/usr/bin/env python3
"""Fits the known-or-new decision (claims.known_threshold, [claims.decision] and its weights in
config/default.toml) on labelled articles, and reports it cross-validated, leaving one article out
at a time (weights and threshold refitted in every fold).

    python3 benches/calibrate.py --bin target/release/claimwatch \
        ../shared/eval/dev/cases.jsonl /tmp/real_cases.jsonl

It runs `check --json` once over every case (with the decision weights of the configuration the
binary reads), takes each claim's `signals` (what comparing it with its nearest stored claim
measured), maps claims to the labelled sentences with the scorer's own rules
(`../shared/eval/score.py`), and fits a logistic model: labelled `known` → 1, `new` → 0, and
`none` → 1 at half weight (a `none` sentence reported new is a false alert). Claims that a hard
rule made new are left out of the fit: no weight changes them. Rows are weighted so that each case
file counts as much as the other (the synthetic set is not allowed to outvote real text). The
threshold is the one with the best F0.5 of finding new claims on the fitted rows; the one to
install is the median of those the folds chose.

The nearest claim each claim is compared with is the one the binary's own weights rate highest,
so install the printed weights and run it again until the figures settle (two rounds did here).

It prints, per case file, the scorer's figures for the decision as fitted on every OTHER article
(the honest estimate) and as fitted on all (the optimistic one), then the `known_threshold` and
`[claims.decision]` lines to paste. Python 3 standard library only.
"""
import argparse
import importlib.util
import json
import math
import os
import shutil
import subprocess
import sys
import tempfile

# The signals, in the order `check --json` prints them: set once from the binary's output, so
# the list is the binary's own.
FEATURES = []
L2 = 0.05


def load_scorer(path):
    spec = importlib.util.spec_from_file_location("score", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def run_checks(scorer, binary, seeds, files):
    """[(file, case, check output)] for every case of every file."""
    work = tempfile.mkdtemp(prefix="claimwatch-calibrate-")
    try:
        state = os.path.join(work, "state")
        os.makedirs(state)
        subprocess.run(binary + ["seed", "--state-dir", state, os.path.abspath(seeds)], check=True,
                       capture_output=True)
        out = []
        for path in files:
            for case in scorer.load_cases(path):
                article = os.path.join(work, f"{case['id']}.txt")
                with open(article, "w", encoding="utf-8") as f:
                    f.write(scorer.article_text(case))
                argv = binary + ["check", "--json", "--state-dir", state, article]
                done = subprocess.run(argv, capture_output=True, text=True, check=True)
                out.append((path, case, scorer.parse_check_output(done.stdout, argv, done.stderr)))
        return out
    finally:
        shutil.rmtree(work, ignore_errors=True)


def rows_of(scorer, runs, file_weight):
    """Training rows: (case id, x, y, weight)."""
    rows = []
    for path, case, out in runs:
        if out.get("article_verdict") == "off_topic":
            continue
        mapping = scorer.map_claims(case, out["claims"])
        for claim, index in zip(out["claims"], mapping):
            if claim.get("objected") or index is None:
                continue
            expect = case["sentences"][index]["expect"]
            y, w = {"known": (1, 1.0), "new": (0, 1.0), "none": (1, 0.5)}[expect]
            x = [1.0] + [claim["signals"][f] for f in FEATURES]
            rows.append((case["id"], x, y, w * file_weight[path]))
    return rows


def solve(a, b):
    """Solves a x = b (Gaussian elimination with partial pivoting)."""
    n = len(b)
    m = [row[:] + [b[i]] for i, row in enumerate(a)]
    for c in range(n):
        p = max(range(c, n), key=lambda r: abs(m[r][c]))
        m[c], m[p] = m[p], m[c]
        for r in range(n):
            if r != c and m[c][c] != 0:
                k = m[r][c] / m[c][c]
                m[r] = [vr - k * vc for vr, vc in zip(m[r], m[c])]
    return [m[i][n] / m[i][i] if m[i][i] else 0.0 for i in range(n)]


def fit(rows):
    """Weighted logistic regression with a small L2 penalty (not on the bias), by Newton steps."""
    k = len(rows[0][1])
    beta = [0.0] * k
    for _ in range(25):
        grad = [0.0] * k
        hess = [[0.0] * k for _ in range(k)]
        for _, x, y, w in rows:
            p = logistic(sum(b * v for b, v in zip(beta, x)))
            for i in range(k):
                grad[i] += w * (y - p) * x[i]
                for j in range(k):
                    hess[i][j] += w * p * (1 - p) * x[i] * x[j]
        for i in range(1, k):
            grad[i] -= L2 * beta[i]
            hess[i][i] += L2
        for i in range(k):
            hess[i][i] += 1e-9
        step = solve(hess, grad)
        beta = [b + s for b, s in zip(beta, step)]
        if max(abs(s) for s in step) < 1e-6:
            break
    return beta


def logistic(z):
    return 1 / (1 + math.exp(-max(-30, min(30, z))))


def probability(beta, signals):
    return logistic(beta[0] + sum(b * signals[f] for b, f in zip(beta[1:], FEATURES)))


def threshold_for(beta, rows):
    """The known_threshold that serves the reader best on these rows: the one with the highest
    F0.5 of finding new claims (precision counted twice: an alert that repeats what the reader
    knows costs more than one held back), averaged over its neighbours; nearest 0.5 on a tie."""
    scored = [(logistic(sum(b * v for b, v in zip(beta, x))), y, w) for _, x, y, w in rows]

    def f_half(t):
        tp = sum(w for p, y, w in scored if p < t and y == 0)
        fp = sum(w for p, y, w in scored if p < t and y == 1)
        fn = sum(w for p, y, w in scored if p >= t and y == 0)
        return 1.25 * tp / (1.25 * tp + 0.25 * fn + fp) if tp else 0.0

    # F0.5 is a bumpy plateau over a wide range of thresholds: averaged over ±0.05 around each
    # one, the choice follows the plateau rather than its bumps.
    grid = [round(0.2 + 0.025 * i, 3) for i in range(21)]
    score = {t: f_half(t) for t in [round(0.15 + 0.025 * i, 3) for i in range(25)]}

    def smoothed(t):
        return sum(score[round(t + 0.025 * k, 3)] for k in range(-2, 3)) / 5

    return max(grid, key=lambda t: (round(smoothed(t), 9), -abs(t - 0.5)))


def fit_decision(rows):
    """(weights, threshold) fitted on rows."""
    beta = fit(rows)
    return beta, threshold_for(beta, rows)


def rescore(scorer, runs, model_for):
    """The scorer's metrics per case file when each article's claims are decided by
    model_for(case id), a (weights, threshold) pair."""
    by_file = {}
    for path, case, out in runs:
        beta, threshold = model_for(case["id"])
        claims = []
        for c in out["claims"]:
            c = dict(c)
            if not c.get("objected"):
                c["verdict"] = "known" if probability(beta, c["signals"]) >= threshold else "new"
            claims.append(c)
        row, _ = scorer.score_case(case, dict(out, claims=claims))
        by_file.setdefault(path, []).append(row)
    return {path: scorer.metrics(rows) for path, rows in by_file.items()}


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--bin", default=os.path.join(here, "..", "target", "release", "claimwatch"))
    ap.add_argument("--seeds", default=os.path.join(here, "..", "seeds"))
    ap.add_argument("--scorer", default=os.path.join(here, "..", "..", "shared", "eval", "score.py"))
    ap.add_argument("cases", nargs="+", help="case files (JSONL, the scorer's format)")
    args = ap.parse_args()
    scorer = load_scorer(args.scorer)
    runs = run_checks(scorer, [args.bin], args.seeds, args.cases)
    FEATURES.extend(next(c["signals"] for _, _, out in runs for c in out["claims"]))
    counts = {p: sum(1 for r in runs if r[0] == p) for p in args.cases}
    file_weight = {p: len(runs) / (len(args.cases) * max(1, n)) for p, n in counts.items()}
    rows = rows_of(scorer, runs, file_weight)
    folds = {cid: fit_decision([r for r in rows if r[0] != cid]) for cid in {r[0] for r in rows}}
    # The weights fitted on all articles; the threshold the median of those chosen leaving each
    # article out (where the best F0.5 is a plateau, one article must not pull it to an edge).
    chosen = sorted(t for _, t in folds.values())
    whole = fit(rows), chosen[len(chosen) // 2]
    cross = rescore(scorer, runs, lambda cid: folds.get(cid, whole))
    fitted = rescore(scorer, runs, lambda cid: whole)
    for path in args.cases:
        name = os.path.basename(os.path.dirname(path)) + "/" + os.path.basename(path)
        print(f"{name}: leave-one-article-out: {scorer.score_line(cross[path])}")
        print(f"{name}: fitted on all:         {scorer.score_line(fitted[path])}")
    print(f"rows: {len(rows)} (claims mapped to labelled sentences, no hard rule)")
    print("thresholds chosen in the folds:", sorted({t for _, t in folds.values()}))
    print("[claims]")
    print(f"known_threshold = {whole[1]}")
    print()
    print("[claims.decision]")
    print(f"bias = {whole[0][0]:.3f}")
    print()
    print("[claims.decision.weights]")
    for f, b in zip(FEATURES, whole[0][1:]):
        print(f"{f} = {b:.3f}")


if __name__ == "__main__":
    sys.exit(main())
