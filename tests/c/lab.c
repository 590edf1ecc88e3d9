/* The C API against the real router lab: discover the gateway of both families, open UDP $PORT
 * (IPv6 pinhole + IPv4 mapping), stay open while tests/bindings/c_lab.sh proves it reachable
 * from wan, close, and check the events. Runs only inside the lab's lan namespace (ip netns
 * exec), driven through marker files in $MARKERS (see tests/bindings/lab_flow.bash).
 * Env: PORT, EXT_V4, LAN_V6, MARKERS. */
#include "check.h"

#include <stdatomic.h>
#include <stddef.h>
#include <unistd.h>

static const char *env(const char *name) {
  const char *value = getenv(name);
  if (!value || !*value) {
    fprintf(stderr, "lab: %s is not set (run by tests/bindings/c_lab.sh)\n", name);
    exit(2);
  }
  return value;
}

static void mark(const char *name) {
  char path[512];
  snprintf(path, sizeof path, "%s/%s", env("MARKERS"), name);
  FILE *f = fopen(path, "w");
  CHECK(f != NULL);
  if (f) fclose(f);
}

/* Wait for the runner's marker; 0 after the deadline. */
static int await_marker(const char *name) {
  char path[512];
  snprintf(path, sizeof path, "%s/%s", env("MARKERS"), name);
  double deadline = now_ms() + 60000 * time_scale();
  while (access(path, F_OK) != 0) {
    if (now_ms() > deadline) return 0;
    sleep_ms(50);
  }
  return 1;
}

static atomic_int log_lines;

static void count_log(uint32_t level, const char *message, void *user_data) {
  (void)level, (void)message, (void)user_data;
  atomic_fetch_add(&log_lines, 1);
}

/* Bit (kind) set per family seen among the queued events: seen[0] v4, seen[1] v6. */
static void drain(portopen_client *client, unsigned seen[2]) {
  portopen_event event;
  while (portopen_client_poll_event(client, &event) == PORTOPEN_STATUS_OK) {
    char *address = NULL;
    portopen_addr_to_string(&event.address, &address);
    printf("event lease=%llu v%u kind=%u %s %s\n", (unsigned long long)event.lease_id, event.family, event.kind,
           address ? address : "", event.message);
    portopen_string_free(address);
    if (event.kind < 32) seen[event.family == PORTOPEN_FAMILY_V6] |= 1u << event.kind;
  }
}

static void discover(portopen_client *client, uint32_t family) {
  portopen_gateway *gateway = NULL;
  portopen_gateway_info info;
  char *location = NULL;
  CHECK_OK(portopen_client_discover(client, family, &gateway));
  if (!gateway) return;
  info.struct_size = sizeof info;
  CHECK_OK(portopen_gateway_get_info(gateway, &info));
  CHECK_OK(portopen_gateway_location(gateway, &location));
  printf("gateway v%u: igd:%u mapping=%u pinhole=%u %s\n", family, info.igd_version, info.has_port_mapping,
         info.has_pinhole, location ? location : "");
  CHECK(info.family == family);
  CHECK(info.igd_version == 2);
  CHECK(family == PORTOPEN_FAMILY_V4 ? info.has_port_mapping != 0 : info.has_pinhole != 0);
  /* The IPv6 gateway is controlled over its IPv6 address (miniupnpd grants pinholes only so). */
  CHECK(location != NULL && strstr(location, family == PORTOPEN_FAMILY_V6 ? "http://[" : "http://192.168.77.1:"));
  CHECK_OK(portopen_string_free(location));
  CHECK_OK(portopen_gateway_free(gateway));
}

static void check_external(const portopen_family_state *state, const char *expected) {
  char *text = NULL;
  CHECK_OK(portopen_addr_to_string(&state->external, &text));
  CHECK_STR_EQ(text, expected);
  portopen_string_free(text);
}

int main(void) {
  int port = atoi(env("PORT"));
  double scale = time_scale();
  char want_v4[64], want_v6[80];
  snprintf(want_v4, sizeof want_v4, "%s:%d", env("EXT_V4"), port);
  snprintf(want_v6, sizeof want_v6, "[%s]:%d", env("LAN_V6"), port);

  CHECK_OK(portopen_set_log_callback(count_log, PORTOPEN_LOG_LEVEL_DEBUG, NULL));
  portopen_config config;
  portopen_client *client = NULL;
  CHECK_OK(portopen_config_init(&config));
  config.discovery_timeout_ms = (uint32_t)(2000 * scale);
  config.action_timeout_ms = (uint32_t)(3000 * scale);
  CHECK_OK(portopen_client_new(&config, &client));
  if (!client) return check_summary("c lab");

  discover(client, PORTOPEN_FAMILY_V4);
  discover(client, PORTOPEN_FAMILY_V6);

  portopen_open_options options;
  portopen_lease *lease = NULL;
  portopen_lease_info info;
  unsigned seen[2] = {0, 0};
  CHECK_OK(portopen_open_options_init(&options, PORTOPEN_PROTOCOL_UDP, (uint16_t)port));
  options.lease_secs = 600;
  CHECK_OK(portopen_client_open(client, &options, &lease));
  if (!lease) {
    portopen_client_free(client);
    return check_summary("c lab");
  }
  print_lease(lease);
  info.struct_size = sizeof info;
  CHECK_OK(portopen_lease_get_info(lease, &info));
  CHECK(info.v4.status == PORTOPEN_PORT_STATUS_OPEN);
  CHECK(info.v6.status == PORTOPEN_PORT_STATUS_OPEN);
  check_external(&info.v4, want_v4);
  check_external(&info.v6, want_v6);
  CHECK(info.v4.lease_secs > 0 && info.v4.lease_secs <= 600);
  CHECK(info.protocol == PORTOPEN_PROTOCOL_UDP && info.internal_port == port);
  /* The router asked is the lab's default gateway, for both families. */
  {
    static const unsigned char gw4[4] = {192, 168, 77, 1};
    CHECK(info.v4_router.family == 4 && memcmp(info.v4_router.ip, gw4, 4) == 0);
    CHECK(info.v6_router.family == 6 && info.v6_router.ip[0] == 0x20 && info.v6_router.ip[15] == 1);
    CHECK(!info.v4_not_default_gateway && !info.v6_not_default_gateway);
  }
  {
    /* A caller built before the router fields (the struct ended after internal_port) gets
       nothing written past it. */
    size_t before = (offsetof(portopen_lease_info, internal_port) + sizeof info.internal_port + 7) / 8 * 8;
    portopen_lease_info old;
    memset(&old, 0xAB, sizeof old);
    old.struct_size = (uint32_t)before;
    CHECK_OK(portopen_lease_get_info(lease, &old));
    CHECK(old.struct_size == before && old.internal_port == port);
    unsigned char untouched[sizeof old];
    memset(untouched, 0xAB, sizeof untouched);
    CHECK(memcmp((unsigned char *)&old + before, untouched, sizeof old - before) == 0);
  }
  {
    /* A caller built against the first version of the struct (it ended after v6) gets that
       much and nothing written past it. */
    size_t first = (offsetof(portopen_lease_info, protocol) + 7) / 8 * 8;
    portopen_lease_info old;
    memset(&old, 0xAB, sizeof old);
    old.struct_size = (uint32_t)first;
    CHECK_OK(portopen_lease_get_info(lease, &old));
    CHECK(old.struct_size == first && old.id == info.id && old.v6.status == PORTOPEN_PORT_STATUS_OPEN);
    unsigned char untouched[sizeof old];
    memset(untouched, 0xAB, sizeof untouched);
    CHECK(memcmp((unsigned char *)&old + first, untouched, sizeof old - first) == 0);
  }
  drain(client, seen);
  CHECK(seen[0] & seen[1] & (1u << PORTOPEN_EVENT_KIND_OPENED));
  fflush(stdout);
  mark("opened");

  CHECK(await_marker("close"));
  CHECK_OK(portopen_lease_close(lease));
  mark("closed");
  CHECK_OK(portopen_lease_get_info(lease, &info));
  CHECK(info.v4.status == PORTOPEN_PORT_STATUS_CLOSED && info.v6.status == PORTOPEN_PORT_STATUS_CLOSED);
  CHECK(info.v4.external.family == 0 && info.v6.external.family == 0);
  drain(client, seen);
  CHECK(seen[0] & seen[1] & (1u << PORTOPEN_EVENT_KIND_CLOSED));
  CHECK(atomic_load(&log_lines) > 0);

  CHECK(await_marker("exit"));
  CHECK_OK(portopen_lease_free(lease));
  CHECK_OK(portopen_client_free(client));
  CHECK_OK(portopen_set_log_callback(NULL, 0, NULL));
  return check_summary("c lab");
}
