// portopen.hpp: C++17 header-only binding over the portopen C API (include/portopen.h).
// Move-only owners for the client, lease and gateway, and Result<T> instead of exceptions.
//
// Rules carried over from portopen.h:
// - Every call may run on any thread; calls on one Client or Lease may run concurrently.
// - Blocking calls (Client::discover, open, check, clean_leftovers, renew_due, Lease::close,
//   and the destructors of Client and Lease, which close what is open) talk to the router within
//   the time bounds of Config; Client::cancel() stops them from another thread.
// - A moved-from (or default-constructed) Client, Lease or Gateway is empty: its calls return an
//   Error with Status::InvalidArgument, never crash; destroying it does nothing.
// - No raw handle escapes unless asked for (get(), release()).
// - Thread safety of the C++ objects follows the standard library's rule: const methods may run
//   concurrently (cancel() from another thread included); non-const ones (move, reset,
//   set_event_handler, destruction) need the caller's own synchronisation.
// Works with -fno-exceptions -fno-rtti; nothing here throws. No name here collides with Unreal's
// macros (check, verify, ensure), so Unreal modules can include it as is.
#ifndef PORTOPEN_HPP
#define PORTOPEN_HPP

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include "portopen.h"

namespace portopen {

/// portopen_status, scoped. Values are the C ones.
enum class Status : uint32_t {
  Ok = PORTOPEN_STATUS_OK,
  InvalidArgument = PORTOPEN_STATUS_INVALID_ARGUMENT,
  Timeout = PORTOPEN_STATUS_TIMEOUT,
  Cancelled = PORTOPEN_STATUS_CANCELLED,
  NoGateway = PORTOPEN_STATUS_NO_GATEWAY,
  NoService = PORTOPEN_STATUS_NO_SERVICE,
  IoError = PORTOPEN_STATUS_IO_ERROR,
  HttpError = PORTOPEN_STATUS_HTTP_ERROR,
  InvalidResponse = PORTOPEN_STATUS_INVALID_RESPONSE,
  UpnpError = PORTOPEN_STATUS_UPNP_ERROR,
  NotSupported = PORTOPEN_STATUS_NOT_SUPPORTED,
  BufferTooSmall = PORTOPEN_STATUS_BUFFER_TOO_SMALL,
  NoEvent = PORTOPEN_STATUS_NO_EVENT,
  NoLocalAddress = PORTOPEN_STATUS_NO_LOCAL_ADDRESS,
  InternalError = PORTOPEN_STATUS_INTERNAL_ERROR,
};

enum class Family : uint32_t { V4 = PORTOPEN_FAMILY_V4, V6 = PORTOPEN_FAMILY_V6 };
enum class Protocol : uint32_t { Tcp = PORTOPEN_PROTOCOL_TCP, Udp = PORTOPEN_PROTOCOL_UDP };

/// The protocol that opened a family of a lease (see portopen_route).
enum class Route : uint32_t {
  None = PORTOPEN_ROUTE_NONE,
  Upnp = PORTOPEN_ROUTE_UPNP,
  Pcp = PORTOPEN_ROUTE_PCP,
  NatPmp = PORTOPEN_ROUTE_NAT_PMP,
};

/// A set of routes: RouteFlag bits OR-ed together (see portopen_route_flag).
using RouteSet = uint8_t;
enum class RouteFlag : uint8_t {
  Upnp = PORTOPEN_ROUTE_FLAG_UPNP,
  Pcp = PORTOPEN_ROUTE_FLAG_PCP,
  NatPmp = PORTOPEN_ROUTE_FLAG_NAT_PMP,
};
inline RouteSet operator|(RouteFlag a, RouteFlag b) { return static_cast<RouteSet>(static_cast<uint8_t>(a) | static_cast<uint8_t>(b)); }
inline RouteSet operator|(RouteSet a, RouteFlag b) { return static_cast<RouteSet>(a | static_cast<uint8_t>(b)); }
/// Is `flag` in `set`?
inline bool has(RouteSet set, RouteFlag flag) { return (set & static_cast<uint8_t>(flag)) != 0; }

/// Where one family of a lease stands (see portopen_port_status for each value).
enum class PortStatus : uint32_t {
  NotRequested = PORTOPEN_PORT_STATUS_NOT_REQUESTED,
  Open = PORTOPEN_PORT_STATUS_OPEN,
  OpenAlready = PORTOPEN_PORT_STATUS_OPEN_ALREADY,
  NoGateway = PORTOPEN_PORT_STATUS_NO_GATEWAY,
  NoService = PORTOPEN_PORT_STATUS_NO_SERVICE,
  UpstreamNat = PORTOPEN_PORT_STATUS_UPSTREAM_NAT,
  NotAllowed = PORTOPEN_PORT_STATUS_NOT_ALLOWED,
  NotAuthorized = PORTOPEN_PORT_STATUS_NOT_AUTHORIZED,
  NoPortsAvailable = PORTOPEN_PORT_STATUS_NO_PORTS_AVAILABLE,
  Failed = PORTOPEN_PORT_STATUS_FAILED,
  Lost = PORTOPEN_PORT_STATUS_LOST,
  Closed = PORTOPEN_PORT_STATUS_CLOSED,
  NoExternalAddress = PORTOPEN_PORT_STATUS_NO_EXTERNAL_ADDRESS,
  NoLocalAddress = PORTOPEN_PORT_STATUS_NO_LOCAL_ADDRESS,
};

enum class EventKind : uint32_t {
  Opened = PORTOPEN_EVENT_KIND_OPENED,
  Renewed = PORTOPEN_EVENT_KIND_RENEWED,
  Lost = PORTOPEN_EVENT_KIND_LOST,
  Recovered = PORTOPEN_EVENT_KIND_RECOVERED,
  Failed = PORTOPEN_EVENT_KIND_FAILED,
  Closed = PORTOPEN_EVENT_KIND_CLOSED,
};

enum class LogLevel : uint32_t {
  Error = PORTOPEN_LOG_LEVEL_ERROR,
  Warn = PORTOPEN_LOG_LEVEL_WARN,
  Info = PORTOPEN_LOG_LEVEL_INFO,
  Debug = PORTOPEN_LOG_LEVEL_DEBUG,
  Trace = PORTOPEN_LOG_LEVEL_TRACE,
};

enum class Grade : uint32_t { A = PORTOPEN_GRADE_A, B = PORTOPEN_GRADE_B, C = PORTOPEN_GRADE_C, D = PORTOPEN_GRADE_D };

/// "PORTOPEN_STATUS_TIMEOUT"; a static string.
inline const char *status_name(Status status) { return portopen_status_name(static_cast<uint32_t>(status)); }
/// The library version ("0.1.0").
inline const char *version() { return portopen_version(); }
/// The loaded library's ABI version; compare with PORTOPEN_ABI_VERSION.
inline uint32_t abi_version() { return portopen_abi_version(); }

/// A failed call: its status, the library's explanation and the router's UPnP code (0: none).
struct Error {
  Status status = Status::InternalError;
  std::string message;
  int32_t upnp_code = 0;

  /// The error of the portopen call that just returned `status` on this thread.
  static Error last(portopen_status status) {
    const char *text = portopen_last_error();
    return Error{static_cast<Status>(status), text ? text : "", portopen_last_upnp_code()};
  }
  const char *status_name() const { return portopen::status_name(status); }
};

namespace detail {
[[noreturn]] inline void die(const char *what, const Error &error) {
  std::fprintf(stderr, "portopen: %s on an error result: %s: %s\n", what, error.status_name(), error.message.c_str());
  std::abort();
}
inline Error empty_handle(const char *type) {
  return Error{Status::InvalidArgument, std::string("portopen::") + type + " is empty (moved-from or default-constructed)", 0};
}
}  // namespace detail

/// A value or an Error. Check ok() (or the bool conversion) before value(): value() on an error
/// prints the error and aborts (there are no exceptions to throw).
template <class T>
class [[nodiscard]] Result {
 public:
  Result(T value) : value_(std::move(value)) {}
  Result(Error error) : error_(std::move(error)) {}

  bool ok() const { return value_.has_value(); }
  explicit operator bool() const { return ok(); }
  /// The error; an Error with Status::Ok when the result is a value.
  const Error &error() const { return error_; }
  Status status() const { return ok() ? Status::Ok : error_.status; }

  T &value() & { return checked(); }
  const T &value() const & { return const_cast<Result *>(this)->checked(); }
  T &&value() && { return std::move(checked()); }
  T &operator*() & { return checked(); }
  T &&operator*() && { return std::move(checked()); }
  T *operator->() { return &checked(); }
  const T *operator->() const { return &const_cast<Result *>(this)->checked(); }
  T value_or(T fallback) && { return ok() ? std::move(*value_) : std::move(fallback); }

 private:
  T &checked() {
    if (!value_) detail::die("value()", error_);
    return *value_;
  }
  std::optional<T> value_;
  Error error_{Status::Ok, std::string(), 0};
};

/// Success or an Error.
template <>
class [[nodiscard]] Result<void> {
 public:
  Result() = default;
  Result(Error error) : error_(std::move(error)), failed_(true) {}
  bool ok() const { return !failed_; }
  explicit operator bool() const { return ok(); }
  const Error &error() const { return error_; }
  Status status() const { return ok() ? Status::Ok : error_.status; }

 private:
  Error error_{Status::Ok, std::string(), 0};
  bool failed_ = false;
};

namespace detail {
inline Result<void> to_result(portopen_status status) {
  if (status == PORTOPEN_STATUS_OK) return Result<void>();
  return Error::last(status);
}
/// Take a library-owned string (`char *` out-parameter) into a std::string and free it.
inline Result<std::string> take_string(portopen_status status, char *text) {
  if (status != PORTOPEN_STATUS_OK) return Error::last(status);
  std::string copy = text ? text : "";
  portopen_string_free(text);
  return copy;
}
inline const char *c_str_or_null(const std::string &s) { return s.empty() ? nullptr : s.c_str(); }
}  // namespace detail

/// An IP address and port (portopen_addr). family() 0 means "no address".
class Address {
 public:
  Address() : raw_{} {}
  explicit Address(const portopen_addr &raw) : raw_(raw) {}
  bool empty() const { return raw_.family == 0; }
  /// 4, 6, or 0 when empty.
  uint8_t family() const { return raw_.family; }
  uint16_t port() const { return raw_.port; }
  /// "1.2.3.4:5", "[2001:db8::1]:5", or "" when empty.
  std::string to_string() const {
    char *text = nullptr;
    portopen_status status = portopen_addr_to_string(&raw_, &text);
    if (status != PORTOPEN_STATUS_OK) return std::string();
    std::string copy = text;
    portopen_string_free(text);
    return copy;
  }
  const portopen_addr &raw() const { return raw_; }

 private:
  portopen_addr raw_;
};

/// How a client behaves. Zero numbers and empty strings mean "default" (see portopen_config).
struct Config {
  uint32_t discovery_timeout_ms = 0;
  uint32_t discovery_grace_ms = 0;
  uint32_t action_timeout_ms = 0;
  std::string description;
  std::string cache_file;
  std::string journal_file;
  std::string router;          ///< also search this address by unicast ("192.168.1.1:1900")
  std::string interface_name;  ///< multicast only on this interface
  bool no_multicast = false;
  bool no_default_gateway = false;
  bool manual_renew = false;  ///< no renewal thread: call Client::renew_due yourself
  Route route = Route::None;  ///< use this route only (None: PCP/NAT-PMP raced with UPnP)
  RouteSet routes = 0;        ///< or these routes, raced (RouteFlag::Upnp | RouteFlag::Pcp); 0: see route
};

/// What to open. internal_port is required; both families by default.
struct OpenOptions {
  Protocol protocol = Protocol::Udp;
  uint16_t internal_port = 0;
  uint16_t external_port = 0;  ///< IPv4 port wished for (0: same as internal)
  bool want_v4 = true;
  bool want_v6 = true;
  uint32_t lease_secs = 0;  ///< 0: 3600, renewed until closed
  std::string internal_v4;  ///< empty: this host's address toward the gateway
  std::string internal_v6;
  std::string description;  ///< empty: the client's
};

/// One family of a lease.
struct FamilyState {
  PortStatus status = PortStatus::NotRequested;
  Address internal;
  Address external;  ///< what peers send to; empty when not open
  uint32_t lease_secs = 0;
  int32_t upnp_code = 0;
  Address router;                    ///< the router asked (its LOCATION address); empty when none
  bool not_default_gateway = false;  ///< that router is known not to be the default gateway
  uint8_t other_routers = 0;         ///< other UPnP gateways that answered the same discovery
  Route route = Route::None;  ///< the protocol that opened it
};

struct LeaseInfo {
  uint64_t id = 0;
  Protocol protocol = Protocol::Udp;
  uint16_t internal_port = 0;  ///< the port the game listens on (the one asked to be opened)
  FamilyState v4;
  FamilyState v6;
  const FamilyState &of(Family family) const { return family == Family::V4 ? v4 : v6; }
};

struct GatewayInfo {
  Family family = Family::V4;
  uint32_t igd_version = 0;
  bool has_port_mapping = false;
  bool has_pinhole = false;
  Address local_addr;
};

/// A lease event (portopen_event).
struct Event {
  uint64_t lease_id = 0;
  Family family = Family::V4;
  EventKind kind = EventKind::Failed;
  Address address;
  uint32_t lease_secs = 0;
  std::string message;

  static Event from(const portopen_event &e) {
    Event out;
    out.lease_id = e.lease_id;
    out.family = static_cast<Family>(e.family);
    out.kind = static_cast<EventKind>(e.kind);
    out.address = Address(e.address);
    out.lease_secs = e.lease_secs;
    out.message.assign(e.message, strnlen_(e.message, sizeof e.message));
    return out;
  }

 private:
  static size_t strnlen_(const char *s, size_t max) {
    size_t n = 0;
    while (n < max && s[n] != '\0') n++;
    return n;
  }
};

/// Result of Client::check_router (see portopen_check_info for each field).
struct CheckReport {
  Grade grade = Grade::D;  ///< the working group's grade, over UPnP only
  std::string json;        ///< the evidence, one JSON object (its "verdict" says it in words)
  RouteSet v6_routes = 0;  ///< the routes whose trial opened IPv6 (0: none could)
  RouteSet v4_routes = 0;  ///< the routes whose trial opened IPv4 with a public address
  RouteSet v6_speaks = 0;  ///< the routes that answered over IPv6
  RouteSet v4_speaks = 0;  ///< the routes that answered over IPv4
  uint8_t v6_igd_version = 0;
  uint8_t v4_igd_version = 0;
  bool v6_open_already = false;  ///< the router's IPv6 firewall is off
  uint8_t pcp_version = 0;       ///< 2 when PCP answered, else 0
  uint32_t v6_pcp_epoch = 0;
  uint32_t v4_pcp_epoch = 0;
  Address natpmp_external;  ///< NAT-PMP's external IPv4 address; empty when it did not answer
};

/// A gateway found by discovery: an immutable snapshot. Move-only; freed by the destructor.
class Gateway {
 public:
  Gateway() = default;
  explicit Gateway(portopen_gateway *raw) : raw_(raw) {}
  Gateway(Gateway &&other) noexcept : raw_(std::exchange(other.raw_, nullptr)) {}
  Gateway &operator=(Gateway &&other) noexcept {
    if (this != &other) {
      reset();
      raw_ = std::exchange(other.raw_, nullptr);
    }
    return *this;
  }
  Gateway(const Gateway &) = delete;
  Gateway &operator=(const Gateway &) = delete;
  ~Gateway() { reset(); }

  Result<GatewayInfo> info() const {
    if (!raw_) return detail::empty_handle("Gateway");
    portopen_gateway_info c{};
    c.struct_size = sizeof c;
    portopen_status status = portopen_gateway_get_info(raw_, &c);
    if (status != PORTOPEN_STATUS_OK) return Error::last(status);
    GatewayInfo out;
    out.family = static_cast<Family>(c.family);
    out.igd_version = c.igd_version;
    out.has_port_mapping = c.has_port_mapping != 0;
    out.has_pinhole = c.has_pinhole != 0;
    out.local_addr = Address(c.local_addr);
    return out;
  }
  /// The description URL ("http://192.168.1.1:5000/rootDesc.xml").
  Result<std::string> location() const {
    if (!raw_) return detail::empty_handle("Gateway");
    char *text = nullptr;
    portopen_status status = portopen_gateway_location(raw_, &text);
    return detail::take_string(status, text);
  }
  /// The SERVER header of its discovery answer ("" when none).
  Result<std::string> server() const {
    if (!raw_) return detail::empty_handle("Gateway");
    char *text = nullptr;
    portopen_status status = portopen_gateway_server(raw_, &text);
    return detail::take_string(status, text);
  }

  bool empty() const { return raw_ == nullptr; }
  explicit operator bool() const { return raw_ != nullptr; }
  portopen_gateway *get() const { return raw_; }
  portopen_gateway *release() { return std::exchange(raw_, nullptr); }
  void reset() {
    if (raw_) portopen_gateway_free(std::exchange(raw_, nullptr));
  }

 private:
  portopen_gateway *raw_ = nullptr;
};

/// An open port (IPv4 mapping and/or IPv6 pinhole), renewed until closed. Move-only; the
/// destructor closes it on the router (blocking up to the action timeout per family) and frees
/// it. It stays usable after its Client is gone (state Closed).
class Lease {
 public:
  Lease() = default;
  explicit Lease(portopen_lease *raw) : raw_(raw) {}
  Lease(Lease &&other) noexcept : raw_(std::exchange(other.raw_, nullptr)) {}
  Lease &operator=(Lease &&other) noexcept {
    if (this != &other) {
      reset();
      raw_ = std::exchange(other.raw_, nullptr);
    }
    return *this;
  }
  Lease(const Lease &) = delete;
  Lease &operator=(const Lease &) = delete;
  ~Lease() { reset(); }

  /// A snapshot of both families. Never blocks on the network.
  Result<LeaseInfo> info() const {
    if (!raw_) return detail::empty_handle("Lease");
    portopen_lease_info c{};
    c.struct_size = sizeof c;
    portopen_status status = portopen_lease_get_info(raw_, &c);
    if (status != PORTOPEN_STATUS_OK) return Error::last(status);
    LeaseInfo out;
    out.id = c.id;
    out.protocol = static_cast<Protocol>(c.protocol);
    out.internal_port = c.internal_port;
    out.v4 = state(c.v4);
    out.v6 = state(c.v6);
    out.v4.router = Address(c.v4_router);
    out.v6.router = Address(c.v6_router);
    out.v4.not_default_gateway = c.v4_not_default_gateway != 0;
    out.v6.not_default_gateway = c.v6_not_default_gateway != 0;
    out.v4.other_routers = c.v4_other_routers;
    out.v6.other_routers = c.v6_other_routers;
    out.v4.route = static_cast<Route>(c.v4_route);
    out.v6.route = static_cast<Route>(c.v6_route);
    return out;
  }
  /// Why `family` is in its state, in words ("" when open without remark).
  Result<std::string> message(Family family) const {
    if (!raw_) return detail::empty_handle("Lease");
    char *text = nullptr;
    portopen_status status = portopen_lease_message(raw_, static_cast<uint32_t>(family), &text);
    return detail::take_string(status, text);
  }
  /// Delete the mapping and pinhole on the router now (blocks; works after cancel).
  /// Idempotent; the Lease stays valid (state Closed).
  Result<void> close() const {
    if (!raw_) return detail::empty_handle("Lease");
    return detail::to_result(portopen_lease_close(raw_));
  }

  bool empty() const { return raw_ == nullptr; }
  explicit operator bool() const { return raw_ != nullptr; }
  portopen_lease *get() const { return raw_; }
  /// Give up ownership: the caller must portopen_lease_free the handle.
  portopen_lease *release() { return std::exchange(raw_, nullptr); }
  /// Close and free now (what the destructor does).
  void reset() {
    if (raw_) portopen_lease_free(std::exchange(raw_, nullptr));
  }

 private:
  static FamilyState state(const portopen_family_state &c) {
    FamilyState s;
    s.status = static_cast<PortStatus>(c.status);
    s.internal = Address(c.internal);
    s.external = Address(c.external);
    s.lease_secs = c.lease_secs;
    s.upnp_code = c.upnp_code;
    return s;
  }
  portopen_lease *raw_ = nullptr;
};

/// Called for each lease event (see Client::set_event_handler).
using EventHandler = std::function<void(const Event &)>;

namespace detail {
/// Event handlers by id; the C callback's user_data is the id, not a pointer. The trampoline
/// copies the handler's shared_ptr out under the mutex and calls it after unlocking, so a handler
/// replaced or removed while the library is still delivering to it (another thread's close, the
/// renewal thread) is destroyed only when that last call returns: never a dangling pointer,
/// whatever the library's ordering. Never destroyed (library threads may deliver during exit).
struct EventHandlers {
  std::mutex mutex;
  uintptr_t next_id = 1;
  std::map<uintptr_t, std::shared_ptr<EventHandler>> by_id;
};
inline EventHandlers &event_handlers() {
  static EventHandlers *handlers = new EventHandlers();
  return *handlers;
}
inline uintptr_t add_event_handler(EventHandler handler) {
  EventHandlers &h = event_handlers();
  auto shared = std::make_shared<EventHandler>(std::move(handler));
  std::lock_guard<std::mutex> lock(h.mutex);
  uintptr_t id = h.next_id++;
  h.by_id.emplace(id, std::move(shared));
  return id;
}
inline void remove_event_handler(uintptr_t id) {
  if (id == 0) return;
  std::shared_ptr<EventHandler> gone;  // destroyed after unlocking
  EventHandlers &h = event_handlers();
  std::lock_guard<std::mutex> lock(h.mutex);
  auto it = h.by_id.find(id);
  if (it == h.by_id.end()) return;
  gone = std::move(it->second);
  h.by_id.erase(it);
}
inline void event_trampoline(const portopen_event *event, void *user_data) {
  std::shared_ptr<EventHandler> handler;
  {
    EventHandlers &h = event_handlers();
    std::lock_guard<std::mutex> lock(h.mutex);
    auto it = h.by_id.find(reinterpret_cast<uintptr_t>(user_data));
    if (it != h.by_id.end()) handler = it->second;
  }
  if (!event || !handler || !*handler) return;
#if defined(__cpp_exceptions)
  try {
    (*handler)(Event::from(*event));
  } catch (...) {  // nothing may unwind into the library
  }
#else
  (*handler)(Event::from(*event));
#endif
}
}  // namespace detail

/// A portopen client: configuration, gateways, leases, event queue, renewal thread. Move-only;
/// the destructor closes every lease it opened (blocking while the router answers) and frees it.
class Client {
 public:
  /// Create a client (sends nothing).
  static Result<Client> create(const Config &config = Config()) {
    portopen_config c;
    portopen_status status = portopen_config_init(&c);
    if (status != PORTOPEN_STATUS_OK) return Error::last(status);
    c.discovery_timeout_ms = config.discovery_timeout_ms;
    c.discovery_grace_ms = config.discovery_grace_ms;
    c.action_timeout_ms = config.action_timeout_ms;
    c.description = detail::c_str_or_null(config.description);
    c.cache_file = detail::c_str_or_null(config.cache_file);
    c.journal_file = detail::c_str_or_null(config.journal_file);
    c.router = detail::c_str_or_null(config.router);
    c.interface_name = detail::c_str_or_null(config.interface_name);
    c.no_multicast = config.no_multicast ? 1 : 0;
    c.no_default_gateway = config.no_default_gateway ? 1 : 0;
    c.manual_renew = config.manual_renew ? 1 : 0;
    c.route = config.routes != 0 ? config.routes : static_cast<uint8_t>(config.route);
    portopen_client *raw = nullptr;
    status = portopen_client_new(&c, &raw);
    if (status != PORTOPEN_STATUS_OK) return Error::last(status);
    return Client(raw);
  }

  Client() = default;
  Client(Client &&other) noexcept
      : raw_(std::exchange(other.raw_, nullptr)), handler_id_(std::exchange(other.handler_id_, 0)) {}
  Client &operator=(Client &&other) noexcept {
    if (this != &other) {
      reset();
      raw_ = std::exchange(other.raw_, nullptr);
      handler_id_ = std::exchange(other.handler_id_, 0);
    }
    return *this;
  }
  Client(const Client &) = delete;
  Client &operator=(const Client &) = delete;
  ~Client() { reset(); }

  /// Discover the gateway of `family` now (blocks up to the discovery timeout; cancellable).
  Result<Gateway> discover(Family family) const {
    if (!raw_) return detail::empty_handle("Client");
    portopen_gateway *raw = nullptr;
    portopen_status status = portopen_client_discover(raw_, static_cast<uint32_t>(family), &raw);
    if (status != PORTOPEN_STATUS_OK) return Error::last(status);
    return Gateway(raw);
  }

  /// Open a port on the families asked for (blocks; cancellable). OK means the request was
  /// valid: each family's outcome is in Lease::info() and in one OPENED or FAILED event.
  Result<Lease> open(const OpenOptions &options) const {
    if (!raw_) return detail::empty_handle("Client");
    portopen_open_options c;
    portopen_status status = portopen_open_options_init(&c, static_cast<uint32_t>(options.protocol), options.internal_port);
    if (status != PORTOPEN_STATUS_OK) return Error::last(status);
    c.external_port = options.external_port;
    c.want_v4 = options.want_v4 ? 1 : 0;
    c.want_v6 = options.want_v6 ? 1 : 0;
    c.lease_secs = options.lease_secs;
    c.internal_v4 = detail::c_str_or_null(options.internal_v4);
    c.internal_v6 = detail::c_str_or_null(options.internal_v6);
    c.description = detail::c_str_or_null(options.description);
    portopen_lease *raw = nullptr;
    status = portopen_client_open(raw_, &c, &raw);
    if (status != PORTOPEN_STATUS_OK) return Error::last(status);
    return Lease(raw);
  }

  /// Stop every blocking call on this client now and until reset_cancel(). Any thread; never
  /// blocks. Closing (Lease::close, destructors) still works.
  Result<void> cancel() const {
    if (!raw_) return detail::empty_handle("Client");
    return detail::to_result(portopen_client_cancel(raw_));
  }
  Result<void> reset_cancel() const {
    if (!raw_) return detail::empty_handle("Client");
    return detail::to_result(portopen_client_reset_cancel(raw_));
  }

  /// The next queued event, or nullopt when the queue is empty. Never blocks: poll each frame.
  Result<std::optional<Event>> poll_event() const {
    if (!raw_) return detail::empty_handle("Client");
    portopen_event c;
    portopen_status status = portopen_client_poll_event(raw_, &c);
    if (status == PORTOPEN_STATUS_NO_EVENT) return std::optional<Event>();
    if (status != PORTOPEN_STATUS_OK) return Error::last(status);
    return std::optional<Event>(Event::from(c));
  }

  /// Also deliver each event to `handler`, on the thread that produced it (renewal thread, or
  /// the one calling open/close), besides queueing it; an empty function removes it. Keep it
  /// short, and never close or free a lease or the client from it (portopen.h's rule). A handler
  /// may still be running on another thread for a moment after it was replaced; it is destroyed
  /// only when no call is left (see detail::EventHandlers).
  Result<void> set_event_handler(EventHandler handler) {
    if (!raw_) return detail::empty_handle("Client");
    uintptr_t next = handler ? detail::add_event_handler(std::move(handler)) : 0;
    portopen_status status = next ? portopen_client_set_event_callback(raw_, &detail::event_trampoline,
                                                                       reinterpret_cast<void *>(next))
                                  : portopen_client_set_event_callback(raw_, nullptr, nullptr);
    if (status != PORTOPEN_STATUS_OK) {
      Error error = Error::last(status);
      detail::remove_event_handler(next);
      return error;
    }
    detail::remove_event_handler(std::exchange(handler_id_, next));
    return Result<void>();
  }

  /// Check the router with a trial on `port` (0: one picked for this process) through each
  /// route the config allows: its grade, the routes it speaks and through which each family
  /// opens (portopen_client_check_routes). Blocks. (Not named `check`: Unreal defines a
  /// `check()` macro.)
  Result<CheckReport> check_router(uint16_t port = 0) const {
    if (!raw_) return detail::empty_handle("Client");
    portopen_check_info c{};
    c.struct_size = sizeof c;
    char *json = nullptr;
    portopen_status status = portopen_client_check_routes(raw_, port, &c, &json);
    Result<std::string> text = detail::take_string(status, json);
    if (!text) return text.error();
    CheckReport out;
    out.grade = static_cast<Grade>(c.grade);
    out.json = std::move(*text);
    out.v6_routes = c.v6_routes;
    out.v4_routes = c.v4_routes;
    out.v6_speaks = c.v6_speaks;
    out.v4_speaks = c.v4_speaks;
    out.v6_igd_version = c.v6_igd_version;
    out.v4_igd_version = c.v4_igd_version;
    out.v6_open_already = c.v6_open_already != 0;
    out.pcp_version = c.pcp_version;
    out.v6_pcp_epoch = c.v6_pcp_epoch;
    out.v4_pcp_epoch = c.v4_pcp_epoch;
    out.natpmp_external = Address(c.natpmp_external);
    return out;
  }

  /// Remove what an earlier run left open (journal); how many were removed. Blocks.
  Result<uint32_t> clean_leftovers() const {
    if (!raw_) return detail::empty_handle("Client");
    uint32_t removed = 0;
    portopen_status status = portopen_client_clean_leftovers(raw_, &removed);
    if (status != PORTOPEN_STATUS_OK) return Error::last(status);
    return removed;
  }

  /// Run due renewals now (manual_renew clients); ms until the next one (UINT32_MAX: none).
  Result<uint32_t> renew_due() const {
    if (!raw_) return detail::empty_handle("Client");
    uint32_t next_ms = 0;
    portopen_status status = portopen_client_renew_due(raw_, &next_ms);
    if (status != PORTOPEN_STATUS_OK) return Error::last(status);
    return next_ms;
  }

  bool empty() const { return raw_ == nullptr; }
  explicit operator bool() const { return raw_ != nullptr; }
  portopen_client *get() const { return raw_; }
  /// Close every lease, free the client (what the destructor does).
  void reset() {
    if (raw_) portopen_client_free(std::exchange(raw_, nullptr));
    detail::remove_event_handler(std::exchange(handler_id_, 0));  // after the free (it delivers CLOSED)
  }

 private:
  explicit Client(portopen_client *raw) : raw_(raw) {}

  portopen_client *raw_ = nullptr;
  uintptr_t handler_id_ = 0;  ///< this client's entry in detail::event_handlers(), 0: none
};

// ---- Logging: the process-wide log callback bridged to one std::function ----

/// Receives each log line; called on any thread, possibly several at once, while the library
/// holds internal locks: return quickly and call no portopen function.
using LogHandler = std::function<void(LogLevel level, std::string_view message)>;

namespace detail {
struct LogState {
  std::mutex mutex;
  LogHandler handler;
};
/// Never destroyed: the library's threads may log during static destruction at exit.
inline LogState &log_state() {
  static LogState *state = new LogState();
  return *state;
}
inline void log_trampoline(uint32_t level, const char *message, void *) {
  LogState &state = log_state();
  std::lock_guard<std::mutex> lock(state.mutex);
  if (!state.handler || !message) return;
#if defined(__cpp_exceptions)
  try {
    state.handler(static_cast<LogLevel>(level), std::string_view(message));
  } catch (...) {  // nothing may unwind into the library
  }
#else
  state.handler(static_cast<LogLevel>(level), std::string_view(message));
#endif
}
}  // namespace detail

/// Send portopen's log lines at `max_level` and more severe to `handler` (process-wide); an
/// empty handler turns logging off. Any thread, any time. When it returns, the previous
/// handler is no longer running.
inline Result<void> set_log_handler(LogLevel max_level, LogHandler handler) {
  detail::LogState &state = detail::log_state();
  LogHandler old;
  if (!handler) {
    // Unhook first: the library waits for running callbacks, which may wait for our mutex,
    // so the library is never called with the mutex held.
    portopen_status status = portopen_set_log_callback(nullptr, 0, nullptr);
    std::lock_guard<std::mutex> lock(state.mutex);
    old = std::move(state.handler);
    state.handler = nullptr;
    return detail::to_result(status);
  }
  {
    std::lock_guard<std::mutex> lock(state.mutex);
    old = std::move(state.handler);  // destroyed after the lock, outside any callback
    state.handler = std::move(handler);
  }
  portopen_status status = portopen_set_log_callback(&detail::log_trampoline, static_cast<uint32_t>(max_level), nullptr);
  if (status != PORTOPEN_STATUS_OK) {
    Error error = Error::last(status);
    std::lock_guard<std::mutex> lock(state.mutex);
    state.handler = std::move(old);  // the library kept its previous setting
    return error;
  }
  return Result<void>();
}

}  // namespace portopen

#endif  // PORTOPEN_HPP
