/* The C API used wrongly, as a careless game might: every misuse must come back as a status
 * with a message, never a crash, a leak or undefined behaviour (run it under valgrind too).
 * Network: only unicast searches to 127.0.0.1:9 (discard port; nobody answers), never
 * multicast or the default gateway. Built and run by tests/c_api.rs. */
#include "check.h"

#include <pthread.h>
#include <stdatomic.h>

#define NOBODY "127.0.0.1:9"

static void versions(void) {
  CHECK(portopen_version() != NULL && portopen_version()[0] != '\0');
  CHECK(portopen_abi_version() == PORTOPEN_ABI_VERSION);
  CHECK_STR_EQ(portopen_status_name(PORTOPEN_STATUS_OK), "PORTOPEN_STATUS_OK");
  CHECK_STR_EQ(portopen_status_name(PORTOPEN_STATUS_NO_EVENT), "PORTOPEN_STATUS_NO_EVENT");
  CHECK_STR_EQ(portopen_status_name(PORTOPEN_STATUS_INTERNAL_ERROR), "PORTOPEN_STATUS_INTERNAL_ERROR");
  CHECK_STR_EQ(portopen_status_name(PORTOPEN_STATUS_NO_LOCAL_ADDRESS), "PORTOPEN_STATUS_NO_LOCAL_ADDRESS");
  CHECK_STR_EQ(portopen_status_name(14), "PORTOPEN_STATUS_UNKNOWN");
  CHECK_STR_EQ(portopen_status_name(0xffffffffu), "PORTOPEN_STATUS_UNKNOWN");
}

static void last_error_starts_empty(void) {
  CHECK_STR_EQ(portopen_last_error(), "");
  CHECK(portopen_last_upnp_code() == 0);
}

static void null_out_params(void) {
  portopen_client *client = unicast_client(NOBODY, 100);
  CHECK_FAILS(portopen_config_init(NULL), PORTOPEN_STATUS_INVALID_ARGUMENT, "config is NULL");
  CHECK_FAILS(portopen_open_options_init(NULL, PORTOPEN_PROTOCOL_UDP, 7777), PORTOPEN_STATUS_INVALID_ARGUMENT,
              "options is NULL");
  CHECK_FAILS(portopen_client_new(NULL, NULL), PORTOPEN_STATUS_INVALID_ARGUMENT, "out is NULL");
  CHECK_FAILS(portopen_client_discover(client, PORTOPEN_FAMILY_V4, NULL), PORTOPEN_STATUS_INVALID_ARGUMENT,
              "out is NULL");
  CHECK_FAILS(portopen_client_poll_event(client, NULL), PORTOPEN_STATUS_INVALID_ARGUMENT, "out is NULL");
  CHECK_FAILS(portopen_client_check(client, 0, NULL, NULL), PORTOPEN_STATUS_INVALID_ARGUMENT, "grade is NULL");
  CHECK_FAILS(portopen_addr_to_string(NULL, NULL), PORTOPEN_STATUS_INVALID_ARGUMENT, "out is NULL");
  char *text = (char *)"untouched";
  CHECK_FAILS(portopen_addr_to_string(NULL, &text), PORTOPEN_STATUS_INVALID_ARGUMENT, "address is NULL");
  CHECK(text == NULL); /* handle and string out-params are NULL after a failure */
  portopen_open_options options;
  CHECK_OK(portopen_open_options_init(&options, PORTOPEN_PROTOCOL_UDP, 7777));
  CHECK_FAILS(portopen_client_open(client, &options, NULL), PORTOPEN_STATUS_INVALID_ARGUMENT, "out is NULL");
  /* Optional out-params may be NULL. */
  CHECK_OK(portopen_client_renew_due(client, NULL));
  CHECK_OK(portopen_client_clean_leftovers(client, NULL));
  CHECK_OK(portopen_client_free(client));
}

static void null_handles(void) {
  portopen_gateway *gateway = (portopen_gateway *)&gateway; /* any non-NULL value */
  portopen_lease *lease = (portopen_lease *)&lease;
  portopen_event event;
  portopen_lease_info info;
  info.struct_size = sizeof info;
  portopen_open_options options;
  uint32_t grade = 0;
  CHECK_OK(portopen_open_options_init(&options, PORTOPEN_PROTOCOL_TCP, 7777));
  CHECK_FAILS(portopen_client_cancel(NULL), PORTOPEN_STATUS_INVALID_ARGUMENT, "client is NULL");
  CHECK_FAILS(portopen_client_reset_cancel(NULL), PORTOPEN_STATUS_INVALID_ARGUMENT, "client is NULL");
  CHECK_FAILS(portopen_client_discover(NULL, PORTOPEN_FAMILY_V4, &gateway), PORTOPEN_STATUS_INVALID_ARGUMENT,
              "client is NULL");
  CHECK(gateway == NULL);
  CHECK_FAILS(portopen_client_open(NULL, &options, &lease), PORTOPEN_STATUS_INVALID_ARGUMENT, "client is NULL");
  CHECK(lease == NULL);
  CHECK_FAILS(portopen_client_poll_event(NULL, &event), PORTOPEN_STATUS_INVALID_ARGUMENT, "client is NULL");
  CHECK_FAILS(portopen_client_set_event_callback(NULL, NULL, NULL), PORTOPEN_STATUS_INVALID_ARGUMENT,
              "client is NULL");
  CHECK_FAILS(portopen_client_renew_due(NULL, NULL), PORTOPEN_STATUS_INVALID_ARGUMENT, "client is NULL");
  CHECK_FAILS(portopen_client_clean_leftovers(NULL, NULL), PORTOPEN_STATUS_INVALID_ARGUMENT, "client is NULL");
  CHECK_FAILS(portopen_client_check(NULL, 0, &grade, NULL), PORTOPEN_STATUS_INVALID_ARGUMENT, "client is NULL");
  CHECK_FAILS(portopen_lease_get_info(NULL, &info), PORTOPEN_STATUS_INVALID_ARGUMENT, "lease is NULL");
  CHECK_FAILS(portopen_lease_close(NULL), PORTOPEN_STATUS_INVALID_ARGUMENT, "lease is NULL");
  portopen_gateway_info ginfo;
  ginfo.struct_size = sizeof ginfo;
  CHECK_FAILS(portopen_gateway_get_info(NULL, &ginfo), PORTOPEN_STATUS_INVALID_ARGUMENT, "gateway is NULL");
}

static void free_null_is_a_no_op(void) {
  CHECK_OK(portopen_client_free(NULL));
  CHECK_OK(portopen_lease_free(NULL));
  CHECK_OK(portopen_gateway_free(NULL));
  CHECK_OK(portopen_string_free(NULL));
}

static void default_client_is_created_without_sending(void) {
  portopen_client *client = NULL;
  CHECK_OK(portopen_client_new(NULL, &client));
  CHECK(client != NULL);
  CHECK_OK(portopen_client_free(client));
}

static void double_free_and_use_after_free_are_refused(void) {
  portopen_client *client = unicast_client(NOBODY, 100);
  CHECK_OK(portopen_client_free(client));
  CHECK_FAILS(portopen_client_free(client), PORTOPEN_STATUS_INVALID_ARGUMENT, "not a live portopen_client");
  CHECK_FAILS(portopen_client_cancel(client), PORTOPEN_STATUS_INVALID_ARGUMENT, "not a live portopen_client");

  /* A handle of another type is refused too. */
  portopen_client *other = unicast_client(NOBODY, 100);
  CHECK_FAILS(portopen_lease_free((portopen_lease *)other), PORTOPEN_STATUS_INVALID_ARGUMENT,
              "not a live portopen_lease");
  CHECK_FAILS(portopen_gateway_free((portopen_gateway *)other), PORTOPEN_STATUS_INVALID_ARGUMENT,
              "not a live portopen_gateway");
  CHECK_FAILS(portopen_string_free((char *)other), PORTOPEN_STATUS_INVALID_ARGUMENT, "not a live string");
  char local[8] = "mine";
  CHECK_FAILS(portopen_string_free(local), PORTOPEN_STATUS_INVALID_ARGUMENT, "not a live string");
  CHECK_OK(portopen_client_free(other));

  portopen_addr addr = {4, 0, 5, {1, 2, 3, 4}};
  char *text = NULL;
  CHECK_OK(portopen_addr_to_string(&addr, &text));
  CHECK_OK(portopen_string_free(text));
  CHECK_FAILS(portopen_string_free(text), PORTOPEN_STATUS_INVALID_ARGUMENT, "not a live string");
}

static void bad_enum_values(void) {
  portopen_client *client = unicast_client(NOBODY, 100);
  portopen_gateway *gateway = NULL;
  portopen_open_options options;
  CHECK_FAILS(portopen_client_discover(client, 5, &gateway), PORTOPEN_STATUS_INVALID_ARGUMENT,
              "family must be PORTOPEN_FAMILY_V4 (4) or PORTOPEN_FAMILY_V6 (6), not 5");
  CHECK_FAILS(portopen_open_options_init(&options, 99, 7777), PORTOPEN_STATUS_INVALID_ARGUMENT,
              "protocol must be PORTOPEN_PROTOCOL_UDP (17) or PORTOPEN_PROTOCOL_TCP (6), not 99");
  CHECK_OK(portopen_open_options_init(&options, PORTOPEN_PROTOCOL_UDP, 7777));
  options.protocol = 99;
  portopen_lease *lease = NULL;
  CHECK_FAILS(portopen_client_open(client, &options, &lease), PORTOPEN_STATUS_INVALID_ARGUMENT,
              "options->protocol");
  CHECK(lease == NULL);
  CHECK_OK(portopen_set_log_callback(NULL, 0, NULL)); /* turning logging off ignores the level */
  CHECK_OK(portopen_client_free(client));
}

static void bad_strings_and_addresses(void) {
  portopen_config config;
  portopen_client *client = (portopen_client *)&client;
  CHECK_OK(portopen_config_init(&config));
  config.description = "\xff\xfe not UTF-8";
  CHECK_FAILS(portopen_client_new(&config, &client), PORTOPEN_STATUS_INVALID_ARGUMENT,
              "config->description is not valid UTF-8");
  CHECK(client == NULL);
  CHECK_OK(portopen_config_init(&config));
  config.journal_file = "/tmp/\xc3";
  CHECK_FAILS(portopen_client_new(&config, &client), PORTOPEN_STATUS_INVALID_ARGUMENT, "config->journal_file");
  CHECK_OK(portopen_config_init(&config));
  config.router = "router.local";
  CHECK_FAILS(portopen_client_new(&config, &client), PORTOPEN_STATUS_INVALID_ARGUMENT, "config->router");
  config.router = "127.0.0.1:0";
  CHECK_FAILS(portopen_client_new(&config, &client), PORTOPEN_STATUS_INVALID_ARGUMENT, "port 0");
  CHECK_OK(portopen_config_init(&config));
  config.description = ""; /* the core's own check: 1..=128 bytes */
  CHECK_FAILS(portopen_client_new(&config, &client), PORTOPEN_STATUS_INVALID_ARGUMENT, "description");

  client = unicast_client(NOBODY, 100);
  portopen_open_options options;
  portopen_lease *lease = NULL;
  CHECK_OK(portopen_open_options_init(&options, PORTOPEN_PROTOCOL_UDP, 0));
  CHECK_FAILS(portopen_client_open(client, &options, &lease), PORTOPEN_STATUS_INVALID_ARGUMENT,
              "options->internal_port must be 1..=65535, not 0");
  CHECK_OK(portopen_open_options_init(&options, PORTOPEN_PROTOCOL_UDP, 7777));
  options.internal_v4 = "300.1.2.3";
  CHECK_FAILS(portopen_client_open(client, &options, &lease), PORTOPEN_STATUS_INVALID_ARGUMENT,
              "options->internal_v4 '300.1.2.3' is not an IPv4 address");
  options.internal_v4 = NULL;
  options.internal_v6 = "192.168.1.2";
  CHECK_FAILS(portopen_client_open(client, &options, &lease), PORTOPEN_STATUS_INVALID_ARGUMENT,
              "options->internal_v6");
  options.internal_v6 = NULL;
  options.description = "bad\xff";
  CHECK_FAILS(portopen_client_open(client, &options, &lease), PORTOPEN_STATUS_INVALID_ARGUMENT,
              "options->description is not valid UTF-8");
  options.description = NULL;
  options.want_v4 = options.want_v6 = 0;
  CHECK_FAILS(portopen_client_open(client, &options, &lease), PORTOPEN_STATUS_INVALID_ARGUMENT, "IPv4, IPv6");
  CHECK(lease == NULL);
  CHECK_OK(portopen_client_free(client));

  char *text = NULL;
  portopen_addr addr = {5, 0, 1, {0}};
  CHECK_FAILS(portopen_addr_to_string(&addr, &text), PORTOPEN_STATUS_INVALID_ARGUMENT, "family must be 0, 4 or 6");
  portopen_addr v4 = {4, 0, 5, {1, 2, 3, 4}};
  CHECK_OK(portopen_addr_to_string(&v4, &text));
  CHECK_STR_EQ(text, "1.2.3.4:5");
  CHECK_OK(portopen_string_free(text));
  portopen_addr v6 = {6, 0, 5, {0x20, 0x01, 0x0d, 0xb8, [15] = 1}};
  CHECK_OK(portopen_addr_to_string(&v6, &text));
  CHECK_STR_EQ(text, "[2001:db8::1]:5");
  CHECK_OK(portopen_string_free(text));
  portopen_addr none = {0, 0, 0, {0}};
  CHECK_OK(portopen_addr_to_string(&none, &text));
  CHECK_STR_EQ(text, "");
  CHECK_OK(portopen_string_free(text));
}

static void struct_sizes(void) {
  portopen_config config;
  portopen_client *client = NULL;
  CHECK_OK(portopen_config_init(&config));
  CHECK(config.struct_size == sizeof config);
  config.struct_size = 4;
  CHECK_FAILS(portopen_client_new(&config, &client), PORTOPEN_STATUS_INVALID_ARGUMENT, "config->struct_size is 4");

  /* A caller built against a newer, larger struct is accepted (extra bytes ignored). */
  struct {
    portopen_config config;
    unsigned char future[32];
  } newer;
  memset(&newer, 0xab, sizeof newer);
  CHECK_OK(portopen_config_init(&newer.config));
  newer.config.struct_size = sizeof newer;
  newer.config.router = NOBODY;
  newer.config.no_multicast = newer.config.no_default_gateway = 1;
  CHECK_OK(portopen_client_new(&newer.config, &client));

  portopen_open_options options;
  portopen_lease *lease = NULL;
  CHECK_OK(portopen_open_options_init(&options, PORTOPEN_PROTOCOL_UDP, 7777));
  options.struct_size = 0;
  CHECK_FAILS(portopen_client_open(client, &options, &lease), PORTOPEN_STATUS_INVALID_ARGUMENT,
              "options->struct_size is 0");
  CHECK_OK(portopen_client_free(client));

  portopen_lease_info info;
  info.struct_size = 8;
  CHECK_FAILS(portopen_lease_get_info(NULL, &info), PORTOPEN_STATUS_INVALID_ARGUMENT, "info->struct_size is 8");
  portopen_gateway_info ginfo;
  ginfo.struct_size = 0;
  CHECK_FAILS(portopen_gateway_get_info(NULL, &ginfo), PORTOPEN_STATUS_INVALID_ARGUMENT, "info->struct_size is 0");
}

static void poll_on_empty_queue(void) {
  portopen_client *client = unicast_client(NOBODY, 100);
  portopen_event event;
  CHECK_FAILS(portopen_client_cancel(NULL), PORTOPEN_STATUS_INVALID_ARGUMENT, "client is NULL");
  CHECK_STATUS(portopen_client_poll_event(client, &event), PORTOPEN_STATUS_NO_EVENT);
  /* NO_EVENT is not a failure: last_error still tells the previous one. */
  CHECK(strstr(portopen_last_error(), "client is NULL") != NULL);
  uint32_t next = 0, removed = 7;
  CHECK_OK(portopen_client_renew_due(client, &next));
  CHECK(next == UINT32_MAX);
  CHECK_OK(portopen_client_clean_leftovers(client, &removed));
  CHECK(removed == 0);
  CHECK_OK(portopen_client_free(client));
}

static atomic_int log_lines;
static atomic_int bad_log_level;

static void count_log(uint32_t level, const char *message, void *user_data) {
  (void)user_data;
  if (level < PORTOPEN_LOG_LEVEL_ERROR || level > PORTOPEN_LOG_LEVEL_DEBUG || !message) atomic_fetch_add(&bad_log_level, 1);
  atomic_fetch_add(&log_lines, 1);
}

static void discovery_cancel_and_timeout(void) {
  double scale = time_scale();
  portopen_client *client = unicast_client(NOBODY, 300);
  portopen_gateway *gateway = NULL;

  CHECK_FAILS(portopen_set_log_callback(count_log, 0, NULL), PORTOPEN_STATUS_INVALID_ARGUMENT, "max_level");
  CHECK_FAILS(portopen_set_log_callback(count_log, 99, NULL), PORTOPEN_STATUS_INVALID_ARGUMENT, "not 99");
  CHECK_OK(portopen_set_log_callback(count_log, PORTOPEN_LOG_LEVEL_DEBUG, NULL));

  /* Cancelled before the call: returns at once, until reset. */
  CHECK_OK(portopen_client_cancel(client));
  double started = now_ms();
  CHECK_FAILS(portopen_client_discover(client, PORTOPEN_FAMILY_V4, &gateway), PORTOPEN_STATUS_CANCELLED, "cancelled");
  CHECK(now_ms() - started < 200 * scale);
  CHECK(gateway == NULL);
  CHECK_STATUS(portopen_client_discover(client, PORTOPEN_FAMILY_V4, &gateway), PORTOPEN_STATUS_CANCELLED);
  CHECK_OK(portopen_client_reset_cancel(client));

  /* Nobody answers on loopback: NO_GATEWAY within the discovery timeout (300 ms). */
  started = now_ms();
  CHECK_FAILS(portopen_client_discover(client, PORTOPEN_FAMILY_V4, &gateway), PORTOPEN_STATUS_NO_GATEWAY,
              "no UPnP gateway answered");
  CHECK(now_ms() - started < 1500 * scale);
  /* IPv6 has nowhere to search at all (no multicast, the router named is IPv4); on a host
     without a global IPv6 address it is not even tried. */
  portopen_status v6 = portopen_client_discover(client, PORTOPEN_FAMILY_V6, &gateway);
  CHECK(v6 == PORTOPEN_STATUS_NO_GATEWAY || v6 == PORTOPEN_STATUS_NO_LOCAL_ADDRESS);
  CHECK(gateway == NULL);

  CHECK(atomic_load(&log_lines) > 0);
  CHECK(atomic_load(&bad_log_level) == 0);
  CHECK_OK(portopen_set_log_callback(NULL, 0, NULL));
  int lines = atomic_load(&log_lines);
  CHECK_STATUS(portopen_client_discover(client, PORTOPEN_FAMILY_V6, &gateway), v6);
  CHECK(atomic_load(&log_lines) == lines);
  CHECK_OK(portopen_client_free(client));
}

struct cancel_job {
  portopen_client *client;
  portopen_status status;
  double took;
};

static void *discover_thread(void *arg) {
  struct cancel_job *job = arg;
  portopen_gateway *gateway = NULL;
  double started = now_ms();
  job->status = portopen_client_discover(job->client, PORTOPEN_FAMILY_V4, &gateway);
  job->took = now_ms() - started;
  portopen_gateway_free(gateway);
  return NULL;
}

static void cancel_from_another_thread(void) {
  struct cancel_job job = {unicast_client(NOBODY, 5000), PORTOPEN_STATUS_OK, 0};
  pthread_t thread;
  CHECK(pthread_create(&thread, NULL, discover_thread, &job) == 0);
  sleep_ms(100);
  CHECK_OK(portopen_client_cancel(job.client));
  pthread_join(thread, NULL);
  CHECK_STATUS(job.status, PORTOPEN_STATUS_CANCELLED);
  CHECK(job.took < 1000 * time_scale());
  CHECK_OK(portopen_client_free(job.client));
}

/* Callbacks and threads only record what they saw; the checks run on the main thread. */
static atomic_int events_seen;
static atomic_int odd_events;

static void count_event(const portopen_event *event, void *user_data) {
  if (user_data != &events_seen || event->kind != PORTOPEN_EVENT_KIND_FAILED) atomic_fetch_add(&odd_events, 1);
  atomic_fetch_add(&events_seen, 1);
}

struct close_job {
  portopen_lease *lease;
  portopen_status status;
};

static void *close_thread(void *arg) {
  struct close_job *job = arg;
  job->status = portopen_lease_close(job->lease);
  return NULL;
}

static void lease_without_gateway(void) {
  portopen_client *client = unicast_client(NOBODY, 200);
  portopen_open_options options;
  portopen_lease *lease = NULL;
  portopen_lease_info info;
  portopen_event event;
  CHECK_OK(portopen_client_set_event_callback(client, count_event, &events_seen));
  CHECK_OK(portopen_open_options_init(&options, PORTOPEN_PROTOCOL_UDP, 7777));
  /* A valid request whose families both fail is still OK: the outcome is per family. */
  CHECK_OK(portopen_client_open(client, &options, &lease));
  CHECK(lease != NULL);
  info.struct_size = sizeof info;
  CHECK_OK(portopen_lease_get_info(lease, &info));
  CHECK(info.struct_size == sizeof info);
  CHECK(info.v4.status == PORTOPEN_PORT_STATUS_NO_GATEWAY);
  /* (IPv6: or, on a host without a global IPv6 address, reported as such without a search.) */
  CHECK(info.v6.status == PORTOPEN_PORT_STATUS_NO_GATEWAY || info.v6.status == PORTOPEN_PORT_STATUS_NO_LOCAL_ADDRESS);
  CHECK(info.v4.external.family == 0);
  char *message = NULL;
  CHECK_OK(portopen_lease_message(lease, PORTOPEN_FAMILY_V4, &message));
  CHECK(message != NULL && strstr(message, "no UPnP gateway") != NULL);
  CHECK_OK(portopen_string_free(message));
  CHECK_FAILS(portopen_lease_message(lease, 0, &message), PORTOPEN_STATUS_INVALID_ARGUMENT, "family");
  CHECK(message == NULL);
  print_lease(lease);

  /* One FAILED event per family, in the queue and through the callback. */
  int failed = 0;
  while (portopen_client_poll_event(client, &event) == PORTOPEN_STATUS_OK) {
    CHECK(event.lease_id == info.id);
    CHECK(event.kind == PORTOPEN_EVENT_KIND_FAILED);
    CHECK(event.family == PORTOPEN_FAMILY_V4 || event.family == PORTOPEN_FAMILY_V6);
    CHECK(memchr(event.message, '\0', sizeof event.message) != NULL);
    failed++;
  }
  CHECK(failed == 2);
  CHECK(atomic_load(&events_seen) == 2);
  CHECK(atomic_load(&odd_events) == 0);
  CHECK_OK(portopen_client_set_event_callback(client, NULL, NULL));

  /* The same lease closed from two threads at once, then again: all OK. */
  pthread_t a, b;
  struct close_job ja = {lease, PORTOPEN_STATUS_INTERNAL_ERROR}, jb = {lease, PORTOPEN_STATUS_INTERNAL_ERROR};
  CHECK(pthread_create(&a, NULL, close_thread, &ja) == 0);
  CHECK(pthread_create(&b, NULL, close_thread, &jb) == 0);
  pthread_join(a, NULL);
  pthread_join(b, NULL);
  CHECK_OK(ja.status);
  CHECK_OK(jb.status);
  CHECK_OK(portopen_lease_close(lease));
  CHECK_OK(portopen_lease_get_info(lease, &info));
  CHECK(info.v4.status == PORTOPEN_PORT_STATUS_CLOSED);

  /* A lease outlives its client; freeing twice is refused. */
  portopen_lease *second = NULL;
  CHECK_OK(portopen_client_open(client, &options, &second));
  CHECK_OK(portopen_client_free(client));
  CHECK_OK(portopen_lease_get_info(second, &info));
  CHECK(info.v6.status == PORTOPEN_PORT_STATUS_CLOSED);
  CHECK_OK(portopen_lease_free(second));
  CHECK_FAILS(portopen_lease_free(second), PORTOPEN_STATUS_INVALID_ARGUMENT, "not a live portopen_lease");
  CHECK_OK(portopen_lease_free(lease));
  CHECK_FAILS(portopen_lease_free(lease), PORTOPEN_STATUS_INVALID_ARGUMENT, "not a live portopen_lease");
  CHECK_FAILS(portopen_lease_close(lease), PORTOPEN_STATUS_INVALID_ARGUMENT, "not a live portopen_lease");
}

static void check_without_gateway_is_grade_d(void) {
  portopen_client *client = unicast_client(NOBODY, 200);
  uint32_t grade = 0;
  char *json = NULL;
  CHECK_OK(portopen_client_check(client, 0, &grade, &json));
  CHECK(grade == PORTOPEN_GRADE_D);
  CHECK(json != NULL && strncmp(json, "{\"grade\":\"D\",", 13) == 0);
  CHECK(json != NULL && json[strlen(json) - 1] == '}');
  CHECK_OK(portopen_string_free(json));
  CHECK_OK(portopen_client_check(client, 0, &grade, NULL));
  CHECK_OK(portopen_client_free(client));
}

/* config.route carries one route (1..=3) or a set of PORTOPEN_ROUTE_FLAG_*; anything else is
 * refused. portopen_client_check_routes fills its versioned struct and says what was allowed. */
static void route_sets_and_check_routes(void) {
  portopen_config config;
  portopen_client *client = NULL;
  unicast_config(&config, NOBODY, 200);
  const uint8_t refused[] = {4, 0x0f, 0x80, PORTOPEN_ROUTE_FLAG_PCP | 1};
  for (size_t i = 0; i < sizeof refused; i++) {
    config.route = refused[i];
    CHECK_FAILS(portopen_client_new(&config, &client), PORTOPEN_STATUS_INVALID_ARGUMENT, "config->route must be");
    CHECK(client == NULL);
  }
  config.route = PORTOPEN_ROUTE_FLAG_UPNP | PORTOPEN_ROUTE_FLAG_PCP;
  CHECK_OK(portopen_client_new(&config, &client));

  portopen_check_info info;
  memset(&info, 0xff, sizeof info);
  info.struct_size = 4;
  CHECK_FAILS(portopen_client_check_routes(client, 0, &info, NULL), PORTOPEN_STATUS_INVALID_ARGUMENT,
              "info->struct_size is 4");
  CHECK_FAILS(portopen_client_check_routes(client, 0, NULL, NULL), PORTOPEN_STATUS_INVALID_ARGUMENT, "info is NULL");
  info.struct_size = sizeof info;
  char *json = NULL;
  CHECK_OK(portopen_client_check_routes(client, 0, &info, &json));
  CHECK(info.struct_size == sizeof info);
  CHECK(info.grade == PORTOPEN_GRADE_D);
  CHECK(info.v4_routes == 0 && info.v6_routes == 0 && info.v4_speaks == 0 && info.v6_speaks == 0);
  CHECK(info.v6_igd_version == 0 && info.pcp_version == 0 && info.natpmp_external.family == 0);
  CHECK(json != NULL && strstr(json, "\"routes_allowed\":[\"upnp\",\"pcp\"]") != NULL);
  CHECK_OK(portopen_string_free(json));
  CHECK_FAILS(portopen_client_check_routes(NULL, 0, &info, NULL), PORTOPEN_STATUS_INVALID_ARGUMENT, "client is NULL");
  CHECK_OK(portopen_client_free(client));
}

int main(void) {
  versions();
  last_error_starts_empty();
  null_out_params();
  null_handles();
  free_null_is_a_no_op();
  default_client_is_created_without_sending();
  double_free_and_use_after_free_are_refused();
  bad_enum_values();
  bad_strings_and_addresses();
  struct_sizes();
  poll_on_empty_queue();
  discovery_cancel_and_timeout();
  cancel_from_another_thread();
  lease_without_gateway();
  check_without_gateway_is_grade_d();
  route_sets_and_check_routes();
  return check_summary("misuse");
}
