#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Statistics and report for bench/run. usage: report.py RESULTS_DIR

Reads what bench/run left in RESULTS_DIR: meta, N.IMPL.CMD.us (one wall time
in microseconds per line), N.IMPL.CMD.{rc,err,touched,selected},
N.strace-c (strace -f -c) and N.strace (strace -f). Prints the report; the
last line is `speedup-vs-shell: plan X apply Y syscalls-per-device: N`
(X, Y against the fork-free shell loop sh-read; N = the whole `vfio-bind plan`
process under strace -f -c, divided by the devices scanned).
"""

import collections
import os
import re
import statistics
import sys

PLAN_TARGET = 5.0   # x faster than sh-read, plan
APPLY_TARGET = 2.0  # x faster than sh-read, apply
SYSCALL_TARGET = 3.2
IMPLS = ("vb", "sh-cat", "sh-read")


def read_lines(path):
    with open(path) as f:
        return [line.rstrip("\n") for line in f]


def median_ms(path):
    v = [int(x) for x in read_lines(path) if x.strip()]
    return statistics.median(v) / 1000.0, len(v), min(v) / 1000.0, max(v) / 1000.0


def ms(x):
    return f"{x:.3g}" if x < 100 else f"{x:.0f}"


def strace_c(path):
    """{syscall: calls} and the total from an `strace -c` table."""
    calls, total = {}, None
    for line in read_lines(path):
        f = line.split()
        if len(f) >= 5 and re.fullmatch(r"[\d.]+", f[0]) and f[3].isdigit():
            if f[-1] == "total":
                total = int(f[3])
            else:
                calls[f[-1]] = int(f[3])
    if total is None:
        sys.exit(f"report.py: no total in {path}")
    return calls, total


SYSCALL_RE = re.compile(r"^(?:\d+\s+)?(\w+)\((.*)$")


def trace_phases(path):
    """Splits a `strace -f` log at the scan: the openat of sys/bus/pci/devices
    (O_DIRECTORY) up to the close of that descriptor. Returns three Counters
    (before, scan, after)."""
    phases = [collections.Counter(), collections.Counter(), collections.Counter()]
    phase, scan_fd = 0, None
    for line in read_lines(path):
        m = SYSCALL_RE.match(line)
        if not m or "resumed>" in line:
            continue
        name, rest = m.groups()
        if phase == 0 and name == "openat" and '"sys/bus/pci/devices"' in rest \
                and "O_DIRECTORY" in rest:
            r = re.search(r"=\s*(\d+)\s*$", rest)
            if r:
                phase, scan_fd = 1, r.group(1)
        phases[phase][name] += 1
        if phase == 1 and name == "close" and re.match(rf"{scan_fd}\)", rest):
            phase = 2
    if phase != 2:
        sys.exit(f"report.py: scan not found in {path}")
    return phases


def fmt_counts(c, div):
    return ", ".join(f"{k} {v / div:.2f}" for k, v in c.most_common())


def main(res):
    meta = collections.OrderedDict()
    for line in read_lines(os.path.join(res, "meta")):
        k, _, v = line.partition(" ")
        meta[k] = v
    sizes = [int(x) for x in meta["sizes"].split()]
    big = sizes[-1]
    impls = tuple(meta.get("impls", " ".join(IMPLS)).split())

    print("## vfio-bind bench")
    print()
    print(f"binary: {meta['binary']}; {meta['cpus']} CPUs")
    if "trees" in meta:
        print(f"trees in {meta['trees']}")
    if "fork-exec-cat-us" in meta:
        print(f"one x=$(cat FILE) in dash costs {int(meta['fork-exec-cat-us']) / 1000:.2f} ms "
              "wall here (fork+exec+wait): the sh-cat speedup scales with it")
    print(f"load average (1/5/15 min): start {meta['load-start']}, "
          + ", ".join(f"after {n} devices {meta['load-after-%d' % n]}" for n in sizes))
    print(f"config: {meta['selection']} (both sides select the same devices; checked)")
    print("shell: bench/baseline.sh under /bin/sh = dash, loop over sys/bus/pci/devices/*;")
    print("  sh-cat:  vendor=$(cat $dev/vendor); device=$(cat $dev/device)  (2 fork+exec per device)")
    print("  sh-read: read -r vendor <$dev/vendor (builtin, no fork; dash reads byte by byte)")
    print("  plan also names the driver of each selected device: sh-cat drv=$(readlink $dev/driver)")
    print("  (a fork), sh-read a glob over sys/bus/pci/drivers/* (no fork)")
    print("times: wall clock of the command only, median of the runs (min-max in the raw data);")
    print("  the three implementations are interleaved run by run; the tree is restored before")
    print("  every apply run (untimed)")
    print()

    rows, plan = [], {}
    for n in sizes:
        sel = len(read_lines(os.path.join(res, f"{n}.vb.selected")))
        for cmd in ("plan", "apply"):
            med = {}
            for i in impls:
                med[i] = median_ms(os.path.join(res, f"{n}.{i}.{cmd}.us"))
            if cmd == "plan":
                plan[n] = med
            rows.append((n, sel, cmd, med))

    cat = "sh-cat" in impls
    print("| devices | selected | command | runs | vfio-bind ms | sh-read ms | vs sh-read "
          + ("| sh-cat ms | vs sh-cat " if cat else "") + "|")
    print("|---:|---:|---|---:|---:|---:|---:|" + ("---:|---:|" if cat else ""))
    for n, sel, cmd, med in rows:
        vb = med["vb"][0]
        line = (f"| {n} | {sel} | {cmd} | {med['vb'][1]} | {ms(vb)} | {ms(med['sh-read'][0])} "
                f"| {med['sh-read'][0] / vb:.1f}x |")
        if cat:
            line += f" {ms(med['sh-cat'][0])} | {med['sh-cat'][0] / vb:.1f}x |"
        print(line)
    print()

    # apply on a fake tree: what each side wrote, and how vfio-bind ended
    print("apply on a fake tree (plain files, nothing reacts to the writes):")
    for n in sizes:
        parts = []
        for i in impls:
            touched = read_lines(os.path.join(res, f"{n}.{i}.apply.touched"))
            kinds = collections.Counter(os.path.basename(p) if "/drivers/" not in p
                                        else "drivers/*/" + os.path.basename(p)
                                        for p in touched)
            rc = read_lines(os.path.join(res, f"{n}.{i}.apply.rc"))[0]
            parts.append(f"{i} exit {rc}, files written: "
                         + ", ".join(f"{k} x{v}" for k, v in sorted(kinds.items())))
        print(f"  {n}: " + "; ".join(parts))
    err = read_lines(os.path.join(res, f"{big}.vb.apply.err"))
    summary = [e for e in err if "device(s) on vfio-pci" in e]
    print("  vfio-bind writes driver_override and unbind (same as the shell; the shell also")
    print("  writes drivers_probe), then its verify step re-reads uevent, finds the old driver,")
    print("  rolls back driver_override and reports every device failed (exit 4):")
    if err:
        print("    " + err[0][:240])
    if summary:
        print("    " + summary[-1])
    print("  vfio-bind queues the unbinds to one writer child (the unbind timeout): one")
    print("  fork per run, not one per device.")
    print()

    # syscalls
    totals = {}
    for n in sizes:
        totals[n] = strace_c(os.path.join(res, f"{n}.strace-c"))
    print("syscalls of `vfio-bind plan` (strace -f -c, whole process):")
    print("| devices | selected | syscalls | per device |")
    print("|---:|---:|---:|---:|")
    for n in sizes:
        sel = len(read_lines(os.path.join(res, f"{n}.vb.selected")))
        print(f"| {n} | {sel} | {totals[n][1]} | {totals[n][1] / n:.2f} |")
    before, scan, after = trace_phases(os.path.join(res, f"{big}.strace"))
    nb, ns, na = sum(before.values()), sum(scan.values()), sum(after.values())
    sel_big = len(read_lines(os.path.join(res, f"{big}.vb.selected")))
    print(f"split of the {big}-device trace (strace -f) at the scan (openat of "
          "sys/bus/pci/devices ... its close):")
    print(f"  before the scan (exec, libraries, config): {nb}")
    print(f"  scan: {ns} = {ns / big:.2f} per device ({fmt_counts(scan, big)})")
    print(f"  after the scan (select, plan of {sel_big} selected, storage veto, output): "
          f"{na} = {na / big:.2f} per scanned device, {na / max(sel_big, 1):.1f} per selected "
          f"({fmt_counts(after, max(sel_big, 1))} per selected)")
    print(f"  from the scan on: {(ns + na) / big:.2f} per scanned device")
    if len(sizes) >= 2:
        lo = sizes[-2]
        per_dev = (totals[big][1] - totals[lo][1]) / (big - lo)
        diff = collections.Counter(totals[big][0])
        diff.subtract(totals[lo][0])
        diff = collections.Counter({k: v for k, v in diff.items() if v})
        print(f"difference method: (syscalls({big}) - syscalls({lo})) / {big - lo} = "
              f"{per_dev:.2f} per device ({fmt_counts(diff, big - lo)}); fixed cost "
              f"{totals[big][1] - per_dev * big:.0f}")
        method = f"difference {lo}->{big}"
    else:
        per_dev = (ns + na) / big
        method = "from the scan on"
    print()

    whole = totals[big][1] / big
    speed = {cmd: med["sh-read"][0] / med["vb"][0]
             for n, sel, cmd, med in rows if n == big}
    for cmd, target in (("plan", PLAN_TARGET), ("apply", APPLY_TARGET)):
        print(f"target {cmd} >= {target:.0f}x faster than sh-read ({big} devices): "
              f"{speed[cmd]:.1f}x {'PASS' if speed[cmd] >= target else 'MISS'}")
    print(f"target <= {SYSCALL_TARGET} syscalls per scanned device (whole process, "
          f"strace -f -c): {whole:.2f} {'PASS' if whole <= SYSCALL_TARGET else 'MISS'} "
          f"({method}: {per_dev:.2f})")
    print(f"speedup-vs-shell: plan {speed['plan']:.1f} apply {speed['apply']:.1f} "
          f"syscalls-per-device: {whole:.2f}")


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    main(sys.argv[1])
