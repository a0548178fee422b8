#pragma once
// The one error convention (docs/architecture.md): a function that can fail for reasons
// outside the program (a map, a file, a kernel, input) returns Result<T>, the value or an
// Error saying what failed and why; Status is Result<void>. Exceptions are left for what
// the language forces (constructors, third-party code), and are caught at the edge.
#include <cerrno>
#include <cstring>
#include <string>
#include <utility>
#include <variant>

namespace bpfproxy {

struct Error {
  std::string message;  // one line for a person: "open /sys/fs/bpf/x/maps/bpx_svc_v1: ..."
  int code = 0;         // the errno when a system call failed, else 0
};

// An Error from a failed system call: "<what>: <strerror>", with the errno kept.
inline Error systemError(const std::string& what, int code = errno) {
  return Error{what + ": " + std::strerror(code), code};
}

template <typename T>
class [[nodiscard]] Result {
public:
  Result(T value) : state_(std::in_place_index<0>, std::move(value)) {}
  Result(Error error) : state_(std::in_place_index<1>, std::move(error)) {}

  bool ok() const { return state_.index() == 0; }
  explicit operator bool() const { return ok(); }

  T& value() & { return std::get<0>(state_); }
  const T& value() const& { return std::get<0>(state_); }
  T&& value() && { return std::get<0>(std::move(state_)); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }

  const Error& error() const { return std::get<1>(state_); }

private:
  std::variant<T, Error> state_;
};

template <>
class [[nodiscard]] Result<void> {
public:
  Result() = default;
  Result(Error error) : error_(std::move(error)), failed_(true) {}

  bool ok() const { return !failed_; }
  explicit operator bool() const { return ok(); }
  const Error& error() const { return error_; }

private:
  Error error_;
  bool failed_ = false;
};

using Status = Result<void>;

}  // namespace bpfproxy
