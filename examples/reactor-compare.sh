#!/usr/bin/env bash
# The cost of the reactor's safe loop: user-space instructions per op
# (callgrind, the difference of two run lengths so that start-up cancels)
# of the same op, 32 in flight, through `push_unchecked` and through the
# reactor, for NOPs and for 4 KiB reads of a page-cached file. Both sides
# are the same binary, built once with the release profile, or with the
# profile given (`--profile fat` for fat LTO).
#
#   examples/reactor-compare.sh [--profile P]
set -euo pipefail
cd "$(dirname "$0")/.."
profile=release
while [ $# -gt 0 ]; do
    case "$1" in
        --profile)
            if [ -z "${2-}" ]; then
                echo "reactor-compare.sh: --profile needs a value; usage: $0 [--profile P]" >&2
                exit 2
            fi
            profile=$2; shift 2 ;;
        --profile=*) profile=${1#--profile=}; shift ;;
        *) echo "usage: $0 [--profile P]" >&2; exit 2 ;;
    esac
done
cargo build --profile "$profile" -q -p uring-examples --example reactor_nop --example reactor_read
# The `release` profile's output is `target/release`; `dev`'s is `target/debug`.
dir=$profile
[ "$profile" = dev ] && dir=debug
bin=${CARGO_TARGET_DIR:-target}/$dir/examples
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
