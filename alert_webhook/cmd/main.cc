// foresight_webhook: flags, config, wiring and signals. Everything else is foresight::webhook.

#include <pthread.h>

#include <condition_variable>
#include <csignal>
#include <filesystem>
#include <iostream>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "foresight/common/clock.h"
#include "foresight/common/flags.h"
#include "foresight/common/log.h"
#include "foresight/common/timeparse.h"
#include "foresight/common/version.h"
#include "foresight/http/server.h"
#include "foresight/webhook/action.h"
#include "foresight/webhook/config.h"
#include "foresight/webhook/engine.h"
#include "foresight/webhook/journal.h"
#include "foresight/webhook/metrics.h"
#include "foresight/webhook/web.h"

namespace {

using namespace foresight;
using namespace foresight::webhook;

// What a reload may not change: the open journal, the listener's TLS and body limit.
Status CheckReloadable(const Config& now, const Config& next) {
  if (next.journal.path != now.journal.path) {
    return FailedPrecondition("journal.path changed (\"" + now.journal.path + "\" to \"" +
                              next.journal.path + "\"): restart the daemon to switch journals");
  }
  const bool tls_now = now.web.tls.has_value(), tls_next = next.web.tls.has_value();
  if (tls_now != tls_next ||
      (tls_now && (now.web.tls->cert_file != next.web.tls->cert_file ||
                   now.web.tls->key_file != next.web.tls->key_file))) {
    return FailedPrecondition("web.tls changed: restart the daemon to apply it");
  }
  if (now.web.max_body_bytes != next.web.max_body_bytes) {
    return FailedPrecondition("web.max_body_bytes changed: restart the daemon to apply it");
  }
  return Status::Ok();
}

int Run(int argc, char** argv) {
  std::string config_file = "webhook.yml";
  bool config_check = false;
  std::string listen = ":9447";
  bool insecure = false;
  bool dry_run = false;
  int64_t max_connections = 64;
  std::string shutdown_grace_text = "30s";
  std::string log_level = "info";
  bool version = false;
  FlagSet flags("foresight_webhook [flags]");
  flags.String("config.file", &config_file, "foresight_webhook configuration file.");
  flags.Bool("config.check", &config_check,
             "Validate the configuration file and exit (0: valid, 1: invalid).");
  flags.String("web.listen-address", &listen,
               "Address to listen on for notifications, the API and telemetry, host:port or "
               ":port.");
  flags.Bool("web.insecure", &insecure,
             "Accept requests without authentication when the config has none. Without this "
             "flag such a config is refused.");
  flags.Int("web.max-connections", &max_connections,
            "Connections served at once (one thread each).");
  flags.Bool("dry-run", &dry_run,
             "Record every job and what each step would do, run nothing (overrides the "
             "config's dry_run).");
  flags.String("shutdown.grace", &shutdown_grace_text,
               "On SIGTERM, how long running jobs get to finish before they are aborted.");
  flags.String("log.level", &log_level,
               "Only log messages with the given severity or above: debug, info, warn, error.");
  flags.Bool("version", &version, "Print the version and exit.");
  std::vector<std::string> args(argv + 1, argv + argc);
  auto rest = flags.Parse(args);
  if (!rest.ok()) {
    std::cerr << "foresight_webhook: " << rest.status().message() << "\n" << flags.Usage();
    return 2;
  }
  if (flags.help_requested()) {
    std::cout << flags.Usage();
    return 0;
  }
  if (!rest->empty()) {
    std::cerr << "foresight_webhook: unexpected argument \"" << rest->front() << "\"\n"
              << flags.Usage();
    return 2;
  }
  if (version) {
    std::cout << "foresight_webhook " << kVersion << "\n";
    return 0;
  }
  auto level = log::ParseLevel(log_level);
  if (!level.ok()) {
    std::cerr << "foresight_webhook: --log.level: " << level.status().message() << "\n";
    return 2;
  }
  log::SetLevel(*level);
  auto shutdown_grace = ParseDuration(shutdown_grace_text);
  if (!shutdown_grace.ok()) {
    std::cerr << "foresight_webhook: --shutdown.grace: " << shutdown_grace.status().message()
              << "\n";
    return 2;
  }
  if (max_connections < 1 || max_connections > 4096) {
    std::cerr << "foresight_webhook: --web.max-connections must be from 1 to 4096, got "
              << max_connections << "\n";
    return 2;
  }

  const ActionRegistry registry = ActionRegistry::Default();
  auto loaded = LoadConfig(config_file, registry);
  if (config_check) {
    if (!loaded.ok()) {
      std::cerr << "FAILED: " << loaded.status().message() << "\n";
      return 1;
    }
    auto credentials = LoadCredentials(loaded->web, insecure);
    if (!credentials.ok()) {
      std::cerr << "FAILED: " << config_file << ": " << credentials.status().message() << "\n";
      return 1;
    }
    std::cout << "SUCCESS: " << config_file << " is valid (" << loaded->playbooks.size()
              << " playbooks)\n";
    return 0;
  }
  if (!loaded.ok()) {
    log::Error("cannot load the configuration", {{"err", loaded.status().message()}});
    return 1;
  }
  if (dry_run) loaded->dry_run = true;
  auto credentials = LoadCredentials(loaded->web, insecure);
  if (!credentials.ok()) {
    log::Error("cannot start", {{"err", credentials.status().message()}});
    return 1;
  }
  if (credentials->insecure) {
    log::Warn("no authentication configured and --web.insecure given: anyone who can reach "
              "this port can start playbooks");
  }

  // Signals go to this thread only (sigwait below); every thread started later inherits it.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGHUP);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  Metrics metrics;
  std::error_code ec;
  const std::filesystem::path journal_dir =
      std::filesystem::path(loaded->journal.path).parent_path();
  if (!journal_dir.empty()) std::filesystem::create_directories(journal_dir, ec);
  JournalOptions journal_options;
  journal_options.path = loaded->journal.path;
  journal_options.on_commit = [&metrics](std::chrono::nanoseconds took, size_t batch) {
    metrics.JournalCommit(took, batch);
  };
  auto journal = Journal::Open(journal_options);
  if (!journal.ok()) {
    log::Error("cannot open the journal", {{"err", journal.status().message()}});
    return 1;
  }

  auto config = std::make_shared<const Config>(std::move(*loaded));
  EngineOptions engine_options;
  engine_options.clock = &SystemClock::Instance();
  engine_options.shutdown_grace = *shutdown_grace;
  auto engine = Engine::Start(config, journal->get(), &metrics, engine_options);
  if (!engine.ok()) {
    log::Error("cannot start", {{"err", engine.status().message()}});
    return 1;
  }

  std::mutex reload_mu;
  WebApi* api_ptr = nullptr;
  auto reload = [&]() -> Status {
    std::lock_guard<std::mutex> lock(reload_mu);
    auto next = LoadConfig(config_file, registry);
    Status st = next.ok() ? Status::Ok() : next.status();
    if (st.ok()) {
      if (dry_run) next->dry_run = true;
      st = CheckReloadable(*(*engine)->config(), *next);
    }
    Result<Credentials> next_credentials = Credentials{};
    if (st.ok()) {
      next_credentials = LoadCredentials(next->web, insecure);
      if (!next_credentials.ok()) st = next_credentials.status();
    }
    metrics.ReloadAttempt(st.ok());
    metrics.ReloadResult(st.ok(), std::chrono::duration<double>(
                                      SystemClock::Instance().Now().time_since_epoch())
                                      .count());
    if (!st.ok()) {
      log::Error("reload failed; the previous configuration stays", {{"err", st.message()}});
      return st;
    }
    const size_t playbooks = next->playbooks.size();
    (*engine)->Reload(std::make_shared<const Config>(std::move(*next)));
    if (api_ptr != nullptr) api_ptr->SetCredentials(std::move(*next_credentials));
    log::Info("configuration reloaded", {{"playbooks", std::to_string(playbooks)}});
    return Status::Ok();
  };

  WebApi::Options api_options;
  api_options.clock = &SystemClock::Instance();
  api_options.reload = reload;
  WebApi api(engine->get(), &metrics, std::move(*credentials), api_options);
  api_ptr = &api;
  metrics.ReloadResult(true, std::chrono::duration<double>(
                                 SystemClock::Instance().Now().time_since_epoch())
                                 .count());

  http::ServerOptions server_options;
  server_options.listen_address = listen;
  server_options.threads = static_cast<int>(max_connections);
  server_options.max_body_bytes = config->web.max_body_bytes;
  if (config->web.tls) {
    server_options.tls_cert_file = config->web.tls->cert_file;
    server_options.tls_key_file = config->web.tls->key_file;
  }
  server_options.on_refused = [&api](int status) { api.Refused(status); };
  auto server = http::Server::Start(server_options,
                                    [&api](const http::Request& r) { return api.Handle(r); });
  if (!server.ok()) {
    log::Error("cannot serve", {{"err", server.status().message()}});
    return 1;
  }
  api.SetReady(true);
  log::Info("listening", {{"address", listen}, {"url", (*server)->url()},
                          {"port", std::to_string((*server)->port())}, {"version", kVersion},
                          {"playbooks", std::to_string(config->playbooks.size())},
                          {"journal", config->journal.path},
                          {"dry_run", config->dry_run ? "true" : "false"}});

  // Journal retention: prune finished jobs and old notifications once an hour.
  std::mutex prune_mu;
  std::condition_variable prune_cv;
  bool prune_stop = false;
  std::thread pruner([&] {
    std::unique_lock<std::mutex> lock(prune_mu);
    while (!prune_cv.wait_for(lock, std::chrono::hours(1), [&] { return prune_stop; })) {
      const int64_t before =
          ToUnixMillis(SystemClock::Instance().Now()) - (*engine)->config()->journal.retention.count();
      auto pruned = (*journal)->Prune(before);
      if (!pruned.ok()) {
        log::Error("journal prune failed", {{"err", pruned.status().message()}});
      } else if (*pruned > 0) {
        log::Info("journal pruned", {{"rows", std::to_string(*pruned)}});
      }
    }
  });

  for (;;) {
    int sig = 0;
    if (sigwait(&signals, &sig) != 0) continue;
    if (sig == SIGHUP) {
      log::Info("SIGHUP: reloading configuration");
      (void)reload();  // logged and counted by reload
      continue;
    }
    log::Info("shutting down", {{"signal", sig == SIGINT ? "SIGINT" : "SIGTERM"}});
    break;
  }
  api.SetReady(false);
  // First the engine: from here no queued job starts (running ones get the grace, then are
  // aborted). Notifications still arriving meanwhile are journaled and stay queued for the next
  // start, so stopping the server only after this loses nothing.
  (*engine)->Stop();
  server->reset();
  {
    std::lock_guard<std::mutex> lock(prune_mu);
    prune_stop = true;
  }
  prune_cv.notify_all();
  pruner.join();
  engine->reset();
  journal->reset();
  log::Info("stopped");
  return 0;
}

}  // namespace

int main(int argc, char** argv) { return Run(argc, argv); }
