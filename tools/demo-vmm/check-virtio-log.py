#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Checks the virtio part of a demo-vmm --log: every chain is well formed and lies where the
guest driver puts its buffers (demo-abi.h), every chain is completed once with the expected
length, completion delays match --complete-delay-ms, nothing panicked. Prints a summary.

With --hostile, the "hostile" device is expected to see garbage: its errors are counted, not
reported; every selected scenario must have been logged, and the normal devices must have
kept working after the last one.

With --transport pci or both, every virtio-pci device must have been found and set up by the
guest through config space (pci_device: config reads, BAR sizing, BARs placed and decoded,
capabilities read for the modern ones), there must be modern and legacy ones, and each
non-hostile device must have carried traffic. Devices are told apart by their "base" (a PCI
device's is its gma key), so --transport both has two of each."""
import json
import sys

SLOT_BOUNDS = [0x10000, 0x14000, 0x17000, 0x20000, 0x30000]
# demo-abi.h DEMO_HOSTILE_*, in bit order.
HOSTILE = ["loop-self", "loop-two", "loop-long", "next-out-of-range", "head-out-of-range",
           "chain-too-long", "nested-indirect", "indirect-len", "read-after-write", "zero-len",
           "len-max", "buffer-unmapped", "buffer-wrapping", "avail-jump", "used-backwards",
           "ring-straddle", "misaligned", "not-ready", "notify-storm"]


def slots_crossed(addr, length):
    return sum(1 for b in SLOT_BOUNDS if addr < b < addr + length)


def label(e):
    """blk, console, net for virtio-mmio (as ever); blk@0000:00:01.0 ... for virtio-pci"""
    return e["dev"] if e.get("transport", "mmio") == "mmio" else "%s@%s" % (e["dev"], e["pci"])


def check_pci(ev, stats, errors):
    """The virtio-pci devices: set up by the guest as a real one would, and used."""
    devs = {e["base"]: e for e in ev if e["event"] == "virtio_dev" and e["transport"] == "pci"}
    setup = {}
    for e in ev:
        if e["event"] == "pci_device":
            setup.setdefault(e["base"], e)
    kinds = set()
    for base, d in sorted(devs.items()):
        p = setup.get(base)
        if not p:
            errors.append({"reason": "PCI device never set up (no DRIVER_OK)", "dev": label(d)})
            continue
        kinds.add("legacy" if p["legacy"] else "modern")
        bars = p["bars"]
        if not p["config_reads"] or not p["bar_sizings"]:
            errors.append({"reason": "PCI device not enumerated through config space", **p})
        if not bars or not all(b["addr"] and b["decoded"] for b in bars):
            errors.append({"reason": "PCI BAR not placed or not decoded", **p})
        if not p["legacy"]:
            bar = next((b for b in bars if b["type"] != "io"), None)
            if not p["cap_reads"] or not bar:
                errors.append({"reason": "modern PCI device: capabilities never read", **p})
            elif not all(bar["addr"] <= q["addr"] < bar["addr"] + bar["size"]
                         for q in p["queue_notify"]):
                errors.append({"reason": "notify address outside the BAR", **p})
        elif not p.get("io_base"):
            errors.append({"reason": "legacy PCI device without I/O BAR", **p})
        if d["dev"] != "hostile" and not stats.get(label(d), {}).get("chains"):
            errors.append({"reason": "PCI device carried no traffic", "dev": label(d)})
    exit_ev = next((e for e in ev if e["event"] == "exit"), {})
    print("pci: %d devices set up (%s), %d config reads, %d config writes, %d BARs decoded" %
          (len(setup), "+".join(sorted(kinds)), exit_ev.get("pci_config_reads", 0),
           exit_ev.get("pci_config_writes", 0),
           sum(1 for e in ev if e["event"] == "pci_bar" and e["decoded"])))
    if kinds != {"legacy", "modern"} and not any(e["event"] == "start" and e["legacy"]
                                                 for e in ev):
        errors.append({"reason": "virtio-pci without both modern and legacy devices"})


def main(path):
    ev = [json.loads(line) for line in open(path)]
    start = next(e for e in ev if e["event"] == "start")
    delay = start.get("complete_delay_ms", 0)
    inflight, errors, stats = {}, [], {}
    console = [e["text"] for e in ev if e["event"] == "virtio_console"]
    lat = []
    hostile = {"events": {}, "errors": 0, "chains": 0, "used": 0}
    last_hostile = -1
    for i, e in enumerate(ev):
        k = e["event"]
        if k == "hostile":
            hostile["events"][e["scenario"]] = hostile["events"].get(e["scenario"], 0) + 1
            last_hostile = i
            continue
        if e.get("dev") == "hostile":
            if k == "virtio_error":
                hostile["errors"] += 1
            elif k in ("chain", "used"):
                hostile[k + "s" if k == "chain" else k] += 1
            continue
        if k in ("panic", "virtio_error"):
            errors.append(e)
        elif k == "chain":
            key = (e["base"], e["queue"], e["head"])
            if key in inflight:
                errors.append({"reason": "head reused while in flight", **e})
            descs = e["descs"]
            writes = [d["write"] for d in descs]
            if writes != sorted(writes):
                errors.append({"reason": "readable after writable", **e})
            for i, d in enumerate(descs):
                last = i == len(descs) - 1
                if bool(d["flags"] & 1) == last:
                    errors.append({"reason": "NEXT flag wrong", **e})
            wr = sum(d["len"] for d in descs if d["write"])
            if e["dev"] == "blk":
                t = e["blk"]["type"]
                want = wr if t in (0, 8) else 1  # IN, GET_ID: data + status
            else:
                want = 0
            inflight[key] = want
            s = stats.setdefault(label(e), {"chains": 0, "indirect": 0, "crossing": 0})
            s["chains"] += 1
            s["indirect"] += e["indirect"]
            s["crossing"] += any(slots_crossed(d["addr"], d["len"]) for d in descs)
        elif k == "used":
            key = (e["base"], e["queue"], e["head"])
            if key not in inflight:
                errors.append({"reason": "used without chain", **e})
                continue
            if inflight.pop(key) != e["len"]:
                errors.append({"reason": "unexpected used len", **e})
            lat.append(e["delay_ms"])
    exit_ev = next((e for e in ev if e["event"] == "exit"), {})
    secs = exit_ev.get("elapsed_ms", 1) / 1000
    print("chains per device:", stats)
    print("used: %d, still in flight at exit: %d" % (len(lat), len(inflight)))
    if lat:
        lat.sort()
        print("delay_ms: min %.3f median %.3f max %.3f (configured %d)" %
              (lat[0], lat[len(lat) // 2], lat[-1], delay))
        if lat[0] < delay:
            errors.append({"reason": "completion earlier than the configured delay"})
    print("requests/s: %.1f, heartbeats/s: %.1f" %
          (exit_ev.get("virtio_requests", 0) / secs, exit_ev.get("heartbeats", 0) / secs))
    print("console lines: %d, last: %r" % (len(console), console[-1] if console else None))
    selected = [n for b, n in enumerate(HOSTILE) if start.get("hostile", 0) >> b & 1]
    if selected:
        print("hostile: %d events, %d errors, %d chains, %d used on the hostile device" %
              (sum(hostile["events"].values()), hostile["errors"], hostile["chains"],
               hostile["used"]))
        missing = [n for n in selected if n not in hostile["events"]]
        if missing:
            errors.append({"reason": "hostile scenarios never logged", "missing": missing})
        later = [e for e in ev[last_hostile + 1:]
                 if e["event"] == "used" and e.get("dev") != "hostile"]
        print("normal completions after the last hostile event: %d" % len(later))
        if not later:
            errors.append({"reason": "no normal traffic after the last hostile scenario"})
    if start.get("transport", "mmio") != "mmio":
        check_pci(ev, stats, errors)
    for e in errors[:10]:
        print("ERROR:", e)
    return 1 if errors or not lat or not console else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else "/tmp/v.jsonl"))
