"""ClickHouse (in-process, through chdb from PyPI) on the same rows the storage
bench indexed, and one table of both systems: bytes on disk per raw byte and
query latencies. Run by scripts/bench-storage.sh with the JSON that
`cargo bench --bench storage -- --json` printed.

The ClickHouse schema (the issue's): a MergeTree ordered by (namespace, pod, ts),
ZSTD codecs, a full-text `text` index on the message (tokenizer splitByNonAlpha),
and `status` as its own Nullable(UInt16) column taken from the extracted fields
(ClickHouse's way to make a field comparable; its bytes are counted)."""
import json, os, shutil, statistics, sys, time

from chdb import session

SCHEMA = """
CREATE TABLE logs (
    ts DateTime64(9) CODEC(Delta, ZSTD(1)),
    namespace LowCardinality(String) CODEC(ZSTD(1)),
    pod LowCardinality(String) CODEC(ZSTD(1)),
    container LowCardinality(String) CODEC(ZSTD(1)),
    stream LowCardinality(String) CODEC(ZSTD(1)),
    level LowCardinality(String) CODEC(ZSTD(1)),
    status Nullable(UInt16) CODEC(ZSTD(1)),
    message String CODEC(ZSTD(3)),
    INDEX msg_text message TYPE text(tokenizer = 'splitByNonAlpha') GRANULARITY 1
) ENGINE = MergeTree ORDER BY (namespace, pod, ts)
"""

# The same questions as the Lookout half asks (top 100 newest; counts per bar).
QUERIES = {
    "term": "SELECT ts, message FROM logs WHERE hasToken(message, 'terminating') ORDER BY ts DESC LIMIT 100",
    "phrase": "SELECT ts, message FROM logs WHERE hasToken(message, 'Receiving') AND hasToken(message, 'block') AND positionCaseInsensitive(message, 'receiving block') > 0 ORDER BY ts DESC LIMIT 100",
    "namespace + term": "SELECT ts, message FROM logs WHERE namespace = 'openssh' AND hasToken(message, 'invalid') ORDER BY ts DESC LIMIT 100",
    "field comparison": "SELECT ts, message FROM logs WHERE status >= 500 ORDER BY ts DESC LIMIT 100",
    "count + histogram 24h": "SELECT toStartOfInterval(ts, INTERVAL 15 MINUTE) AS b, count() FROM logs WHERE level = 'error' AND ts >= now64(9) - INTERVAL 1 DAY GROUP BY b ORDER BY b",
}


def p50(sess, sql, runs):
    sess.query(sql, "Null")
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        sess.query(sql, "Null")
        times.append((time.perf_counter() - t) * 1000)
    return statistics.median(times)


def main():
    ours = json.load(open(sys.argv[1]))
    runs = int(os.environ.get("RUNS", "20"))
    db = os.path.join(os.path.dirname(ours["rows_file"]), "clickhouse")
    shutil.rmtree(db, ignore_errors=True)
    sess = session.Session(db)
    sess.query("SET allow_experimental_full_text_index = 1")
    sess.query("CREATE DATABASE IF NOT EXISTS bench")
    sess.query("USE bench")
    sess.query(SCHEMA.replace("CREATE TABLE logs", "CREATE TABLE bench.logs"))
    t = time.perf_counter()
    sess.query(
        "INSERT INTO bench.logs SELECT fromUnixTimestamp64Nano(ts), namespace, pod, container, "
        "stream, level, status, message FROM file('{}', JSONEachRow, "
        "'ts Int64, namespace String, pod String, container String, stream String, "
        "level String, status Nullable(UInt16), message String')".format(ours["rows_file"])
    )
    load_s = time.perf_counter() - t
    sess.query("OPTIMIZE TABLE bench.logs FINAL")
    ch_bytes = int(
        sess.query(
            "SELECT sum(bytes_on_disk) FROM system.parts WHERE database = 'bench' AND table = 'logs' AND active",
            "CSV",
        ).bytes().decode().strip()
    )
    raw = ours["raw_bytes"]
    version = sess.query("SELECT version()", "CSV").bytes().decode().strip().strip('"')
    print(f"rows: {ours['rows']:,}, raw bytes (as CRI files): {raw / 2**20:.1f} MiB")
    print()
    print(f"| figure | Lookout | ClickHouse {version} (chdb) | Lookout / ClickHouse |")
    print("| --- | ---: | ---: | ---: |")
    lb = ours["data_dir_bytes"]
    print(f"| bytes on disk | {lb / 2**20:.1f} MiB | {ch_bytes / 2**20:.1f} MiB | {lb / ch_bytes:.2f} |")
    print(f"| bytes per raw byte | {lb / raw:.3f} | {ch_bytes / raw:.3f} | |")
    print(f"| load from a backlog | {ours['ingest_mib_s']:.1f} MiB/s | {raw / 2**20 / load_s:.1f} MiB/s | |")
    for q in ours["queries"]:
        sql = QUERIES[q["query"]]
        ch = p50(sess, sql, runs)
        print(f"| {q['query']} (p50 ms; Lookout {q['hits']:,} hits) | {q['p50_ms']:.2f} | {ch:.2f} | {q['p50_ms'] / ch:.2f} |")
    sess.close()


if __name__ == "__main__":
    main()
