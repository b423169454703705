#!/usr/bin/env bash
# Smoke test of the release binaries (`make build ARCH=x86_64`): each bootstrap starts against
# cargo lambda's runtime API emulator (--only-lambda-apis, 127.0.0.1 only) and answers one
# invocation (an empty SQS batch). Usage: tests/smoke.sh [DIR]   (default target/lambda)
set -euo pipefail
cd "$(dirname "$0")/.."
dir="${1:-${CARGO_TARGET_DIR:-target}/lambda}"
export PATH="$PWD/.venv/bin:$PATH"
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
log=$(mktemp)
setsid cargo lambda watch --only-lambda-apis --invoke-address 127.0.0.1 --invoke-port "$port" >"$log" 2>&1 &
watch_pid=$!
fn_pid=""
cleanup() {
  [ -n "$fn_pid" ] && kill "$fn_pid" 2>/dev/null || true
  kill -TERM -- "-$watch_pid" 2>/dev/null || true
  wait 2>/dev/null || true
}
trap cleanup EXIT
for _ in $(seq 1 100); do
  (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break
  sleep 0.2
done

failed=0
for fn in ingest enrich evaluate remediate; do
  bin="$dir/$fn/bootstrap"
  if [ ! -x "$bin" ]; then echo "FAIL $fn: $bin not found (run make build ARCH=x86_64)"; failed=1; continue; fi
  # Dummy configuration: an empty batch touches no AWS service.
  env AWS_LAMBDA_RUNTIME_API="http://127.0.0.1:$port/.rt" AWS_LAMBDA_FUNCTION_NAME=_ AWS_LAMBDA_FUNCTION_VERSION=1 \
    AWS_LAMBDA_FUNCTION_MEMORY_SIZE=256 AWS_LAMBDA_LOG_STREAM_NAME=smoke AWS_LAMBDA_LOG_GROUP_NAME=smoke \
    AWS_REGION=us-east-1 AWS_ACCESS_KEY_ID=smoke AWS_SECRET_ACCESS_KEY=smoke AWS_ENDPOINT_URL=http://127.0.0.1:9 \
    SOAR_TABLE=smoke SOAR_ENRICH_QUEUE_URL=http://127.0.0.1:9/q SOAR_EVALUATE_QUEUE_URL=http://127.0.0.1:9/q \
    SOAR_REMEDIATE_QUEUE_URL=http://127.0.0.1:9/q \
    "$bin" >>"$log" 2>&1 &
  fn_pid=$!
  answer=$(timeout 60 cargo lambda invoke --invoke-address 127.0.0.1 --invoke-port "$port" --data-ascii '{"Records": []}' --output-format json 2>&1 || true)
  kill "$fn_pid" 2>/dev/null || true
  wait "$fn_pid" 2>/dev/null || true
  fn_pid=""
  if [ "$(echo "$answer" | tr -d ' \n')" = '{"batchItemFailures":[]}' ]; then
    echo "ok   $fn ($(file -b "$bin" | cut -d, -f1-2))"
  else
    echo "FAIL $fn: $answer"; failed=1
  fi
done
[ "$failed" = 0 ] || { echo "emulator and function output:"; cat "$log"; }
exit "$failed"
