#!/usr/bin/env bash
# Compares the NOP driver of `uring` with the same loop over the `io-uring`
# crate: user-space instructions per NOP (callgrind, the difference of two run
# lengths so that start-up cancels) and wall time (interleaved runs). The
# same loop inside a `Ring::scope` (`nop_scope`) shows what the safe surface
# for borrowed buffers costs on top.
#
#   examples/nop-compare.sh [BATCH...]     (default: 32 1)
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release -q -p uring-examples --example nop --example nop_scope --example nop_io_uring
bin=target/release/examples
short=100000 long=200000 wall_ops=2000000 rounds=7
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

instructions() { # BIN BATCH OPS -> total Ir
    valgrind --tool=callgrind --callgrind-out-file="$out/cg" "$bin/$1" "$3" "$2" >/dev/null 2>"$out/err"
    awk '/^(summary|totals):/ {print $2; exit}' "$out/cg"
}
per_op() { # BIN BATCH -> Ir per NOP
    local a b
    a=$(instructions "$1" "$2" $short)
    b=$(instructions "$1" "$2" $long)
    echo "scale=2; ($b - $a) / ($long - $short)" | bc
}
secs() { "$bin/$1" "$wall_ops" "$2" | sed -E 's/.*secs=([0-9.]+).*/\1/'; }

[ $# -gt 0 ] || set -- 32 1
for batch in "$@"; do
    {
        ours=$(per_op nop "$batch")
        scoped=$(per_op nop_scope "$batch")
        theirs=$(per_op nop_io_uring "$batch")
        u=() s=() i=()
        for _ in $(seq $rounds); do
            u+=("$(secs nop "$batch")")
            s+=("$(secs nop_scope "$batch")")
            i+=("$(secs nop_io_uring "$batch")")
        done
        med() { printf '%s\n' "$@" | sort -n | sed -n "$(( ($# + 1) / 2 ))p"; }
        mu=$(med "${u[@]}") ms=$(med "${s[@]}") mi=$(med "${i[@]}")
        ratio() { echo "scale=3; $1 / $2" | bc; }
        printf 'batch %3s  instructions/NOP: uring %6s (%s)  scope %6s (%s)  io-uring %6s\n' \
            "$batch" "$ours" "$(ratio "$ours" "$theirs")" "$scoped" "$(ratio "$scoped" "$theirs")" "$theirs"
        printf '           wall, median of %d runs of %d NOPs: uring %ss (%s)  scope %ss (%s)  io-uring %ss\n' \
            "$rounds" "$wall_ops" "$mu" "$(ratio "$mu" "$mi")" "$ms" "$(ratio "$ms" "$mi")" "$mi"
    }
done
