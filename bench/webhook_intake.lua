-- wrk script for bench/webhook_intake_bench.sh: every request is a new Alertmanager
-- notification shaped like what rules/foresight-alerts.rules.yml's
-- ForesightPredictedThresholdBreach sends (10 labels, 4 annotations), with a fingerprint and an
-- `instance` label no other request of the run has.
--
-- Environment (wrk passes no options to scripts but the arguments after `--`; these are simpler):
--   WRK_MODE    webhook (default): POST /api/v1/notifications, an Alertmanager webhook v4
--               payload with "Authorization: Bearer $WRK_TOKEN";
--               alertmanager: POST /api/v2/alerts, the same alerts as Prometheus sends them
--   WRK_TOKEN   the bearer token (webhook mode)
--   WRK_ALERTS  alerts per request (default 1)
--   WRK_RUN     a number unique to this wrk invocation (0-255): the warm-up and the measured
--               run of one daemon must not send the same fingerprints
--
-- done() prints one line the bench script parses:
--   RESULT requests=N wall_s=S rps=R p50_ms= p90_ms= p99_ms= p999_ms= max_ms= non2xx=N
--   socket_errors=N
-- non2xx is wrk's count of answers with status 400 or above (wrk counts no other statuses); the
-- script also compares requests with what the daemon says it accepted.

local mode = os.getenv("WRK_MODE") or "webhook"
local token = os.getenv("WRK_TOKEN") or ""
local alerts_per_request = tonumber(os.getenv("WRK_ALERTS") or "1")
local run = tonumber(os.getenv("WRK_RUN") or "0")

-- setup() runs in the main Lua state once per wrk thread; each thread then has its own state,
-- its own `thread_id` and its own counter.
local threads = 0
function setup(thread)
  thread:set("thread_id", threads)
  threads = threads + 1
end

thread_id = 0
local counter = 0
local horizons = { "15m", "1h", "6h", "1d", "1w" }

local description = "The 0.95 upper band of checkout-latency{service=\"checkout\",instance=\"%s\","
  .. "job=\"api\"} %s ahead is 652.3, above the threshold capacity (650). Forecast by mstl on "
  .. "14d of history at a 5m step; backtest MASE 0.81, 95%% coverage 0.95. Check the "
  .. "capacity plan before the predicted breach."

-- One alert: labels as Prometheus sends them for ForesightPredictedThresholdBreach.
local function labels_json(instance, horizon)
  return string.format(
    '{"alertname":"ForesightPredictedThresholdBreach","confidence":"0.95","direction":"above",'
      .. '"foresight_job":"checkout-latency","horizon":"%s","instance":"%s","job":"api",'
      .. '"service":"checkout","severity":"warning","threshold":"capacity"}',
    horizon, instance)
end

local function annotations_json(instance, horizon)
  return string.format(
    '{"description":"%s","eta":"47m 12s",'
      .. '"runbook_url":"https://git.example.com/foresight/blob/main/rules/runbooks/'
      .. 'ForesightPredictedThresholdBreach.md",'
      .. '"summary":"checkout-latency: forecast to go above capacity within %s"}',
    (string.format(description, instance, horizon):gsub('"', '\\"')), horizon)
end

local generator = "http://prometheus:9090/graph?g0.expr=foresight_forecast_upper%7B"
  .. "confidence%3D%220.95%22%7D+%3E%3D+ignoring+%28confidence%29+foresight_threshold&g0.tab=1"

local function webhook_body()
  local alerts = {}
  for i = 1, alerts_per_request do
    counter = counter + 1
    -- 16 hex digits as Alertmanager prints them: run, thread, counter.
    local fingerprint = string.format("%02x%02x%012x", run % 256, thread_id % 256, counter)
    local instance = "node-" .. fingerprint .. ":9100"
    local horizon = horizons[(i - 1) % #horizons + 1]
    alerts[i] = string.format(
      '{"status":"firing","labels":%s,"annotations":%s,'
        .. '"startsAt":"2026-11-23T06:00:00.123456789Z","endsAt":"0001-01-01T00:00:00Z",'
        .. '"generatorURL":"%s","fingerprint":"%s"}',
      labels_json(instance, horizon), annotations_json(instance, horizon), generator,
      fingerprint)
  end
  return '{"receiver":"foresight-webhook","status":"firing","alerts":['
    .. table.concat(alerts, ",")
    .. '],"groupLabels":{"alertname":"ForesightPredictedThresholdBreach",'
    .. '"foresight_job":"checkout-latency"},'
    .. '"commonLabels":{"alertname":"ForesightPredictedThresholdBreach","confidence":"0.95",'
    .. '"direction":"above","foresight_job":"checkout-latency","job":"api",'
    .. '"service":"checkout","severity":"warning","threshold":"capacity"},'
    .. '"commonAnnotations":{},"externalURL":"http://alertmanager:9093","version":"4",'
    .. '"groupKey":"{}/{alertname=~\\"^(?:Foresight.*)$\\"}:{alertname=\\"'
    .. 'ForesightPredictedThresholdBreach\\", foresight_job=\\"checkout-latency\\"}",'
    .. '"truncatedAlerts":0}'
end

-- Alertmanager's own intake: what Prometheus posts, a JSON array of alerts without status or
-- fingerprint (Alertmanager computes it from the labels, here made unique by `instance`).
local function alertmanager_body()
  local alerts = {}
  for i = 1, alerts_per_request do
    counter = counter + 1
    local instance = string.format("node-%02x%02x%012x:9100", run % 256, thread_id % 256, counter)
    local horizon = horizons[(i - 1) % #horizons + 1]
    alerts[i] = string.format('{"labels":%s,"annotations":%s,"generatorURL":"%s"}',
      labels_json(instance, horizon), annotations_json(instance, horizon), generator)
  end
  return "[" .. table.concat(alerts, ",") .. "]"
end

local headers
if mode == "alertmanager" then
  headers = { ["Content-Type"] = "application/json" }
else
  headers = { ["Content-Type"] = "application/json", ["Authorization"] = "Bearer " .. token }
end
local path = mode == "alertmanager" and "/api/v2/alerts" or "/api/v1/notifications"

function request()
  local body = mode == "alertmanager" and alertmanager_body() or webhook_body()
  return wrk.format("POST", path, headers, body)
end

function done(summary, latency, requests)
  local seconds = summary.duration / 1e6
  local e = summary.errors
  io.write(string.format(
    "RESULT requests=%d wall_s=%.2f rps=%.1f p50_ms=%.2f p90_ms=%.2f p99_ms=%.2f "
      .. "p999_ms=%.2f max_ms=%.2f non2xx=%d socket_errors=%d\n",
    summary.requests, seconds, summary.requests / seconds,
    latency:percentile(50) / 1000, latency:percentile(90) / 1000,
    latency:percentile(99) / 1000, latency:percentile(99.9) / 1000, latency.max / 1000,
    e.status, e.connect + e.read + e.write + e.timeout))
end
