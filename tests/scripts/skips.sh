# Sourced by the scripts that run the test suites under a tool (memcheck.sh,
# tsan.sh, miri.sh): the tests a tool skips, each with its reason.

# For each "TEST|REASON" line of ENTRIES, a test of binary NAME, adds
# `--skip TEST` to the array `args` and prints `TOOL NAME::TEST: skipped:
# REASON`. A TEST that is not among LISTED (the binary's test names, one
# per line) prints a failure and sets `failed=1`: a renamed test would
# otherwise run again under the tool, unnoticed.
add_skips() { # TOOL NAME LISTED ENTRIES
    local tool=$1 name=$2 listed=$3 test reason
    while IFS='|' read -r test reason; do
        if ! grep -qxF "$test" <<<"$listed"; then
            echo "$tool $name::$test: FAILED (listed as skipped, but no test has that name)"
            failed=1
            continue
        fi
        echo "$tool $name::$test: skipped: $reason"
        args+=(--skip "$test")
    done <<<"$4"
}
