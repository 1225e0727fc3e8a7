#!/usr/bin/env bash
# Tests rules/generate: its usage errors (exit 2, naming what was wrong, writing nothing), that
# parameters reach the rules (promtool accepts the output, and a band at the tuned confidence
# fires), --check (exit 1 and a diff on a tampered copy) and --list (every parameter, with a
# default the generator accepts, and as rules/README.md's table shows it).
#
# Usage: rules/tests/generate_test.sh      PROMTOOL=/path/to/promtool to choose promtool.
# Prints one line per failed check and a summary; exits 1 if any check failed.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
rules=$(dirname "$here")
generate=$rules/generate
promtool=${PROMTOOL:-promtool}

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

checks=0
failed=0
fail() {
  echo "FAIL: $*" >&2
  failed=$((failed + 1))
}

# gen ARG...: runs the generator; its status in $status, its output in $tmp/stdout, $tmp/stderr.
gen() {
  status=0
  "$generate" "$@" >"$tmp/stdout" 2>"$tmp/stderr" || status=$?
}

# expect_usage_error WORD ARG...: the generator exits 2, its message contains WORD, and the
# --out directory it was given ($tmp/unused) stays empty.
expect_usage_error() {
  local word=$1
  shift
  checks=$((checks + 1))
  rm -rf "$tmp/unused"
  mkdir "$tmp/unused"
  gen --out "$tmp/unused" "$@"
  if [[ $status -ne 2 ]]; then
    fail "generate $*: exit $status, want 2 (stderr: $(cat "$tmp/stderr"))"
  elif ! grep -qF -- "$word" "$tmp/stderr"; then
    fail "generate $*: the message does not name '$word': $(cat "$tmp/stderr")"
  elif [[ -n $(ls -A "$tmp/unused") ]]; then
    fail "generate $*: wrote files despite the error: $(ls -A "$tmp/unused")"
  fi
}

# expect_in FILE TEXT WHAT: FILE contains TEXT (fixed string).
expect_in() {
  checks=$((checks + 1))
  grep -qF -- "$2" "$1" || fail "$3: $1 does not contain: $2"
}

# --- usage errors -----------------------------------------------------------------------------

expect_usage_error "'no_such_parameter'" --set no_such_parameter=1
expect_usage_error "expected NAME=VALUE" --set breach_for
expect_usage_error "given twice" --set breach_for=1m --set breach_for=2m
expect_usage_error "parameter breach_for" --set breach_for=10x
expect_usage_error "parameter breach_for" --set breach_for=
expect_usage_error "parameter soon_for" --set soon_for=1.5m
expect_usage_error "parameter soon_lead_time" --set soon_lead_time=0s
expect_usage_error "parameter chaos_window" --set chaos_window=0m
expect_usage_error "parameter breach_confidence" --set breach_confidence=1
expect_usage_error "parameter breach_confidence" --set breach_confidence=0
expect_usage_error "parameter breach_confidence" --set breach_confidence=95%
expect_usage_error "parameter degraded_coverage_min" --set degraded_coverage_min=high
expect_usage_error "parameter degraded_mase_max" --set degraded_mase_max=-1
expect_usage_error "parameter degraded_mase_max" --set degraded_mase_max=nan
expect_usage_error "parameter degraded_mase_max" --set degraded_mase_max=inf
expect_usage_error "parameter exporter_selector" --set exporter_selector=job=foresight
# Anything that would close the selector's braces and add PromQL of its own is refused.
expect_usage_error "parameter webhook_selector" --set 'webhook_selector=job="a"} or vector(1) or up{job="b"'
expect_usage_error "parameter service_label" --set service_label=9service
expect_usage_error "parameter service_label" --set service_label=app-name
expect_usage_error "parameter runbook_base_url" --set runbook_base_url=ftp://git.example.com/runbooks
expect_usage_error "parameter runbook_base_url" --set runbook_base_url=https://git.example.com/runbooks/
expect_usage_error "parameter runbook_base_url" --set runbook_base_url=git.example.com/runbooks
# A bad value is refused even alongside good ones.
expect_usage_error "parameter stale_for" --set breach_confidence=0.8 --set stale_for=soon

checks=$((checks + 1))
gen --no-such-option
[[ $status -eq 2 ]] || fail "generate --no-such-option: exit $status, want 2"

# --- parameters reach the rules ---------------------------------------------------------------

out=$tmp/tuned
checks=$((checks + 1))
gen --out "$out" --set breach_confidence=0.8 --set breach_for=0s
if [[ $status -ne 0 ]]; then
  fail "generate --out $out --set breach_confidence=0.8 --set breach_for=0s: exit $status: $(cat "$tmp/stderr")"
else
  for f in foresight-alerts.rules.yml foresight-recording.rules.yml; do
    checks=$((checks + 1))
    if [[ ! -f $out/$f ]]; then
      fail "generate --out $out did not write $f"
    elif ! "$promtool" check rules "$out/$f" >"$tmp/promtool" 2>&1; then
      fail "promtool check rules $out/$f: $(cat "$tmp/promtool")"
    fi
  done
  expect_in "$out/foresight-alerts.rules.yml" 'foresight_forecast_upper{confidence="0.8"}' "breach_confidence=0.8"
  expect_in "$out/foresight-alerts.rules.yml" 'foresight_forecast_lower{confidence="0.8"}' "breach_confidence=0.8"
  expect_in "$out/foresight-alerts.rules.yml" 'foresight_threshold_eta_seconds{confidence="0.8"}' "breach_confidence=0.8"
  expect_in "$out/foresight-alerts.rules.yml" '# Parameters: breach_confidence=0.8, breach_for=0s.' "the header"
  checks=$((checks + 1))
  if grep -qF 'confidence="0.95"' "$out/foresight-alerts.rules.yml"; then
    fail "breach_confidence=0.8: confidence=\"0.95\" is still in $out/foresight-alerts.rules.yml"
  fi

  # The tuned rule fires on the 0.8 band at once (for: 0s), and no longer on the 0.95 band.
  # ALERTS carries the labels without the annotations, which other tests check.
  cat >"$out/tuned.test.yml" <<'EOF'
rule_files: [foresight-alerts.rules.yml]
evaluation_interval: 1m
tests:
  - interval: 1m
    input_series:
      - series: 'foresight_forecast_upper{foresight_job="j",service="api",horizon="1h",confidence="0.8"}'
        values: '1300x5'
      - series: 'foresight_forecast_upper{foresight_job="j",service="web",horizon="1h",confidence="0.95"}'
        values: '1300x5'
      - series: 'foresight_threshold{foresight_job="j",service="api",horizon="1h",threshold="capacity",direction="above"}'
        values: '1200x5'
      - series: 'foresight_threshold{foresight_job="j",service="web",horizon="1h",threshold="capacity",direction="above"}'
        values: '1200x5'
    promql_expr_test:
      - expr: ALERTS{alertname="ForesightPredictedThresholdBreach",alertstate="firing"}
        eval_time: 0m
        exp_samples:
          - labels: 'ALERTS{alertname="ForesightPredictedThresholdBreach",alertstate="firing",severity="warning",foresight_job="j",service="api",horizon="1h",confidence="0.8",threshold="capacity",direction="above"}'
            value: 1
EOF
  checks=$((checks + 1))
  if ! (cd "$out" && "$promtool" test rules tuned.test.yml) >"$tmp/promtool" 2>&1; then
    fail "the rules generated with breach_confidence=0.8 breach_for=0s do not fire on the 0.8 band at once: $(cat "$tmp/promtool")"
  fi
fi

# The confidence label is the exporter's shortest decimal form, however it is written.
checks=$((checks + 1))
gen --out "$tmp/conf" --set breach_confidence=.80
if [[ $status -ne 0 ]]; then
  fail "generate --set breach_confidence=.80: exit $status: $(cat "$tmp/stderr")"
else
  expect_in "$tmp/conf/foresight-alerts.rules.yml" 'foresight_forecast_upper{confidence="0.8"}' "breach_confidence=.80"
fi

checks=$((checks + 1))
gen --out "$tmp/lead" --set soon_lead_time=1h --set service_label=app
if [[ $status -ne 0 ]]; then
  fail "generate --set soon_lead_time=1h --set service_label=app: exit $status: $(cat "$tmp/stderr")"
else
  expect_in "$tmp/lead/foresight-alerts.rules.yml" 'foresight_threshold_eta_seconds{confidence="0.95"} < 3600' "soon_lead_time=1h"
  expect_in "$tmp/lead/foresight-alerts.rules.yml" 'less than the 1h lead time.' "soon_lead_time=1h"
  expect_in "$tmp/lead/foresight-recording.rules.yml" '- record: app:http_requests:rate5m' "service_label=app"
  expect_in "$tmp/lead/foresight-recording.rules.yml" 'sum by (app) (rate(http_requests_total[5m]))' "service_label=app"
  expect_in "$tmp/lead/foresight-recording.rules.yml" 'sum by (app, le)' "service_label=app"
  checks=$((checks + 1))
  "$promtool" check rules "$tmp/lead/foresight-recording.rules.yml" >"$tmp/promtool" 2>&1 ||
    fail "promtool check rules on the service_label=app output: $(cat "$tmp/promtool")"
fi

# --- --check ----------------------------------------------------------------------------------

cur=$tmp/current
checks=$((checks + 1))
gen --out "$cur"
[[ $status -eq 0 ]] || fail "generate --out $cur: exit $status: $(cat "$tmp/stderr")"

checks=$((checks + 1))
gen --check --out "$cur"
if [[ $status -ne 0 || -s $tmp/stdout ]]; then
  fail "generate --check on its own fresh output: exit $status, want 0 and no diff: $(cat "$tmp/stdout" "$tmp/stderr")"
fi

# Tamper with one line: --check exits 1, prints a unified diff showing both sides of the line
# and says the files are not current. It writes nothing.
sed -i 's/^        for: 10m$/        for: 11m/' "$cur/foresight-alerts.rules.yml"
checks=$((checks + 1))
if ! grep -q '^        for: 11m$' "$cur/foresight-alerts.rules.yml"; then
  fail "could not tamper with $cur/foresight-alerts.rules.yml (no 'for: 10m' line)"
fi
checks=$((checks + 1))
gen --check --out "$cur"
if [[ $status -ne 1 ]]; then
  fail "generate --check on a tampered copy: exit $status, want 1"
elif ! grep -q "^--- $cur/foresight-alerts.rules.yml" "$tmp/stdout" ||
     ! grep -q '^-        for: 11m$' "$tmp/stdout" ||
     ! grep -q '^+        for: 10m$' "$tmp/stdout"; then
  fail "generate --check on a tampered copy: no diff of the changed line: $(cat "$tmp/stdout")"
elif ! grep -q 'not current' "$tmp/stderr"; then
  fail "generate --check on a tampered copy: no message saying so: $(cat "$tmp/stderr")"
elif ! grep -q '^        for: 11m$' "$cur/foresight-alerts.rules.yml"; then
  fail "generate --check rewrote the tampered file"
fi

# A missing file is a difference too.
rm "$cur/foresight-recording.rules.yml"
checks=$((checks + 1))
gen --check --out "$cur"
[[ $status -eq 1 ]] || fail "generate --check with a rule file missing: exit $status, want 1"

# --- --list -----------------------------------------------------------------------------------

checks=$((checks + 1))
gen --list
if [[ $status -ne 0 ]]; then
  fail "generate --list: exit $status"
fi
cp "$tmp/stdout" "$tmp/list"
sed -n 's/^\([a-z_]*\) (default \(.*\)): .*/\1/p' "$tmp/list" | sort >"$tmp/listed"
checks=$((checks + 1))
if [[ $(wc -l <"$tmp/listed") -ne $(wc -l <"$tmp/list") ]]; then
  fail "generate --list: lines not of the form 'name (default value): what it changes': $(cat "$tmp/list")"
fi

# Every placeholder in the templates is a listed parameter (or a value the generator derives),
# and every listed parameter is used by a template.
grep -oh '%{[a-z_]*}' "$rules"/templates/*.rules.yml.in | sed 's/^%{\(.*\)}$/\1/' |
  grep -vx -e soon_lead_time_seconds -e series_text -e series_selector -e number |
  sed "s/^keep_firing$/keep_firing_for/" | sort -u >"$tmp/used"
checks=$((checks + 1))
if ! diff -u "$tmp/used" "$tmp/listed" >"$tmp/listdiff"; then
  fail "generate --list differs from the templates' placeholders (- used only, + listed only): $(cat "$tmp/listdiff")"
fi

# rules/README.md's parameter table is --list's, row for row.
while IFS= read -r line; do
  checks=$((checks + 1))
  row=$(sed -E 's/^([a-z_]+) \(default (.*)\): (.*)$/| `\1` | `\2` | \3 |/' <<<"$line")
  grep -qxF -- "$row" "$rules/README.md" || fail "rules/README.md: no parameter table row: $row"
done <"$tmp/list"

# Each listed default is accepted and gives the default output (only the header line naming the
# parameters differs).
gen --out "$tmp/defaults"
while IFS= read -r line; do
  name=${line%% (default *}
  value=${line#* (default }
  value=${value%%): *}
  checks=$((checks + 1))
  gen --out "$tmp/one" --set "$name=$value"
  if [[ $status -ne 0 ]]; then
    fail "generate --set '$name=$value' (the listed default): exit $status: $(cat "$tmp/stderr")"
    continue
  fi
  for f in foresight-alerts.rules.yml foresight-recording.rules.yml; do
    if ! diff <(sed 2d "$tmp/defaults/$f") <(sed 2d "$tmp/one/$f") >/dev/null; then
      fail "generate --set '$name=$value' (the listed default) changes $f"
    fi
  done
done <"$tmp/list"

# keep_firing_for: the default writes it on both prediction alerts; 0s leaves the key out, so
# that a Prometheus older than 2.42 can load the file.
checks=$((checks + 1))
if [[ $(grep -c '^ *keep_firing_for: 10m$' "$tmp/defaults/foresight-alerts.rules.yml") -ne 2 ]]; then
  fail "the default rules do not set keep_firing_for: 10m on the two prediction alerts"
fi
gen --out "$tmp/nokeep" --set keep_firing_for=0s
checks=$((checks + 1))
if [[ $status -ne 0 ]] || grep -q "^ *keep_firing_for:" "$tmp/nokeep/foresight-alerts.rules.yml"; then
  fail "--set keep_firing_for=0s: exit $status, or keep_firing_for still written"
elif ! "${PROMTOOL:-promtool}" check rules "$tmp/nokeep/foresight-alerts.rules.yml" >/dev/null 2>&1; then
  fail "--set keep_firing_for=0s: promtool rejects the output"
fi

echo "generate_test.sh: $checks checks, $failed failed"
[[ $failed -eq 0 ]]
