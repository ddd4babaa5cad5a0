#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Checks the virtio part of a demo-vmm --log: every chain is well formed and lies where the
guest driver puts its buffers (demo-abi.h), every chain is completed once with the expected
length, completion delays match --complete-delay-ms, nothing panicked. Prints a summary.

With --hostile, the "hostile" device is expected to see garbage: its errors are counted, not
reported; every selected scenario must have been logged, and the normal devices must have
kept working after the last one."""
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
            key = (e["dev"], e["queue"], e["head"])
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
            s = stats.setdefault(e["dev"], {"chains": 0, "indirect": 0, "crossing": 0})
            s["chains"] += 1
            s["indirect"] += e["indirect"]
            s["crossing"] += any(slots_crossed(d["addr"], d["len"]) for d in descs)
        elif k == "used":
            key = (e["dev"], e["queue"], e["head"])
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
    for e in errors[:10]:
        print("ERROR:", e)
    return 1 if errors or not lat or not console else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else "/tmp/v.jsonl"))
