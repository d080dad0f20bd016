#!/bin/bash
# Starts a fresh `serve` (binary $NTSFLOW_BIN_DIR/ntsflow-VERSION), offers the
# mix at RATE commands/s for SECONDS with servemix ($SERVEMIX), stops it.
# go build -o /tmp/servemix ./bench/servemix
# usage: run.sh VERSION RATE SECONDS
v=$1; rate=$2; secs=${3:-10}
dir=$(mktemp -d /tmp/serve17-XXXX)
${NTSFLOW_BIN_DIR:-/tmp}/ntsflow-$v serve --data-dir $dir --http-addr 127.0.0.1:18817 --log-level error >$dir/log 2>&1 &
pid=$!
for i in $(seq 1 100); do curl -sf http://127.0.0.1:18817/readyz >/dev/null && break; sleep 0.1; done
${SERVEMIX:-/tmp/servemix} -url http://127.0.0.1:18817 -pid $pid -rate $rate -for ${secs}s -label "$v" 
kill $pid; wait $pid 2>/dev/null
rm -rf $dir
