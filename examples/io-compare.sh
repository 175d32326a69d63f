#!/usr/bin/env bash
# Random 4 KiB reads from a 1 GiB file in the page cache, QD 32, through a
# registered file and registered buffers, in one run and interleaved:
#   uring raw      cargo run --example randread -- FILE --mode raw
#   uring scope    cargo run --example randread -- FILE --mode scope
#   io-uring       cargo run --example randread_io_uring -- FILE (the crate)
#   liburing       examples/bench/randread.c: the same loop in C, gcc -O2,
#                  over Debian's liburing-dev (linked statically)
#   fio io_uring   fio --ioengine=io_uring --fixedbufs --registerfiles
#   fio psync      fio --ioengine=psync (one pread at a time)
# For each: IOPS and user+system CPU time per read (medians of the rounds;
# the CPU time is the steadier figure on a machine shared with other work,
# since time the process spends descheduled lowers the IOPS but not it);
# for the first four, user-space instructions per read under callgrind (the
# difference of two run lengths, so that start-up cancels; each length the
# smallest of three runs, see cg_min in examples/bench/common.sh). The Rust
# sides are built with each profile given; one table per profile, which it
# names.
#
#   examples/io-compare.sh [--profile P]... [--secs S] [--rounds N]
#                          [--file PATH] [--qd N] [--bs BYTES]
#
# P is `fat` (fat LTO) or `release` (thin LTO); by default both, fat first.
# S defaults to 10 seconds per run, N to 3 rounds. The file (default
# /var/tmp/uring-randread.dat) is created with 1 GiB of random bytes when
# missing, and read once into the page cache before the runs; every fio run
# has --invalidate=0, so that none evicts it. Installs fio, liburing-dev,
# valgrind and bc with apt-get when they are missing.
set -euo pipefail
cd "$(dirname "$0")/.."
. examples/bench/common.sh

need_value() { # OPTION [VALUE...]: a bad command line unless VALUE is there
    if [ -z "${2-}" ]; then
        echo "io-compare.sh: $1 needs a value (see --help)" >&2
        exit 2
    fi
}

profiles=() secs=10 rounds=3 file=/var/tmp/uring-randread.dat qd=32 bs=4096
while [ $# -gt 0 ]; do
    case $1 in
    --profile) need_value "$@"; profiles+=("$2"); shift 2 ;;
    --secs) need_value "$@"; secs=$2; shift 2 ;;
    --rounds) need_value "$@"; rounds=$2; shift 2 ;;
    --file) need_value "$@"; file=$2; shift 2 ;;
    --qd) need_value "$@"; qd=$2; shift 2 ;;
    --bs) need_value "$@"; bs=$2; shift 2 ;;
    -h | --help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) echo "io-compare.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
    esac
done
[ ${#profiles[@]} -gt 0 ] || profiles=(fat release)
for n in "$secs" "$rounds" "$qd" "$bs"; do
    if ! [[ $n =~ ^[1-9][0-9]*$ ]]; then
        echo "io-compare.sh: '$n' is not a positive whole number" >&2
        exit 2
    fi
done

# What the comparison needs from Debian.
missing=()
command -v fio >/dev/null || missing+=(fio)
command -v valgrind >/dev/null || missing+=(valgrind)
command -v bc >/dev/null || missing+=(bc)
command -v gcc >/dev/null || missing+=(gcc)
[ -e /usr/include/liburing.h ] || missing+=(liburing-dev)
if [ ${#missing[@]} -gt 0 ]; then
    echo "== apt-get install ${missing[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi

# The file, in the page cache.
size=$((1 << 30))
if [ ! -f "$file" ] || [ "$(stat -c %s "$file")" -ne $size ]; then
    echo "== creating $file (1 GiB of random bytes)"
    head -c $size /dev/urandom >"$file.tmp"
    mv "$file.tmp" "$file"
fi
cat "$file" >/dev/null
if command -v fincore >/dev/null; then
    echo "== page cache: $(fincore --noheadings --output RES "$file" | tr -d ' ') of $file resident"
fi

out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
c_bin=$out/randread-c
gcc -O2 -Wall -o "$c_bin" examples/bench/randread.c -l:liburing.a

field() { # LINE NAME -> the value of NAME=... in a result line
    sed -E "s/.* $2=([0-9.]+).*/\1/" <<<"$1"
}

fio_run() { # ENGINE ARGS... -> a result line like randread's
    local engine=$1 json
    shift
    json=$(fio --name=randread --filename="$file" --rw=randread --bs="$bs" \
        --invalidate=0 --norandommap --randrepeat=0 --time_based --runtime="$secs" \
        --output-format=json "$@")
    awk -v engine="$engine" '
        /"total_ios"/ && !ios { gsub(/[^0-9]/, "", $3); ios = $3 }
        /"runtime" : [0-9]/ && !rt { gsub(/[^0-9]/, "", $3); rt = $3 }
        /"usr_cpu"/ { gsub(/[^0-9.]/, "", $3); usr = $3 }
        /"sys_cpu"/ { gsub(/[^0-9.]/, "", $3); sys = $3 }
        END {
            s = rt / 1000
            printf "randread engine=%s ios=%d secs=%.3f iops=%.0f cpu_ns_per_io=%.0f\n",
                engine, ios, s, ios / s, (usr + sys) / 100 * s * 1e9 / ios
        }' <<<"$json"
}

engines=(uring-raw uring-scope io-uring liburing fio-io_uring fio-psync)
run() { # ENGINE -> its result line
    case $1 in
    uring-raw) "$bin/randread" "$file" --qd "$qd" --bs "$bs" --secs "$secs" --mode raw ;;
    uring-scope) "$bin/randread" "$file" --qd "$qd" --bs "$bs" --secs "$secs" --mode scope ;;
    io-uring) "$bin/randread_io_uring" "$file" --qd "$qd" --bs "$bs" --secs "$secs" ;;
    liburing) "$c_bin" "$file" --qd "$qd" --bs "$bs" --secs "$secs" ;;
    fio-io_uring) fio_run fio-io_uring --ioengine=io_uring --iodepth="$qd" --fixedbufs --registerfiles ;;
    fio-psync) fio_run fio-psync --ioengine=psync ;;
    esac
}
cmd() { # ENGINE -> the command of a short callgrind run, given --ios
    case $1 in
    uring-raw) echo "$bin/randread $file --qd $qd --bs $bs --secs 86400 --mode raw" ;;
    uring-scope) echo "$bin/randread $file --qd $qd --bs $bs --secs 86400 --mode scope" ;;
    io-uring) echo "$bin/randread_io_uring $file --qd $qd --bs $bs --secs 86400" ;;
    liburing) echo "$c_bin $file --qd $qd --bs $bs --secs 86400" ;;
    esac
}

short=20000 long=60000
for profile in "${profiles[@]}"; do
    cargo build --profile "$profile" -q -p uring-examples --example randread --example randread_io_uring
    bin=$(examples_dir "$profile")
    load_before=$(load)
    declare -A iops=() cpu=() ir=()
    for r in $(seq "$rounds"); do
        # Each round starts one engine later, so that no engine always runs
        # in the same place (the first after the warm-up or after fio,
        # which leaves the CPU caches and frequency otherwise than a tight
        # loop does).
        n=${#engines[@]}
        for i in $(seq 0 $((n - 1))); do
            e=${engines[$(((i + r - 1) % n))]}
            line=$(run "$e")
            echo "   round $r: $line"
            iops[$e]+="$(field "$line" iops) "
            cpu[$e]+="$(field "$line" cpu_ns_per_io) "
        done
    done
    for e in uring-raw uring-scope io-uring liburing; do
        # shellcheck disable=SC2046
        a=$(cg_min 3 $(cmd "$e") --ios $short)
        # shellcheck disable=SC2046
        b=$(cg_min 3 $(cmd "$e") --ios $long)
        ir[$e]=$(per_unit "$a" "$b" $short $long)
    done
    # shellcheck disable=SC2086
    {
        for e in "${engines[@]}"; do
            iops[$e]=$(median ${iops[$e]})
            cpu[$e]=$(median ${cpu[$e]})
        done
    }
    echo
    echo "Random ${bs}-byte reads, QD $qd, 1 GiB file in the page cache; Rust built with profile \`$profile\` ($(profile_desc "$profile"));"
    echo "liburing: gcc -O2, static liburing $(dpkg-query -W -f='${Version}' liburing-dev 2>/dev/null || echo '?'); $(fio --version)."
    echo "IOPS and CPU: medians of $rounds interleaved runs of ${secs} s, each round starting one engine later; instructions: callgrind, user space, ($long - $short reads, the smallest of 3 runs of each);"
    echo "load average $load_before at the start, $(load) at the end"
    echo
    echo "| engine | IOPS | IOPS / liburing | CPU ns per read (user+sys) | reads per CPU-second / liburing | user-space Ir per read | Ir / liburing |"
    echo "|---|---|---|---|---|---|---|"
    for e in "${engines[@]}"; do
        i=${ir[$e]:-}
        echo "| $e | ${iops[$e]} | $(ratio "${iops[$e]}" "${iops[liburing]}") | ${cpu[$e]} | $(ratio "${cpu[liburing]}" "${cpu[$e]}") | ${i:--} | $(ratio "$i" "${ir[liburing]}") |"
    done
    echo
    echo "uring raw: IOPS $(ratio "${iops[uring-raw]}" "${iops[liburing]}")x liburing (target >= 1.0)," \
        "Ir $(ratio "${ir[uring-raw]}" "${ir[liburing]}")x liburing (target <= 0.8)," \
        "IOPS $(ratio "${iops[uring-raw]}" "${iops[fio-io_uring]}")x fio io_uring (target >= 1.5)"
    echo "uring scope: IOPS $(ratio "${iops[uring-scope]}" "${iops[liburing]}")x liburing," \
        "Ir $(ratio "${ir[uring-scope]}" "${ir[liburing]}")x liburing," \
        "IOPS $(ratio "${iops[uring-scope]}" "${iops[fio-io_uring]}")x fio io_uring"
    unset iops cpu ir
done
