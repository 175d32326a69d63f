#!/usr/bin/env bash
# Compares the NOP driver of `uring` (`nop`: pushes through `submission()`,
# the raw path) and the same loop inside a `Ring::scope` (`nop_scope`) with
# the same loop over the `io-uring` crate (`nop_io_uring`), each side built
# with the same cargo profile:
#   - user-space instructions per NOP under callgrind, the difference of two
#     run lengths, so that start-up and tear-down cancel;
#   - wall time per NOP, the median of interleaved runs.
# One table per profile, in the order given; each says its profile.
# With --for-each, every side reads its completions with
# `Iterator::for_each` instead of a `for` loop (the `*_for_each` drivers).
#
#   examples/nop-compare.sh [--profile P]... [--rounds N] [--for-each] [BATCH...]
#
# P is `fat` (fat LTO) or `release` (the workspace's thin LTO); by default
# both, fat first. BATCH defaults to 1 32 128 (at most 256, the ring size).
set -euo pipefail
cd "$(dirname "$0")/.."
. examples/bench/common.sh

need_value() { # OPTION [VALUE...]: a bad command line unless VALUE is there
    if [ -z "${2-}" ]; then
        echo "nop-compare.sh: $1 needs a value (see --help)" >&2
        exit 2
    fi
}

profiles=() batches=() rounds=7 suffix=""
while [ $# -gt 0 ]; do
    case $1 in
    --for-each) suffix=_for_each; shift ;;
    --profile) need_value "$@"; profiles+=("$2"); shift 2 ;;
    --rounds) need_value "$@"; rounds=$2; shift 2 ;;
    -h | --help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    -*) echo "nop-compare.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
    *) batches+=("$1"); shift ;;
    esac
done
[ ${#profiles[@]} -gt 0 ] || profiles=(fat release)
[ ${#batches[@]} -gt 0 ] || batches=(1 32 128)
for b in "${batches[@]}" "$rounds"; do
    if ! [[ $b =~ ^[1-9][0-9]*$ ]]; then
        echo "nop-compare.sh: '$b' is not a positive number" >&2
        exit 2
    fi
done
for b in "${batches[@]}"; do
    if [ "$b" -gt 256 ]; then
        echo "nop-compare.sh: batch $b is larger than the ring (256)" >&2
        exit 2
    fi
done
need valgrind bc

short=200000 long=400000 wall_ops=2000000

for profile in "${profiles[@]}"; do
    cargo build --profile "$profile" -q -p uring-examples \
        --example nop$suffix --example nop_scope$suffix --example nop_io_uring$suffix
    bin=$(examples_dir "$profile")
    load_before=$(load)
    per_nop() { # EXAMPLE BATCH -> Ir per NOP
        local a b
        a=$(cg_total "$bin/$1" $short "$2")
        b=$(cg_total "$bin/$1" $long "$2")
        per_unit "$a" "$b" $short $long
    }
    ns() { # EXAMPLE BATCH -> ns per NOP
        "$bin/$1" $wall_ops "$2" | sed -E 's/.*secs=([0-9.]+).*/\1/' |
            awk -v n=$wall_ops '{printf "%.1f", $1 * 1e9 / n}'
    }
    echo
    shape='a `for` loop'
    [ -z "$suffix" ] || shape='`Iterator::for_each`'
    echo "NOP on a 256-entry ring, profile \`$profile\` ($(profile_desc "$profile")) for both sides, completions read with $shape;"
    echo "instructions: callgrind, user space, ($long - $short NOPs); wall: median of $rounds interleaved runs of $wall_ops NOPs;"
    echo "load average $load_before at the start, printed again at the end"
    echo
    echo "| batch | raw Ir/NOP | scope Ir/NOP | io-uring Ir/NOP | raw / io-uring | scope / raw | raw ns/NOP | scope ns/NOP | io-uring ns/NOP | wall raw / io-uring | wall scope / raw |"
    echo "|---|---|---|---|---|---|---|---|---|---|---|"
    for batch in "${batches[@]}"; do
        raw=$(per_nop nop$suffix "$batch")
        scoped=$(per_nop nop_scope$suffix "$batch")
        theirs=$(per_nop nop_io_uring$suffix "$batch")
        u=() s=() i=()
        for _ in $(seq "$rounds"); do
            u+=("$(ns nop$suffix "$batch")")
            s+=("$(ns nop_scope$suffix "$batch")")
            i+=("$(ns nop_io_uring$suffix "$batch")")
        done
        mu=$(median "${u[@]}") ms=$(median "${s[@]}") mi=$(median "${i[@]}")
        echo "| $batch | $raw | $scoped | $theirs | $(ratio "$raw" "$theirs") | $(ratio "$scoped" "$raw") | $mu | $ms | $mi | $(ratio "$mu" "$mi") | $(ratio "$ms" "$mu") |"
    done
    echo
    echo "load average at the end: $(load)"
done
