#!/usr/bin/env bash
# Every alert of rules/foresight-alerts.rules.yml reaches the receivers config/alertmanager.yml
# promises (config/README.md): the predictions the webhook only, everything about Foresight
# itself people and the webhook; an alert that is not Foresight's people only. A new alert
# must be added to the table below, so its routing is a decision.
# usage: routes_test.sh [AMTOOL]
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
amtool=${1:-amtool}
config=$root/config/alertmanager.yml
failed=0
checks=0

declare -A want=(
  [ForesightPredictedThresholdBreach]=foresight-webhook
  [ForesightPredictedThresholdBreachSoon]=foresight-webhook
  [ForesightAnomaly]=foresight-webhook
  [ForesightModelDegraded]=oncall,foresight-webhook
  [ForesightThresholdUnwatched]=oncall,foresight-webhook
  [ForesightForecastStale]=oncall,foresight-webhook
  [ForesightSourceDown]=oncall,foresight-webhook
  [ForesightExporterDown]=oncall,foresight-webhook
  [ForesightChaosValidationFailed]=oncall,foresight-webhook
  [ForesightRemediationFailed]=oncall,foresight-webhook
  [ForesightScalingAtMaximum]=oncall,foresight-webhook
  [ForesightWebhookDown]=oncall,foresight-webhook
  [HighErrorRate]=oncall
)

route() { "$amtool" config routes test --config.file="$config" "alertname=$1" severity=warning 2>/dev/null; }

mapfile -t alerts < <(sed -n 's/^ *- alert: *\([A-Za-z0-9_]*\).*/\1/p' "$root/rules/foresight-alerts.rules.yml")
[ ${#alerts[@]} -gt 0 ] || { echo "routes_test: no alerts found in the rules"; exit 1; }
for a in "${alerts[@]}" HighErrorRate; do
  checks=$((checks + 1))
  if [ -z "${want[$a]+x}" ]; then
    echo "FAIL: $a is not in routes_test.sh's table: decide where it goes"
    failed=$((failed + 1))
    continue
  fi
  got=$(route "$a")
  if [ "$got" != "${want[$a]}" ]; then
    echo "FAIL: $a routes to '$got', want '${want[$a]}'"
    failed=$((failed + 1))
  fi
done
# The table has no alert the rules lost.
for a in "${!want[@]}"; do
  [ "$a" = HighErrorRate ] && continue
  checks=$((checks + 1))
  printf '%s\n' "${alerts[@]}" | grep -qx "$a" || { echo "FAIL: $a is in the table but not in the rules"; failed=$((failed + 1)); }
done
echo "routes_test.sh: ${#alerts[@]} alerts, $checks checks, $failed failed"
[ "$failed" -eq 0 ]
