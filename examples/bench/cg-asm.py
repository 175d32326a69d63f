#!/usr/bin/env python3
"""Self instruction counts (Ir) per machine instruction of a callgrind run.

    cg-asm.py CALLGRIND_OUT BINARY [--per N] [--min COUNT]

CALLGRIND_OUT must come from `valgrind --tool=callgrind --dump-instr=yes`.
Prints, for every instruction of BINARY executed at least COUNT times (by
default 1% of the run's total), its address, count (divided by N when given,
e.g. the number of NOPs, to read per-op costs), the source line the debug
information gives for it, and the instruction, in address order: the
listing the README's breakdown of the floor was read from.
"""
import re
import subprocess
import sys
from collections import defaultdict


def self_costs(path):
    costs = defaultdict(int)
    obj = None
    names = {}
    fields = None
    last = 0
    skip_next = False
    with open(path) as f:
        for line in f:
            line = line.rstrip("\n")
            if line.startswith("positions:"):
                fields = line.split()[1:]
                continue
            m = re.match(r"^(ob|fl|fi|fe|fn|cob|cfi|cfl|cfn)=(.*)$", line)
            if m:
                key, val = m.groups()
                if key in ("ob", "cob"):
                    # Object names are numbered at first use, by either key.
                    idm = re.match(r"\((\d+)\)(?: (.*))?", val)
                    name = val
                    if idm:
                        if idm.group(2):
                            names[idm.group(1)] = idm.group(2)
                        name = names.get(idm.group(1))
                    if key == "ob":
                        obj = name
                continue
            if line.startswith("calls="):
                skip_next = True
                continue
            if not line or not (line[0].isdigit() or line[0] in "+-*"):
                continue
            parts = line.split()
            if fields is None or len(parts) < len(fields) + 1:
                continue
            pos = parts[0]
            if pos.startswith("0x"):
                addr = int(pos, 16)
            elif pos.startswith("+"):
                addr = last + int(pos[1:], 0)
            elif pos.startswith("-"):
                addr = last - int(pos[1:], 0)
            elif pos == "*":
                addr = last
            else:
                addr = int(pos, 0)
            last = addr
            if skip_next:
                skip_next = False
                continue
            costs[(obj, addr)] += int(parts[len(fields)])
    return costs


def main():
    args = sys.argv[1:]
    per, minimum = 1.0, None
    if "--per" in args:
        i = args.index("--per")
        per = float(args[i + 1])
        del args[i : i + 2]
    if "--min" in args:
        i = args.index("--min")
        minimum = int(args[i + 1])
        del args[i : i + 2]
    if len(args) != 2:
        sys.exit(__doc__)
    out, binary = args
    costs = self_costs(out)
    total = sum(costs.values())
    if minimum is None:
        minimum = total // 100
    mine = {a: c for (o, a), c in costs.items() if o and o.endswith(binary.split("/")[-1]) and c >= minimum}
    if not mine:
        sys.exit("no instruction of the binary reaches the threshold")
    lo, hi = min(mine), max(mine) + 16
    dis = subprocess.run(
        ["objdump", "-d", "-l", "-C", "--no-show-raw-insn", f"--start-address={lo:#x}",
         f"--stop-address={hi:#x}", binary],
        capture_output=True, text=True, check=True).stdout
    src = "?"
    shown = 0
    for line in dis.splitlines():
        m = re.match(r"^(/\S+):(\d+)", line)
        if m:
            src = m.group(1).split("/")[-1] + ":" + m.group(2)
            continue
        m = re.match(r"^\s+([0-9a-f]+):\s+(.*)$", line)
        if not m:
            continue
        addr = int(m.group(1), 16)
        if addr in mine:
            shown += mine[addr]
            print(f"{addr:8x} {mine[addr] / per:8.2f}  {src:28} {m.group(2)}")
    print(f"total {total / per:.2f}, shown {shown / per:.2f}")


main()
