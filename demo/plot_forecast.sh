#!/usr/bin/env bash
# Draws one forecast job as a PNG with gnuplot: the actual series from Prometheus over the last
# two days, then the exporter's forecast curve with its bands as shaded areas (widest lightest)
# and each threshold as a dashed line.
#
#   demo/plot_forecast.sh FORECAST_URL PROMETHEUS_URL PROMQL OUT_PNG [TITLE [Y_LABEL]]
#
# FORECAST_URL answers like GET /api/v1/forecasts?job=NAME (file:// works too); the first series
# of the first job is drawn. PROMQL is the actual series, queried over the two days before the
# forecast's origin at the job's step. The time axis is hours from the origin: the demo data is
# replayed from another year, so clock times and weekdays would mislead.
set -euo pipefail

if [ $# -lt 4 ] || [ $# -gt 6 ]; then
  echo "usage: demo/plot_forecast.sh FORECAST_URL PROMETHEUS_URL PROMQL OUT_PNG [TITLE [Y_LABEL]]" >&2
  exit 2
fi
forecast_url=$1 prometheus_url=${2%/} promql=$3 out=$4
title=${5:-$promql} ylabel=${6:-}
for tool in curl jq gnuplot; do
  if ! command -v "$tool" >/dev/null; then
    echo "plot_forecast: $tool is not installed (scripts/install-deps installs it)" >&2
    exit 1
  fi
done

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

fail() {
  echo "plot_forecast: $*" >&2
  exit 1
}

curl -fsS --max-time 30 -o "$work/forecast.json" "$forecast_url" ||
  fail "cannot fetch the forecast from $forecast_url"
jq -e '.status == "success" and ((.data.jobs[0].series[0].curve // []) | length) > 0' \
  "$work/forecast.json" >/dev/null 2>&1 ||
  fail "$forecast_url has no forecast curve to draw (first 300 bytes: $(head -c 300 "$work/forecast.json"))"

step=$(jq -r '.data.jobs[0].step_seconds // 300' "$work/forecast.json")
origin=$(jq -r '.data.jobs[0].series[0] | (.origin_ms // .curve[0].time_ms) / 1000 | floor' \
  "$work/forecast.json")

# The forecast: hours from the origin, mean, then lower and upper of each band, widest first.
jq -r --argjson origin "$origin" '
  .data.jobs[0].series[0] as $s
  | ($s.curve[0].bands // [] | map(.confidence) | sort_by(tonumber) | reverse) as $conf
  | $s.curve[]
  | . as $p
  | [(($p.time_ms / 1000 - $origin) / 3600), $p.mean]
    + ($conf | map(. as $c | ($p.bands | map(select(.confidence == $c)) | .[0]) as $b
                   | ($b.lower // "NaN"), ($b.upper // "NaN")))
  | map(tostring) | join(" ")' "$work/forecast.json" >"$work/forecast.dat"
mapfile -t confidences < <(jq -r '.data.jobs[0].series[0].curve[0].bands // [] | map(.confidence)
  | sort_by(tonumber) | reverse | .[]' "$work/forecast.json")
mapfile -t thresholds < <(jq -r '.data.jobs[0].series[0].thresholds // [] | .[]
  | select(.value != null) | "\(.value)\t\(.name) (\(.direction // "above") \(.value))"' \
  "$work/forecast.json")

# The actuals: two days up to the origin, one point per step.
if ! curl -fsS --max-time 30 -o "$work/actual.json" -G "$prometheus_url/api/v1/query_range" \
  --data-urlencode "query=$promql" --data-urlencode "start=$((origin - 2 * 86400))" \
  --data-urlencode "end=$origin" --data-urlencode "step=$step"; then
  fail "the Prometheus query $promql failed at $prometheus_url"
fi
jq -r --argjson origin "$origin" '.data.result[0].values // [] | .[]
  | "\((.[0] - $origin) / 3600 | tostring) \(.[1])"' "$work/actual.json" >"$work/actual.dat"
[ -s "$work/actual.dat" ] || fail "Prometheus has no data for $promql before the origin"

# gnuplot: areas from the widest band in, then the lines on top.
colors=("#9ecae1" "#4292c6" "#2171b5" "#08519c")
{
  echo 'set terminal pngcairo size 1280,640 font "sans,10"'
  echo "set output \"$out\""
  printf 'set title "%s"\n' "${title//\"/\\\"}"
  [ -z "$ylabel" ] || printf 'set ylabel "%s"\n' "${ylabel//\"/\\\"}"
  echo 'set xlabel "hours from now"'
  echo 'set xtics 6'
  echo 'set autoscale xfix'
  echo 'set grid'
  echo 'set key bottom left opaque'
  echo 'set style fill solid 1.0 noborder'
  echo 'set arrow from 0, graph 0 to 0, graph 1 nohead dt 3 lc rgb "#555555"'
  echo 'set label "now" at 0, graph 0.97 offset 0.5,0 textcolor rgb "#555555"'
  plots=()
  for i in "${!confidences[@]}"; do
    c=${confidences[$i]}
    pct=$(awk -v c="$c" 'BEGIN { printf "%g", c * 100 }')
    plots+=("\"$work/forecast.dat\" using 1:$((3 + 2 * i)):$((4 + 2 * i)) with filledcurves lc rgb \"${colors[$((i % 4))]}\" title \"${pct}% band\"")
  done
  plots+=("\"$work/actual.dat\" using 1:2 with lines lw 1.5 lc rgb \"black\" title \"actual\"")
  plots+=("\"$work/forecast.dat\" using 1:2 with lines lw 2 lc rgb \"#d95f02\" title \"forecast\"")
  for t in "${thresholds[@]}"; do
    plots+=("${t%%$'\t'*} with lines dt 2 lw 2 lc rgb \"#cb181d\" title \"${t#*$'\t'}\"")
  done
  (
    IFS=','
    echo "plot ${plots[*]}"
  )
} >"$work/plot.gp"

gnuplot "$work/plot.gp" 2>"$work/gnuplot.log" ||
  fail "gnuplot failed: $(tail -n 5 "$work/gnuplot.log")"
[ -s "$out" ] || fail "gnuplot wrote no image to $out"
