#!/usr/bin/env python3
"""Bulkhead benchmarks, side by side with nft, in throwaway network namespaces (run by `make bench`).

Measures, for generated models from small to 1,000 zones / 10,000 CIDRs / 100,000+ set elements:
  1. compile time (YAML -> ruleset values: `bulkhead check`);
  2. full apply into an empty namespace vs `nft -f` of `bulkhead render` (wall, user, sys);
  3. one flow changed in the largest model: incremental apply (CLI and daemon) vs a full `nft -f` reload;
  4. drift check with no drift vs `nft -j list table inet bulkhead` (full compare, and the generation fast path);
  5. peak RSS of apply, and of the daemon idling on the largest model;
  6. packet path: new TCP connections/s and fresh-port UDP packets/s over a veth, for no firewall,
     our ruleset at ~10 / 1,000 / 100,000 elements, and the same allowlist as linear rules.
Prints a table (median of N runs with min and max) and writes bench/results.json and bench/bench.svg.
Only namespaces it creates are touched; all traffic stays on a veth between two of them.
"""
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BULKHEAD = os.path.join(ROOT, ".build/release/bulkhead")
BENCH = os.path.join(ROOT, ".build/release/bulkhead-bench")
RUNS = int(os.environ.get("BENCH_RUNS", "5"))
PACKET_RUNS = int(os.environ.get("BENCH_PACKET_RUNS", "3"))
PACKET_SECONDS = float(os.environ.get("BENCH_PACKET_SECONDS", "2"))
SIZES = [  # name, zones, CIDRs per zone, flows
    ("small", 10, 4, 30),
    ("medium", 100, 10, 1000),
    ("large", 1000, 10, 10000),
]
# BENCH_QUICK=1: small models only, to check the harness itself in a minute.
QUICK = os.environ.get("BENCH_QUICK") == "1"
if QUICK:
    SIZES = [("small", 10, 4, 30), ("medium", 100, 10, 300)]
PACKET_SIZES = [("ours-10", 0, 0, 0), ("ours-1k", 20, 10, 100), ("ours-100k", 1000, 10, 8000)]
if QUICK:
    PACKET_SIZES[-1] = ("ours-10k", 100, 10, 800)
WORK = tempfile.mkdtemp(prefix="bulkhead-bench-")
EMPTY_SETTINGS = os.path.join(WORK, "settings.yaml")
HOOKS = "input,output,forward"
namespaces = []


def log(message):
    print(message, file=sys.stderr, flush=True)


def run(command, check=True):
    """Runs a command; returns (wall seconds, stdout)."""
    start = time.monotonic()
    process = subprocess.run(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    if check and process.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed ({process.returncode}): {process.stderr[-2000:]}")
    return time.monotonic() - start, process.stdout


def measured(command, stdin=None):
    """Like run, with the child's user/sys CPU and peak RSS from wait4."""
    start = time.monotonic()
    process = subprocess.Popen(command, stdin=subprocess.PIPE if stdin else subprocess.DEVNULL,
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    if stdin:
        process.stdin.write(stdin)
        process.stdin.close()
    _, status, usage = os.wait4(process.pid, 0)
    wall = time.monotonic() - start
    err = process.stderr.read()
    if status != 0:
        raise RuntimeError(f"{' '.join(command)} failed: {err[-2000:]}")
    return {"wall": wall, "user": usage.ru_utime, "sys": usage.ru_stime, "rss_kib": usage.ru_maxrss}


def netns(name):
    full = f"bhbench{os.getpid()}-{name}"
    subprocess.run(["ip", "netns", "add", full], check=True)
    subprocess.run(["ip", "-n", full, "link", "set", "lo", "up"], check=True)
    namespaces.append(full)
    return full


def delete_netns(name):
    subprocess.run(["ip", "netns", "del", name], check=False)
    if name in namespaces:
        namespaces.remove(name)


def summary(values):
    return {"median": statistics.median(values), "min": min(values), "max": max(values), "runs": len(values)}


def generate(name, zones, cidrs, flows, extra=None):
    directory = os.path.join(WORK, name)
    shutil.rmtree(directory, ignore_errors=True)
    _, out = run([BENCH, "generate", "--out", directory, "--zones", str(zones), "--cidrs-per-zone", str(cidrs),
                  "--flows", str(flows), "--ports", "2", "--seed", "7"])
    if extra:
        with open(os.path.join(directory, "bench.yaml"), "w") as handle:
            handle.write(extra)
    return directory


def elements(directory, hooks=HOOKS):
    _, out = run([BULKHEAD, "check", "-s", directory, "-c", EMPTY_SETTINGS, "--hooks", hooks])
    return int(out.split(" sets, ")[1].split(" elements")[0])


def control_plane(results):
    for name, zones, cidrs, flows in SIZES:
        log(f"== {name}: {zones} zones x {cidrs} CIDRs, {flows} flows")
        directory = generate(name, zones, cidrs, flows)
        count = elements(directory)
        script = os.path.join(WORK, f"{name}.nft")
        with open(script, "w") as handle:
            handle.write(run([BULKHEAD, "render", "-s", directory, "-c", EMPTY_SETTINGS, "--hooks", HOOKS])[1])
        row = {"zones": zones, "cidrs": zones * cidrs, "flows": flows, "elements": count}
        compile_times, ours, theirs = [], [], []
        for attempt in range(RUNS):
            compile_times.append(measured([BULKHEAD, "check", "-s", directory, "-c", EMPTY_SETTINGS, "--hooks", HOOKS])["wall"])
            a, b = netns(f"{name}a{attempt}"), netns(f"{name}b{attempt}")
            state = os.path.join(WORK, f"state-{name}-{attempt}")
            ours.append(measured([BULKHEAD, "apply", "-s", directory, "-c", EMPTY_SETTINGS, "--hooks", HOOKS, "--netns", a,
                                  "--state", state, "--lock", "off"]))
            theirs.append(measured(["ip", "netns", "exec", b, "nft", "-f", script]))
            if attempt < RUNS - 1:
                delete_netns(a)
                delete_netns(b)
        row["compile_s"] = summary(compile_times)
        row["apply_s"] = summary([m["wall"] for m in ours])
        row["apply_sys_s"] = summary([m["sys"] for m in ours])
        row["apply_rss_mib"] = summary([m["rss_kib"] / 1024 for m in ours])
        row["nft_f_s"] = summary([m["wall"] for m in theirs])
        row["nft_f_sys_s"] = summary([m["sys"] for m in theirs])
        row["apply_vs_nft_ratio"] = row["apply_s"]["median"] / row["nft_f_s"]["median"]
        # Drift with no drift: the generation fast path, then a full compare (the generation moved).
        fast, full, listing = [], [], []
        for _ in range(RUNS):
            # A no-op apply records the current generation, so the next drift can take the fast path.
            run([BULKHEAD, "apply", "-s", directory, "-c", EMPTY_SETTINGS, "--hooks", HOOKS, "--netns", a, "--state", state, "--lock", "off"])
            fast.append(measured([BULKHEAD, "drift", "--netns", a, "--state", state, "-c", EMPTY_SETTINGS])["wall"])
            subprocess.run(["ip", "netns", "exec", a, "nft", "add table inet bump; delete table inet bump"], check=True)
            full.append(measured([BULKHEAD, "drift", "--netns", a, "--state", state, "-c", EMPTY_SETTINGS])["wall"])
            listing.append(measured(["ip", "netns", "exec", b, "nft", "-j", "list", "table", "inet", "bulkhead"])["wall"])
        row["drift_fast_s"] = summary(fast)
        row["drift_full_s"] = summary(full)
        row["nft_list_s"] = summary(listing)
        row["drift_vs_nft_list_ratio"] = row["drift_full_s"]["median"] / row["nft_list_s"]["median"]
        row.update(incremental(directory, a, b, state))
        if name == SIZES[-1][0]:
            row["daemon_idle_rss_mib"] = daemon_idle(directory)
        delete_netns(a)
        delete_netns(b)
        results["control_plane"][name] = row
        log(json.dumps(row))


def change_one_flow(directory, port):
    files = sorted(os.listdir(os.path.join(directory, "flows")))
    path = os.path.join(directory, "flows", files[0])
    text = open(path).read()
    start = text.index("ports: [tcp/") + len("ports: [tcp/")
    end = text.index(",", start)
    with open(path, "w") as handle:
        handle.write(text[:start] + str(port) + text[end:])


def incremental(directory, ours_ns, nft_ns, state):
    """One flow's port changed: incremental apply (CLI and daemon) vs nft -f of the new render."""
    cli, daemon_ms, reload = [], [], []
    for attempt in range(RUNS):
        change_one_flow(directory, 40000 + attempt)
        script = run([BULKHEAD, "render", "-s", directory, "-c", EMPTY_SETTINGS, "--hooks", HOOKS])[1]
        cli.append(measured([BULKHEAD, "apply", "-s", directory, "-c", EMPTY_SETTINGS, "--hooks", HOOKS, "--netns", ours_ns,
                             "--state", state, "--lock", "off"])["wall"])
        reload.append(measured(["ip", "netns", "exec", nft_ns, "nft", "-f", "-"], stdin=script)["wall"])
    # The daemon keeps the applied table in memory: its apply is plan + one small commit.
    status_path = os.path.join(WORK, f"daemon-status-{os.path.basename(directory)}.json")
    daemon = subprocess.Popen([BULKHEAD, "run", "-s", directory, "-c", EMPTY_SETTINGS, "--hooks", HOOKS, "--netns", ours_ns,
                               "--state", state, "--lock", "off", "--status", status_path],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_status(status_path, lambda s: s.get("model", {}).get("digest"))
        for attempt in range(RUNS):
            before = wait_status(status_path, lambda s: True)["applies"]
            change_one_flow(directory, 41000 + attempt)
            status = wait_status(status_path, lambda s: s["applies"] > before, timeout=60)
            daemon_ms.append(status["last_apply"]["duration_ms"] / 1000)
    finally:
        daemon.terminate()
        daemon.wait()
    return {"incremental_cli_s": summary(cli), "incremental_daemon_s": summary(daemon_ms), "nft_reload_s": summary(reload)}


def wait_status(path, predicate, timeout=120):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            status = json.load(open(path))
            if predicate(status):
                return status
        except (OSError, ValueError):
            pass
        time.sleep(0.01)
    raise RuntimeError(f"timed out waiting for {path}")


def daemon_idle(directory):
    ns = netns("idle")
    status_path = os.path.join(WORK, "idle-status.json")
    daemon = subprocess.Popen([BULKHEAD, "run", "-s", directory, "-c", EMPTY_SETTINGS, "--hooks", HOOKS, "--netns", ns,
                               "--state", os.path.join(WORK, "idle-state"), "--status", status_path],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_status(status_path, lambda s: s.get("last_apply"))
        time.sleep(2)
        fields = dict(line.split(":", 1) for line in open(f"/proc/{daemon.pid}/status") if ":" in line)
        rss = int(fields["VmRSS"].split()[0]) / 1024
    finally:
        daemon.terminate()
        daemon.wait()
        delete_netns(ns)
    return rss


PACKET_MODEL = """zones:
  bench-client: {owner: bench, addresses: [198.19.255.1]}
  bench-server: {owner: bench, addresses: [198.19.255.2]}
flows:
  - {name: bench, from: bench-client, to: bench-server, ports: [tcp/5201, udp/5201]}
"""


def linear_script(rules):
    """The allowlist as nft users write it by hand: one rule per (source, destination, port); ours last."""
    lines = ["table inet linear {", "  chain input {", "    type filter hook input priority filter; policy drop;",
             "    ct state established,related accept", "    iif \"lo\" accept"]
    for index in range(max(0, rules - 2)):
        a, b = divmod(index, 250)
        lines.append(f"    ip saddr 198.18.{a % 250}.{b + 1} ip daddr 198.18.{(a * 7) % 250}.{(b * 3) % 250 + 1} "
                     f"tcp dport {1024 + index % 60000} accept")
    lines.append("    ip saddr 198.19.255.1 ip daddr 198.19.255.2 tcp dport 5201 accept")
    lines.append("    ip saddr 198.19.255.1 ip daddr 198.19.255.2 udp dport 5201 accept")
    lines += ["  }", "}"]
    return "\n".join(lines) + "\n"


def packet_path(results):
    client, server = netns("client"), netns("server")
    subprocess.run(["ip", "-n", client, "link", "add", "veth0", "type", "veth", "peer", "name", "veth0", "netns", server], check=True)
    subprocess.run(["ip", "-n", client, "addr", "add", "198.19.255.1/24", "dev", "veth0"], check=True)
    subprocess.run(["ip", "-n", server, "addr", "add", "198.19.255.2/24", "dev", "veth0"], check=True)
    for ns in (client, server):
        subprocess.run(["ip", "-n", ns, "link", "set", "veth0", "up"], check=True)
    # conntrack-only: a table that only tracks connections, the cost any stateful firewall pays.
    configs = [("none", None, 0), ("conntrack-only", None, 0)]
    for label, zones, cidrs, flows in PACKET_SIZES:
        directory = os.path.join(WORK, f"packet-{label}")
        if zones:
            directory = generate(f"packet-{label}", zones, cidrs, flows, PACKET_MODEL)
        else:
            os.makedirs(directory, exist_ok=True)
            open(os.path.join(directory, "bench.yaml"), "w").write(PACKET_MODEL)
        configs.append((label, directory, elements(directory, "input")))
    for label, _, count in list(configs[1:]):
        configs.append((label.replace("ours", "linear"), None, count))
    rows = {}
    for label, directory, count in configs:
        subprocess.run(["ip", "netns", "exec", server, "nft", "flush", "ruleset"], check=True)
        if label.startswith("ours"):
            run([BULKHEAD, "apply", "-s", directory, "-c", EMPTY_SETTINGS, "--hooks", "input", "--failsafe", "none",
                 "--netns", server, "--state", os.path.join(WORK, f"pstate-{label}"), "--lock", "off"])
        elif label == "conntrack-only":
            subprocess.run(["ip", "netns", "exec", server, "nft", "-f", "-"], text=True, check=True,
                           input="table inet conntrack {\n chain input {\n  type filter hook input priority filter;\n"
                                 "  ct state established,related accept\n  accept\n }\n}\n")
        elif label.startswith("linear"):
            subprocess.run(["ip", "netns", "exec", server, "nft", "-f", "-"], input=linear_script(count), text=True, check=True)
        tcp, udp = [], []
        for _ in range(PACKET_RUNS):
            for kind, sink in (("tcp", tcp), ("udp", udp)):
                serve = subprocess.Popen(["ip", "netns", "exec", server, BENCH, "load", "serve", "--port", "5201",
                                          "--seconds", str(PACKET_SECONDS + 1.5)], stdout=subprocess.PIPE, text=True)
                serve.stdout.readline()
                _, out = run(["ip", "netns", "exec", client, BENCH, "load", kind, "--to", "198.19.255.2", "--port", "5201",
                              "--seconds", str(PACKET_SECONDS), "--threads", "4"])
                received = int(serve.stdout.read().strip() or 0)
                serve.wait()
                sink.append(int(out.strip()) if kind == "tcp" else received / PACKET_SECONDS)
        rows[label] = {"elements_or_rules": count, "tcp_conn_per_s": summary(tcp), "udp_pkt_per_s": summary(udp)}
        log(f"packet path {label}: {json.dumps(rows[label])}")
    base_tcp, base_udp = rows["none"]["tcp_conn_per_s"]["median"], rows["none"]["udp_pkt_per_s"]["median"]
    for row in rows.values():
        row["tcp_vs_none"] = row["tcp_conn_per_s"]["median"] / base_tcp
        row["udp_vs_none"] = row["udp_pkt_per_s"]["median"] / base_udp
    results["packet_path"] = rows
    delete_netns(client)
    delete_netns(server)


def fmt(value, digits=2):
    return f"{value:.{digits}f}"


def table(results):
    lines = ["| model | elements | compile s | apply s (sys) | nft -f s (sys) | apply/nft | one flow changed: daemon ms / CLI s / nft -f reload s | drift s full / fast | nft -j list s | drift/list | apply RSS MiB |",
             "|---|---|---|---|---|---|---|---|---|---|---|"]
    for name, row in results["control_plane"].items():
        lines.append(
            f"| {name}: {row['zones']} zones, {row['cidrs']} CIDRs, {row['flows']} flows | {row['elements']} "
            f"| {fmt(row['compile_s']['median'])} | {fmt(row['apply_s']['median'])} ({fmt(row['apply_sys_s']['median'])}) "
            f"| {fmt(row['nft_f_s']['median'])} ({fmt(row['nft_f_sys_s']['median'])}) | {fmt(row['apply_vs_nft_ratio'])} "
            f"| {fmt(row['incremental_daemon_s']['median'] * 1000, 1)} / {fmt(row['incremental_cli_s']['median'])} / {fmt(row['nft_reload_s']['median'])} "
            f"| {fmt(row['drift_full_s']['median'], 3)} / {fmt(row['drift_fast_s']['median'], 3)} | {fmt(row['nft_list_s']['median'], 3)} "
            f"| {fmt(row['drift_vs_nft_list_ratio'])} | {fmt(row['apply_rss_mib']['median'], 0)} |")
    large = results["control_plane"][SIZES[-1][0]]
    lines.append("")
    lines.append(f"One flow changed in the largest model: CLI apply {fmt(large['incremental_cli_s']['median'])} s, "
                 f"daemon apply {fmt(large['incremental_daemon_s']['median'] * 1000, 1)} ms "
                 f"(min {fmt(large['incremental_daemon_s']['min'] * 1000, 1)}, max {fmt(large['incremental_daemon_s']['max'] * 1000, 1)}), "
                 f"full nft -f reload {fmt(large['nft_reload_s']['median'])} s; daemon idle RSS {fmt(large['daemon_idle_rss_mib'], 1)} MiB.")
    lines.append("")
    lines.append("| packet path (server input hook) | elements / rules | TCP conn/s | vs none | UDP pkt/s | vs none |")
    lines.append("|---|---|---|---|---|---|")
    for label, row in results["packet_path"].items():
        lines.append(f"| {label} | {row['elements_or_rules']} | {int(row['tcp_conn_per_s']['median'])} "
                     f"(min {int(row['tcp_conn_per_s']['min'])}, max {int(row['tcp_conn_per_s']['max'])}) | {fmt(row['tcp_vs_none'])} "
                     f"| {int(row['udp_pkt_per_s']['median'])} | {fmt(row['udp_vs_none'])} |")
    return "\n".join(lines)


def plot(results):
    if not shutil.which("gnuplot"):
        log("gnuplot not found; skipping the plot")
        return
    data = os.path.join(WORK, "plot.dat")
    with open(data, "w") as handle:
        for row in results["control_plane"].values():
            handle.write(f"{row['elements']} {row['apply_s']['median']} {row['nft_f_s']['median']}\n")
    packets = os.path.join(WORK, "packets.dat")
    with open(packets, "w") as handle:
        ours = [r for k, r in results["packet_path"].items() if k.startswith("ours")]
        linear = [r for k, r in results["packet_path"].items() if k.startswith("linear")]
        for a, b in zip(ours, linear):
            handle.write(f"{a['elements_or_rules']} {a['tcp_conn_per_s']['median']} {b['tcp_conn_per_s']['median']} "
                         f"{results['packet_path']['none']['tcp_conn_per_s']['median']}\n")
    output = os.path.join(ROOT, "bench", "bench.svg")
    script = f"""
set terminal svg size 1000,420 dynamic font 'sans,11'
set output '{output}'
set multiplot layout 1,2
set logscale x
set key top left
set xlabel 'set elements'
set ylabel 'seconds (median)'
set title 'Full apply into an empty namespace'
plot '{data}' using 1:2 with linespoints title 'bulkhead apply', '' using 1:3 with linespoints title 'nft -f (render)'
set title 'New TCP connections per second (server input hook)'
set ylabel 'connections/s (median)'
set yrange [0:*]
set key bottom left
plot '{packets}' using 1:2 with linespoints title 'bulkhead (verdict maps)', '' using 1:3 with linespoints title 'linear rules', '' using 1:4 with lines dashtype 2 title 'no firewall'
unset multiplot
"""
    subprocess.run(["gnuplot"], input=script, text=True, check=True)


def main():
    if os.geteuid() != 0:
        sys.exit("bench: needs root (it creates network namespaces)")
    open(EMPTY_SETTINGS, "w").write("# defaults\n")
    results = {"date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "runs": RUNS, "kernel": os.uname().release,
               "cpus": os.cpu_count(), "control_plane": {}}
    started = time.monotonic()
    try:
        control_plane(results)
        packet_path(results)
        results["duration_s"] = time.monotonic() - started
        with open(os.path.join(ROOT, "bench", "results.json"), "w") as handle:
            json.dump(results, handle, indent=2, sort_keys=True)
        text = table(results)
        with open(os.path.join(ROOT, "bench", "results.md"), "w") as handle:
            handle.write(text + "\n")
        print(text)
        plot(results)
    finally:
        for ns in list(namespaces):
            delete_netns(ns)
        shutil.rmtree(WORK, ignore_errors=True)
    print(f"\n(bench took {results['duration_s']:.0f} s; results in bench/results.json, bench/results.md, bench/bench.svg)")


if __name__ == "__main__":
    main()
