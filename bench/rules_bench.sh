#!/usr/bin/env bash
# What Foresight's prediction alerts cost inside Prometheus, against the peer: the alert users
# write without Foresight, `predict_linear(series[6h], 6h) > threshold`, on the same number of
# series in the same Prometheus at the same time.
#
# For each N in $SERIES (default "1000 10000") and each share of series predicted to breach in
# $FIRING (percent, default "1 100"):
#   - a static /metrics with what foresight_exporter publishes for N series (3 horizons, bands at
#     0.8 and 0.95, two thresholds, ETAs, anomaly, model, backtest), served by python3 and scraped
#     every 30 s (as config/prometheus.yml does); about 30 samples per series. The breaching share crosses capacity at every
#     horizon (three alerts per series), the others at none;
#   - N raw gauges with 6 h of 15 s history, backfilled with promtool, for the peer, whose
#     threshold is set so that the same series breach (one alert per series);
#   - rules/foresight-alerts.rules.yml plus the peer alert, evaluated every 5 s;
#   - once the alerts are settled, samples every rule's evaluationTime from /api/v1/rules every
#     5 s for $SECONDS_PER_RUN seconds and prints the median and maximum per rule, the number
#     of alert instances, and Prometheus's resident memory.
# Rule evaluation time includes expanding the annotation templates of every alert instance, so
# it grows with the number of alerts as much as with the number of series.
# Run: bench/rules_bench.sh   (taskset -c 0,1 for the 2-core figures of bench/RESULTS.md)
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
series_list=${SERIES:-"1000 10000"}
seconds=${SECONDS_PER_RUN:-60}
firing_list=${FIRING:-"1 100"}
prometheus=/usr/bin/prometheus
promtool=/usr/bin/promtool

run=$(mktemp -d /tmp/foresight-rules-bench.XXXXXX)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done
  rm -rf "$run"
}
trap cleanup EXIT

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

wait_url() {  # wait_url URL SECONDS
  local i
  for ((i = 0; i < $2 * 10; i++)); do
    curl -fsS -o /dev/null --max-time 2 "$1" 2>/dev/null && return 0
    sleep 0.1
  done
  echo "rules_bench: $1 not ready within $2 s" >&2
  return 1
}

echo "rules_bench: $(date -u +%FT%TZ), $(nproc) CPUs, $("$prometheus" --version 2>&1 | head -1)"
printf '%-7s %-7s %-40s %8s %11s %9s\n' series firing rule alerts "median ms" "max ms"

# write_exposition N PERCENT FILE: what foresight_exporter publishes for N series, of which
# PERCENT breach capacity at every horizon.
write_exposition() {
  python3 - "$@" <<'EOF'
import os, sys
n, pct, path = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
fams = {}
def add(name, line):
    fams.setdefault(name, []).append(name + line)
for i in range(n):
    s = f'service="svc{i}",instance="host{i % 100}:8080",job="api",foresight_job="bench"'
    breach = (i % 100) >= 100 - pct
    base = 640 if breach else 300
    for h, k in (("15m", 1), ("1h", 2), ("6h", 3)):
        add("foresight_forecast", f'{{{s},horizon="{h}"}} {base + 5 * k}')
        for c, w in (("0.8", 10), ("0.95", 20)):
            add("foresight_forecast_lower", f'{{{s},horizon="{h}",confidence="{c}"}} {base + 5 * k - w}')
            add("foresight_forecast_upper", f'{{{s},horizon="{h}",confidence="{c}"}} {base + 5 * k + w}')
        add("foresight_threshold", f'{{{s},threshold="capacity",direction="above",horizon="{h}"}} 650')
        add("foresight_threshold", f'{{{s},threshold="floor",direction="below",horizon="{h}"}} 50')
    if breach:
        for c in ("0.8", "0.95"):
            add("foresight_threshold_eta_seconds", f'{{{s},threshold="capacity",confidence="{c}"}} 3600')
    add("foresight_observed", f'{{{s}}} {base}')
    add("foresight_anomaly", f'{{{s}}} 0')
    add("foresight_anomaly_score", f'{{{s}}} 0.5')
    add("foresight_model_info", f'{{{s},model="ets"}} 1')
    add("foresight_backtest_mase", f'{{{s}}} 0.8')
    add("foresight_backtest_coverage_ratio", f'{{{s}}} 0.95')
with open(path + ".tmp", "w") as f:
    for name, lines in fams.items():
        f.write(f"# TYPE {name} gauge\n" + "\n".join(lines) + "\n")
os.replace(path + ".tmp", path)
EOF
}

for n in $series_list; do
  dir=$run/$n
  mkdir -p "$dir/www" "$dir/data" "$dir/rules"
  # The peer's raw series: 6 h at 15 s ending now, level 300 + 10 * (i % 100), a tiny ramp.
  python3 - "$n" "$(date +%s)" "$dir/raw.om" <<'EOF'
import sys
n, now, path = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
step, points = 15, 6 * 240
with open(path, "w") as f:
    f.write("# TYPE bench_raw gauge\n")
    for i in range(n):
        level = 300 + 10 * (i % 100)
        name = f'bench_raw{{service="svc{i}",instance="host{i % 100}:8080",job="api"}}'
        f.write("".join(f"{name} {level + p * 0.0001:.4f} {now - (points - 1 - p) * step}\n"
                        for p in range(points)))
    f.write("# EOF\n")
EOF
  "$promtool" tsdb create-blocks-from openmetrics --max-block-duration=24h -q "$dir/raw.om" "$dir/data" \
    >"$dir/promtool.log" 2>&1 || { cat "$dir/promtool.log" >&2; exit 1; }
  rm -f "$dir/raw.om"
  cp "${ALERT_RULES:-$root/rules/foresight-alerts.rules.yml}" "$dir/rules/foresight-alerts.rules.yml"
  web_port=$(free_port)
  prom_port=$(free_port)
  python3 -m http.server --bind 127.0.0.1 --directory "$dir/www" "$web_port" >"$dir/www.log" 2>&1 &
  pids+=($!)
  cat >"$dir/prometheus.yml" <<EOF
global: {scrape_interval: 30s, scrape_timeout: 25s, evaluation_interval: 5s}
rule_files: [rules/foresight-alerts.rules.yml, rules/peer.rules.yml]
scrape_configs:
  - job_name: foresight_exporter
    honor_labels: true
    static_configs: [{targets: ['127.0.0.1:$web_port']}]
EOF
  prom=http://127.0.0.1:$prom_port
  prom_pid=""
  for pct in $firing_list; do
    write_exposition "$n" "$pct" "$dir/www/metrics"
    # The same series breach for the peer: level >= 300 + 10 * (100 - pct).
    cat >"$dir/rules/peer.rules.yml" <<EOF
groups:
  - name: peer.predict_linear
    rules:
      - alert: PeerPredictLinearBreach
        expr: predict_linear(bench_raw[6h], 6 * 3600) > $((300 + 10 * (100 - pct) - 5))
        for: 10m
        labels: {severity: warning}
        annotations:
          summary: '{{ \$labels.service }}: predicted to exceed capacity within 6h'
          description: 'predict_linear over 6h gives {{ \$value | humanize }} for {{ \$labels.instance }}.'
EOF
    if [ -z "$prom_pid" ]; then
      "$prometheus" --config.file="$dir/prometheus.yml" --storage.tsdb.path="$dir/data" \
        --storage.tsdb.retention.time=100y --web.listen-address="127.0.0.1:$prom_port" \
        --web.enable-lifecycle >"$dir/prometheus.log" 2>&1 &
      prom_pid=$!
      pids+=("$prom_pid")
      wait_url "$prom/-/ready" 300
    else
      curl -fsS -X POST "$prom/-/reload" >/dev/null
    fi
    # Settled: this scenario's exposition is scraped and both alerts have the expected counts.
    want="$((n * pct / 100 * 3)) $((n * pct / 100))"
    counts=""
    for ((i = 0; i < 180; i++)); do
      counts=$(curl -fsS "$prom/api/v1/rules" | jq -r '[.data.groups[].rules[]
        | select(.name == "ForesightPredictedThresholdBreach" or .name == "PeerPredictLinearBreach")
        | (.alerts | length)] | join(" ")')
      [ "$counts" = "$want" ] && break
      sleep 1
    done
    [ "$counts" = "$want" ] ||
      { echo "rules_bench: alerts never settled at '$counts' (want '$want')" >&2; exit 1; }
    sleep 10
    : >"$dir/samples"
    end=$(($(date +%s) + seconds))
    while [ "$(date +%s)" -lt "$end" ]; do
      curl -fsS "$prom/api/v1/rules" |
        jq -r '.data.groups[].rules[] | "\(.name) \(.evaluationTime) \(.alerts // [] | length)"' >>"$dir/samples"
      sleep 5
    done
    for rule in ForesightPredictedThresholdBreach ForesightPredictedThresholdBreachSoon \
      ForesightAnomaly ForesightModelDegraded ForesightThresholdUnwatched PeerPredictLinearBreach; do
      awk -v r="$rule" '$1 == r { print $2 * 1000, $3 }' "$dir/samples" | sort -g |
        awk -v n="$n" -v p="$pct%" -v r="$rule" '{ v[NR] = $1; a = $2 } END {
          if (NR == 0) { printf "%-7s %-7s %-40s %8s %11s %9s\n", n, p, r, "-", "-", "-"; exit }
          printf "%-7s %-7s %-40s %8d %11.2f %9.2f\n", n, p, r, a, v[int((NR + 1) / 2)], v[NR] }'
    done
    rss_kib=$(ps -o rss= -p "$prom_pid" | tr -d ' ')
    echo "        Prometheus RSS $((rss_kib / 1024)) MiB"
  done
  kill "$prom_pid"
  wait "$prom_pid" 2>/dev/null || true
done
