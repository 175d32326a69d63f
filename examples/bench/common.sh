# Shared by the comparison scripts (sourced, not run): option parsing for
# the build profile, user-space instruction counts under callgrind, medians
# and ratios.

# The profiles a script may be given, as the workspace Cargo.toml sets them.
profile_desc() {
    case $1 in
    fat) echo 'fat LTO: lto = "fat", codegen-units = 1' ;;
    release) echo 'thin LTO: lto = "thin", codegen-units = 1' ;;
    *) echo "profile $1 of Cargo.toml" ;;
    esac
}

# Where cargo puts the examples of profile $1.
examples_dir() {
    echo "${CARGO_TARGET_DIR:-target}/$1/examples"
}

# Total user-space instructions (Ir) of one run of "$@" under callgrind;
# the program's output is dropped, its failure stops the script.
cg_total() {
    local out
    out=$(mktemp)
    if ! valgrind --tool=callgrind --callgrind-out-file="$out" "$@" >/dev/null 2>"$out.err"; then
        echo "callgrind run failed: $*" >&2
        cat "$out.err" >&2
        rm -f "$out" "$out.err"
        return 1
    fi
    awk '/^(summary|totals):/ {print $2; exit}' "$out"
    rm -f "$out" "$out.err"
}

# The smallest of N callgrind totals of "$@" (N >= 1). For I/O loops, whose
# rounds depend on how many completions each wait finds (all of a round's
# reads when they complete within the enter, fewer when some are held up
# by other work on the machine), the smallest is the run with the fullest
# rounds, the same condition for every loop measured.
cg_min() { # N CMD...
    local n=$1 best='' t
    shift
    for _ in $(seq "$n"); do
        t=$(cg_total "$@")
        if [ -z "$best" ] || [ "$t" -lt "$best" ]; then
            best=$t
        fi
    done
    echo "$best"
}

# (B - A) / (NB - NA), to two decimals: the instructions of each unit of
# work once start-up and tear-down, the same in both runs, cancel.
per_unit() { # A B NA NB
    echo "scale=2; ($2 - $1) / ($4 - $3)" | bc
}

# The median of the arguments (numbers).
median() {
    printf '%s\n' "$@" | sort -g | sed -n "$((($# + 1) / 2))p"
}

# $1 / $2 to two decimals ("-" when either is missing or $2 is zero).
ratio() {
    if [ -z "${1:-}" ] || [ -z "${2:-}" ] || [ "$(echo "$2 == 0" | bc)" = 1 ]; then
        echo -
    else
        printf '%.2f' "$(echo "scale=4; $1 / $2" | bc)"
    fi
}

# Checks that the tools a script needs are there.
need() {
    local tool
    for tool in "$@"; do
        if ! command -v "$tool" >/dev/null; then
            echo "$(basename "$0"): needs $tool (apt-get install $tool)" >&2
            exit 2
        fi
    done
}

# The 1-minute load average: the other work on the machine while a table
# was measured (the wall-time columns are only as good as it is low).
load() {
    cut -d' ' -f1 /proc/loadavg
}
