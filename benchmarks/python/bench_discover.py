#!/usr/bin/env python3
"""Discover through the Python binding against the same call in C++, and the
REST client over loopback; writes benchmarks/results/python.md.

    PYTHONPATH=build/dev/python build/venv/bin/python benchmarks/python/bench_discover.py \
        [--build build/dev] [--records 100000] [--out benchmarks/results/python.md]

Both sides query one database: bench_query (benchmarks/bench_query.cpp)
generates it from the synthetic fleet (benchmarks/fleet.hpp) and times its
BM_DiscoverSelective and BM_DiscoverBroadFirstPage; this script then opens
the same file with mcp_discovery.Registry and times the same queries:

- binding call: engine.discover(query) with a prepared Query, answering a
  DiscoverPage of ServiceRecords (records converted lazily, as users get them);
- conversion: the same plus to_dict() of every record (full Python objects).

Goal (issue 5): binding call <= 2x the C++ call plus the object conversion.
REST: 1,000 sequential discovers with mcp_discovery.Client against the real
discoveryd over loopback (one keep-alive connection) <= 1 s.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
import timeit
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "bindings" / "python" / "tests"))  # the daemon helper of the tests


def progress(msg: str) -> None:
    print(f"[bench_discover] {msg}", file=sys.stderr, flush=True)


def machine() -> str:
    model = "unknown CPU"
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    load = os.getloadavg()[0]
    return (f"{os.cpu_count()} cores ({model}), {mem:.0f} GiB, {platform.system()} {platform.release()}, "
            f"Python {platform.python_version()}; load average {load:.1f} at start (the machine is shared)")


def run_cpp(build: Path, records: int, db: Path) -> dict:
    exe = build / "benchmarks" / "bench_query"
    if not exe.exists():
        sys.exit(f"{exe} is not built: cmake --build {build} --target bench_query")
    out = db.with_suffix(".json")
    cmd = [str(exe), "--records", str(records), "--db", str(db),
           "--benchmark_filter=^(BM_DiscoverSelective|BM_DiscoverBroadFirstPage)$",
           "--benchmark_repetitions=5", "--benchmark_report_aggregates_only=true",
           f"--benchmark_out={out}", "--benchmark_out_format=json"]
    progress("running " + " ".join(cmd[:5]) + " ... (generates the database on first use)")
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
    data = json.loads(out.read_text())
    figures = {}
    for b in data["benchmarks"]:
        if b.get("aggregate_name") == "median":
            unit = {"ns": 1e-9, "us": 1e-6, "ms": 1e-3}[b["time_unit"]]
            figures[b["run_name"]] = b["cpu_time"] * unit
    return figures


def best_of(fn, repeat: int = 5, min_time: float = 0.2) -> float:
    """Median CPU time of `repeat` runs (this thread's, as Google Benchmark
    reports CPU time: on a shared machine wall time measures the neighbours)."""
    timer = timeit.Timer(fn, timer=time.thread_time)
    number, _ = timer.autorange()
    number = max(number, int(number * min_time / 0.2))
    return statistics.median(timer.repeat(repeat=repeat, number=number)) / number


def run_python(records: int, db: Path) -> dict:
    from mcp_discovery import Query, Registry

    progress(f"opening {db.name} with mcp_discovery.Registry")
    t0 = time.monotonic()
    registry = Registry(db, ttl_sweep_interval=0)
    progress(f"{len(registry)} records ready in {time.monotonic() - t0:.1f} s")
    company = f"company{(records // 2 + 6) // 50}"
    queries = {
        "BM_DiscoverSelective": Query(company=company, region="us-west1", status="active"),
        "BM_DiscoverBroadFirstPage": Query(tags=["gpu"], limit=100),
    }
    engine, core = registry.engine, registry._core
    figures = {}
    for name, q in queries.items():
        hits = engine.discover(q).count
        progress(f"timing {name} ({hits} hits)")
        figures[name] = {
            "hits": hits,
            "raw": best_of(lambda: core.discover(q)),
            "call": best_of(lambda: engine.discover(q)),
            "convert": best_of(lambda: [r.to_dict() for r in engine.discover(q)]),
        }
    registry.close()
    return figures


def run_rest(records: int = 1000, calls: int = 1000) -> dict:
    from daemon import Daemon, binary
    from mcp_discovery import Client, mint_token

    if binary() is None:
        return {}
    d = Daemon()
    try:
        client = Client(d.url, token=mint_token(d.secret, "diamond"))
        progress(f"registering {records} records in discoveryd")
        for i in range(records):
            client.register({"companyName": f"rest{i % 100}", "instanceId": f"rest-{i}",
                             "serviceInfo": {"region": "us-west1", "capabilities": ["tools"],
                                             "endpoints": {"primary": f"https://r{i}.example.com"}}})
        client.discover(company="rest7")  # warm the connection
        progress(f"{calls} sequential discovers over loopback")
        runs = []
        for _ in range(3):
            t0 = time.perf_counter()
            for _ in range(calls):
                client.discover(company="rest7", limit=10)
            runs.append(time.perf_counter() - t0)
        return {"calls": calls, "hits": client.discover(company="rest7", limit=10).count,
                "seconds": statistics.median(runs), "runs": runs}
    finally:
        d.stop()


def us(seconds: float) -> str:
    return f"{seconds * 1e6:.2f} µs"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default=str(REPO / "build" / "dev"))
    ap.add_argument("--records", type=int, default=100_000)
    ap.add_argument("--db", default=None, help="database path (default: a temporary one)")
    ap.add_argument("--out", default=str(REPO / "benchmarks" / "results" / "python.md"))
    args = ap.parse_args()

    header = machine()
    with tempfile.TemporaryDirectory(prefix="bench-python-") as tmp:
        db = Path(args.db) if args.db else Path(tmp) / f"bench-{args.records}.db"
        cpp = run_cpp(Path(args.build), args.records, db)
        py = run_python(args.records, db)
    rest = run_rest()

    lines = [
        "# Python binding and REST client: figures against the goals of issue 5",
        "",
        f"Machine: {header}.",
        f"Build: `{Path(args.build).name}` preset (the same objects for both sides).",
        "Command: `PYTHONPATH=build/dev/python build/venv/bin/python benchmarks/python/bench_discover.py "
        f"--build {os.path.relpath(args.build, REPO)} --records {args.records}`",
        "",
        f"## Discover in process, {args.records:,} records (benchmarks/fleet.hpp), one SQLite file for both",
        "",
        "C++: `bench_query` in the same run (Google Benchmark, median of 5 CPU times). Python: median of 5",
        "timeit runs, CPU time of the calling thread. *binding call* = `registry.engine.discover(query)` with a prepared `Query`, returning a",
        "`DiscoverPage` of `ServiceRecord`s (converted lazily); *raw* = the compiled call alone (record handles,",
        "no Python wrappers); *with conversion* = the call plus `to_dict()` of every record.",
        "",
        "| query | hits | C++ call | raw binding | binding call | ratio call / C++ | with conversion | conversion per record |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    verdicts = []
    for name, f in py.items():
        c = cpp.get(name)
        ratio = f["call"] / c if c else float("nan")
        per_record = (f["convert"] - f["call"]) / max(f["hits"], 1)
        lines.append(f"| {name} | {f['hits']} | {us(c) if c else '?'} | {us(f['raw'])} | {us(f['call'])} | "
                     f"{ratio:.1f}× | {us(f['convert'])} | {us(per_record)} |")
        goal = 2 * c + (f["convert"] - f["call"]) if c else None
        verdicts.append((name, f, c, goal))
    lines += ["", "Goal: binding call ≤ 2 × C++ call + object conversion."]
    for name, f, c, goal in verdicts:
        if goal is None:
            continue
        lines.append(f"- {name}: the call alone is {f['call'] / c:.1f}× the C++ call; with conversion "
                     f"{us(f['convert'])} against 2 × {us(c)} + conversion {us(f['convert'] - f['call'])} = "
                     f"{us(goal)}: **{'met' if f['convert'] <= goal else 'missed'}** taken literally.")
    # Where the binding's time goes: a straight line through the two queries
    # (hits -> binding time minus C++ time) splits a fixed cost per call from
    # a cost per record returned.
    if len(verdicts) == 2 and all(v[2] for v in verdicts):
        (_, f1, c1, _), (_, f2, c2, _) = verdicts
        for label, key in (("raw binding (record handles)", "raw"), ("binding call (ServiceRecords)", "call")):
            o1, o2 = f1[key] - c1, f2[key] - c2
            per = (o2 - o1) / (f2["hits"] - f1["hits"])
            fixed = o1 - per * f1["hits"]
            lines.append(f"- Overhead of the {label} over C++: {us(max(fixed, 0.0))} per call "
                         f"(fit: {fixed * 1e6:+.2f} µs) + {us(per)} per record returned.")
        lines += [
            "",
            "Reading: the compiled call adds almost no fixed cost (GIL release, argument and result",
            "passing); the pure-Python layer (query checks, `DiscoverPage`) adds about a microsecond per",
            "call; the rest is one Python object per record returned (a shared handle on the library's",
            "immutable record, then its `ServiceRecord` wrapper), a few tenths of a microsecond each.",
            "Counted as object conversion, the goal is met; read strictly (the call without conversion",
            "within 2× of a sub-microsecond C++ call) it cannot be, since creating 16 Python objects",
            "alone costs more than 0.6 µs. `to_dict()` (full conversion, about 1.4 KB of JSON per",
            "fleet record) dominates whenever a caller reads whole records.",
        ]
    if rest:
        lines += [
            "",
            "## REST client over loopback",
            "",
            f"`mcp_discovery.Client` against `discoveryd` (memory storage, 1,000 records), {rest['calls']:,} "
            f"sequential `discover(company=..., limit=10)` ({rest['hits']} hits each) on one keep-alive connection:",
            "",
            f"- median of 3 runs: **{rest['seconds']:.3f} s** ({rest['seconds'] / rest['calls'] * 1e6:.0f} µs per call; "
            f"runs {', '.join(f'{r:.3f}' for r in rest['runs'])} s); goal ≤ 1 s: "
            f"**{'met' if rest['seconds'] <= 1.0 else 'missed'}**.",
        ]
    Path(args.out).write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
