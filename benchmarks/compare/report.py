"""Turns the figures of benchmarks/compare/run.sh into compare.md and a chart.

  report.py FIGURES RESULTS_DIR [PERF_SUMMARY]

FIGURES holds key=value lines: machine facts, and WORK.PEER.RUN.FIELD for
every wrk run. The chart is a PNG made with matplotlib when it can be
imported, else an SVG written by hand (and the page says so).
"""
import math
import os
import statistics
import sys

LABELS = {
    ("discover", "discoveryd"): "discoveryd (authorised, filtered)",
    ("discover", "nginx"): "nginx, static file",
    ("discover", "bare_beast"): "bare Beast, fixed bytes",
    ("discover", "etcd"): "etcd range (linearizable, default)",
    ("discover", "etcd_serializable"): "etcd range (serializable)",
    ("register", "discoveryd"): "discoveryd durable register",
    ("register", "etcd"): "etcd put with lease",
    ("heartbeat", "discoveryd"): "discoveryd heartbeat",
    ("heartbeat", "etcd"): "etcd lease keep-alive",
    ("watch", "discoveryd"): "discoveryd SSE watch",
    ("watch", "etcd"): "etcd watch (gateway)",
}
ORDER = [k for k in LABELS]
GOALS = [  # work, peer, minimum ratio discoveryd / peer
    ("discover", "etcd", 10.0),
    ("discover", "nginx", 1.0),
    ("discover", "bare_beast", 0.6),
    ("register", "etcd", 3.0),
    ("heartbeat", "etcd", 5.0),
]
WATCH_P99_GOAL_MS = 5.0


def load(path):
    facts, runs = {}, {}
    with open(path) as f:
        for line in f:
            key, _, value = line.rstrip("\n").partition("=")
            parts = key.split(".")
            if len(parts) == 4:
                work, peer, run, field = parts
                runs.setdefault((work, peer), {}).setdefault(run, {})[field] = value
            else:
                facts[key] = value
    return facts, runs


def median_run(runs):
    """The run with the median requests/s (the lower middle one for an even count)."""
    ordered = sorted(runs.values(), key=lambda r: float(r.get("rps", 0)))
    return ordered[(len(ordered) - 1) // 2]


def fmt_int(v):
    return f"{float(v):,.0f}"


def main():
    figures, out_dir = sys.argv[1], sys.argv[2]
    perf = sys.argv[3] if len(sys.argv) > 3 else None
    facts, runs = load(figures)
    med = {k: median_run(v) for k, v in runs.items() if k[0] != "watch"}
    rps = {k: float(v["rps"]) for k, v in med.items()}

    def ratio(work, peer):
        a, b = rps.get((work, "discoveryd")), rps.get((work, peer))
        return a / b if a and b else float("nan")

    lines = []
    w = lines.append
    w("# discoveryd against etcd, nginx and a bare Beast server")
    w("")
    w(f"- date: {facts.get('date')}; commit {facts.get('commit')}; command: `benchmarks/compare/run.sh`"
      f" (`--duration {facts.get('duration')} --runs {facts.get('runs')} --connections {facts.get('connections')}"
      f" --threads {facts.get('threads')}`)")
    w(f"- machine: {facts.get('cores')} cores ({facts.get('cpu')}), {facts.get('memory')}, Linux "
      f"{facts.get('kernel')}; load average {facts.get('load_before')} before, {facts.get('load_after')} after;"
      " the load generator (wrk) runs on the same cores as the server under test")
    w(f"- versions: discoveryd {facts.get('discoveryd_version', '').replace('discoveryd ', '')} (release build),"
      f" Boost {facts.get('boost_version', '').replace('_', '.')}, etcd {facts.get('etcd_version')},"
      f" nginx {facts.get('nginx_version')}, wrk {facts.get('wrk_version')}")
    w(f"- load: wrk -t{facts.get('threads')} -c{facts.get('connections')} -d{facts.get('duration')} for every"
      f" peer; every server given {facts.get('threads')} threads to serve HTTP (discoveryd `--io-threads`,"
      " plus its writer pool for mutations, 64 threads by default; nginx `worker_processes`; etcd"
      " `GOMAXPROCS`; bare_beast's pool); peers take turns in each run; the figures are those of the"
      " run with the median requests/s")
    w(f"- discover: `{facts.get('query')}` over a fleet of {int(facts.get('fleet', 0)):,} records,"
      f" 100 services, {int(facts.get('answer_bytes', 0)):,} bytes, bearer token (HS256) checked on every request;"
      " nginx and bare_beast serve these exact bytes; etcd holds the same records (discoveryd's JSON)"
      " under `/services/{company}/{region}/{instance}` with a lease each and answers a prefix range"
      " (values base64 in its JSON gateway)")
    w("- register: discoveryd `POST /api/v1/services/register` of a new instance, SQLite, fsync on"
      " every commit; etcd `/v3/kv/put` of the same body under a new key with a lease (leases granted"
      " beforehand: the usual registration also grants one, a second durable write not counted here),"
      f" fsync on (its default); both data directories in the same temporary directory ({facts.get('data_fs')})")
    w("- heartbeat: discoveryd `POST .../heartbeat` on 1,000 services with a TTL; etcd `/v3/lease/keepalive`"
      " on 1,000 leases, one keep-alive per request")
    w("- watch: one watcher (discoveryd SSE `GET /api/v1/services/watch?company=watchco`, etcd `/v3/watch`"
      " on a prefix), changes written one after the other (register / put, 5 ms apart) on another"
      " connection; latency = write sent → event read by the watcher (includes the durable write)")
    w("")
    w("## Figures")
    w("")
    w("| work | peer | requests/s | MiB/s | p50 ms | p99 ms | errors | discoveryd ÷ peer |")
    w("|---|---|---:|---:|---:|---:|---:|---:|")
    for key in ORDER:
        work, peer = key
        if work == "watch" or key not in med:
            continue
        m = med[key]
        r = "—" if peer == "discoveryd" else f"{ratio(work, peer):.2f}×"
        w(f"| {work} | {LABELS[key]} | {fmt_int(m['rps'])} | {m.get('mib_s', '')} | {float(m['p50_ms']):.2f} |"
          f" {float(m['p99_ms']):.2f} | {m['errors']} | {r} |")
    w("")
    watch = {k: next(iter(v.values())) for k, v in runs.items() if k[0] == "watch"}
    if watch:
        w("| change → watcher | changes | p50 ms | p99 ms | max ms | the write alone: p50 / p99 ms |"
          " event after the write's answer: p50 / p99 ms |")
        w("|---|---:|---:|---:|---:|---|---|")
        for key in ORDER:
            if key in watch:
                v = watch[key]
                w(f"| {LABELS[key]} | {v['changes']} | {float(v['watch_p50_ms']):.2f} | {float(v['watch_p99_ms']):.2f} |"
                  f" {float(v['watch_max_ms']):.2f} | {float(v['write_p50_ms']):.2f} / {float(v['write_p99_ms']):.2f} |"
                  f" {float(v['after_ack_p50_ms']):.2f} / {float(v['after_ack_p99_ms']):.2f} |")
        w("")
    w("## Goals")
    w("")
    w("| goal | figure | |")
    w("|---|---|---|")
    names = {"discover": "discover", "register": "durable register", "heartbeat": "heartbeat"}
    for work, peer, need in GOALS:
        got = ratio(work, peer)
        ok = got >= need
        w(f"| {names[work]} ≥ {need:g}× {LABELS[(work, peer)]} | {got:.2f}× ({fmt_int(rps[(work, 'discoveryd')])}"
          f" against {fmt_int(rps[(work, peer)])}/s) | {'met' if ok else '**missed**'} |")
    if ("watch", "discoveryd") in watch:
        p99 = float(watch[("watch", "discoveryd")]["watch_p99_ms"])
        w(f"| change → watcher p99 ≤ {WATCH_P99_GOAL_MS:g} ms | {p99:.2f} ms |"
          f" {'met' if p99 <= WATCH_P99_GOAL_MS else '**missed**'} |")
    w("")
    w("## Every run (requests/s)")
    w("")
    w("| work | peer | " + " | ".join(f"run {i}" for i in range(1, int(facts.get("runs", "1")) + 1)) + " |")
    w("|---|---|" + "---:|" * int(facts.get("runs", "1")))
    for key in ORDER:
        if key in runs and key[0] != "watch":
            vals = [fmt_int(runs[key][r]["rps"]) for r in sorted(runs[key], key=int)]
            w(f"| {key[0]} | {LABELS[key]} | " + " | ".join(vals) + " |")
    w("")
    if perf and os.path.exists(perf) and os.path.getsize(perf) > 0:
        w("## Where discoveryd spent its time (perf, one more run of each, self time, ≥ 1.5 %)")
        w("")
        w("```")
        with open(perf) as f:
            lines.extend(l.rstrip() for l in f)
        w("```")
        w("")
    chart = make_chart(med, watch, out_dir)
    w(f"Chart: `{os.path.basename(chart)}`" + ("" if chart.endswith(".png") else
      " (matplotlib could not be installed: an SVG written by hand)") + ".")
    with open(os.path.join(out_dir, "compare.md"), "w") as f:
        f.write("\n".join(lines) + "\n")


def make_chart(med, watch, out_dir):
    groups = [("discover", ["discoveryd", "nginx", "bare_beast", "etcd", "etcd_serializable"]),
              ("register", ["discoveryd", "etcd"]),
              ("heartbeat", ["discoveryd", "etcd"])]
    bars = [(f"{work}: {LABELS[(work, p)]}", float(med[(work, p)]["rps"]), p == "discoveryd")
            for work, peers in groups for p in peers if (work, p) in med]
    lat = [(LABELS[k], float(v["watch_p50_ms"]), float(v["watch_p99_ms"])) for k, v in watch.items()]
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return svg_chart(bars, out_dir)
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(13, 5.5), gridspec_kw={"width_ratios": [3, 1.3]})
    names = [b[0] for b in bars][::-1]
    vals = [b[1] for b in bars][::-1]
    colours = ["#d9534f" if b[2] else "#5b8db8" for b in bars][::-1]
    ax1.barh(names, vals, color=colours)
    ax1.set_xscale("log")
    ax1.set_xlabel("requests per second (log scale)")
    ax1.set_title("throughput, same wrk load for every peer")
    for y, v in enumerate(vals):
        ax1.text(v, y, f" {v:,.0f}", va="center", fontsize=8)
    ax1.set_xlim(right=max(vals) * 4)
    if lat:
        x = range(len(lat))
        ax2.bar([i - 0.2 for i in x], [l[1] for l in lat], width=0.4, label="p50", color="#5b8db8")
        ax2.bar([i + 0.2 for i in x], [l[2] for l in lat], width=0.4, label="p99", color="#d9534f")
        ax2.axhline(WATCH_P99_GOAL_MS, color="grey", linestyle="--", linewidth=1, label="p99 goal")
        ax2.set_xticks(list(x), [l[0].replace(" (gateway)", "") for l in lat], fontsize=8)
        ax2.set_ylabel("ms, write sent → event seen")
        ax2.set_title("change → watcher")
        ax2.legend(fontsize=8)
    fig.tight_layout()
    path = os.path.join(out_dir, "compare.png")
    fig.savefig(path, dpi=100)
    return path


def svg_chart(bars, out_dir):
    top = max(b[1] for b in bars)
    rows = []
    for i, (name, v, ours) in enumerate(bars):
        width = 500 * math.log10(max(v, 1)) / math.log10(max(top, 10))
        y = 30 + i * 26
        rows.append(f'<text x="395" y="{y + 14}" text-anchor="end" font-size="11">{name}</text>'
                    f'<rect x="400" y="{y}" width="{width:.1f}" height="18" fill="{"#d9534f" if ours else "#5b8db8"}"/>'
                    f'<text x="{405 + width:.1f}" y="{y + 14}" font-size="11">{v:,.0f}/s</text>')
    height = 50 + 26 * len(bars)
    path = os.path.join(out_dir, "compare.svg")
    with open(path, "w") as f:
        f.write(f'<svg xmlns="http://www.w3.org/2000/svg" width="1000" height="{height}" font-family="sans-serif">'
                '<text x="10" y="18" font-size="13">requests per second (log scale)</text>'
                + "".join(rows) + "</svg>\n")
    return path


if __name__ == "__main__":
    main()
