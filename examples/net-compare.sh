#!/usr/bin/env bash
# The network benchmark: uring's servers against the same servers on
# tokio's epoll-based TcpStream, under the same load, interleaved, in one
# run. Echo: `echo_server` (reactor, callbacks) and `echo_async` (uring::net
# on tokio) against `echo_tokio`; HTTP: `http` (hyper over uring::net)
# against `http_tokio` (hyper over tokio's TcpStream). The load generator
# is `echo_load`, on one thread.
#
# For each server it prints requests per second and the server's CPU time
# per request: utime + stime from /proc/PID/stat over the requests served.
# The load generator shares the machine's CPUs with the server, so CPU per
# request is the figure that compares servers; req/s is bounded by both.
#
#   examples/net-compare.sh [SECS] [ROUNDS]     (default: 5 3)
#
# SECS and ROUNDS are positive whole numbers. A load that fails (the load
# generator's error or a failed request) stops the run with status 1.
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-5}
rounds=${2:-3}
if [ $# -gt 2 ]; then
    echo "usage: $0 [SECS] [ROUNDS]" >&2
    exit 2
fi
for n in "$secs" "$rounds"; do
    if ! [[ $n =~ ^[1-9][0-9]*$ ]]; then
        echo "net-compare.sh: '$n' is not a positive whole number; usage: $0 [SECS] [ROUNDS]" >&2
        exit 2
    fi
done
cargo build --release -q -p uring-examples --example echo_server --example echo_async \
    --example echo_tokio --example http --example http_tokio --example echo_load
bin=${CARGO_TARGET_DIR:-target}/release/examples
tck=$(getconf CLK_TCK)
# Below the ephemeral range (32768 and up), where the load generator's own
# connections could hold the port.
port=$((10000 + RANDOM % 20000))
declare -A reqs ticks

cpu_ticks() { # PID -> utime + stime, in clock ticks (the names have no spaces)
    awk '{print $14 + $15}' "/proc/$1/stat"
}

wait_listening() { # PORT
    for _ in $(seq 100); do
        if (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; then return 0; fi
        sleep 0.05
    done
    echo "nothing listens on port $1" >&2
    return 1
}

measure() { # KEY SERVER THREADS CONNS SIZE [http]
    local key=$1 server=$2 threads=$3 conns=$4 size=$5 mode=${6:-}
    port=$((port + 1))
    local addr=127.0.0.1:$port
    "$bin/$server" "$addr" "$threads" >/dev/null 2>&1 &
    local pid=$!
    wait_listening "$port"
    sleep 0.2
    local t0 t1 out n
    t0=$(cpu_ticks "$pid")
    local failed=0
    out=$("$bin/echo_load" "$addr" "$conns" "$size" "$secs" $mode) || failed=1
    t1=$(cpu_ticks "$pid")
    kill "$pid"
    wait "$pid" 2>/dev/null || true
    if [ "$failed" = 1 ]; then
        echo "net-compare.sh: $server: the load failed: $out" >&2
        exit 1
    fi
    n=$(sed -E 's/.*requests=([0-9]+).*/\1/' <<<"$out")
    reqs[$key]=$(( ${reqs[$key]:-0} + n ))
    ticks[$key]=$(( ${ticks[$key]:-0} + t1 - t0 ))
}

loads=("100 128" "1000 1024")
for round in $(seq "$rounds"); do
    for threads in 1 2; do
        for load in "${loads[@]}"; do
            read -r conns size <<<"$load"
            # Each round starts one server later, so that none always runs
            # in the same place.
            echo_servers=(echo_server echo_async echo_tokio)
            for i in 0 1 2; do
                server=${echo_servers[$(((i + round - 1) % 3))]}
                measure "$server/$threads/$conns/$size" "$server" "$threads" "$conns" "$size"
            done
        done
        http_servers=(http http_tokio)
        for i in 0 1; do
            server=${http_servers[$(((i + round - 1) % 2))]}
            measure "$server/$threads/100/0" "$server" "$threads" 100 0 http
        done
    done
    echo "round $round of $rounds done" >&2
done

report() { # KEY BASE_KEY LABEL
    local r=${reqs[$1]} t=${ticks[$1]} br=${reqs[$2]} bt=${ticks[$2]}
    local rate us base_us
    rate=$(echo "scale=0; $r / ($secs * $rounds)" | bc)
    us=$(echo "scale=2; $t * 1000000 / $tck / $r" | bc)
    base_us=$(echo "scale=2; $bt * 1000000 / $tck / $br" | bc)
    printf '  %-12s req/s %8s (%s of tokio)   CPU/request %6s us (%s of tokio)\n' \
        "$3" "$rate" "$(echo "scale=2; $r / $br" | bc)" "$us" "$(echo "scale=2; $us / $base_us" | bc)"
}

for threads in 1 2; do
    for load in "${loads[@]}"; do
        read -r conns size <<<"$load"
        echo "echo, $threads thread(s), $conns connections x $size B:"
        for server in echo_server echo_async echo_tokio; do
            report "$server/$threads/$conns/$size" "echo_tokio/$threads/$conns/$size" "$server"
        done
    done
    echo "http GET /, $threads thread(s), 100 connections:"
    for server in http http_tokio; do
        report "$server/$threads/100/0" "http_tokio/$threads/100/0" "$server"
    done
done
