/*
 * portopen: open inbound game ports on the home router over UPnP IGD: IPv6 firewall pinholes
 * (WANIPv6FirewallControl:1) and IPv4 port mappings (WANIPConnection).
 *
 * Conventions of every function:
 * - It returns a portopen_status (a few return a value and cannot fail: see each). Results come
 *   back through out-parameters; on failure portopen_last_error() describes what went wrong
 *   (per thread) and handle out-parameters are set to NULL.
 * - Arguments are checked: a NULL pointer, a freed handle, an enum value out of range, a string
 *   that is not UTF-8, port 0 or unparsable address text is PORTOPEN_STATUS_INVALID_ARGUMENT, and
 *   nothing is done. A pointer to memory that is not what the type says cannot be detected.
 * - Enums are passed and stored as uint32_t; their values are stable.
 * - Ownership: `const char *` and `const struct *` arguments are borrowed for the call only.
 *   Handles (portopen_client, portopen_lease, portopen_gateway) are owned by the caller until
 *   passed to their _free function; freeing one twice is INVALID_ARGUMENT, not a crash. Strings
 *   returned through `char **` are the caller's, freed with portopen_string_free. Strings
 *   returned as `const char *` are the library's: never free them.
 * - Threads: every function may be called from any thread. All calls on a client, lease or
 *   gateway are thread-safe and may run concurrently (a lease may be closed from two threads);
 *   a handle freed while another thread uses it stays alive until that call returns.
 * - Blocking: functions that talk to the router say so, with their time bound (set in
 *   portopen_config); portopen_client_cancel stops them from another thread. Everything else
 *   returns at once.
 * - Panics inside the library are caught at the boundary: PORTOPEN_STATUS_INTERNAL_ERROR.
 */


#ifndef PORTOPEN_H
#define PORTOPEN_H

/* Generated from src/ffi by cbindgen (build.rs). Do not edit: change the Rust and rebuild. */

#include <stddef.h>
#include <stdint.h>

/**
 * Version of the C ABI: bumped on any incompatible change to a function or struct.
 * Compare with `portopen_abi_version()` at run time to detect a mismatched library.
 */
#define PORTOPEN_ABI_VERSION 1

/**
 * Length of `portopen_event.message`, including the terminating NUL.
 */
#define PORTOPEN_EVENT_MESSAGE_MAX 256

/**
 * The result of every portopen function that can fail. Values are stable. On a failure other
 * than NO_EVENT, `portopen_last_error()` describes it.
 */
enum portopen_status
#if defined(__cplusplus) || __STDC_VERSION__ >= 202311L
  : uint32_t
#endif // defined(__cplusplus) || __STDC_VERSION__ >= 202311L
 {
  /**
   * Success.
   */
  PORTOPEN_STATUS_OK = 0,
  /**
   * An argument was invalid (NULL, out of range, not UTF-8, not a live handle, ...);
   * nothing was done and nothing was sent.
   */
  PORTOPEN_STATUS_INVALID_ARGUMENT = 1,
  /**
   * The call's deadline passed.
   */
  PORTOPEN_STATUS_TIMEOUT = 2,
  /**
   * `portopen_client_cancel` stopped the call (and stops later ones until
   * `portopen_client_reset_cancel`).
   */
  PORTOPEN_STATUS_CANCELLED = 3,
  /**
   * No gateway answered discovery.
   */
  PORTOPEN_STATUS_NO_GATEWAY = 4,
  /**
   * The gateway does not offer the service the action needs.
   */
  PORTOPEN_STATUS_NO_SERVICE = 5,
  /**
   * A socket or file operation failed.
   */
  PORTOPEN_STATUS_IO_ERROR = 6,
  /**
   * The router answered with an HTTP error status.
   */
  PORTOPEN_STATUS_HTTP_ERROR = 7,
  /**
   * The router's answer could not be understood.
   */
  PORTOPEN_STATUS_INVALID_RESPONSE = 8,
  /**
   * The router refused with a UPnP error (`portopen_last_upnp_code()` says which).
   */
  PORTOPEN_STATUS_UPNP_ERROR = 9,
  /**
   * Valid, but this library or this router cannot do it.
   */
  PORTOPEN_STATUS_NOT_SUPPORTED = 10,
  /**
   * A caller-provided buffer is too small (reserved for future functions).
   */
  PORTOPEN_STATUS_BUFFER_TOO_SMALL = 11,
  /**
   * `portopen_client_poll_event`: the queue is empty. Not an error: last_error is unchanged.
   */
  PORTOPEN_STATUS_NO_EVENT = 12,
  /**
   * This host has no address of the family to open for (no global IPv6 address, no IPv4
   * address): nothing was sent, no router was asked.
   */
  PORTOPEN_STATUS_NO_LOCAL_ADDRESS = 13,
  /**
   * A bug inside portopen was caught at the API boundary (a Rust panic). The library is
   * still usable; please report the last_error text.
   */
  PORTOPEN_STATUS_INTERNAL_ERROR = 99,
};
#ifndef __cplusplus
#if __STDC_VERSION__ >= 202311L
typedef enum portopen_status portopen_status;
#else
typedef uint32_t portopen_status;
#endif // __STDC_VERSION__ >= 202311L
#endif // __cplusplus

/**
 * Address family. Passed to functions as `uint32_t`.
 */
enum portopen_family
#if defined(__cplusplus) || __STDC_VERSION__ >= 202311L
  : uint32_t
#endif // defined(__cplusplus) || __STDC_VERSION__ >= 202311L
 {
  PORTOPEN_FAMILY_V4 = 4,
  PORTOPEN_FAMILY_V6 = 6,
};
#ifndef __cplusplus
#if __STDC_VERSION__ >= 202311L
typedef enum portopen_family portopen_family;
#else
typedef uint32_t portopen_family;
#endif // __STDC_VERSION__ >= 202311L
#endif // __cplusplus

/**
 * Transport protocol (IANA numbers). Passed to functions as `uint32_t`.
 */
enum portopen_protocol
#if defined(__cplusplus) || __STDC_VERSION__ >= 202311L
  : uint32_t
#endif // defined(__cplusplus) || __STDC_VERSION__ >= 202311L
 {
  PORTOPEN_PROTOCOL_TCP = 6,
  PORTOPEN_PROTOCOL_UDP = 17,
};
#ifndef __cplusplus
#if __STDC_VERSION__ >= 202311L
typedef enum portopen_protocol portopen_protocol;
#else
typedef uint32_t portopen_protocol;
#endif // __STDC_VERSION__ >= 202311L
#endif // __cplusplus

/**
 * Where one family of a lease stands (`portopen_family_state.status`).
 */
enum portopen_port_status
#if defined(__cplusplus) || __STDC_VERSION__ >= 202311L
  : uint32_t
#endif // defined(__cplusplus) || __STDC_VERSION__ >= 202311L
 {
  /**
   * This family was not asked for.
   */
  PORTOPEN_PORT_STATUS_NOT_REQUESTED = 0,
  /**
   * Open: `external` is the address peers send to.
   */
  PORTOPEN_PORT_STATUS_OPEN = 1,
  /**
   * Nothing to open: the router's IPv6 firewall is off, inbound traffic already passes.
   */
  PORTOPEN_PORT_STATUS_OPEN_ALREADY = 2,
  /**
   * No gateway answered discovery over this family.
   */
  PORTOPEN_PORT_STATUS_NO_GATEWAY = 3,
  /**
   * The gateway has no port mapping service (IPv4) or no WANIPv6FirewallControl (IPv6).
   */
  PORTOPEN_PORT_STATUS_NO_SERVICE = 4,
  /**
   * IPv4: another NAT sits above the router (its external address is private or CGNAT), so a
   * mapping would not be reachable from the internet. Nothing was mapped.
   */
  PORTOPEN_PORT_STATUS_UPSTREAM_NAT = 5,
  /**
   * IPv6: the router refuses inbound pinholes until the user changes a router setting.
   */
  PORTOPEN_PORT_STATUS_NOT_ALLOWED = 6,
  /**
   * The router refused with UPnP error 606 (action not authorized).
   */
  PORTOPEN_PORT_STATUS_NOT_AUTHORIZED = 7,
  /**
   * IPv4: no external port could be had (718/728 after every retry).
   */
  PORTOPEN_PORT_STATUS_NO_PORTS_AVAILABLE = 8,
  /**
   * The router refused or failed (the message and upnp_code say how).
   */
  PORTOPEN_PORT_STATUS_FAILED = 9,
  /**
   * Was open; the router lost it or stopped answering; recovery is under way.
   */
  PORTOPEN_PORT_STATUS_LOST = 10,
  /**
   * Closed by the caller; nothing of it remains on the router.
   */
  PORTOPEN_PORT_STATUS_CLOSED = 11,
  /**
   * IPv4: the router reports no external address (WAN down, or a reserved WAN address it will
   * not forward from): a mapping would not be reachable. Nothing was mapped.
   */
  PORTOPEN_PORT_STATUS_NO_EXTERNAL_ADDRESS = 12,
  /**
   * This host has no address of the family a router could open for (IPv6: no global
   * address; IPv4: none). No router was asked.
   */
  PORTOPEN_PORT_STATUS_NO_LOCAL_ADDRESS = 13,
};
#ifndef __cplusplus
#if __STDC_VERSION__ >= 202311L
typedef enum portopen_port_status portopen_port_status;
#else
typedef uint32_t portopen_port_status;
#endif // __STDC_VERSION__ >= 202311L
#endif // __cplusplus

/**
 * What happened to one family of a lease (`portopen_event.kind`).
 */
enum portopen_event_kind
#if defined(__cplusplus) || __STDC_VERSION__ >= 202311L
  : uint32_t
#endif // defined(__cplusplus) || __STDC_VERSION__ >= 202311L
 {
  /**
   * The port is open (first time).
   */
  PORTOPEN_EVENT_KIND_OPENED = 1,
  /**
   * The lease was extended.
   */
  PORTOPEN_EVENT_KIND_RENEWED = 2,
  /**
   * The router lost the mapping/pinhole or stopped answering; recovery is under way.
   */
  PORTOPEN_EVENT_KIND_LOST = 3,
  /**
   * Re-opened after a loss (the address or port may have changed).
   */
  PORTOPEN_EVENT_KIND_RECOVERED = 4,
  /**
   * Opening or recovery failed; the message says why.
   */
  PORTOPEN_EVENT_KIND_FAILED = 5,
  /**
   * Closed by the caller (or by freeing the lease or client).
   */
  PORTOPEN_EVENT_KIND_CLOSED = 6,
};
#ifndef __cplusplus
#if __STDC_VERSION__ >= 202311L
typedef enum portopen_event_kind portopen_event_kind;
#else
typedef uint32_t portopen_event_kind;
#endif // __STDC_VERSION__ >= 202311L
#endif // __cplusplus

/**
 * Log levels (`log` crate order: a higher value is more verbose).
 */
enum portopen_log_level
#if defined(__cplusplus) || __STDC_VERSION__ >= 202311L
  : uint32_t
#endif // defined(__cplusplus) || __STDC_VERSION__ >= 202311L
 {
  /**
   * Something failed that the user should know about.
   */
  PORTOPEN_LOG_LEVEL_ERROR = 1,
  /**
   * Something the user should act on (e.g. "pinholes not allowed: change a router setting").
   */
  PORTOPEN_LOG_LEVEL_WARN = 2,
  /**
   * One line per notable step (gateway found, lease lost and recovered).
   */
  PORTOPEN_LOG_LEVEL_INFO = 3,
  /**
   * The story of each discovery and action: what was sent where, what came back, how long.
   */
  PORTOPEN_LOG_LEVEL_DEBUG = 4,
  /**
   * Everything.
   */
  PORTOPEN_LOG_LEVEL_TRACE = 5,
};
#ifndef __cplusplus
#if __STDC_VERSION__ >= 202311L
typedef enum portopen_log_level portopen_log_level;
#else
typedef uint32_t portopen_log_level;
#endif // __STDC_VERSION__ >= 202311L
#endif // __cplusplus

/**
 * Router grade from `portopen_client_check`.
 */
enum portopen_grade
#if defined(__cplusplus) || __STDC_VERSION__ >= 202311L
  : uint32_t
#endif // defined(__cplusplus) || __STDC_VERSION__ >= 202311L
 {
  /**
   * IPv6 pinholes usable as delivered.
   */
  PORTOPEN_GRADE_A = 1,
  /**
   * IPv6 pinholes usable after changing a router setting.
   */
  PORTOPEN_GRADE_B = 2,
  /**
   * Answers discovery, but IPv6 pinholes are unusable.
   */
  PORTOPEN_GRADE_C = 3,
  /**
   * No answer to discovery.
   */
  PORTOPEN_GRADE_D = 4,
};
#ifndef __cplusplus
#if __STDC_VERSION__ >= 202311L
typedef enum portopen_grade portopen_grade;
#else
typedef uint32_t portopen_grade;
#endif // __STDC_VERSION__ >= 202311L
#endif // __cplusplus

/**
 * The protocol that opened a family of a lease (`portopen_lease_info.v4_route`, `v6_route`).
 */
enum portopen_route
#if defined(__cplusplus) || __STDC_VERSION__ >= 202311L
  : uint32_t
#endif // defined(__cplusplus) || __STDC_VERSION__ >= 202311L
 {
  /**
   * Not open (or nothing needed opening was asked of the router).
   */
  PORTOPEN_ROUTE_NONE = 0,
  /**
   * UPnP IGD (WANIPConnection for IPv4, WANIPv6FirewallControl for IPv6).
   */
  PORTOPEN_ROUTE_UPNP = 1,
  /**
   * PCP (RFC 6887), either family.
   */
  PORTOPEN_ROUTE_PCP = 2,
  /**
   * NAT-PMP (RFC 6886), IPv4 only.
   */
  PORTOPEN_ROUTE_NAT_PMP = 3,
};
#ifndef __cplusplus
#if __STDC_VERSION__ >= 202311L
typedef enum portopen_route portopen_route;
#else
typedef uint32_t portopen_route;
#endif // __STDC_VERSION__ >= 202311L
#endif // __cplusplus

/**
 * A set of routes: these flags OR-ed together (`portopen_config.route`, `portopen_check_info`).
 * They sit above the `portopen_route` values (flag = 1 << (route + 3)), so one byte carries
 * either a single route or a set.
 */
enum portopen_route_flag
#if defined(__cplusplus) || __STDC_VERSION__ >= 202311L
  : uint32_t
#endif // defined(__cplusplus) || __STDC_VERSION__ >= 202311L
 {
  /**
   * UPnP IGD.
   */
  PORTOPEN_ROUTE_FLAG_UPNP = 16,
  /**
   * PCP.
   */
  PORTOPEN_ROUTE_FLAG_PCP = 32,
  /**
   * NAT-PMP.
   */
  PORTOPEN_ROUTE_FLAG_NAT_PMP = 64,
};
#ifndef __cplusplus
#if __STDC_VERSION__ >= 202311L
typedef enum portopen_route_flag portopen_route_flag;
#else
typedef uint32_t portopen_route_flag;
#endif // __STDC_VERSION__ >= 202311L
#endif // __cplusplus

/**
 * A portopen client: configuration, the gateways found, the leases opened, the event queue and
 * the renewal thread. Create with `portopen_client_new`, free with `portopen_client_free`.
 * Every function taking a client may be called from any thread, concurrently.
 */
typedef struct portopen_client portopen_client;

/**
 * A gateway found by discovery: an immutable snapshot, independent of the client that found it.
 * Made by `portopen_client_discover`, freed with `portopen_gateway_free`. Any thread.
 */
typedef struct portopen_gateway portopen_gateway;

/**
 * An open port (IPv4 mapping and/or IPv6 pinhole), renewed until closed. Made by
 * `portopen_client_open`, freed with `portopen_lease_free`. It stays usable after its client is
 * freed (its state is then CLOSED). Every function taking a lease may be called from any
 * thread, concurrently.
 */
typedef struct portopen_lease portopen_lease;

/**
 * An IP address and port. `family` 0 means "no address" (the rest is zero).
 */
typedef struct portopen_addr {
  /**
   * 0 (none), 4 or 6.
   */
  uint8_t family;
  /**
   * Zero.
   */
  uint8_t reserved;
  /**
   * Port, host byte order.
   */
  uint16_t port;
  /**
   * Address bytes in network order; IPv4 uses the first 4.
   */
  uint8_t ip[16];
} portopen_addr;

/**
 * What `portopen_client_check_routes` found, in numbers (the JSON has the words). Set
 * `struct_size = sizeof(portopen_check_info)` before the call; the struct may grow.
 * Route sets are ORs of `portopen_route_flag`s.
 */
typedef struct portopen_check_info {
  /**
   * `sizeof(portopen_check_info)`, set by the caller; the library sets it to the bytes written.
   */
  uint32_t struct_size;
  /**
   * A `portopen_grade` value: the working group's grade, over UPnP only (D when UPnP was
   * not allowed: the JSON's reason says so).
   */
  uint32_t grade;
  /**
   * The routes whose trial opened IPv6 (added and removed). 0: IPv6 cannot be opened
   * through the routes allowed (unless `v6_open_already`).
   */
  uint8_t v6_routes;
  /**
   * The routes whose trial opened IPv4 with a public external address.
   */
  uint8_t v4_routes;
  /**
   * The routes that answered over IPv6 (UPnP: a gateway was discovered).
   */
  uint8_t v6_speaks;
  /**
   * The routes that answered over IPv4.
   */
  uint8_t v4_speaks;
  /**
   * The InternetGatewayDevice version (1 or 2) of the IPv6 UPnP gateway, 0 when none.
   */
  uint8_t v6_igd_version;
  /**
   * The same for IPv4.
   */
  uint8_t v4_igd_version;
  /**
   * Non-zero: IPv6 passes without opening (the router's IPv6 firewall is off).
   */
  uint8_t v6_open_already;
  /**
   * The PCP version the router speaks (2), 0 when PCP did not answer.
   */
  uint8_t pcp_version;
  /**
   * The PCP server's epoch over IPv6 (valid when `v6_speaks` has PCP).
   */
  uint32_t v6_pcp_epoch;
  /**
   * The PCP server's epoch over IPv4 (valid when `v4_speaks` has PCP).
   */
  uint32_t v4_pcp_epoch;
  /**
   * The external IPv4 address NAT-PMP reported (family 0 when it did not answer).
   */
  struct portopen_addr natpmp_external;
} portopen_check_info;

/**
 * How a client behaves. Fill it with `portopen_config_init`, then change fields. Zero fields
 * and NULL strings mean "default". The struct may grow: `struct_size` (set by init) tells the
 * library which version the caller was built with.
 */
typedef struct portopen_config {
  /**
   * `sizeof(portopen_config)`, set by `portopen_config_init`.
   */
  uint32_t struct_size;
  /**
   * Whole-discovery budget per family, ms (0: 2000).
   */
  uint32_t discovery_timeout_ms;
  /**
   * How long discovery keeps listening after the first answer for a better gateway, ms
   * (0: 30).
   */
  uint32_t discovery_grace_ms;
  /**
   * Budget of one router action (one SOAP call or description fetch), ms (0: 3000).
   */
  uint32_t action_timeout_ms;
  /**
   * Description given to port mappings, 1..=128 bytes (NULL: "portopen"). Leftovers from an
   * earlier run are only deleted when they carry this description.
   */
  const char *description;
  /**
   * Gateway cache file, read at creation and written after each discovery (NULL: none).
   */
  const char *cache_file;
  /**
   * Journal of what is open; leftovers found there at creation are removed (NULL: none).
   */
  const char *journal_file;
  /**
   * Use this router and no other for the family of its address: it is also searched by
   * unicast, and only answers from it (responder or LOCATION host) are accepted. "192.168.1.1",
   * "192.168.1.1:1900", "[fe80::1%2]:1900" or "2001:db8::1" (port 1900 when omitted). The
   * other family chooses as usual (its default gateway). NULL: the default gateway of each
   * family is preferred, another IGD is used (and reported) only when it does not answer.
   */
  const char *router;
  /**
   * Send multicast searches only on this interface (e.g. "eth0"). NULL: every interface.
   */
  const char *interface_name;
  /**
   * Non-zero: no multicast search (only `router` and, unless disabled, the default gateway).
   */
  uint8_t no_multicast;
  /**
   * Non-zero: do not search the OS's default gateway by unicast.
   */
  uint8_t no_default_gateway;
  /**
   * Non-zero: no background renewal thread; call `portopen_client_renew_due` yourself.
   */
  uint8_t manual_renew;
  /**
   * The routes to the router this client may use (for support and tests).
   * `PORTOPEN_ROUTE_NONE` (0, what `portopen_config_init` sets): every route, PCP/NAT-PMP
   * raced with UPnP per family. A `portopen_route` value (1..=3): that route only. An OR of
   * `portopen_route_flag`s (e.g. `PORTOPEN_ROUTE_FLAG_UPNP | PORTOPEN_ROUTE_FLAG_PCP`): those
   * routes, raced. Anything else is INVALID_ARGUMENT. (This byte was `reserved`, always zero.)
   */
  uint8_t route;
} portopen_config;

/**
 * What to open. Fill it with `portopen_open_options_init`, then change fields. The struct may
 * grow: keep `struct_size` as init set it.
 */
typedef struct portopen_open_options {
  /**
   * `sizeof(portopen_open_options)`, set by `portopen_open_options_init`.
   */
  uint32_t struct_size;
  /**
   * A `portopen_protocol` value: PORTOPEN_PROTOCOL_UDP (17) or PORTOPEN_PROTOCOL_TCP (6).
   */
  uint32_t protocol;
  /**
   * The port the game listens on, 1..=65535 (pinholes: routers often refuse below 1024).
   */
  uint16_t internal_port;
  /**
   * External IPv4 port wanted (0: same as internal). A wish: the router may grant another.
   */
  uint16_t external_port;
  /**
   * Non-zero: ask for an IPv4 port mapping.
   */
  uint8_t want_v4;
  /**
   * Non-zero: ask for an IPv6 pinhole.
   */
  uint8_t want_v6;
  /**
   * Zero.
   */
  uint16_t reserved;
  /**
   * Lease wanted, seconds (0: 3600). Renewed in the background unless `manual_renew`.
   */
  uint32_t lease_secs;
  /**
   * IPv4 address to map to, dotted text (NULL: this host's address toward the gateway).
   */
  const char *internal_v4;
  /**
   * IPv6 address to open for (NULL: this host's stable global address toward the gateway).
   */
  const char *internal_v6;
  /**
   * Mapping description, 1..=128 printable bytes (NULL: the client's).
   */
  const char *description;
} portopen_open_options;

/**
 * A lease event.
 */
typedef struct portopen_event {
  /**
   * The lease it concerns (`portopen_lease_info.id`).
   */
  uint64_t lease_id;
  /**
   * A `portopen_family` value.
   */
  uint32_t family;
  /**
   * A `portopen_event_kind` value.
   */
  uint32_t kind;
  /**
   * The reachable address after the event (family 0 when none).
   */
  struct portopen_addr address;
  /**
   * Lease seconds granted (OPENED, RENEWED, RECOVERED), 0 otherwise.
   */
  uint32_t lease_secs;
  /**
   * Why, in words: UTF-8, NUL-terminated, cut at a character boundary if longer.
   */
  char message[PORTOPEN_EVENT_MESSAGE_MAX];
} portopen_event;

/**
 * Told of each event as it happens, on the thread that produced it (the client's renewal
 * thread, or the thread calling open/close/free). `event` is valid only during the call;
 * `user_data` is what was given to `portopen_client_set_event_callback`. It runs with no
 * library lock held: it may close or free a lease and replace the callback, but not free the
 * client it belongs to. Keep it short: it delays the renewal thread.
 */
typedef void (*portopen_event_callback)(const struct portopen_event *event, void *user_data);

/**
 * What discovery found. Set `struct_size = sizeof(portopen_gateway_info)` before passing it to
 * `portopen_gateway_get_info`.
 */
typedef struct portopen_gateway_info {
  /**
   * In: the size of the caller's struct. Out: the bytes filled.
   */
  uint32_t struct_size;
  /**
   * The `portopen_family` it was found and is controlled over.
   */
  uint32_t family;
  /**
   * 2 for InternetGatewayDevice:2, 1 for :1, 0 when unknown.
   */
  uint32_t igd_version;
  /**
   * Non-zero: offers a port mapping service (WANIPConnection / WANPPPConnection).
   */
  uint8_t has_port_mapping;
  /**
   * Non-zero: offers IPv6 pinholes (WANIPv6FirewallControl:1).
   */
  uint8_t has_pinhole;
  /**
   * Zero.
   */
  uint16_t reserved;
  /**
   * This host's address toward the gateway (port 0): the default internal address.
   */
  struct portopen_addr local_addr;
} portopen_gateway_info;

/**
 * One family of a lease.
 */
typedef struct portopen_family_state {
  /**
   * A `portopen_port_status` value.
   */
  uint32_t status;
  /**
   * The host address and port traffic goes to (family 0 when not known).
   */
  struct portopen_addr internal;
  /**
   * The address and port peers send to (IPv6: the host's own); family 0 when not open.
   */
  struct portopen_addr external;
  /**
   * Lease the router granted, seconds (0 with status OPEN: permanent, deleted on close).
   */
  uint32_t lease_secs;
  /**
   * The router's UPnP error code behind a refusal, 0 when none.
   */
  int32_t upnp_code;
} portopen_family_state;

/**
 * Snapshot of a lease. Set `struct_size = sizeof(portopen_lease_info)` before passing it to
 * `portopen_lease_get_info`.
 */
typedef struct portopen_lease_info {
  /**
   * In: the size of the caller's struct. Out: the bytes filled.
   */
  uint32_t struct_size;
  /**
   * The lease's id (also in its events), unique within the client.
   */
  uint64_t id;
  /**
   * The IPv4 port mapping.
   */
  struct portopen_family_state v4;
  /**
   * The IPv6 pinhole.
   */
  struct portopen_family_state v6;
  /**
   * A `portopen_protocol` value. (Added after the first version: filled only when the
   * caller's `struct_size` covers it, as with every later field.)
   */
  uint32_t protocol;
  /**
   * The port the game listens on: the one asked to be opened. (Added with `protocol`.)
   */
  uint16_t internal_port;
  /**
   * Non-zero: the router IPv4 was asked of is known not to be this host's default gateway
   * (the default gateway did not answer discovery, or `config->router` named another): what
   * it opened may not be reachable from the internet. (Added with the router fields below.)
   */
  uint8_t v4_not_default_gateway;
  /**
   * The same for IPv6 (the default router).
   */
  uint8_t v6_not_default_gateway;
  /**
   * How many other UPnP gateways answered the IPv4 discovery before the choice (up to 255).
   */
  uint8_t v4_other_routers;
  /**
   * The same for IPv6.
   */
  uint8_t v6_other_routers;
  /**
   * The router IPv4 was asked of: its LOCATION address (port 0); family 0 when none was
   * found.
   */
  struct portopen_addr v4_router;
  /**
   * The router IPv6 was asked of (its LOCATION address, often its global LAN address).
   */
  struct portopen_addr v6_router;
  /**
   * A `portopen_route` value: the protocol that opened the IPv4 family. (Added after
   * `v6_router`; filled only when the caller's `struct_size` covers it.)
   */
  uint32_t v4_route;
  /**
   * A `portopen_route` value: the protocol that opened the IPv6 family. (Added with `v4_route`.)
   */
  uint32_t v6_route;
} portopen_lease_info;

/**
 * Receives one log message: `level` is a `portopen_log_level`, `message` is UTF-8 text valid
 * only during the call. Called on whatever thread logs (game threads, the renewal thread),
 * possibly on several at once, often while the library holds internal locks: it must return
 * quickly and must not call portopen functions (other than `portopen_status_name`).
 */
typedef void (*portopen_log_callback)(uint32_t level, const char *message, void *user_data);

#ifdef __cplusplus
extern "C" {
#endif // __cplusplus

/**
 * The C ABI version of the loaded library (`PORTOPEN_ABI_VERSION` of the header it was built
 * with).
 */
uint32_t portopen_abi_version(void);

/**
 * Write `address` as text: "1.2.3.4:5" or "[2001:db8::1]:5", or "" for family 0, into a new
 * string `*out` that the caller frees with `portopen_string_free`. Any thread.
 */
portopen_status portopen_addr_to_string(const struct portopen_addr *address, char **out);

/**
 * Stop every blocking call in flight on this client, from any thread: they return CANCELLED
 * within about 20 ms, and so do later ones until `portopen_client_reset_cancel`. Closing and
 * freeing still remove what is open. Never blocks.
 */
portopen_status portopen_client_cancel(const struct portopen_client *client);

/**
 * Grade the router (the working group's A/B/C/D): discover over both families, read the IPv6
 * firewall's flags, try a short-lived pinhole and mapping on `port` (0: a high port picked for
 * this process) and remove them. Blocks: about the discovery timeout plus a few action
 * timeouts. `*grade` is a `portopen_grade`; `*report_json` (may be NULL if not wanted) is the
 * evidence as one JSON object, a new string the caller frees with `portopen_string_free`.
 * A router that does not answer is a grade (D), not an error. It checks the PCP / NAT-PMP
 * routes too (see `portopen_client_check_routes`, which returns them in numbers).
 */
portopen_status portopen_client_check(const struct portopen_client *client,
                                      uint16_t port,
                                      uint32_t *grade,
                                      char **report_json);

/**
 * Check the router as `portopen_client_check` does, and say in `*info` which routes it speaks
 * (UPnP IGD version, PCP version and epoch, NAT-PMP and its external address) and through
 * which routes each family can be opened, proved by a trial on `port` through each route the
 * client's config allows (a short-lifetime PCP MAP / NAT-PMP map, a UPnP pinhole and mapping),
 * each removed at once. Only the routes allowed (`portopen_config.route`) are tried. Blocks
 * like `portopen_client_check` (the PCP / NAT-PMP part runs during UPnP's discovery).
 * `info->struct_size` must be set by the caller. `*report_json` as in `portopen_client_check`.
 */
portopen_status portopen_client_check_routes(const struct portopen_client *client,
                                             uint16_t port,
                                             struct portopen_check_info *info,
                                             char **report_json);

/**
 * Remove what an earlier run left open, as listed in the journal file at creation (also done
 * on the first open of each family). Only entries that are still ours are deleted. Blocks while
 * it talks to the router. `*removed` is how many were removed (`removed` may be NULL).
 */
portopen_status portopen_client_clean_leftovers(const struct portopen_client *client, uint32_t *removed);

/**
 * Discover the gateway of `family` (a `portopen_family`) now, replacing the one the client had
 * cached. Blocks up to the configured discovery timeout (plus the description fetch);
 * `portopen_client_cancel` stops it. NO_GATEWAY when nobody answered. On OK `*out` is a new
 * gateway the caller frees with `portopen_gateway_free`; on failure it is NULL.
 */
portopen_status portopen_client_discover(const struct portopen_client *client,
                                         uint32_t family,
                                         struct portopen_gateway **out);

/**
 * Free a client: stops its renewal thread and closes every lease it opened (deleting the
 * mappings and pinholes on the router; blocks up to the action timeout per family while the
 * router answers). Lease handles stay valid (status CLOSED) until freed. NULL is a no-op; a
 * pointer that is not a live client (already freed) is INVALID_ARGUMENT and nothing happens.
 * A call running on another thread with this client finishes safely (a blocking one may be
 * stopped first with `portopen_client_cancel`).
 */
portopen_status portopen_client_free(struct portopen_client *client);

/**
 * Create a client. `config` may be NULL (every default); it is only read during the call.
 * Sends nothing; reads the cache and journal files when configured. On success `*out` is a new
 * client the caller owns and frees with `portopen_client_free`; on failure it is NULL.
 */
portopen_status portopen_client_new(const struct portopen_config *config, struct portopen_client **out);

/**
 * Open a port: an IPv4 port mapping and/or an IPv6 pinhole, both families in parallel
 * (discovering the gateway of each first if none is cached). Blocks: at most about the
 * discovery timeout plus a few action timeouts; `portopen_client_cancel` stops it: then it
 * returns CANCELLED and whatever a family had opened is removed again.
 * Otherwise returns OK when the request was valid, even if a family failed: each family's outcome is in
 * `portopen_lease_get_info`, and an OPENED or FAILED event is queued per family. On OK `*out` is
 * a new lease the caller owns and frees with `portopen_lease_free` (which closes it); on failure
 * it is NULL. `options` is only read during the call.
 */
portopen_status portopen_client_open(const struct portopen_client *client,
                                     const struct portopen_open_options *options,
                                     struct portopen_lease **out);

/**
 * Take the next event from the client's queue into `*out`: OK, or NO_EVENT when the queue is
 * empty (then `*out` is untouched). Never blocks; poll it each frame. The queue keeps the last
 * 256 events; older ones are dropped. Events also go to the queue when a callback is set.
 */
portopen_status portopen_client_poll_event(const struct portopen_client *client, struct portopen_event *out);

/**
 * Run every renewal that is due now, on the calling thread (for clients made with
 * `manual_renew`; harmless otherwise). Blocks while it talks to the router. `*next_ms` is the
 * time until the next renewal is due, in ms, or UINT32_MAX when none is (`next_ms` may be NULL).
 */
portopen_status portopen_client_renew_due(const struct portopen_client *client, uint32_t *next_ms);

/**
 * Let blocking calls run again after `portopen_client_cancel`. Never blocks.
 */
portopen_status portopen_client_reset_cancel(const struct portopen_client *client);

/**
 * Also deliver each event to `callback` (see `portopen_event_callback` for its rules), with
 * `user_data`, until replaced; NULL removes it. When this returns, the previous callback is no
 * longer running and will not be called again.
 */
portopen_status portopen_client_set_event_callback(const struct portopen_client *client,
                                                   portopen_event_callback callback,
                                                   void *user_data);

/**
 * Fill `config` with the defaults: `struct_size` set, every other field zero or NULL.
 * Never fails on a non-NULL pointer.
 */
portopen_status portopen_config_init(struct portopen_config *config);

/**
 * Free a gateway. NULL is a no-op; a pointer that is not a live gateway is INVALID_ARGUMENT.
 */
portopen_status portopen_gateway_free(struct portopen_gateway *gateway);

/**
 * Copy what is known of the gateway into `*info` (whose `struct_size` the caller sets).
 */
portopen_status portopen_gateway_get_info(const struct portopen_gateway *gateway,
                                          struct portopen_gateway_info *info);

/**
 * The gateway's description URL ("http://192.168.1.1:5000/rootDesc.xml") as a new string
 * `*out` the caller frees with `portopen_string_free`.
 */
portopen_status portopen_gateway_location(const struct portopen_gateway *gateway, char **out);

/**
 * The SERVER header of the gateway's discovery answer ("" when it sent none) as a new string
 * `*out` the caller frees with `portopen_string_free`.
 */
portopen_status portopen_gateway_server(const struct portopen_gateway *gateway, char **out);

/**
 * What the last failing portopen call on this thread said went wrong (UTF-8, in English, with
 * the context: "AddPinhole: router answered 606 Action not authorized: ..."), or "" when no call
 * on this thread has failed. A successful call leaves it unchanged. The string belongs to the
 * library: do not free it; it stays valid until the next portopen call on this thread.
 */
const char *portopen_last_error(void);

/**
 * The UPnP error code behind the last failure on this thread (e.g. 606, 718), or 0 when that
 * failure was not a UPnP refusal or there was none.
 */
int32_t portopen_last_upnp_code(void);

/**
 * Close the lease: delete its mapping and pinhole on the router (blocks up to the action
 * timeout per family; works after `portopen_client_cancel`) and queue a CLOSED event per family
 * that was open. Idempotent, and safe to call from two threads at once. The handle stays valid
 * until `portopen_lease_free`.
 */
portopen_status portopen_lease_close(const struct portopen_lease *lease);

/**
 * Close the lease (as `portopen_lease_close`) and free the handle. NULL is a no-op; a pointer
 * that is not a live lease (already freed) is INVALID_ARGUMENT and nothing happens.
 */
portopen_status portopen_lease_free(struct portopen_lease *lease);

/**
 * Copy the lease's current state into `*info` (whose `struct_size` the caller sets). Never
 * blocks on the network.
 */
portopen_status portopen_lease_get_info(const struct portopen_lease *lease, struct portopen_lease_info *info);

/**
 * Why one family of the lease is in its state, in words ("" when open without remark), as a
 * new string `*out` the caller frees with `portopen_string_free`. Never blocks on the network.
 */
portopen_status portopen_lease_message(const struct portopen_lease *lease, uint32_t family, char **out);

/**
 * Fill `options` to open `internal_port` over `protocol` (a `portopen_protocol`) on both
 * families with the default lease (3600 s) and external port = internal port. The port is
 * checked by `portopen_client_open`; the protocol here and there.
 */
portopen_status portopen_open_options_init(struct portopen_open_options *options,
                                           uint32_t protocol,
                                           uint16_t internal_port);

/**
 * Send portopen's log messages at `max_level` (a `portopen_log_level`) and more severe to
 * `callback` with `user_data` (see `portopen_log_callback` for its rules); NULL turns logging
 * off (`max_level` is then ignored). Process-wide, not per client. May be called any time from
 * any thread; when it returns, the previous callback is no longer running and will not be
 * called again. NOT_SUPPORTED when the process already has another Rust `log` logger.
 */
portopen_status portopen_set_log_callback(portopen_log_callback callback,
                                          uint32_t max_level,
                                          void *user_data);

/**
 * The name of a status value ("PORTOPEN_STATUS_TIMEOUT"), or "PORTOPEN_STATUS_UNKNOWN" for a
 * value that is none. A static string: never free it. Any thread.
 */
const char *portopen_status_name(uint32_t status);

/**
 * Free a string returned by the library (`portopen_gateway_location`, `portopen_lease_message`,
 * `portopen_addr_to_string`, `portopen_client_check`, ...). NULL is a no-op. A pointer that is
 * not a live library string (freed already, or allocated elsewhere) is
 * PORTOPEN_STATUS_INVALID_ARGUMENT and is left alone. Any thread.
 */
portopen_status portopen_string_free(char *string);

/**
 * The library version ("0.1.0"), a static NUL-terminated string.
 */
const char *portopen_version(void);

#ifdef __cplusplus
}  // extern "C"
#endif  // __cplusplus

#endif  /* PORTOPEN_H */
