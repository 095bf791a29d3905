#!/usr/bin/env bash
# Slot round trips with host and client pinned to one CPU (taskset -c 0), over TCP and a Unix
# socket, three runs each. Works for any host/client pair that follows the Qt harness CLI:
#   benches/pinned_rtt.sh target/release/examples/bench_host target/release/examples/bench_client rust
#   benches/pinned_rtt.sh /tmp/qtro-bench-build/qtro_host /tmp/qtro-bench-build/qtro_client qt
set -u
H=$1; C=$2; L=${3:-impl}
for tr in tcp local; do
  for rep in 1 2 3; do
    if [ $tr = tcp ]; then URL=tcp://127.0.0.1:$((47600 + RANDOM % 300)); else URL=local:pinned_$$_$rep; fi
    taskset -c 0 $H --url $URL --lifetime-s 60 > /tmp/ph.log 2>&1 & HP=$!
    for i in $(seq 1 100); do grep -q READY /tmp/ph.log && break; sleep 0.02; done
    taskset -c 0 $C --url $URL --mode rtt --n 20000 --warm 2000 | sed "s/^/$L pinned /"
    kill -TERM $HP; wait $HP 2>/dev/null
  done
done
