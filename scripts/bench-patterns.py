"""drain3 (default settings) on the same Loghub lines as lookoutd's miner, and
one table of both: grouping accuracy on whole lines and on Loghub's Content
column, and lines/s. Run by scripts/bench-patterns.sh, which passes the JSON
that `cargo bench --bench patterns -- --json` printed."""
import csv, json, sys, time

from drain3 import TemplateMiner
from drain3.template_miner_config import TemplateMinerConfig

SYSTEMS = ["Apache", "HDFS", "Hadoop", "HealthApp", "Linux", "OpenSSH", "Spark", "Zookeeper"]


def ga(pred, truth):
    size = {}
    for t in truth:
        size[t] = size.get(t, 0) + 1
    groups = {}
    for p, t in zip(pred, truth):
        g = groups.setdefault(p, [0, t, True])
        g[0] += 1
        if g[1] != t:
            g[2] = False
    right = sum(n for n, t, pure in groups.values() if pure and size[t] == n)
    return right / len(truth)


def drain3(lines, truth):
    config = TemplateMinerConfig()  # defaults: no masking, depth 4, sim_th 0.4
    miner = TemplateMiner(config=config)
    start = time.perf_counter()
    ids = [miner.add_log_message(l)["cluster_id"] for l in lines]
    secs = time.perf_counter() - start
    # drain3 cluster ids are stable; the final id of each line is its group.
    return ga(ids, truth), len(lines) / secs


def main():
    ours = {r["system"]: r for r in json.load(open(sys.argv[1]))}
    data = sys.argv[2]
    print(f"{'system':<10} | {'lookout line':>12} {'drain3 line':>11} | {'lookout content':>15} {'drain3 content':>14} | {'lookout l/s':>11} {'drain3 l/s':>10}")
    sums = [0.0] * 4
    for s in SYSTEMS:
        raw = open(f"{data}/{s}_2k.log", "rb").read().decode("utf-8", "replace")
        lines = [l.rstrip("\r") for l in raw.split("\n") if l.rstrip("\r")]
        rows = list(csv.DictReader(open(f"{data}/structured/{s}_2k.log_structured.csv", encoding="utf-8", newline="")))
        truth = [r["EventId"] for r in rows]
        content = [r["Content"] for r in rows]
        d_line, d_rate = drain3(lines, truth)
        d_content, _ = drain3(content, truth)
        o = ours[s]
        vals = [o["line"], d_line, o["content"], d_content]
        sums = [a + b for a, b in zip(sums, vals)]
        print(f"{s:<10} | {vals[0]:>12.3f} {vals[1]:>11.3f} | {vals[2]:>15.3f} {vals[3]:>14.3f} | {o['fresh_lines_per_s']:>11.0f} {d_rate:>10.0f}")
    n = len(SYSTEMS)
    print(f"{'mean':<10} | {sums[0]/n:>12.3f} {sums[1]/n:>11.3f} | {sums[2]/n:>15.3f} {sums[3]/n:>14.3f} |")


main()
