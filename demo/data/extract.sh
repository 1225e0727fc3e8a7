#!/usr/bin/env bash
# Regenerates the CSVs in this folder from the original files, exactly as README.md describes.
# Not run by the demo (the CSVs are committed); kept so the windows and transformations can be
# checked and redone. Usage: demo/data/extract.sh DATA_DIR
#   DATA_DIR holds nasa_http_1995/requests_per_minute.csv and nab/data/realKnownCause/*.csv
#   (the layout of the upstream copies described in README.md).
set -euo pipefail
src=${1:?usage: demo/data/extract.sh DATA_DIR}
out=$(cd "$(dirname "$0")" && pwd)
# Differences of wall-clock times: UTC has no daylight-saving jumps to distort them.
export TZ=UTC LC_ALL=C

# NASA: 21 whole days of minutes, 1995-08-10T10:00 to 1995-08-31T09:59 (-04:00, the log's zone).
# Rows are "YYYY-MM-DDTHH:MM:SS-04:00,requests"; ISO strings in one zone compare as times.
nasa_first=1995-08-10T10:00:00-04:00
nasa_last=1995-08-31T09:59:00-04:00
awk -F, -v first="$nasa_first" -v last="$nasa_last" '
  function epoch(ts) {  # "YYYY-MM-DDTHH:MM:SS..." -> seconds (zone ignored: all rows share it)
    return mktime(substr(ts, 1, 4) " " substr(ts, 6, 2) " " substr(ts, 9, 2) " " \
                  substr(ts, 12, 2) " " substr(ts, 15, 2) " " substr(ts, 18, 2))
  }
  BEGIN { end = epoch(last); print "offset_seconds,requests" }
  NR > 1 && $1 >= first && $1 <= last { print epoch($1) - end "," $2 }
' "$src/nasa_http_1995/requests_per_minute.csv" >"$out/nasa_http_requests_per_minute.csv"

# NAB: the last 21 days of each series, (last - 21 d, last]. Values are printed with 10
# significant digits, which drops binary noise such as 30.938000000000002 and no real digit.
nab_window() {  # nab_window SOURCE_CSV OUTPUT_CSV
  local file=$1 dest=$2 last
  last=$(tail -n 1 "$file" | cut -d, -f1)
  awk -F, -v last="$last" '
    function epoch(ts) {  # "YYYY-MM-DD HH:MM:SS" -> seconds
      return mktime(substr(ts, 1, 4) " " substr(ts, 6, 2) " " substr(ts, 9, 2) " " \
                    substr(ts, 12, 2) " " substr(ts, 15, 2) " " substr(ts, 18, 2))
    }
    BEGIN { end = epoch(last); start = end - 21 * 86400; print "offset_seconds,value" }
    NR > 1 { t = epoch($1); if (t > start && t <= end) printf "%d,%.10g\n", t - end, $2 }
  ' "$file" >"$dest"
}
nab=$src/nab/data/realKnownCause
nab_window "$nab/machine_temperature_system_failure.csv" "$out/nab_machine_temperature.csv"
nab_window "$nab/ambient_temperature_system_failure.csv" "$out/nab_ambient_temperature.csv"
nab_window "$nab/nyc_taxi.csv" "$out/nab_nyc_taxi.csv"
