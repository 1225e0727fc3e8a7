#pragma once

// Error values in the style of leveldb's Status and absl's StatusOr: library code returns these
// instead of throwing, and callers cannot silently drop them ([[nodiscard]]).

#include <cassert>
#include <optional>
#include <string>
#include <utility>
#include <variant>

namespace foresight {

enum class StatusCode {
  kOk = 0,
  kInvalidArgument,    // bad input from a user or a peer (config, flags, bytes on the wire)
  kNotFound,
  kUnavailable,        // a peer could not be reached, or answered 5xx: worth retrying
  kDeadlineExceeded,
  kResourceExhausted,  // a configured limit was hit
  kDataLoss,           // bytes were corrupt (CRC, truncation, undecodable)
  kFailedPrecondition,
  kAborted,            // the caller asked to stop
  kInternal,
};

const char* StatusCodeName(StatusCode code);

class [[nodiscard]] Status {
 public:
  Status() = default;
  Status(StatusCode code, std::string message) : code_(code), message_(std::move(message)) {}

  static Status Ok() { return Status(); }

  bool ok() const { return code_ == StatusCode::kOk; }
  StatusCode code() const { return code_; }
  const std::string& message() const { return message_; }

  // "CODE: message", for logs.
  std::string ToString() const;

  // Returns a copy whose message is "prefix: message"; an ok status stays ok.
  Status WithContext(const std::string& prefix) const;

  void IgnoreError() const {}

 private:
  StatusCode code_ = StatusCode::kOk;
  std::string message_;
};

inline Status InvalidArgument(std::string m) {
  return Status(StatusCode::kInvalidArgument, std::move(m));
}
inline Status Unavailable(std::string m) { return Status(StatusCode::kUnavailable, std::move(m)); }
inline Status DataLoss(std::string m) { return Status(StatusCode::kDataLoss, std::move(m)); }
inline Status ResourceExhausted(std::string m) {
  return Status(StatusCode::kResourceExhausted, std::move(m));
}
inline Status Internal(std::string m) { return Status(StatusCode::kInternal, std::move(m)); }
inline Status NotFound(std::string m) { return Status(StatusCode::kNotFound, std::move(m)); }
inline Status Aborted(std::string m) { return Status(StatusCode::kAborted, std::move(m)); }
inline Status DeadlineExceeded(std::string m) {
  return Status(StatusCode::kDeadlineExceeded, std::move(m));
}
inline Status FailedPrecondition(std::string m) {
  return Status(StatusCode::kFailedPrecondition, std::move(m));
}

// A value or the error that prevented it.
template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : value_(std::move(value)) {}  // NOLINT: implicit by design
  Result(Status status) : status_(std::move(status)) {  // NOLINT: implicit by design
    assert(!status_.ok() && "a Result needs a value or an error");
    if (status_.ok()) status_ = Internal("Result constructed from an ok Status without a value");
  }

  bool ok() const { return value_.has_value(); }
  const Status& status() const { return status_; }

  T& value() & {
    assert(ok());
    return *value_;
  }
  const T& value() const& {
    assert(ok());
    return *value_;
  }
  T&& value() && {
    assert(ok());
    return std::move(*value_);
  }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }

 private:
  Status status_;
  std::optional<T> value_;
};

#define FORESIGHT_RETURN_IF_ERROR(expr)        \
  do {                                         \
    ::foresight::Status _st = (expr);          \
    if (!_st.ok()) return _st;                 \
  } while (0)

}  // namespace foresight
