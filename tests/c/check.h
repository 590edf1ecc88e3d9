/* Tiny test kit for the C API test programs (misuse.c, lab.c): CHECK macros that count and
 * report failures with the library's last_error, a monotonic clock, and a loopback-only client.
 * Include it first (it sets _POSIX_C_SOURCE for clock_gettime). Header-only: every program
 * that includes it is one translation unit. */
#ifndef PORTOPEN_TEST_CHECK_H
#define PORTOPEN_TEST_CHECK_H

#define _POSIX_C_SOURCE 200809L

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "portopen.h"

static int check_total;
static int check_failed;

/* Report a failed check at the caller's line; never aborts, so one run shows every failure. */
static inline void check_fail(const char *file, int line, const char *what, const char *detail) {
  check_failed++;
  fprintf(stderr, "FAIL %s:%d: %s\n", file, line, what);
  if (detail && *detail) fprintf(stderr, "     %s\n", detail);
}

#define CHECK(cond)                                                         \
  do {                                                                      \
    check_total++;                                                          \
    if (!(cond)) check_fail(__FILE__, __LINE__, #cond, NULL);               \
  } while (0)

/* `call` must return `expected` (a portopen_status). */
#define CHECK_STATUS(call, expected)                                        \
  do {                                                                      \
    portopen_status got_ = (call);                                          \
    check_total++;                                                          \
    if (got_ != (portopen_status)(expected)) {                              \
      char detail_[1024];                                                   \
      snprintf(detail_, sizeof detail_, "returned %s, expected %s; last_error: %s", \
               portopen_status_name(got_), portopen_status_name(expected),  \
               portopen_last_error());                                      \
      check_fail(__FILE__, __LINE__, #call, detail_);                       \
    }                                                                       \
  } while (0)

#define CHECK_OK(call) CHECK_STATUS(call, PORTOPEN_STATUS_OK)

/* `call` must fail with `expected`, and portopen_last_error() must then mention `needle`. */
#define CHECK_FAILS(call, expected, needle)                                 \
  do {                                                                      \
    CHECK_STATUS(call, expected);                                           \
    check_total++;                                                          \
    if (!strstr(portopen_last_error(), (needle))) {                         \
      char detail_[1024];                                                   \
      snprintf(detail_, sizeof detail_, "last_error \"%s\" does not mention \"%s\"", \
               portopen_last_error(), (needle));                            \
      check_fail(__FILE__, __LINE__, #call, detail_);                       \
    }                                                                       \
  } while (0)

#define CHECK_STR_EQ(actual, expected)                                      \
  do {                                                                      \
    const char *a_ = (actual), *e_ = (expected);                            \
    check_total++;                                                          \
    if (!a_ || strcmp(a_, e_) != 0) {                                       \
      char detail_[1024];                                                   \
      snprintf(detail_, sizeof detail_, "got \"%s\", expected \"%s\"", a_ ? a_ : "(NULL)", e_); \
      check_fail(__FILE__, __LINE__, #actual, detail_);                     \
    }                                                                       \
  } while (0)

/* Print the tally; the program's exit code. */
static inline int check_summary(const char *program) {
  printf("%s: %d checks, %d failed\n", program, check_total, check_failed);
  return check_failed ? 1 : 0;
}

static inline double now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1000.0 + ts.tv_nsec / 1e6;
}

/* Time limits are multiplied by PORTOPEN_TEST_TIME_SCALE (e.g. 20 under valgrind). */
static inline double time_scale(void) {
  const char *s = getenv("PORTOPEN_TEST_TIME_SCALE");
  double v = s ? atof(s) : 1.0;
  return v >= 1.0 ? v : 1.0;
}

static inline void sleep_ms(long ms) {
  struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
  nanosleep(&ts, NULL);
}

/* A client whose searches go only to `router` by unicast (no multicast, no default gateway):
 * with "127.0.0.1:9" nothing leaves loopback. NULL when creation failed (a check fails). */
/* A config whose searches go only to `router` by unicast (no multicast, no default gateway). */
static inline void unicast_config(portopen_config *config, const char *router, uint32_t discovery_timeout_ms) {
  CHECK_OK(portopen_config_init(config));
  config->router = router;
  config->no_multicast = 1;
  config->no_default_gateway = 1;
  config->discovery_timeout_ms = discovery_timeout_ms;
}

static inline portopen_client *unicast_client(const char *router, uint32_t discovery_timeout_ms) {
  portopen_config config;
  portopen_client *client = NULL;
  unicast_config(&config, router, discovery_timeout_ms);
  CHECK_OK(portopen_client_new(&config, &client));
  return client;
}

static inline const char *port_status_name(uint32_t status) {
  static const char *names[] = {"NOT_REQUESTED", "OPEN",   "OPEN_ALREADY",       "NO_GATEWAY",
                                "NO_SERVICE",    "UPSTREAM_NAT", "NOT_ALLOWED",  "NOT_AUTHORIZED",
                                "NO_PORTS_AVAILABLE", "FAILED", "LOST", "CLOSED",
                                "NO_EXTERNAL_ADDRESS"};
  return status < sizeof names / sizeof names[0] ? names[status] : "?";
}

/* Print a lease's state, one line per family (for test logs). */
static inline void print_lease(const portopen_lease *lease) {
  portopen_lease_info info;
  info.struct_size = sizeof info;
  if (portopen_lease_get_info(lease, &info) != PORTOPEN_STATUS_OK) {
    printf("lease: %s\n", portopen_last_error());
    return;
  }
  const portopen_family_state *states[2] = {&info.v4, &info.v6};
  for (int i = 0; i < 2; i++) {
    char *external = NULL, *message = NULL;
    portopen_addr_to_string(&states[i]->external, &external);
    portopen_lease_message(lease, i == 0 ? PORTOPEN_FAMILY_V4 : PORTOPEN_FAMILY_V6, &message);
    printf("lease %llu %s: %s external=%s lease=%us upnp=%d %s\n", (unsigned long long)info.id,
           i == 0 ? "v4" : "v6", port_status_name(states[i]->status), external ? external : "",
           states[i]->lease_secs, states[i]->upnp_code, message ? message : "");
    portopen_string_free(external);
    portopen_string_free(message);
  }
}

#endif /* PORTOPEN_TEST_CHECK_H */
