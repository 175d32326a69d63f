#!/usr/bin/env bash
# Runs the library's code that needs no kernel under Miri, which checks it
# for undefined behaviour (out-of-bounds and uninitialised reads, and
# aliasing under Stacked Borrows and Tree Borrows):
#
#   - the unit tests of `uring` (its `#[cfg(test)]` modules), but for those
#     that set up a ring: io_uring's system calls are made with inline
#     assembly, which Miri cannot run;
#   - tests/tests/miri_pure.rs, the public API that needs no ring driven
#     with adversarial input (ancillary data, receive headers, addresses,
#     timespecs, local CQ arrays and SQE slots, owned buffers).
#
#   tests/scripts/miri.sh            (both aliasing models)
#   MIRI_MODELS=stacked tests/scripts/miri.sh
#   MIRI_SLOW=1 tests/scripts/miri.sh   (and the slow unit test below)
#
# About a minute under Stacked Borrows and eight under Tree Borrows. Needs
# the nightly toolchain with its `miri` and `rust-src` components;
# installs nothing.
set -euo pipefail
cd "$(dirname "$0")/../.."
. tests/scripts/skips.sh

if ! cargo +nightly miri --version >/dev/null 2>&1; then
    echo "miri.sh: not run: \`cargo +nightly miri\` is missing" \
        "(rustup toolchain install nightly --component miri rust-src)"
    exit 2
fi

# One key test reads the realtime clock, which Miri lets a program read
# only with isolation off.
flags="-Zmiri-disable-isolation ${MIRIFLAGS:-}"

io_uring="sets up a ring: io_uring's system calls are inline assembly, which Miri cannot run"
skip_lib=(
    "reactor::core::tests::a_core_dropped_with_ops_in_flight_keeps_their_storage|$io_uring"
    "reactor::core::tests::a_deadline_that_missed_its_op_cancels_it_again|$io_uring"
    "reactor::core::tests::a_stale_id_names_no_op_after_its_slot_went_round_the_tag_s_generations|$io_uring"
    "reactor::core::tests::completions_set_aside_by_a_scope_come_first_and_once|$io_uring"
    "reactor::core::tests::only_the_only_completion_of_a_live_callback_op_takes_the_fast_path|$io_uring"
    "reactor::ring_buf::tests::a_ring_buf_s_drop_ends_its_lending|$io_uring"
    "reactor::tests::completions_moved_out_of_the_cq_come_first_and_once|$io_uring"
)
# It walks 20 000 random buffers: clean under Stacked Borrows in about ten
# minutes; under Tree Borrows it had not ended after an hour. miri_pure
# walks a few hundred.
if [ -z "${MIRI_SLOW:-}" ]; then
    skip_lib+=("args::cmsg::tests::random_bytes_never_panic_and_yield_only_whole_records|slow under Miri (MIRI_SLOW=1 runs it)")
fi

# The lib tests' names, to find a skipped test that was renamed (it would
# then run, and stop Miri at its first system call).
listed=$(cargo +nightly miri test -q -p uring --lib -- --list 2>/dev/null | sed -n 's/: test$//p')
args=(--exact)
failed=0
add_skips miri uring "$listed" "$(printf '%s\n' "${skip_lib[@]}")"

for model in ${MIRI_MODELS:-stacked tree}; do
    case $model in
    stacked) model_flags="" ;;
    tree) model_flags="-Zmiri-tree-borrows" ;;
    *)
        echo "miri.sh: unknown model $model (stacked, tree)"
        exit 2
        ;;
    esac
    export MIRIFLAGS="$flags $model_flags"
    if cargo +nightly miri test -q -p uring --lib -- "${args[@]}"; then
        echo "miri ($model borrows) uring unit tests: clean"
    else
        echo "miri ($model borrows) uring unit tests: FAILED"
        failed=1
    fi
    if cargo +nightly miri test -q -p uring-tests --test miri_pure; then
        echo "miri ($model borrows) miri_pure: clean"
    else
        echo "miri ($model borrows) miri_pure: FAILED"
        failed=1
    fi
done
exit $failed
