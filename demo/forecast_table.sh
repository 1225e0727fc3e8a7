#!/usr/bin/env bash
# Prints foresight_exporter's forecasts as a readable table: per job and series the model, its
# backtest scores, the anomaly verdict, the forecast and bands at each published horizon and the
# time until each threshold is crossed.
#
#   demo/forecast_table.sh URL...
#
# Each URL answers like GET /api/v1/forecasts?job=NAME (curl fetches it, so file:// works too).
# Fields that are missing or null print as "-": the table never fails on a partial answer.
set -euo pipefail

if [ $# -eq 0 ]; then
  echo "usage: demo/forecast_table.sh URL..." >&2
  exit 2
fi

# One tab-separated record per line; the first field says what the line is.
records() {
  jq -r '
    def str: if . == null then "" else tostring end;
    if (.status // "") != "success" then
      ["fail", (.error // .status // "no status" | str)] | @tsv
    else
      (.data.jobs // [])[] as $j
      | (["job", ($j.job | str), ($j.state | str), ($j.error | str), ($j.step_seconds | str),
          ($j.last_success_time | str), (($j.series // []) | length | str)] | @tsv),
        (($j.series // [])[] as $s
         | (($s.horizons // []) | map(.horizon | str) | last // "") as $longest
         | (["series", ($s.labels // {} | to_entries | map("\(.key)=\"\(.value)\"")
                       | join(", ") | "{" + . + "}")] | @tsv),
           (["model", ($s.model | str), ($s.description | str)] | @tsv),
           (["quality", ($s.backtest_mase | str), ($s.backtest_coverage_ratio | str),
             (($s.horizons // [])[0].bands // [] | [.[].confidence | tonumber?] | max | str),
             (if $s.anomaly == null then "" else ($s.anomaly.anomalous | str) end),
             ($s.anomaly.score | str)] | @tsv),
           (["bands"] + (($s.horizons // [])[0].bands // [] | map(.confidence | str)) | @tsv),
           (($s.horizons // [])[]
            | ["h", (.horizon | str), (.forecast | str)]
              + ((.bands // []) | map((.lower | str), (.upper | str))) | @tsv),
           (($s.thresholds // [])[]
            | ["t", (.name | str), (.value | str), (.direction | str), $longest]
              + ((.etas // []) | map("\(.confidence | str)=\(.seconds | str)")) | @tsv))
    end'
}

# Formats the records: numbers to 4 significant digits (whole numbers from 1000 up), seconds
# as "in 1d2h" style durations, confidences as percentages.
format() {
  awk -F'\t' '
    function num(x) {
      if (x == "") return "-"
      x += 0
      return (x >= 1000 || x <= -1000) ? sprintf("%.0f", x) : sprintf("%.4g", x)
    }
    function pct(c) { return c == "" ? "?" : sprintf("%g%%", c * 100) }
    function dur(s,   d, h, m, out) {
      s = int(s + 0.5)
      if (s <= 0) return "now"
      if (s < 60) return "in " s "s"
      d = int(s / 86400); h = int((s % 86400) / 3600); m = int((s % 3600) / 60)
      out = ""
      if (d > 0) out = d "d"
      if (h > 0) out = out h "h"
      if (m > 0 && d == 0) out = out m "m"
      return "in " out
    }
    $1 == "fail" { printf "  the exporter answered an error: %s\n", $2; bad = 1; next }
    $1 == "job" {
      printf "\n== %s   state %s", $2, ($3 == "" ? "?" : $3)
      if ($5 != "") printf ", step %ss", $5
      if ($6 != "") printf ", last success %s", $6
      printf "\n"
      if ($4 != "") printf "   error: %s\n", $4
      if ($7 == "0") printf "   no series\n"
      next
    }
    $1 == "series" { printf "  %s\n", $2; next }
    $1 == "model" { printf "    model       %s   %s\n", ($2 == "" ? "?" : $2), $3; next }
    $1 == "quality" {
      printf "    backtest    MASE %s, %s band held %s of actuals", num($2), pct($4),
             ($3 == "" ? "-" : sprintf("%.0f%%", $3 * 100))
      if ($5 != "") printf "   anomaly %s (score %s)", ($5 == "true" ? "YES" : "no"), num($6)
      printf "\n"
      next
    }
    $1 == "bands" {
      line = sprintf("    %-8s %12s", "horizon", "forecast")
      for (i = 2; i <= NF; i++) line = line sprintf("   %-23s", pct($i) " band")
      sub(/ +$/, "", line)
      print line
      next
    }
    $1 == "h" {
      line = sprintf("    %-8s %12s", $2, num($3))
      for (i = 4; i + 1 <= NF; i += 2) line = line sprintf("   %-23s", "[" num($i) ", " num($(i + 1)) "]")
      sub(/ +$/, "", line)
      print line
      next
    }
    $1 == "t" {
      printf "    threshold   %s: %s %s;", $2, ($4 == "" ? "above" : $4), num($3)
      for (i = 6; i <= NF; i++) {
        split($i, kv, "=")
        printf "  %s band: %s", pct(kv[1]),
               (kv[2] == "" ? "not within " ($5 == "" ? "the horizon" : $5) : dur(kv[2]))
      }
      printf "\n"
      next
    }
    END { exit bad }
  '
}

status=0
for url in "$@"; do
  if ! body=$(curl -fsS --max-time 30 "$url" 2>&1); then
    echo "forecast_table: cannot fetch $url: $body" >&2
    status=1
    continue
  fi
  if ! recs=$(printf '%s' "$body" | records 2>&1); then
    echo "forecast_table: $url did not answer JSON in the expected shape: $recs" >&2
    echo "  (first 300 bytes: ${body:0:300})" >&2
    status=1
    continue
  fi
  printf '%s\n' "$recs" | format || status=1
done
exit $status
