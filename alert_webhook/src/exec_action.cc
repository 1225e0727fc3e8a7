// kind "exec": runs a program, as prometheus-am-executor does, without a shell.
//
//   - kind: exec
//     argv: ["/usr/local/bin/scale", "{{ .Labels.service }}", "--by", "2"]
//     env: {SCALE_REASON: "{{ .Annotations.summary }}"}   # after the AMX_* variables
//     max_output_bytes: 65536
//
// argv[0] is fixed by the config (not a template: an alert's labels never choose the program)
// and is either an absolute path or a bare command name, looked up at run time in the PATH the
// step's environment has (a relative path with a '/' would depend on the daemon's working
// directory, so it is refused).
//
// The process runs in its own process group with stdin on /dev/null and stdout and stderr in
// one pipe. Its environment is the daemon's (without inherited AMX_* variables, which would
// describe some other alert), then the alert's AMX_* variables (AmxEnvironment), then `env`.
// It inherits the daemon's working directory. The step ends when the process has exited and
// its output pipe is closed, so a background child that keeps the pipe open keeps the step
// running until its timeout; one that redirects its output is left alone.
// On timeout or abort the whole group gets SIGTERM, then SIGKILL after the grace period.

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <nlohmann/json.hpp>
#include <optional>
#include <utility>

#include "foresight/common/timeparse.h"
#include "foresight/webhook/action.h"

#ifndef CLOSE_RANGE_CLOEXEC
#define CLOSE_RANGE_CLOEXEC (1U << 2)
#endif

extern char** environ;

namespace foresight::webhook {
namespace {

using std::chrono::milliseconds;
using std::chrono::steady_clock;

constexpr int64_t kDefaultMaxOutputBytes = 65536;
constexpr milliseconds kAbortPoll{100};
// Where a bare command name is looked up when the environment has no PATH (glibc's default).
constexpr const char* kDefaultPath = "/usr/local/bin:/usr/bin:/bin";

// Owns a file descriptor.
class Fd {
 public:
  Fd() = default;
  explicit Fd(int fd) : fd_(fd) {}
  ~Fd() { Close(); }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  int get() const { return fd_; }
  void Close() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }
  // Moves the descriptor to 3 or above, so dup2 onto 0, 1 and 2 in the child cannot clobber it
  // (a daemon started with a standard descriptor closed hands those numbers out).
  bool Raise() {
    if (fd_ >= 3 || fd_ < 0) return true;
    int raised = ::fcntl(fd_, F_DUPFD_CLOEXEC, 3);
    if (raised < 0) return false;
    ::close(fd_);
    fd_ = raised;
    return true;
  }

 private:
  int fd_ = -1;
};

std::string SignalName(int sig) {
  const char* abbrev = ::sigabbrev_np(sig);
  return abbrev != nullptr ? std::string("SIG") + abbrev : "signal " + std::to_string(sig);
}

std::string Errno(int err) { return std::strerror(err); }

// argv[0] when it has no '/': the first executable regular file of that name on `path`.
std::optional<std::string> LookPath(const std::string& name, const std::string& path) {
  size_t start = 0;
  while (start <= path.size()) {
    size_t end = path.find(':', start);
    if (end == std::string::npos) end = path.size();
    std::string dir = path.substr(start, end - start);
    start = end + 1;
    if (dir.empty()) continue;  // never the daemon's working directory
    std::string candidate = dir + "/" + name;
    struct stat st;
    if (::stat(candidate.c_str(), &st) == 0 && S_ISREG(st.st_mode) &&
        ::access(candidate.c_str(), X_OK) == 0) {
      return candidate;
    }
  }
  return std::nullopt;
}

// In the child between fork and execve: async-signal-safe calls only.
[[noreturn]] void ExecChild(const char* path, char* const argv[], char* const envp[], int stdin_fd,
                            int out_fd, int err_fd) {
  ::setpgid(0, 0);
  // A daemon blocks or ignores signals (SIGPIPE, the ones a signal thread waits for); both
  // survive execve, and the program must see the defaults.
  sigset_t none;
  sigemptyset(&none);
  ::sigprocmask(SIG_SETMASK, &none, nullptr);
  struct sigaction dfl;
  ::memset(&dfl, 0, sizeof(dfl));
  dfl.sa_handler = SIG_DFL;
  for (int sig = 1; sig < NSIG; ++sig) ::sigaction(sig, &dfl, nullptr);
  int err = 0;
  if (::dup2(stdin_fd, 0) < 0 || ::dup2(out_fd, 1) < 0 || ::dup2(out_fd, 2) < 0) {
    err = errno;
  } else {
    // Descriptors some other thread opened without O_CLOEXEC must not reach the program.
    if (::syscall(SYS_close_range, 3u, ~0u, CLOSE_RANGE_CLOEXEC) != 0) {
      for (int fd = 3; fd < 65536; ++fd) {
        if (fd != err_fd) ::close(fd);
      }
    }
    ::execve(path, argv, envp);
    err = errno;
  }
  ssize_t ignored = ::write(err_fd, &err, sizeof(err));
  (void)ignored;
  ::_exit(127);
}

class ExecAction final : public Action {
 public:
  ExecAction(std::vector<Template> argv, std::vector<std::pair<std::string, Template>> env,
             size_t max_output_bytes)
      : argv_(std::move(argv)), env_(std::move(env)), max_output_bytes_(max_output_bytes) {}

  // Between SIGTERM and SIGKILL on timeout or abort.
  void set_kill_grace(milliseconds grace) { kill_grace_ = grace; }
  milliseconds kill_grace() const { return kill_grace_; }

  Result<std::string> Describe(const TemplateData& data) const override {
    Result<std::vector<std::string>> argv = RenderArgv(data);
    if (!argv.ok()) return argv.status();
    for (const auto& [name, value] : env_) {
      Result<std::string> v = value.Render(data);
      if (!v.ok()) return v.status();
    }
    return nlohmann::json(*argv).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  }

  StepResult Run(const StepContext& ctx) const override;

 private:
  Result<std::vector<std::string>> RenderArgv(const TemplateData& data) const {
    std::vector<std::string> out;
    for (const Template& t : argv_) {
      Result<std::string> s = t.Render(data);
      if (!s.ok()) return s.status();
      out.push_back(std::move(*s));
    }
    return out;
  }

  // The daemon's environment without AMX_*, then the alert's AMX_*, then `env`.
  Result<std::map<std::string, std::string>> Environment(const TemplateData& data) const {
    std::map<std::string, std::string> env;
    for (char** e = environ; e != nullptr && *e != nullptr; ++e) {
      std::string_view entry(*e);
      size_t eq = entry.find('=');
      if (eq == std::string_view::npos || entry.starts_with("AMX_")) continue;
      env[std::string(entry.substr(0, eq))] = std::string(entry.substr(eq + 1));
    }
    for (auto& [name, value] : AmxEnvironment(data)) env[name] = std::move(value);
    for (const auto& [name, value] : env_) {
      Result<std::string> v = value.Render(data);
      if (!v.ok()) return v.status();
      env[name] = std::move(*v);
    }
    return env;
  }

  std::vector<Template> argv_;
  std::vector<std::pair<std::string, Template>> env_;
  size_t max_output_bytes_;
  milliseconds kill_grace_{5000};
};

StepResult ExecAction::Run(const StepContext& ctx) const {
  StepResult result;
  auto fail = [&](std::string error) {
    result.state = StepState::kFailed;
    result.error = std::move(error);
    return result;
  };
  Result<std::vector<std::string>> argv = RenderArgv(*ctx.data);
  if (!argv.ok()) return fail(argv.status().message());
  Result<std::map<std::string, std::string>> env = Environment(*ctx.data);
  if (!env.ok()) return fail(env.status().message());

  std::string program = argv->front();
  if (program.find('/') == std::string::npos) {
    auto path_it = env->find("PATH");
    const std::string path = path_it != env->end() ? path_it->second : kDefaultPath;
    std::optional<std::string> found = LookPath(program, path);
    if (!found) return fail("cannot run " + program + ": not found in PATH \"" + path + "\"");
    program = *found;
  }

  // Everything the child touches is allocated before fork: after it, only syscalls.
  std::vector<char*> c_argv;
  for (std::string& a : *argv) c_argv.push_back(a.data());
  c_argv.push_back(nullptr);
  std::vector<std::string> env_lines;
  env_lines.reserve(env->size());
  for (const auto& [name, value] : *env) env_lines.push_back(name + "=" + value);
  std::vector<char*> c_env;
  for (std::string& line : env_lines) c_env.push_back(line.data());
  c_env.push_back(nullptr);

  int out_pipe[2];
  if (::pipe2(out_pipe, O_CLOEXEC) != 0) {
    return fail("cannot run " + program + ": pipe: " + Errno(errno));
  }
  Fd out_r(out_pipe[0]), out_w(out_pipe[1]);
  int err_pipe[2];
  if (::pipe2(err_pipe, O_CLOEXEC) != 0) {
    return fail("cannot run " + program + ": pipe: " + Errno(errno));
  }
  Fd err_r(err_pipe[0]), err_w(err_pipe[1]);
  Fd devnull(::open("/dev/null", O_RDONLY | O_CLOEXEC));
  if (devnull.get() < 0) return fail("cannot open /dev/null: " + Errno(errno));
  if (!out_w.Raise() || !err_w.Raise() || !devnull.Raise()) {
    return fail("cannot run " + program + ": fcntl: " + Errno(errno));
  }

  const steady_clock::time_point start = steady_clock::now();
  const pid_t pid = ::fork();
  if (pid < 0) return fail("cannot run " + program + ": fork: " + Errno(errno));
  if (pid == 0) {
    ExecChild(program.c_str(), c_argv.data(), c_env.data(), devnull.get(), out_w.get(),
              err_w.get());
  }
  // Both sides set the group, so a kill(-pid) right after fork cannot miss the child.
  ::setpgid(pid, pid);
  out_w.Close();
  err_w.Close();
  devnull.Close();

  // The error pipe closes on a successful execve, or carries execve's errno.
  int exec_errno = 0;
  ssize_t n;
  do {
    n = ::read(err_r.get(), &exec_errno, sizeof(exec_errno));
  } while (n < 0 && errno == EINTR);
  err_r.Close();
  if (n == static_cast<ssize_t>(sizeof(exec_errno))) {
    int status;
    while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    return fail("cannot run " + program + ": " + Errno(exec_errno));
  }

  // Process exit as a pollable descriptor; without pidfds (Linux < 5.3), waitpid every 10 ms.
  Fd pidfd(static_cast<int>(::syscall(SYS_pidfd_open, pid, 0)));

  enum class Stop { kNone, kTimeout, kAbort } stop = Stop::kNone;
  // The deadline governs a real process, so it is real monotonic time, not an injected clock.
  const steady_clock::time_point deadline = start + ctx.timeout;
  std::optional<steady_clock::time_point> kill_at;
  bool killed = false;
  bool eof = false;
  bool exited = false;
  int wstatus = 0;
  char buf[65536];
  while (!(eof && exited)) {
    // Everything in the group is dead; a process outside it (setsid) may still hold the pipe.
    if (exited && killed) break;
    steady_clock::time_point now = steady_clock::now();
    if (stop == Stop::kNone) {
      if (ctx.abort != nullptr && ctx.abort->load()) {
        stop = Stop::kAbort;
      } else if (now >= deadline) {
        stop = Stop::kTimeout;
      }
      if (stop != Stop::kNone) {
        ::kill(-pid, SIGTERM);
        kill_at = now + kill_grace_;
      }
    }
    if (kill_at && !killed && now >= *kill_at) {
      ::kill(-pid, SIGKILL);
      killed = true;
    }

    milliseconds wait = kAbortPoll;
    auto until = [&](steady_clock::time_point t) {
      wait = std::min(
          wait, std::chrono::ceil<milliseconds>(std::max(t - now, steady_clock::duration(0))));
    };
    if (stop == Stop::kNone) until(deadline);
    if (kill_at && !killed) until(*kill_at);
    if (!exited && pidfd.get() < 0) wait = std::min(wait, milliseconds(10));

    struct pollfd fds[2];
    nfds_t nfds = 0;
    int out_index = -1;
    if (!eof) {
      out_index = static_cast<int>(nfds);
      fds[nfds++] = {out_r.get(), POLLIN, 0};
    }
    if (!exited && pidfd.get() >= 0) fds[nfds++] = {pidfd.get(), POLLIN, 0};
    int ready = ::poll(fds, nfds, static_cast<int>(wait.count()));
    if (ready < 0 && errno != EINTR) {
      // Cannot happen with valid descriptors; do not spin.
      ::kill(-pid, SIGKILL);
      killed = true;
    }
    if (ready > 0 && out_index >= 0 && fds[out_index].revents != 0) {
      ssize_t got = ::read(out_r.get(), buf, sizeof(buf));
      if (got > 0) {
        size_t room = max_output_bytes_ - std::min(max_output_bytes_, result.output.size());
        size_t keep = std::min(room, static_cast<size_t>(got));
        result.output.append(buf, keep);
        if (keep < static_cast<size_t>(got)) result.output_truncated = true;
      } else if (got == 0 || (errno != EINTR && errno != EAGAIN)) {
        eof = true;
        out_r.Close();
      }
    }
    if (!exited) {
      pid_t r = ::waitpid(pid, &wstatus, WNOHANG);
      if (r == pid || (r < 0 && errno == ECHILD)) exited = true;
    }
  }

  if (stop == Stop::kAbort || stop == Stop::kTimeout) {
    result.state = stop == Stop::kAbort ? StepState::kAborted : StepState::kTimedOut;
    result.error =
        stop == Stop::kAbort ? "aborted" : "timed out after " + FormatDuration(ctx.timeout);
    result.error +=
        killed ? "; the process group was killed with SIGKILL after " + FormatDuration(kill_grace_)
               : "; the process group was sent SIGTERM";
    if (WIFEXITED(wstatus)) result.exit_code = WEXITSTATUS(wstatus);
    return result;
  }
  if (WIFEXITED(wstatus)) {
    result.exit_code = WEXITSTATUS(wstatus);
    if (*result.exit_code != 0) return fail("exit status " + std::to_string(*result.exit_code));
    return result;
  }
  if (WIFSIGNALED(wstatus)) return fail("killed by signal " + SignalName(WTERMSIG(wstatus)));
  return fail("ended with wait status " + std::to_string(wstatus));
}

class ExecKind final : public ActionKind {
 public:
  explicit ExecKind(milliseconds kill_grace) : kill_grace_(kill_grace) {}

  std::string name() const override { return "exec"; }
  std::vector<std::string> keys() const override { return {"argv", "env", "max_output_bytes"}; }

  Result<std::unique_ptr<Action>> Configure(const yaml::Fields& fields,
                                            const yaml::Decoder& decoder,
                                            const std::string& where) const override {
    const std::string label = where.starts_with("in ") ? where.substr(3) : where;
    auto argv_it = fields.find("argv");
    if (argv_it == fields.end()) {
      auto kind = fields.find("kind");
      return decoder.Error(kind == fields.end() ? YAML::Mark::null_mark() : kind->second.key.Mark(),
                           label + ": missing required key \"argv\"");
    }
    const yaml::Field& argv_field = argv_it->second;
    FORESIGHT_RETURN_IF_ERROR(decoder.List(argv_field, label + ": argv",
                                           "templates such as [/usr/local/bin/notify, "
                                           "\"{{ .Labels.service }}\"]"));
    if (argv_field.value.size() == 0) {
      return decoder.Error(argv_field, label + ": argv must not be empty");
    }
    std::vector<Template> argv;
    for (const YAML::Node& item : argv_field.value) {
      const std::string what = label + ": argv[" + std::to_string(argv.size()) + "]";
      Result<Template> t = DecodeTemplate(decoder, yaml::Field{item, item}, what);
      if (!t.ok()) return t.status();
      if (argv.empty()) {
        const std::string& program = t->source();
        if (!t->is_constant()) {
          return decoder.Error(item, what + " " + yaml::Quote(program) +
                                         " must not be a template: the config fixes the program");
        }
        if (program.empty() || (program.front() != '/' && program.find('/') != std::string::npos)) {
          return decoder.Error(item, what + " " + yaml::Quote(program) +
                                         " must be an absolute path or a command name to look "
                                         "up in PATH");
        }
      }
      argv.push_back(std::move(*t));
    }

    std::vector<std::pair<std::string, Template>> env;
    if (auto it = fields.find("env"); it != fields.end()) {
      Result<std::map<std::string, std::string>> names =
          decoder.StringMap(it->second, label + ": env", &yaml::ValidLabelName, "variable name");
      if (!names.ok()) return names.status();
      for (auto e = it->second.value.begin(); e != it->second.value.end(); ++e) {
        const std::string& name = e->first.Scalar();
        Result<Template> t = DecodeTemplate(decoder, yaml::Field{e->first, e->second},
                                            label + ": env[" + yaml::Quote(name) + "]");
        if (!t.ok()) return t.status();
        env.emplace_back(name, std::move(*t));
      }
    }

    int64_t max_output = kDefaultMaxOutputBytes;
    if (auto it = fields.find("max_output_bytes"); it != fields.end()) {
      Result<int64_t> n = decoder.PositiveInt(it->second, label + ": max_output_bytes");
      if (!n.ok()) return n.status();
      max_output = *n;
    }
    auto action = std::make_unique<ExecAction>(std::move(argv), std::move(env),
                                               static_cast<size_t>(max_output));
    action->set_kill_grace(kill_grace_);
    return std::unique_ptr<Action>(std::move(action));
  }

 private:
  milliseconds kill_grace_;
};

}  // namespace

std::unique_ptr<ActionKind> NewExecKind(milliseconds kill_grace) {
  return std::make_unique<ExecKind>(kill_grace);
}

}  // namespace foresight::webhook
