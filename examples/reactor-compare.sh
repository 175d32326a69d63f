#!/usr/bin/env bash
# The cost of the reactor's safe loop: user-space instructions per op
# (callgrind, the difference of two run lengths so that start-up cancels)
# of the same op, 32 in flight, through `push_unchecked` and through the
# reactor, for NOPs and for 4 KiB reads of a page-cached file. Both sides
# are the same binary, built once with the release profile.
#
#   examples/reactor-compare.sh
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release -q -p uring-examples --example reactor_nop --example reactor_read
bin=target/release/examples
short=20000 long=60000
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

instructions() { # BIN MODE OPS -> total Ir
    valgrind --tool=callgrind --callgrind-out-file="$out/cg" "$bin/$1" "$2" "$3" >/dev/null 2>"$out/err"
    awk '/^(summary|totals):/ {print $2; exit}' "$out/cg"
}
per_op() { # BIN MODE -> Ir per op
    local a b
    a=$(instructions "$1" "$2" $short)
    b=$(instructions "$1" "$2" $long)
    echo "scale=2; ($b - $a) / ($long - $short)" | bc
}
for driver in reactor_nop reactor_read; do
    push=$(per_op "$driver" push)
    reactor=$(per_op "$driver" reactor)
    printf '%-13s instructions/op: push_unchecked %7s  reactor %7s  ratio %s\n' \
        "$driver" "$push" "$reactor" "$(echo "scale=3; $reactor / $push" | bc)"
done
