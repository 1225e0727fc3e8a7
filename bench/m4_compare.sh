#!/usr/bin/env bash
# M4 Hourly (414 series, horizon 48): Foresight's engine against R's forecast package (ets,
# auto.arima, mstl via stlf), same series, same measures, same machine, in one run.
# Needs ../shared/data/m4_hourly beside the checkout and r-cran-forecast (installed here if
# missing). Usage: bench/m4_compare.sh [JOBS] [LIMIT]   (JOBS default 2; LIMIT 0 = all)
set -euo pipefail
cd "$(dirname "$0")/.."
jobs=${1:-2}
limit=${2:-0}
data=${FORESIGHT_M4_DIR:-../shared/data/m4_hourly}
[ -f "$data/train.csv" ] || { echo "m4_compare: no $data/train.csv" >&2; exit 1; }
if ! dpkg-query -W -f='${Status}' r-cran-forecast 2>/dev/null | grep -q "install ok installed"; then
  apt-get install -y -qq --no-install-recommends r-cran-forecast >/dev/null
fi
bin=build/release/tools/foresight/foresight
[ -x "$bin" ] || { echo "m4_compare: build first (cmake --build build/release)" >&2; exit 1; }

echo "# M4 Hourly, $(date -u +%Y-%m-%d), $(nproc) cores, jobs=$jobs"
echo
echo "| method | sMAPE | MASE | MSIS | coverage 95 | seconds | series |"
echo "|---|---:|---:|---:|---:|---:|---:|"
out=$("$bin" backtest --m4-dir "$data" --jobs "$jobs" --limit "$limit" --json)
python3 - "$out" <<'PY'
import json, sys
d = json.loads(sys.argv[1])
def row(name, s, secs=""):
    print(f"| {name} | {s['smape']:.3f} | {s['mase']:.3f} | {s['msis']:.3f} | {s['coverage']:.3f} | {secs} | {s['series']} |")
row("foresight (selected)", d["selected"], f"{d['seconds']:.1f}")
for k, v in sorted(d["models"].items()):
    row(f"foresight {k}", v, "(in the above)")
print(f"\nforesight peak memory: {d['peak_memory_bytes'] / 2**20:.0f} MiB; chosen: {d['chosen']}\n", file=sys.stderr)
PY
arima_n=${FORESIGHT_ARIMA_SERIES:-12}
sub=$("$bin" backtest --m4-dir "$data" --jobs "$jobs" --limit "$arima_n" --json)
python3 - "$sub" "$arima_n" <<'PY'
import json, sys
s = json.loads(sys.argv[1])["selected"]
print(f"| foresight (selected), first {sys.argv[2]} series | {s['smape']:.3f} | {s['mase']:.3f} | {s['msis']:.3f} | {s['coverage']:.3f} | | {s['series']} |")
PY
# auto.arima runs on the first ${FORESIGHT_ARIMA_SERIES:-12} series only: see m4_r_forecast.R.
Rscript bench/m4_r_forecast.R "$data" "snaive,ets,mstl,arima@$arima_n" "$jobs" "$limit" |
  while read -r m smape mase msis cover secs n; do
    echo "| R forecast $m | $smape | $mase | $msis | $cover | $secs | $n |"
  done
