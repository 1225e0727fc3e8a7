# R's forecast package (Hyndman) on M4 Hourly, scored exactly as `foresight backtest` scores:
# sMAPE and MASE as M4 defines them (MASE over the in-sample seasonal-naive MAE, m = 24), MSIS
# at 95 % and 95 % coverage. Usage: Rscript m4_r_forecast.R DIR METHODS CORES [LIMIT]
# METHODS: comma-separated from ets, arima, mstl, snaive; "arima@12" runs a method on the first
# 12 series only (auto.arima with m = 24 takes about a CPU-minute per series here, 7 CPU-hours
# for all 414). Prints one line per method:
# method smape mase msis coverage seconds series
suppressMessages({
  library(forecast)
  library(parallel)
})
args <- commandArgs(trailingOnly = TRUE)
dir <- args[1]
methods <- strsplit(args[2], ",")[[1]]
cores <- as.integer(args[3])
limit <- if (length(args) >= 4) as.integer(args[4]) else 0L

read_wide <- function(path) {
  d <- read.csv(path, header = TRUE, stringsAsFactors = FALSE)
  lapply(seq_len(nrow(d)), function(i) {
    v <- as.numeric(d[i, -1])
    v[!is.na(v)]
  })
}
train <- read_wide(file.path(dir, "train.csv"))
test <- read_wide(file.path(dir, "test.csv"))
if (limit > 0) {
  train <- train[seq_len(limit)]
  test <- test[seq_len(limit)]
}
h <- 48
m <- 24

score <- function(y, yt, mean, lo, hi) {
  scale <- mean(abs(diff(y, lag = m)))
  smape <- mean(200 * abs(yt - mean) / (abs(yt) + abs(mean)))
  mase <- mean(abs(yt - mean)) / scale
  a <- 0.05
  msis <- mean((hi - lo) + 2 / a * (lo - yt) * (yt < lo) + 2 / a * (yt - hi) * (yt > hi)) / scale
  cover <- mean(yt >= lo & yt <= hi)
  c(smape, mase, msis, cover)
}

one <- function(i, method) {
  y <- train[[i]]
  yt <- test[[i]]
  fc <- tryCatch({
    if (method == "ets") {
      forecast(ets(ts(y, frequency = m)), h = h, level = 95)
    } else if (method == "arima") {
      forecast(auto.arima(ts(y, frequency = m)), h = h, level = 95)
    } else if (method == "mstl") {
      stlf(msts(y, seasonal.periods = c(24, 168)), h = h, level = 95)
    } else if (method == "snaive") {
      snaive(ts(y, frequency = m), h = h, level = 95)
    }
  }, error = function(e) NULL)
  if (is.null(fc)) return(c(NA, NA, NA, NA))
  score(y, yt, as.numeric(fc$mean), as.numeric(fc$lower[, 1]), as.numeric(fc$upper[, 1]))
}

for (spec in methods) {
  parts <- strsplit(spec, "@")[[1]]
  method <- parts[1]
  count <- if (length(parts) > 1) min(as.integer(parts[2]), length(train)) else length(train)
  t0 <- proc.time()[["elapsed"]]
  rows <- mclapply(seq_len(count), one, method = method, mc.cores = cores)
  secs <- proc.time()[["elapsed"]] - t0
  s <- do.call(rbind, rows)
  ok <- stats::complete.cases(s)
  cat(sprintf("%s %.3f %.3f %.3f %.3f %.1f %d\n", method, mean(s[ok, 1]), mean(s[ok, 2]),
              mean(s[ok, 3]), mean(s[ok, 4]), secs, sum(ok)))
}
