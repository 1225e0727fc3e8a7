#!/usr/bin/env bash
# Runs README's first command in its --once mode against the binaries of this build and checks
# what it shows: every job's forecasts with bands, a threshold ETA, the plot, the alert that
# reached foresight_webhook through Alertmanager and the playbook job it ran, the URLs; and that
# nothing is left running and the run directory is gone.
# usage: demo_test.sh BUILD_DIR
set -euo pipefail
build=$1
root=$(cd "$(dirname "$0")/../.." && pwd)
tmp=$(mktemp -d /tmp/foresight-demo-test.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
out=$tmp/out.txt

fail() {
  echo "demo_test: FAILED: $*" >&2
  echo "---- demo output" >&2
  cat "$out" >&2 || true
  exit 1
}

TMPDIR=$tmp FORESIGHT_SKIP_DEPS=1 FORESIGHT_SKIP_BUILD=1 FORESIGHT_BUILD_DIR=$build \
  "$root/scripts/demo" --once >"$out" 2>&1 || fail "scripts/demo --once exited $?"

for job in nasa_rps machine_temperature room_temperature nyc_taxi; do
  grep -q "^== $job   state ok" "$out" || fail "job $job is not shown as ok"
done
grep -Eq '^    1h +[0-9.]+ +\[[-0-9.e+]+, [-0-9.e+]+\] +\[' "$out" || fail "no 1h forecast with two bands"
grep -Eq 'threshold +capacity: above 2.2;.*band: in [0-9]' "$out" || fail "no threshold ETA for nasa_rps"
grep -q 'nasa_forecast.png' "$out" || fail "no plot"
# The alert went forecast -> rule -> Alertmanager -> foresight_webhook, with its labels and
# annotations, and the webhook ran config/webhook.yml's playbook for it.
grep -Eq '^== alert ForesightPredictedThresholdBreach firing: [a-z_]+, threshold [a-z_]+ \((above|below)\), horizon [0-9]+[mhd]$' "$out" ||
  fail "no firing ForesightPredictedThresholdBreach shown"
grep -Eq '^    predicted 0.95 band -?[0-9.e+]+; ETA [0-9]' "$out" || fail "the alert shows no predicted value and ETA"
grep -Eq 'notification\(s\) from Alertmanager to foresight_webhook, bearer-authenticated' "$out" ||
  fail "no notification through Alertmanager"
grep -Eq '^== foresight_webhook job [0-9]+: playbook predicted-breach, target [a-z_]+/[a-z_]+, succeeded$' "$out" ||
  fail "no succeeded playbook job shown"
grep -Eq '^    step announce \(exec\): succeeded in [0-9.]+s: \["/bin/echo","predicted breach: ' "$out" ||
  fail "the exec step is not shown as succeeded with its rendered argv"
grep -Eq '^      output: predicted breach: [a-z_]+ (above|below) [a-z_]+ within [0-9]+[mhd]$' "$out" ||
  fail "the exec step's output is not shown"
grep -q 'http://127.0.0.1:[0-9]*/graph?g0.expr=' "$out" || fail "no Prometheus URL"
# Nothing left behind: no process started from the run directory, no run directory.
if pgrep -f "$tmp/foresight-demo" >/dev/null; then fail "a demo process is still running"; fi
if compgen -G "$tmp/foresight-demo.*" >/dev/null; then fail "the run directory was not removed"; fi
echo "demo_test: ok"
