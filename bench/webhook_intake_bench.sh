#!/usr/bin/env bash
# foresight_webhook's durable intake under load, against the peer: Alertmanager's own intake.
#
# wrk (bench/webhook_intake.lua) posts a new notification on every request, shaped like
# ForesightPredictedThresholdBreach (10 labels, 4 annotations; 1.7 KB with one alert), each
# with a fingerprint and an `instance` no other request has, to:
#   match      foresight_webhook, journal on the disk ($JOURNAL_DIR), a playbook that matches
#              every alert: a job per notification, run while intake goes on. The playbook is
#              `dry_run: true` with one `log` step: a job costs what the webhook itself does for
#              it (queue, thread, template, three journal writes: start, step, result) and
#              nothing of what a real step would run, which is the playbook's business;
#   nomatch    the same, the playbook matches nothing: intake and the journal only;
#   tmpfs      as match, the journal on /dev/shm, where fsync costs nothing;
#   alertmanager  the peer: prometheus-alertmanager 0.25's POST /api/v2/alerts, the same alerts
#              as Prometheus would send them (no fingerprint, `instance` unique), one route to a
#              receiver with no integrations. It keeps alerts in memory and syncs nothing per
#              request: its 200 is not durable, ours is.
# For each configuration and each number of connections in $CONNECTIONS: a fresh daemon and
# journal, $WARMUP_SECONDS of load, then $SECONDS_PER_RUN measured. Columns: wrk's requests/s
# and latency percentiles and answers >= 400; then, over the measured window, what the daemon
# reports on /metrics (notifications accepted, journal group commits, their mean duration and
# the bucket holding their p99, the mean batch; jobs finished; jobs still queued at the end), the
# daemon's and wrk's CPU seconds, the daemon's RSS at the end, the journal file's size per
# notification after a clean stop, and the bytes the daemon wrote to files per request. A run
# with any answer >= 400, a socket error, or fewer notifications accepted than wrk counted
# fails the script. The playbook allows 10,000,000 queued jobs (default 10,000): jobs finish
# far slower than notifications arrive here, and with the default the queue would fill and
# intake answer 503 within seconds; the `queued` column shows that backlog.
#
# wrk is closed-loop: each connection sends its next request when the last is answered, so at
# N connections the mean latency is N / throughput; compare rows at the same N. wrk and the
# daemon share the same cores (taskset), as a sender on the same host would.
#
# Environment: WEBHOOK_BINARY (default build/release/alert_webhook/foresight_webhook),
# CONFIGS ("match nomatch tmpfs alertmanager"), CONNECTIONS ("8 16 32 64"), ALERTS (alerts per
# request, "1"; "1 5" adds the five-alert variant), SECONDS_PER_RUN (15), WARMUP_SECONDS (3),
# WRK_THREADS (2), CPUS (taskset list for wrk and the daemon, "0,1"), JOURNAL_DIR (a directory
# on the disk to measure, default /var/tmp).
# Run: bench/webhook_intake_bench.sh   (defaults: 16 runs, about 6 minutes; the figures in
# bench/RESULTS.md need a machine with nothing else running)
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
webhook=${WEBHOOK_BINARY:-$root/build/release/alert_webhook/foresight_webhook}
alertmanager=/usr/bin/prometheus-alertmanager
configs=${CONFIGS:-"match nomatch tmpfs alertmanager"}
connections_list=${CONNECTIONS:-"8 16 32 64"}
alerts_list=${ALERTS:-"1"}
run_seconds=${SECONDS_PER_RUN:-15}
warmup=${WARMUP_SECONDS:-3}
wrk_threads=${WRK_THREADS:-2}
cpus=${CPUS:-0,1}
journal_parent=${JOURNAL_DIR:-/var/tmp}
lua=$root/bench/webhook_intake.lua

for tool in wrk taskset curl python3; do
  command -v "$tool" >/dev/null || { echo "webhook_intake_bench: $tool not found (scripts/install-deps)" >&2; exit 1; }
done
[ -x "$webhook" ] || { echo "webhook_intake_bench: no $webhook (build it, or set WEBHOOK_BINARY)" >&2; exit 1; }

run_dirs=()
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done
  for d in "${run_dirs[@]}"; do rm -rf "$d"; done
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
  echo "webhook_intake_bench: $1 not ready within $2 s" >&2
  return 1
}

cpu_seconds() {  # utime + stime of PID, in seconds
  awk -v hz="$(getconf CLK_TCK)" '{ sub(/^.*\) /, ""); printf "%.1f", ($12 + $13) / hz }' "/proc/$1/stat"
}

status_kib() {  # status_kib PID FIELD: VmRSS, VmHWM
  awk -v f="$2:" '$1 == f { print $2 }' "/proc/$1/status"
}

# fsync_latency DIR: 300 times 4 KiB written and synced in DIR, p50 / p99 in ms, two ways:
# appended and fsync()ed (the file grows, so ext4 commits its journal every time), and written
# over a file that already has its size and fdatasync()ed (what SQLite's WAL does once it has
# grown: a commit writes its frames into the reused WAL and syncs it with fdatasync).
fsync_latency() {
  python3 - "$1" <<'EOF'
import os, sys, time
path = os.path.join(sys.argv[1], "fsync-probe")
def probe(overwrite):
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    block, t = b"x" * 4096, []
    if overwrite:
        os.write(fd, b"\0" * 4096 * 300)
        os.fsync(fd)
        os.lseek(fd, 0, os.SEEK_SET)
    for _ in range(300):
        os.write(fd, block)
        s = time.perf_counter()
        (os.fdatasync if overwrite else os.fsync)(fd)
        t.append((time.perf_counter() - s) * 1000)
    os.close(fd)
    os.unlink(path)
    t.sort()
    return f"{t[len(t) // 2]:.2f} / {t[int(len(t) * 0.99)]:.2f} ms"
print(f"append+fsync p50/p99 {probe(False)}, overwrite+fdatasync {probe(True)}")
EOF
}

# metric_delta BEFORE AFTER: the daemon's own figures between two /metrics scrapes.
metric_delta() {
  python3 - "$1" "$2" <<'EOF'
import re, sys
def load(path):
    m = {}
    for line in open(path):
        if line.startswith("#") or not line.strip():
            continue
        name, value = line.rsplit(" ", 1)
        m[name] = float(value)
    return m
a, b = load(sys.argv[1]), load(sys.argv[2])
d = lambda k: b.get(k, 0.0) - a.get(k, 0.0)
rejected = sum(v for k, v in b.items() if k.startswith("foresight_webhook_notifications_rejected_total"))
commits = d("foresight_webhook_journal_commit_duration_seconds_count")
mean_ms = 1000 * d("foresight_webhook_journal_commit_duration_seconds_sum") / commits if commits else 0
batch = d("foresight_webhook_journal_commit_batch_size_sum") / commits if commits else 0
# p99 of the commit duration from the histogram's buckets (upper bound of the bucket).
buckets = sorted((float(re.search(r'le="([^"]+)"', k).group(1)), d(k)) for k in b
                 if k.startswith("foresight_webhook_journal_commit_duration_seconds_bucket"))
p99 = next((le for le, n in buckets if commits and n >= 0.99 * commits), float("inf"))
finished = sum(d(k) for k in b if re.match(
    r"foresight_webhook_jobs_(succeeded|failed|aborted|interrupted)_total", k))
queued = b.get("foresight_webhook_jobs_queued", 0.0)
print(int(d("foresight_webhook_notifications_received_total")), int(rejected), int(commits),
      f"{mean_ms:.2f}", f"<={p99 * 1000:g}", f"{batch:.1f}", int(finished), int(queued))
EOF
}

load_avg() { cut -d' ' -f1-3 /proc/loadavg; }

echo "webhook_intake_bench: $(date -u +%FT%TZ), nproc $(nproc), $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), kernel $(uname -r), load average $(load_avg)"
echo "  $("$webhook" --version 2>&1 | head -1); $("$alertmanager" --version 2>&1 | head -1); $(wrk -v 2>&1 | head -1 | cut -d' ' -f1-2)"
echo "  wrk -t$wrk_threads --timeout 10s, wrk and the daemon both under taskset -c $cpus; ${warmup} s warm-up, ${run_seconds} s measured"
echo "  journal dir $journal_parent: $(df -T "$journal_parent" | awk 'NR == 2 { print $1, $2 }'); 4 KiB synced there: $(fsync_latency "$journal_parent")"
echo "  /dev/shm: $(df -T /dev/shm | awk 'NR == 2 { print $1, $2 }'); synced there: $(fsync_latency /dev/shm)"
echo
printf '%-12s %6s %5s %8s %8s %8s %8s %8s %8s %6s | %8s %8s %8s %9s %6s %7s %7s %7s %7s %6s %8s %8s\n' \
  config alerts conns req/s p50_ms p90_ms p99_ms p999_ms max_ms non2xx \
  accepted commits commit_ms commit_p99 batch jobs_run queued cpu_s wrk_cpu rss_mb db_B/ntf wr_B/req

run_wrk() {  # run_wrk DURATION RUN_NUMBER MODE ALERTS CONNS URL TOKEN; also prints wrk's CPU time
  local TIMEFORMAT='WRKCPU %U %S'
  { time WRK_RUN=$2 WRK_MODE=$3 WRK_ALERTS=$4 WRK_TOKEN=$7 taskset -c "$cpus" \
    wrk -t"$wrk_threads" -c"$5" -d"$1"s --timeout 10s -s "$lua" "$6"; } 2>&1
}

# check_wrk OUTPUT: the RESULT line's fields as shell variables; fails on errors.
check_wrk() {
  local line
  line=$(grep '^RESULT ' <<<"$1") || { echo "$1" >&2; echo "webhook_intake_bench: wrk printed no RESULT" >&2; return 1; }
  eval "${line#RESULT }"
  wrk_cpu=$(awk '$1 == "WRKCPU" { printf "%.1f", $2 + $3 }' <<<"$1")
  if [ "$non2xx" -ne 0 ] || [ "$socket_errors" -ne 0 ]; then
    echo "$1" >&2
    echo "webhook_intake_bench: $non2xx answers >= 400 and $socket_errors socket errors" >&2
    return 1
  fi
}

for alerts in $alerts_list; do
  for config in $configs; do
    for conns in $connections_list; do
      parent=$journal_parent
      [ "$config" = tmpfs ] && parent=/dev/shm
      dir=$(mktemp -d "$parent/foresight-webhook-bench.XXXXXX")
      run_dirs+=("$dir")
      port=$(free_port)
      url=http://127.0.0.1:$port
      token=bench-token-$RANDOM$RANDOM
      if [ "$config" = alertmanager ]; then
        cat >"$dir/alertmanager.yml" <<EOF
route: {receiver: blackhole, group_by: [alertname, foresight_job]}
receivers: [{name: blackhole}]
EOF
        taskset -c "$cpus" "$alertmanager" --config.file="$dir/alertmanager.yml" \
          --storage.path="$dir/data" --web.listen-address="127.0.0.1:$port" \
          --cluster.listen-address= >"$dir/daemon.log" 2>&1 &
        mode=alertmanager
        metrics_url=$url/metrics
      else
        printf '%s' "$token" >"$dir/token"
        if [ "$config" = nomatch ]; then match='{alertname: NoSuchAlert}'; else match='{alertname: ForesightPredictedThresholdBreach}'; fi
        cat >"$dir/webhook.yml" <<EOF
web: {bearer_token_file: token}
journal: {path: journal/webhook-journal.db}
# Jobs run while intake goes on; the queue may grow past the default 10,000 during a run at
# thousands of notifications a second, which would answer 503: the backlog is reported instead.
limits: {max_queued_jobs: 10000000}
playbooks:
  - name: bench
    match: $match
    dry_run: true
    steps:
      - kind: log
        message: "{{ .Labels.foresight_job }} forecast to cross {{ .Labels.threshold }} within {{ .Labels.horizon }} ({{ .Annotations.summary }})"
EOF
        taskset -c "$cpus" "$webhook" --config.file="$dir/webhook.yml" \
          --web.listen-address="127.0.0.1:$port" --web.max-connections=$((conns + 4)) \
          >"$dir/daemon.log" 2>&1 &
        mode=webhook
        metrics_url=$url/metrics
      fi
      pid=$!
      pids+=("$pid")
      wait_url "$url/-/ready" 30 || { cat "$dir/daemon.log" >&2; exit 1; }
      auth=(-H "Authorization: Bearer $token")
      [ "$mode" = alertmanager ] && auth=()

      out=$(run_wrk "$warmup" 1 "$mode" "$alerts" "$conns" "$url" "$token")
      check_wrk "$out"
      warm_requests=$requests
      curl -fsS "${auth[@]}" "$metrics_url" >"$dir/metrics.before"
      cpu_before=$(cpu_seconds "$pid")
      io_before=$(awk '$1 == "write_bytes:" { print $2 }' "/proc/$pid/io")
      out=$(run_wrk "$run_seconds" 2 "$mode" "$alerts" "$conns" "$url" "$token")
      check_wrk "$out"
      cpu=$(awk -v a="$cpu_before" -v b="$(cpu_seconds "$pid")" 'BEGIN { printf "%.1f", b - a }')
      io=$(( $(awk '$1 == "write_bytes:" { print $2 }' "/proc/$pid/io") - io_before ))
      curl -fsS "${auth[@]}" "$metrics_url" >"$dir/metrics.after"
      rss_mib=$(( $(status_kib "$pid" VmRSS) / 1024 ))

      if [ "$mode" = alertmanager ]; then
        # Alerts received through the API, firing and resolved, since start.
        received=$(awk '/^alertmanager_alerts_received_total/ { s += $2 } END { printf "%d", s }' "$dir/metrics.after")
        want=$(( (warm_requests + requests) * alerts ))
        if [ "$received" -lt "$want" ]; then
          echo "webhook_intake_bench: alertmanager received $received alerts, wrk counted $want" >&2
          exit 1
        fi
        accepted=$received commits=- commit_ms=- commit_p99=- batch=- jobs_run=- queued=- bytes=-
      else
        read -r accepted rejected commits commit_ms commit_p99 batch jobs_run queued \
          < <(metric_delta "$dir/metrics.before" "$dir/metrics.after")
        if [ "$rejected" -ne 0 ] || [ "$accepted" -lt "$requests" ]; then
          echo "webhook_intake_bench: the webhook accepted $accepted and rejected $rejected; wrk counted $requests" >&2
          exit 1
        fi
      fi
      kill "$pid"
      wait "$pid" 2>/dev/null || true
      pids=()
      if [ "$mode" = webhook ]; then
        # Closed cleanly, SQLite has checkpointed and removed the WAL: the file is the journal.
        total=$(awk '/^foresight_webhook_notifications_received_total/ { print $2 }' "$dir/metrics.after")
        bytes=$(stat -c %s "$dir/journal/webhook-journal.db")
        [ -e "$dir/journal/webhook-journal.db-wal" ] && bytes=$((bytes + $(stat -c %s "$dir/journal/webhook-journal.db-wal")))
        bytes=$(awk -v b="$bytes" -v n="$total" 'BEGIN { printf "%d", b / n }')
      fi
      # What the daemon wrote to files during the measured run (write_bytes of /proc/PID/io: the
      # WAL's frames, checkpoints into the database, its log), per request.
      disk=$(awk -v b="$io" -v n="$requests" 'BEGIN { printf "%d", b / n }')
      printf '%-12s %6s %5s %8.0f %8.2f %8.2f %8.2f %8.2f %8.2f %6s | %8s %8s %8s %9s %6s %7s %7s %7s %7s %6s %8s %8s\n' \
        "$config" "$alerts" "$conns" "$rps" "$p50_ms" "$p90_ms" "$p99_ms" "$p999_ms" "$max_ms" "$non2xx" \
        "$accepted" "$commits" "$commit_ms" "$commit_p99" "$batch" "$jobs_run" "$queued" "$cpu" "$wrk_cpu" "$rss_mib" "$bytes" "$disk"
      rm -rf "$dir"
    done
  done
done
echo
echo "webhook_intake_bench: done $(date -u +%FT%TZ), load average $(load_avg)"
echo "  4 KiB synced in $journal_parent again: $(fsync_latency "$journal_parent")"
