// Tiny test kit for the C++ binding's test programs: CHECK macros that count and report failures
// (never abort, so one run shows them all), a time scale for valgrind, and a loopback-only config.
#ifndef PORTOPEN_TEST_CHECK_HPP
#define PORTOPEN_TEST_CHECK_HPP

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "portopen.hpp"

namespace check {

inline int total = 0;
inline int failed = 0;

inline void fail(int line, const char *what, const std::string &detail) {
  failed++;
  std::fprintf(stderr, "FAIL line %d: %s\n", line, what);
  if (!detail.empty()) std::fprintf(stderr, "     %s\n", detail.c_str());
}

template <class R>
std::string describe(const R &result) {
  if (result.ok()) return "returned OK";
  return std::string("returned ") + result.error().status_name() + ": " + result.error().message;
}

inline int summary(const char *program) {
  std::printf("%s: %d checks, %d failed\n", program, total, failed);
  return failed ? 1 : 0;
}

/// Time limits are multiplied by PORTOPEN_TEST_TIME_SCALE (e.g. 20 under valgrind).
inline double time_scale() {
  const char *s = std::getenv("PORTOPEN_TEST_TIME_SCALE");
  double v = s ? std::atof(s) : 1.0;
  return v >= 1.0 ? v : 1.0;
}

inline double now_ms() {
  using namespace std::chrono;
  return duration<double, std::milli>(steady_clock::now().time_since_epoch()).count();
}

}  // namespace check

#define CHECK(cond)                                        \
  do {                                                     \
    check::total++;                                        \
    if (!(cond)) check::fail(__LINE__, #cond, std::string()); \
  } while (0)

// `result` (a portopen::Result) must have status `expected`.
#define CHECK_STATUS(result, expected)                                                       \
  do {                                                                                       \
    const auto &r_ = (result);                                                               \
    check::total++;                                                                          \
    if (r_.status() != (expected))                                                           \
      check::fail(__LINE__, #result, check::describe(r_) + ", expected " + portopen::status_name(expected)); \
  } while (0)

#define CHECK_OK(result) CHECK_STATUS(result, portopen::Status::Ok)

// `result` must fail with `expected`, and its message must mention `needle`.
#define CHECK_FAILS(result, expected, needle)                                                 \
  do {                                                                                        \
    const auto &f_ = (result);                                                                \
    CHECK_STATUS(f_, expected);                                                               \
    check::total++;                                                                           \
    if (f_.error().message.find(needle) == std::string::npos)                                 \
      check::fail(__LINE__, #result, "message \"" + f_.error().message + "\" does not mention \"" + (needle) + "\""); \
  } while (0)

#endif  // PORTOPEN_TEST_CHECK_HPP
