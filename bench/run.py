#!/usr/bin/env python3
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
"""gma's benchmarks (`make bench`): every figure is a ratio against a baseline measured in the
same invocation, because this machine is shared and noisy. Prints one table and writes it as
JSON to OUTPUT/bench/results.json.

usage: bench/run.py OUTPUT   (run as root: BPF, KVM and bpf_stats need it)
"""
import json
import os
import platform
import re
import signal
import statistics
import subprocess
import sys
import time

OUT = sys.argv[1] if len(sys.argv) > 1 else "build"
BENCH = os.path.join(OUT, "bench")
VM = os.path.join(BENCH, "bench-vm")
ACC = os.path.join(BENCH, "bench-accessor")
DEC = os.path.join(BENCH, "bench-decode")
TRACE = os.path.join(OUT, "gma-trace")
HERE = os.path.dirname(os.path.abspath(__file__))
BT_SCRIPT = os.path.join(HERE, "avail-idx.bt")  # the 2-byte probe
BT_WALK = os.path.join(HERE, "chain-walk.bt")  # the chain-walking peer
CHAINS = (1, 4, 16)
# bench-vm's guest RAM is one memslot at gpa 0; it prints the host address of avail->idx
AVAIL_IDX_GPA = 0x11002
# gma-trace's modes: the full sample (default --snap-len 64), descriptors only, indices only
MODES = {"full": [], "snap0": ["--snap-len", "0"], "indices": ["--stats", "--indices-only"]}
# the targets of issue 17, checked in the table (never as timed tests)
TARGET_VS_PROBE = {1: 5, 4: 8, 16: 20}
TARGET_VS_WALK = 1.5
TARGET_TRACED = {"full": 0.90, "indices": 0.97}
TARGET_JSON = 0.3
TARGET_PROCESS_64 = 0.9
CAPACITY_RINGBUF = 256 << 10


def log(msg):
    print(f"bench: {msg}", file=sys.stderr, flush=True)


def sh(cmd, **kw):
    return subprocess.run(cmd, check=True, capture_output=True, text=True, **kw).stdout


def last_json(text):
    for line in reversed(text.strip().splitlines()):
        if line.startswith("{"):
            return json.loads(line)
    raise ValueError(f"no JSON line in {text[-300:]!r}")


# --- machine -------------------------------------------------------------------------------

def machine():
    lscpu = sh(["lscpu"])
    model = re.search(r"Model name:\s*(.*)", lscpu)
    hv = re.search(r"Hypervisor vendor:\s*(.*)", lscpu)
    kvm = "unknown"
    try:
        dm = subprocess.run(["dmesg"], capture_output=True, text=True).stdout
        kvm = "kvm-pvm (instruction-emulating KVM)" if "kvm-pvm" in dm else "kvm"
    except OSError:
        pass
    return {
        "cpu": model.group(1).strip() if model else platform.processor(),
        "cpus": os.cpu_count(),
        "hypervisor": hv.group(1).strip() if hv else None,
        "kernel": platform.release(),
        "kvm": kvm,
        "bpftrace": sh(["bpftrace", "--version"]).strip(),
    }


# --- accessor ------------------------------------------------------------------------------

def callgrind_ir(args, fn):
    out = os.path.join(BENCH, "callgrind.out")
    subprocess.run(["valgrind", "--tool=callgrind", f"--toggle-collect={fn}",
                    f"--callgrind-out-file={out}", ACC] + args,
                   check=True, capture_output=True)
    with open(out) as f:
        ir = int(re.search(r"^summary:\s*(\d+)", f.read(), re.M).group(1))
    os.unlink(out)
    return ir


def accessor():
    log("accessor: local backend vs memcpy")
    local = json.loads(sh([ACC, "local"]))
    log("accessor: instructions per gma_mem_read_obj (callgrind)")
    n = 100000
    direct = callgrind_ir(["direct", str(n)], "direct_loop") / n
    obj = {}
    for r in (1, 4, 64):
        obj[r] = callgrind_ir(["obj", str(n), str(r)], "obj_loop") / n
    log("accessor: process backend vs process_vm_readv and /proc/PID/mem")
    proc = json.loads(sh([ACC, "process"]))
    return {
        "local": local,
        "read_obj_insns": {
            "calls": n,
            "direct_load_per_iter": direct,
            "read_obj_per_iter": {str(r): v for r, v in obj.items()},
            "ratio_vs_direct": {str(r): v / direct for r, v in obj.items()},
        },
        "process": proc,
    }


# --- BPF and the synthetic VM --------------------------------------------------------------

def prog_ids(pid, key="prog_id"):
    """Ids of the BPF programs (or links) process pid holds fds of (/proc/PID/fdinfo)."""
    ids = set()
    d = f"/proc/{pid}/fdinfo"
    try:
        for fd in os.listdir(d):
            try:
                with open(os.path.join(d, fd)) as f:
                    m = re.search(rf"^{key}:\s*(\d+)", f.read(), re.M)
                if m:
                    ids.add(int(m.group(1)))
            except OSError:
                pass
    except OSError:
        pass
    return ids


def prog_stats(ids):
    res = {}
    for i in ids:
        try:
            p = json.loads(sh(["bpftool", "prog", "show", "id", str(i), "-j"]))
        except subprocess.CalledProcessError:
            continue
        res[i] = {"name": p.get("name"), "type": p.get("type"),
                  "run_time_ns": p.get("run_time_ns", 0), "run_cnt": p.get("run_cnt", 0),
                  "xlated_insns": p.get("bytes_xlated", 0) // 8,
                  "jited_bytes": p.get("bytes_jited", 0)}
    return res


def wait_for(pred, timeout, what):
    end = time.time() + timeout
    while time.time() < end:
        if pred():
            return
        time.sleep(0.1)
    raise TimeoutError(what)


def stopped(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] == "T"
    except OSError:
        return False


def bpf_cost(chain, rate, seconds, mode="full"):
    """One run of the synthetic VM with gma-trace (in mode) and both bpftrace scripts
    attached to the same tracepoint."""
    vm = subprocess.Popen([VM, "--chain", str(chain), "--seconds", str(seconds), "--rate",
                           str(rate), "--stop"], stdout=subprocess.PIPE, text=True)
    hva = vm.stdout.readline().strip().split("=")[1]
    ram = hex(int(hva, 16) - AVAIL_IDX_GPA)
    wait_for(lambda: stopped(vm.pid), 10, "bench-vm stop")
    gt_err = open(os.path.join(BENCH, "gma-trace.err"), "w+")
    # text to /dev/null (a pipe nobody reads would fill the ring); drops come on stderr
    gt = subprocess.Popen([TRACE, "rings", "--pid", str(vm.pid)] + MODES[mode],
                          stdout=subprocess.DEVNULL, stderr=gt_err, text=True)
    bt = subprocess.Popen(["bpftrace", BT_SCRIPT, str(vm.pid), hva],
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    bw = subprocess.Popen(["bpftrace", BT_WALK, str(vm.pid), ram],
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        # all attached: gma-trace holds its links, each bpftrace its program
        wait_for(lambda: bool(prog_ids(gt.pid, "link_id")), 60, "gma-trace attach")
        wait_for(lambda: bool(prog_ids(bt.pid)), 60, "bpftrace attach")
        wait_for(lambda: bool(prog_ids(bw.pid)), 60, "bpftrace (chain walk) attach")
        time.sleep(1.5)
        gma_ids, bt_ids, bw_ids = prog_ids(gt.pid), prog_ids(bt.pid), prog_ids(bw.pid)
        before = prog_stats(gma_ids | bt_ids | bw_ids)
        os.kill(vm.pid, signal.SIGCONT)
        # the window ends before the VM does: gma-trace tears its programs down when its VM
        # exits, and their counters with them
        time.sleep(seconds - 0.5)
        after = prog_stats(gma_ids | bt_ids | bw_ids)
        vm_out = last_json(vm.communicate(timeout=seconds + 30)[0])
    finally:
        for p in (bw, bt, gt):
            if p.poll() is None:
                p.send_signal(signal.SIGINT)
        if vm.poll() is None:
            vm.kill()
            vm.wait()
    def finish(p):
        try:
            return p.communicate(timeout=60)[0]
        except subprocess.TimeoutExpired:  # a bpftrace slow to detach under load
            p.kill()
            return p.communicate()[0]

    gt.wait(timeout=60)
    finish(bt)
    walk_out = finish(bw)
    with open(gt_err.name) as f:
        m = re.search(r"(\d+) notifies, (\d+) chains.*?(\d+) records dropped", f.read())
    summary = {"chains": int(m.group(2)), "drops": int(m.group(3))} if m else {}
    m = re.search(r"@chains: (\d+)", walk_out)
    walked = int(m.group(1)) if m else None

    def delta(ids, name=None, ptype=None):
        t = c = 0
        insns = 0
        for i in ids:
            if i not in after or i not in before:
                continue
            a, b = after[i], before[i]
            if (name and a["name"] != name) or (ptype and a["type"] != ptype):
                continue
            t += a["run_time_ns"] - b["run_time_ns"]
            c += a["run_cnt"] - b["run_cnt"]
            insns += a["xlated_insns"]
        return t, c, insns

    mmio_t, mmio_c, mmio_insns = delta(gma_ids, name="kvm_mmio")
    all_t, all_c, _ = delta(gma_ids)
    bt_t, bt_c, bt_insns = delta(bt_ids, ptype="tracepoint")
    bw_t, bw_c, bw_insns = delta(bw_ids, ptype="tracepoint")
    # per notify: per run of kvm_mmio in the window (one per notify; other VMs' MMIO exits
    # add a few cheap runs)
    notifies = max(mmio_c, 1)
    per_prog = {}
    for i in gma_ids:
        if i in after and i in before:
            n = after[i]["name"]
            c = after[i]["run_cnt"] - before[i]["run_cnt"]
            t = after[i]["run_time_ns"] - before[i]["run_time_ns"]
            per_prog[n] = {"runs_per_notify": c / max(notifies, 1),
                           "ns_per_run": t / max(c, 1), "ns_per_notify": t / max(notifies, 1)}
    mmio_ns = mmio_t / max(mmio_c, 1)
    bt_ns = bt_t / max(bt_c, 1)
    bw_ns = bw_t / max(bw_c, 1)
    return {
        "mode": mode,
        "gma_args": MODES[mode],
        "gma_per_prog": per_prog,
        "chain": chain,
        "rate_target": rate,
        "notifies": mmio_c,
        "vm_notifies": vm_out["notifies"],
        "guest_rate": vm_out["rate"],
        "gma_kvm_mmio": {"runs": mmio_c, "ns_per_event": mmio_ns, "xlated_insns": mmio_insns},
        "gma_all_progs_ns_per_notify": all_t / max(notifies, 1),
        "gma_all_progs_runs": all_c,
        "bpftrace": {"runs": bt_c, "ns_per_event": bt_ns, "xlated_insns": bt_insns},
        "bpftrace_walk": {"runs": bw_c, "ns_per_event": bw_ns, "xlated_insns": bw_insns,
                          "chains": walked},
        "ratio_vs_bpftrace": mmio_ns / max(bt_ns, 1e-9),
        "ratio_vs_walk": mmio_ns / max(bw_ns, 1e-9),
        "drops": summary.get("drops"),
        "chains_seen": summary.get("chains"),
    }


def traced_rate(chain, seconds, rate=0, ringbuf=None, json_out=False, mode="full"):
    """bench-vm under gma-trace; returns (guest rate, gma-trace summary or None)."""
    cmd = [TRACE, "rings"] + MODES[mode]
    if json_out:
        cmd.append("--json")
    if ringbuf:
        cmd += ["--ringbuf-size", str(ringbuf)]
    cmd += ["--", VM, "--chain", str(chain), "--seconds", str(seconds), "--rate", str(rate)]
    if json_out:
        # the VM's own stdout goes to stderr under --json; keep only gma-trace's last line
        p = subprocess.run(" ".join(cmd) + " 2>" + os.path.join(BENCH, "vm.err") +
                           " | tail -n 1", shell=True, check=True, capture_output=True,
                           text=True)
        with open(os.path.join(BENCH, "vm.err")) as f:
            vm_out = last_json(f.read())
        return vm_out, last_json(p.stdout)
    p = subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                       text=True)
    return last_json(p.stderr), None


def untraced_rate(chain, seconds):
    return last_json(sh([VM, "--chain", str(chain), "--seconds", str(seconds)]))


def overhead(chain=4, seconds=2, rounds=4):
    log(f"guest-visible overhead: {rounds} interleaved rounds, chain {chain}")
    un, tr = [], {m: [] for m in TARGET_TRACED}
    # text output (or the --stats table) to /dev/null: the default gma-trace consumer
    for _ in range(rounds):
        un.append(untraced_rate(chain, seconds)["rate"])
        for m in tr:
            tr[m].append(traced_rate(chain, seconds, mode=m)[0]["rate"])
    res = {"chain": chain, "seconds": seconds, "untraced": un}
    for m, rates in tr.items():
        ratios = [t / u for t, u in zip(rates, un)]
        res[m] = {"traced": rates, "ratios": ratios, "median_ratio": statistics.median(ratios)}
    return res


def capacity(chain=4, seconds=2, ringbuf=CAPACITY_RINGBUF):
    log(f"capacity: paced notify rates under gma-trace --json, ring buffer {ringbuf}")
    runs = []
    vm, s = traced_rate(chain, seconds, ringbuf=ringbuf, json_out=True)
    runs.append({"rate_target": 0, "guest_rate": vm["rate"], "notifies": vm["notifies"],
                 "drops": s["drops"], "chains": s["chains"]})
    top = vm["rate"]
    for frac in (0.1, 0.25, 0.4, 0.55, 0.7, 0.85):
        rate = int(top * frac)
        vm, s = traced_rate(chain, seconds, rate=rate, ringbuf=ringbuf, json_out=True)
        runs.append({"rate_target": rate, "guest_rate": vm["rate"],
                     "notifies": vm["notifies"], "drops": s["drops"], "chains": s["chains"]})
    clean = [r["guest_rate"] for r in runs if r["drops"] == 0]
    for r in runs:
        r["drops_per_notify"] = r["drops"] / max(r["notifies"], 1)
        r["chains_lost_fraction"] = 1 - r["chains"] / max(r["notifies"], 1)
    return {"chain": chain, "ringbuf_size": ringbuf, "runs": runs,
            "max_rate_zero_drops": max(clean) if clean else 0,
            "max_unpaced_rate_traced": top,
            "drops_at_max_rate": runs[0]["drops"]}


# --- table ---------------------------------------------------------------------------------

def met(ok):
    return "met" if ok else "MISSED"


def fmt_size(n):
    return f"{n >> 20} MiB" if n >= 1 << 20 else f"{n >> 10} KiB"


def table(r):
    L = []
    m = r["machine"]
    L.append(f"gma bench — {m['cpu']}, {m['cpus']} CPUs, kernel {m['kernel']}, {m['kvm']}")
    L.append("")
    L.append("Accessor copy, local backend (gma_mem_read vs memcpy of the same bytes; "
             "best of 7)")
    L.append(f"  {'size':>8} {'regions':>7} {'gma GB/s':>9} {'memcpy GB/s':>11} "
             f"{'ratio':>6} {'flat memcpy':>11} {'ratio':>6}")
    for x in r["accessor"]["local"]:
        L.append(f"  {fmt_size(x['size']):>8} {x['regions']:>7} {x['gma_gbps']:>9.2f} "
                 f"{x['memcpy_gbps']:>11.2f} {x['ratio']:>6.2f} {x['memcpy_flat_gbps']:>11.2f} "
                 f"{x['ratio_flat']:>6.2f}")
    t = next(x for x in r["accessor"]["local"] if x["size"] == 65536 and x["regions"] == 4)
    L.append(f"  target 64 KiB / 4 regions >= 0.90 of memcpy: {t['ratio']:.2f} "
             f"({'met' if t['ratio'] >= 0.9 else 'MISSED'})")
    o = r["accessor"]["read_obj_insns"]
    L.append("Instructions per 8-byte gma_mem_read_obj (callgrind, per loop iteration)")
    L.append(f"  direct load: {o['direct_load_per_iter']:.1f}; read_obj over 1/4/64 regions: " +
             " / ".join(f"{o['read_obj_per_iter'][k]:.1f}" for k in ("1", "4", "64")) +
             " (x" + " / x".join(f"{o['ratio_vs_direct'][k]:.0f}" for k in ("1", "4", "64")) +
             ")")
    L.append("")
    L.append("Live-process backend (gma_mem_read: one process_vm_readv per 64 regions)")
    L.append(f"  {'size':>8} {'regions':>7} {'gma GB/s':>9} {'1 readv':>8} {'ratio':>6} "
             f"{'/proc mem':>9} {'ratio':>6}")
    for x in r["accessor"]["process"]:
        L.append(f"  {fmt_size(x['size']):>8} {x['regions']:>7} {x['gma_gbps']:>9.2f} "
                 f"{x['readv_one_gbps']:>8.2f} {x['ratio_vs_readv']:>6.2f} "
                 f"{x['proc_mem_gbps']:>9.2f} {x['ratio_vs_proc_mem']:>6.2f}")
    p64 = [x["ratio_vs_readv"] for x in r["accessor"]["process"] if x["regions"] == 64]
    L.append(f"  target >= {TARGET_PROCESS_64} of one readv at 64 regions: " +
             " / ".join(f"{v:.2f}" for v in p64) +
             f" ({met(min(p64) >= TARGET_PROCESS_64)})")
    L.append("")
    L.append("BPF cost per notify (bpf_stats; synthetic VM, one chain per notify, paced; "
             "probe: avail-idx.bt, walk: chain-walk.bt)")
    L.append(f"  {'mode':>7} {'chain':>5} {'notifies':>8} {'kvm_mmio ns':>11} {'all gma ns':>10} "
             f"{'probe ns':>8} {'walk ns':>7} {'x probe':>7} {'x walk':>6} "
             f"{'insns gma/probe/walk':>20} {'drops':>6}")
    for x in r["bpf"]:
        insns = (f"{x['gma_kvm_mmio']['xlated_insns']}/{x['bpftrace']['xlated_insns']}/"
                 f"{x['bpftrace_walk']['xlated_insns']}")
        L.append(f"  {x['mode']:>7} {x['chain']:>5} {x['notifies']:>8} "
                 f"{x['gma_kvm_mmio']['ns_per_event']:>11.0f} "
                 f"{x['gma_all_progs_ns_per_notify']:>10.0f} "
                 f"{x['bpftrace']['ns_per_event']:>8.0f} "
                 f"{x['bpftrace_walk']['ns_per_event']:>7.0f} {x['ratio_vs_bpftrace']:>7.1f} "
                 f"{x['ratio_vs_walk']:>6.2f} {insns:>20} {x['drops']!s:>6}")
    full = [x for x in r["bpf"] if x["mode"] == "full"]
    L.append("  target full sample <= " +
             " / ".join(f"{TARGET_VS_PROBE[x['chain']]}x" for x in full) +
             " the probe (chains " + "/".join(str(x["chain"]) for x in full) + "): " +
             " / ".join(f"{x['ratio_vs_bpftrace']:.1f}x" for x in full) +
             f" ({met(all(x['ratio_vs_bpftrace'] <= TARGET_VS_PROBE[x['chain']] for x in full))})")
    L.append(f"  target full sample <= {TARGET_VS_WALK}x the chain-walking script: " +
             " / ".join(f"{x['ratio_vs_walk']:.2f}x" for x in full) +
             f" ({met(all(x['ratio_vs_walk'] <= TARGET_VS_WALK for x in full))})")
    L.append("")
    o = r["overhead"]
    L.append(f"Guest-visible overhead (notify round trips/s, chain {o['chain']}, "
             "untraced/traced interleaved)")
    L.append("  untraced:      " + ", ".join(f"{v:.0f}" for v in o["untraced"]))
    for m, t in TARGET_TRACED.items():
        L.append(f"  {m + ':':<14} " + ", ".join(f"{v:.0f}" for v in o[m]["traced"]) +
                 f"  median {o[m]['median_ratio']:.2f} (target >= {t}: "
                 f"{met(o[m]['median_ratio'] >= t)})")
    L.append("")
    c = r["capacity"]
    L.append(f"Capacity (chain {c['chain']}, ring buffer {fmt_size(c['ringbuf_size'])}, "
             "gma-trace --json | tail)")
    L.append(f"  {'target/s':>9} {'guest/s':>8} {'drops':>8} {'drops/notify':>12} "
             f"{'chains lost':>11}")
    for x in sorted(c["runs"], key=lambda x: x["guest_rate"]):
        L.append(f"  {x['rate_target'] or 'max':>9} {x['guest_rate']:>8.0f} {x['drops']:>8} "
                 f"{x['drops_per_notify']:>12.3f} {x['chains_lost_fraction']:>11.1%}")
    L.append(f"  highest rate with zero drops: {c['max_rate_zero_drops']:.0f} notifies/s; "
             f"target zero drops at the traced guest's top rate "
             f"({c['max_unpaced_rate_traced']:.0f}/s): {c['drops_at_max_rate']} "
             f"({met(c['drops_at_max_rate'] == 0)})")
    L.append("")
    L.append("Userspace decode (record reader + gma-trace formatting to /dev/null; records/s)")
    L.append(f"  {'chain':>5} {'recs/notify':>11} {'reassembly':>11} {'text':>10} {'json':>10} "
             f"{'text ratio':>10} {'json ratio':>10} {'json chains/s':>13}")
    for x in r["decode"]:
        per = x["records"] / max(x["chains"], 1)
        L.append(f"  {x['chain']:>5} {per:>11.1f} {x['reassembly_rps']:>11.0f} "
                 f"{x['text_rps']:>10.0f} {x['json_rps']:>10.0f} {x['text_ratio']:>10.3f} "
                 f"{x['json_ratio']:>10.3f} {x['json_rps'] / per:>13.0f}")
    js = [x["json_ratio"] for x in r["decode"]]
    L.append(f"  target JSON >= {TARGET_JSON} of reassembly: " + " / ".join(f"{v:.3f}" for v in js) +
             f" ({met(min(js) >= TARGET_JSON)})")
    return "\n".join(L)


def main():
    if os.geteuid() != 0:
        sys.exit("bench: run as root (BPF programs, /dev/kvm, kernel.bpf_stats_enabled)")
    t0 = time.time()
    res = {"machine": machine()}
    res["accessor"] = accessor()
    log("decode: record reader and formatting")
    res["decode"] = [last_json(sh([DEC, "--chain", str(c), "--notifies", "20000"]))
                     for c in CHAINS]
    with open("/proc/sys/kernel/bpf_stats_enabled") as f:
        old = f.read().strip()
    try:
        with open("/proc/sys/kernel/bpf_stats_enabled", "w") as f:
            f.write("1")
        res["bpf"] = []
        res["bpf_rate"] = 5000
        for mode, chains in (("full", CHAINS), ("snap0", (4, 16)), ("indices", (4, 16))):
            for c in chains:
                log(f"BPF cost: {mode}, chain {c}")
                x = bpf_cost(c, rate=5000, seconds=3, mode=mode)
                if not x["gma_kvm_mmio"]["runs"]:
                    # gma-trace's programs were not found in the window (seen once under
                    # load 7): measure again rather than print a cost of 0
                    log(f"BPF cost: {mode}, chain {c}: no kvm_mmio run measured, again")
                    x = bpf_cost(c, rate=5000, seconds=3, mode=mode)
                res["bpf"].append(x)
    finally:
        with open("/proc/sys/kernel/bpf_stats_enabled", "w") as f:
            f.write(old)
    res["overhead"] = overhead()
    res["capacity"] = capacity()
    res["elapsed_s"] = time.time() - t0
    text = table(res)
    res["table"] = text.splitlines()
    with open(os.path.join(BENCH, "results.json"), "w") as f:
        json.dump(res, f, indent=1)
    print(text)
    print(f"\n(written to {os.path.join(BENCH, 'results.json')}; {res['elapsed_s']:.0f} s)")


if __name__ == "__main__":
    main()
