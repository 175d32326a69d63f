#!/usr/bin/env bash
# Runs the integration tests under valgrind's memcheck, one test binary at a
# time, and fails if any reports an error. Installs valgrind if it is
# missing.
#
#   tests/scripts/memcheck.sh [TEST_BINARY_NAME...]   (default: all)
set -euo pipefail
cd "$(dirname "$0")/../.."
if ! command -v valgrind >/dev/null; then
    apt-get update -qq && apt-get install -y -qq valgrind >/dev/null
fi
cargo build -q -p uring-tests --tests
# A test under memcheck runs many times slower: its watchdog waits longer.
export URING_TEST_WATCHDOG_SECS="${URING_TEST_WATCHDOG_SECS:-1800}"
names=("$@")
if [ ${#names[@]} -eq 0 ]; then
    mapfile -t names < <(ls tests/tests/*.rs | xargs -n1 basename | sed 's/\.rs$//')
fi
failed=0
for name in "${names[@]}"; do
    bin=$(cargo test -q -p uring-tests --test "$name" --no-run --message-format=json 2>/dev/null |
        sed -n 's/.*"executable":"\([^"]*\)".*/\1/p' | tail -1)
    log=$(mktemp)
    if valgrind --quiet --error-exitcode=99 --leak-check=no \
        "$bin" --test-threads=1 -q >"$log" 2>&1; then
        echo "memcheck $name: 0 errors"
    else
        echo "memcheck $name: FAILED"
        tail -40 "$log"
        failed=1
    fi
    rm -f "$log"
done
exit $failed
