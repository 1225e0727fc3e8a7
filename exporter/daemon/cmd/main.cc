// foresight_exporter: flags, config, wiring and signals. Everything else is foresight::exporter.

#include <csignal>
#include <cstdio>
#include <iostream>
#include <string>
#include <vector>

#include "foresight/common/flags.h"
#include "foresight/common/log.h"
#include "foresight/common/version.h"
#include "foresight/exporter/config.h"
#include "foresight/exporter/exporter.h"
#include "foresight/exporter/web.h"
#include "foresight/http/server.h"

namespace {

int Run(int argc, char** argv) {
  using namespace foresight;
  std::string config_file = "foresight.yml";
  bool config_check = false;
  std::string listen = ":9446";
  std::string telemetry_path = "/metrics";
  std::string log_level = "info";
  int64_t fit_threads = 0;
  bool version = false;
  FlagSet flags("foresight_exporter [flags]");
  flags.String("config.file", &config_file, "Foresight exporter configuration file.");
  flags.Bool("config.check", &config_check,
             "Validate the configuration file and exit (0: valid, 1: invalid).");
  flags.String("web.listen-address", &listen,
               "Address to listen on for the web interface and telemetry, host:port or :port.");
  flags.String("web.telemetry-path", &telemetry_path, "Path under which to expose metrics.");
  flags.String("log.level", &log_level, "Only log messages with the given severity or above: "
                                        "debug, info, warn, error.");
  flags.Int("fit.threads", &fit_threads, "Threads fitting models; 0: one per CPU.");
  flags.Bool("version", &version, "Print the version and exit.");
  std::vector<std::string> args(argv + 1, argv + argc);
  auto rest = flags.Parse(args);
  if (!rest.ok()) {
    std::cerr << "foresight_exporter: " << rest.status().message() << "\n" << flags.Usage();
    return 2;
  }
  if (flags.help_requested()) {
    std::cout << flags.Usage();
    return 0;
  }
  if (!rest->empty()) {
    std::cerr << "foresight_exporter: unexpected argument \"" << rest->front() << "\"\n"
              << flags.Usage();
    return 2;
  }
  if (version) {
    std::cout << "foresight_exporter " << kVersion << "\n";
    return 0;
  }
  auto level = log::ParseLevel(log_level);
  if (!level.ok()) {
    std::cerr << "foresight_exporter: --log.level: " << level.status().message() << "\n";
    return 2;
  }
  log::SetLevel(*level);
  if (telemetry_path.empty() || telemetry_path[0] != '/') {
    std::cerr << "foresight_exporter: --web.telemetry-path must start with /, got \""
              << telemetry_path << "\"\n";
    return 2;
  }

  if (config_check) {
    auto config = exporter::LoadConfig(config_file);
    if (!config.ok()) {
      std::cerr << "FAILED: " << config.status().message() << "\n";
      return 1;
    }
    std::cout << "SUCCESS: " << config_file << " is valid (" << config->sources.size()
              << " sources, " << config->forecasts.size() << " forecast jobs)\n";
    return 0;
  }

  // Signals go to this thread only (sigwait below); every thread started later inherits the mask.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGHUP);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  exporter::ExporterOptions options;
  options.config_file = config_file;
  options.fit_threads = static_cast<int>(fit_threads);
  auto ex = exporter::Exporter::Start(std::move(options));
  if (!ex.ok()) {
    log::Error("cannot start", {{"err", ex.status().message()}});
    return 1;
  }
  http::ServerOptions server_options;
  server_options.listen_address = listen;
  server_options.threads = 8;
  auto server = http::Server::Start(server_options,
                                    exporter::MakeHandler(ex->get(), {telemetry_path}));
  if (!server.ok()) {
    log::Error("cannot serve", {{"err", server.status().message()}});
    return 1;
  }
  log::Info("listening", {{"address", listen}, {"port", std::to_string((*server)->port())},
                          {"version", kVersion}});

  for (;;) {
    int sig = 0;
    if (sigwait(&signals, &sig) != 0) continue;
    if (sig == SIGHUP) {
      log::Info("SIGHUP: reloading configuration");
      (void)(*ex)->Reload();  // logged and counted by Reload
      continue;
    }
    log::Info("shutting down", {{"signal", sig == SIGINT ? "SIGINT" : "SIGTERM"}});
    break;
  }
  server->reset();  // stop serving before the jobs go away
  ex->reset();
  log::Info("stopped");
  return 0;
}

}  // namespace

int main(int argc, char** argv) { return Run(argc, argv); }
