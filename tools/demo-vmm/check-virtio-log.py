#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Checks the virtio part of a demo-vmm --log: every chain is well formed and lies where the
guest driver puts its buffers (demo-abi.h), every chain is completed once with the expected
length, completion delays match --complete-delay-ms, nothing panicked. Prints a summary."""
import json
import sys

SLOT_BOUNDS = [0x10000, 0x14000, 0x17000, 0x20000, 0x30000]


def slots_crossed(addr, length):
    return sum(1 for b in SLOT_BOUNDS if addr < b < addr + length)


def main(path):
    ev = [json.loads(line) for line in open(path)]
    start = next(e for e in ev if e["event"] == "start")
    delay = start.get("complete_delay_ms", 0)
    inflight, errors, stats = {}, [], {}
    console = [e["text"] for e in ev if e["event"] == "virtio_console"]
    lat = []
    for e in ev:
        k = e["event"]
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
    for e in errors[:10]:
        print("ERROR:", e)
    return 1 if errors or not lat or not console else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else "/tmp/v.jsonl"))
