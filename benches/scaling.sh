#!/usr/bin/env bash
# How one host scales (issue 15), with the bench programs in target/release/examples:
#   1. fan-out to 1, 8, 64, 512 and 2 000 replica connections (one node each, spread over at
#      most 8 client processes): updates/s per replica and host CPU per update delivered;
#   2. host memory per idle connection and per subscription;
#   3. node memory per replica and acquire time for 1 000, 10 000 and 100 000 sources.
# Usage: cargo build --release --examples && benches/scaling.sh [fanout|connections|many|all]
# Env: TR=tcp|local (default tcp), FANOUT_NS, WHATS (props ticks), TOTAL (updates delivered per
# run, default 16 000 000), CONN_NS, MANY_NS. Prints one RESULT line per measurement.
set -euo pipefail

BIN=${BIN:-target/release/examples}
TR=${TR:-tcp}
FANOUT_NS=${FANOUT_NS:-"1 8 64 512 2000"}
WHATS=${WHATS:-"props ticks"}
TOTAL=${TOTAL:-16000000}
CONN_NS=${CONN_NS:-"1000 4000"}
MANY_NS=${MANY_NS:-"1000 10000 100000"}
TMPD=$(mktemp -d /tmp/aro-scaling.XXXXXX)
HOST_PID=
CHILDREN=()

cleanup() {
    for pid in "${CHILDREN[@]}" $HOST_PID; do kill "$pid" 2>/dev/null || true; done
    wait 2>/dev/null || true
    rm -rf "$TMPD"
}
trap cleanup EXIT

url() {
    case $TR in
    # below the ephemeral range (32768-60999), where thousands of client ports live
    tcp) echo "tcp://127.0.0.1:$((10000 + RANDOM % 20000))" ;;
    *) echo "local:aro-scaling-$$-$RANDOM" ;;
    esac
}

start_host() { # extra bench_host arguments; a port found taken is tried again elsewhere
    local attempt
    for attempt in 1 2 3 4 5; do
        URL=$(url)
        "$BIN/bench_host" --url "$URL" --max-connections 100000 --lifetime-s 900 "$@" >"$TMPD/host.out" 2>&1 &
        HOST_PID=$!
        until grep -q READY "$TMPD/host.out"; do
            kill -0 "$HOST_PID" 2>/dev/null || break
            sleep 0.05
        done
        grep -q READY "$TMPD/host.out" && return 0
        wait "$HOST_PID" 2>/dev/null || true
        cat "$TMPD/host.out" >&2
    done
    exit 1
}

stop_host() {
    kill "$HOST_PID" 2>/dev/null || true
    wait "$HOST_PID" 2>/dev/null || true
    HOST_PID=
}

rss_of() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status"; }
# utime + stime of a process, in clock ticks
cpu_ticks_of() { awk '{print $14 + $15}' "/proc/$1/stat"; }

wait_lines() { # file count
    until [ "$(wc -l <"$1" 2>/dev/null || echo 0)" -ge "$2" ]; do sleep 0.05; done
}

fanout() { # what n
    local what=$1 n=$2 procs conns m i d cpu0 cpu1
    procs=$((n < 8 ? n : 8))
    conns=$((n / procs))
    m=$((TOTAL / n))
    d=$TMPD/fanout-$what-$n
    mkdir -p "$d"
    : >"$d/ready"
    start_host
    local lp=()
    for i in $(seq 1 "$procs"); do
        local trig=()
        [ "$i" -eq "$procs" ] && trig=(--trigger)
        "$BIN/bench_client" --lifetime-s 600 --url "$URL" --mode listen --what "$what" --k "$procs" \
            --conns "$conns" --m "$m" --chunk 1000 --ready-file "$d/ready" "${trig[@]}" >"$d/$i.out" 2>&1 &
        lp+=($!)
    done
    CHILDREN=("${lp[@]}")
    wait_lines "$d/ready" "$procs"
    cpu0=$(cpu_ticks_of "$HOST_PID")
    for i in "${lp[@]}"; do wait "$i" || echo "listener $i exited $?" >&2; done
    cpu1=$(cpu_ticks_of "$HOST_PID")
    CHILDREN=()
    stop_host
    python3 - "$d" "$what" "$n" "$procs" "$m" "$cpu0" "$cpu1" "$(getconf CLK_TCK)" "$TR" <<'EOF'
import glob, re, statistics, sys
d, what, n, procs, m, cpu0, cpu1, tck, tr = sys.argv[1:]
n, m = int(n), int(m)
t0, rows = None, []
for path in glob.glob(d + "/*.out"):
    for line in open(path):
        if line.startswith("TRIGGER"):
            t0 = int(line.split("t0_ns=")[1])
        if line.startswith("LISTEN_DONE"):
            kv = dict(x.split("=") for x in line.split()[1:])
            rows.append((int(kv["count"]), int(kv["t_done_ns"])))
done = [r for r in rows if r[1] > 0]
rates = sorted(c / ((t - t0) / 1e9) for c, t in done)
secs = (max(t for _, t in done) - t0) / 1e9
cpu_us = (int(cpu1) - int(cpu0)) / int(tck) * 1e6
delivered = sum(c for c, _ in rows)
print(f"RESULT scaling=fanout what={what} transport={tr} replicas={n} procs={procs} m={m} "
      f"done={len(done)}/{len(rows)} min_seen={min(c for c, _ in rows)} secs={secs:.3f} "
      f"per_replica_median={statistics.median(rates):.0f} per_replica_min={rates[0]:.0f} "
      f"total_per_s={delivered / secs:.0f} host_cpu_ms={cpu_us / 1000:.0f} "
      f"host_cpu_ns_per_update={cpu_us * 1000 / max(delivered, 1):.1f}")
EOF
}

connections() { # n
    local n=$1 acquire procs conns i d rss0 rss1
    procs=$(((n + 999) / 1000))
    conns=$((n / procs))
    for acquire in 0 1; do
        d=$TMPD/conns-$n-$acquire
        mkdir -p "$d"
        : >"$d/ready"
        start_host
        sleep 0.2 # let the host settle before its baseline
        rss0=$(rss_of "$HOST_PID")
        local lp=()
        for i in $(seq 1 "$procs"); do
            "$BIN/bench_client" --lifetime-s 600 --url "$URL" --mode hold --conns "$conns" \
                --acquire "$acquire" --ready-file "$d/ready" >"$d/$i.out" 2>&1 &
            lp+=($!)
        done
        CHILDREN=("${lp[@]}")
        wait_lines "$d/ready" "$procs"
        sleep 0.5 # heartbeats and lazily started tasks
        rss1=$(rss_of "$HOST_PID")
        echo "RESULT scaling=connections transport=$TR connections=$((procs * conns)) subscribed=$acquire" \
            "host_rss_idle_kib=$rss0 host_rss_kib=$rss1" \
            "host_kib_per_connection=$(awk -v a="$rss0" -v b="$rss1" -v n=$((procs * conns)) 'BEGIN {printf "%.2f", (b - a) / n}')"
        for i in "${lp[@]}"; do kill "$i" 2>/dev/null || true; done
        for i in "${lp[@]}"; do wait "$i" 2>/dev/null || true; done
        CHILDREN=()
        stop_host
    done
}

many() { # n
    local n=$1 host_rss0 host_rss1
    start_host --objects 0
    host_rss0=$(rss_of "$HOST_PID")
    stop_host
    start_host --objects "$n"
    host_rss1=$(rss_of "$HOST_PID")
    echo "RESULT scaling=sources transport=$TR sources=$n host_rss_kib=$host_rss1" \
        "host_kib_per_source=$(awk -v a="$host_rss0" -v b="$host_rss1" -v n="$n" 'BEGIN {printf "%.2f", (b - a) / n}')"
    "$BIN/bench_client" --lifetime-s 600 --url "$URL" --mode many --objects "$n" --host-pid "$HOST_PID" |
        sed 's/^RESULT mode=many/RESULT scaling=acquire/'
    stop_host
}

what=${1:-all}
if [ "$what" = fanout ] || [ "$what" = all ]; then
    for w in $WHATS; do for n in $FANOUT_NS; do fanout "$w" "$n"; done; done
fi
if [ "$what" = connections ] || [ "$what" = all ]; then
    for n in $CONN_NS; do connections "$n"; done
fi
if [ "$what" = many ] || [ "$what" = all ]; then
    for n in $MANY_NS; do many "$n"; done
fi
