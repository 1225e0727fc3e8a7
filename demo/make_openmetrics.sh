#!/usr/bin/env bash
# Turns the demo's CSVs (demo/data/*.csv, offsets in seconds before the window's last point)
# into one OpenMetrics file for `promtool tsdb create-blocks-from openmetrics`, shifted so that
# every series' last sample is at END_MS. Writes to stdout.
#
#   demo/make_openmetrics.sh END_MS [DATA_DIR] > backfill.om
#
# END_MS: Unix time in milliseconds, a whole number of seconds (scripts/demo passes "now" rounded
# down to the minute). Timestamps are written as whole seconds, which promtool reads exactly.
#
# What each file becomes (demo/data/README.md has the sources):
#   nasa_http_requests_per_minute.csv -> counter demo_http_requests_total{service="nasa-www"}:
#     the running total of requests, one sample per minute at the minute's end, as Prometheus
#     scraping the web server every minute would have recorded it.
#   nab_machine_temperature.csv -> gauge demo_machine_temperature_degrees{machine="m1"}
#     (NAB does not state the unit, so none is claimed; values as recorded).
#   nab_ambient_temperature.csv -> gauge demo_room_temperature_celsius{room="office"}
#     (recorded in Fahrenheit, converted).
#   nab_nyc_taxi.csv -> gauge demo_taxi_passengers{city="nyc"}: passengers per 30 minutes.
# Every series also has job="demo". A gauge reading is repeated every minute until the next
# reading, as a Prometheus scraping every minute records a gauge that changes every 5 minutes,
# hour or half hour; without that, a graph with a step under the reading interval would show
# isolated points (instant queries only look back 5 minutes).
set -euo pipefail

usage() {
  echo "usage: demo/make_openmetrics.sh END_MS [DATA_DIR] > out.om" >&2
  exit 2
}
if [ $# -lt 1 ] || [ $# -gt 2 ]; then usage; fi
end_ms=$1
data=${2:-$(cd "$(dirname "$0")" && pwd)/data}
if ! [[ $end_ms =~ ^[0-9]+$ ]] || [ $((end_ms % 1000)) -ne 0 ]; then
  echo "make_openmetrics: END_MS must be Unix milliseconds in whole seconds, got \"$end_ms\"" >&2
  exit 2
fi
end_s=$((end_ms / 1000))

# check_csv FILE HEADER: the file exists and has the expected header.
check_csv() {
  if [ ! -r "$1" ]; then
    echo "make_openmetrics: cannot read $1" >&2
    exit 1
  fi
  local header
  header=$(head -n 1 "$1" | tr -d '\r')
  if [ "$header" != "$2" ]; then
    echo "make_openmetrics: $1: header is \"$header\", want \"$2\"" >&2
    exit 1
  fi
}

# The oldest sample must stay at or after the Unix epoch: promtool silently drops negative
# timestamps.
check_start() {  # check_start FILE
  local first
  first=$(sed -n 2p "$1" | cut -d, -f1)
  if [ $((end_s + first)) -lt 0 ]; then
    echo "make_openmetrics: END_MS $end_ms is too early for $1 (first offset $first s)" >&2
    exit 2
  fi
}

# counter FILE FAMILY LABELS HELP: running total of column 2, one sample per row.
counter() {
  check_csv "$1" "offset_seconds,requests"
  check_start "$1"
  printf '# HELP %s %s\n# TYPE %s counter\n' "$2" "$4" "$2"
  awk -F, -v end="$end_s" -v name="$2_total" -v labels="$3" -v file="$1" '
    NR == 1 { next }
    {
      t = end + $1
      if (NR > 2 && t <= prev) { printf "%s:%d: offset %s is not after the previous row\n", file, NR, $1 > "/dev/stderr"; exit 1 }
      if ($2 !~ /^[0-9]+$/) { printf "%s:%d: requests \"%s\" is not a count\n", file, NR, $2 > "/dev/stderr"; exit 1 }
      total += $2
      printf "%s{%s} %d %d\n", name, labels, total, t
      prev = t
    }
  ' "$1"
}

# gauge FILE NAME LABELS HELP HOLD_SECONDS SCALE SHIFT: value*SCALE+SHIFT, each reading repeated
# every 60 s for up to HOLD_SECONDS or until the next reading.
gauge() {
  check_csv "$1" "offset_seconds,value"
  check_start "$1"
  printf '# HELP %s %s\n# TYPE %s gauge\n' "$2" "$4" "$2"
  awk -F, -v end="$end_s" -v name="$2" -v labels="$3" -v hold="$5" -v scale="$6" \
      -v shift="$7" -v file="$1" '
    function emit(upto,   s) {  # the held reading, every 60 s from its time, before upto
      for (s = pt; s < upto && s < pt + hold; s += 60) {
        printf "%s{%s} %s %d\n", name, labels, pv, s
      }
    }
    NR == 1 { next }
    {
      t = end + $1
      if (NR > 2 && t <= pt) { printf "%s:%d: offset %s is not after the previous row\n", file, NR, $1 > "/dev/stderr"; exit 1 }
      if ($2 !~ /^-?[0-9.]+([eE][-+]?[0-9]+)?$/) { printf "%s:%d: value \"%s\" is not a number\n", file, NR, $2 > "/dev/stderr"; exit 1 }
      if (NR > 2) emit(t)
      pt = t
      pv = (scale == 1 && shift == 0) ? $2 : sprintf("%.10g", $2 * scale + shift)
    }
    END { if (NR > 1) emit(pt + 1) }
  ' "$1"
}

counter "$data/nasa_http_requests_per_minute.csv" demo_http_requests \
  'service="nasa-www",job="demo"' \
  "HTTP requests served (NASA Kennedy Space Center WWW server, August 1995, time-shifted)."
gauge "$data/nab_machine_temperature.csv" demo_machine_temperature_degrees \
  'machine="m1",job="demo"' \
  "Temperature of an internal component of an industrial machine (NAB; unit not stated)." \
  300 1 0
gauge "$data/nab_ambient_temperature.csv" demo_room_temperature_celsius \
  'room="office",job="demo"' \
  "Ambient temperature in an office (NAB; recorded in Fahrenheit, converted)." \
  3600 0.5555555555555556 -17.77777777777778
gauge "$data/nab_nyc_taxi.csv" demo_taxi_passengers \
  'city="nyc",job="demo"' \
  "NYC taxi passengers in the last 30 minutes (NAB, from NYC TLC trip records)." \
  1800 1 0
echo "# EOF"
