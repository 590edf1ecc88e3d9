// portopen.hpp used wrongly: moved-from and empty objects, bad arguments, calls after cancel.
// Each gives an Error with the documented status, never a crash or a leak (run under valgrind).
// Network: only unicast searches to 127.0.0.1:9 (nobody answers); no multicast, no default
// gateway. Built and run by tests/bindings/cpp.sh.
#include "check.hpp"

#include <atomic>
#include <thread>
#include <vector>

using portopen::Client;
using portopen::Config;
using portopen::Family;
using portopen::Lease;
using portopen::OpenOptions;
using portopen::PortStatus;
using portopen::Result;
using portopen::Status;

static const char *const NOBODY = "127.0.0.1:9";

static Config loopback(uint32_t discovery_timeout_ms) {
  Config config;
  config.router = NOBODY;
  config.no_multicast = true;
  config.no_default_gateway = true;
  config.discovery_timeout_ms = discovery_timeout_ms;
  return config;
}

static Client loopback_client(uint32_t discovery_timeout_ms) {
  Result<Client> client = Client::create(loopback(discovery_timeout_ms));
  CHECK_OK(client);
  return client.ok() ? std::move(client).value() : Client();
}

static OpenOptions udp(uint16_t port) {
  OpenOptions options;
  options.internal_port = port;
  return options;
}

static void versions() {
  CHECK(portopen::abi_version() == PORTOPEN_ABI_VERSION);
  CHECK(std::string(portopen::version()).size() > 0);
  CHECK(std::string(portopen::status_name(Status::Cancelled)) == "PORTOPEN_STATUS_CANCELLED");
}

static void moved_from_objects_return_errors() {
  Client first = loopback_client(100);
  Client second = std::move(first);
  CHECK(first.empty() && !second.empty());
  CHECK_FAILS(first.discover(Family::V4), Status::InvalidArgument, "moved-from");
  CHECK_FAILS(first.open(udp(7777)), Status::InvalidArgument, "moved-from");
  CHECK_FAILS(first.cancel(), Status::InvalidArgument, "moved-from");
  CHECK_FAILS(first.reset_cancel(), Status::InvalidArgument, "moved-from");
  CHECK_FAILS(first.poll_event(), Status::InvalidArgument, "moved-from");
  CHECK_FAILS(first.set_event_handler([](const portopen::Event &) {}), Status::InvalidArgument, "moved-from");
  CHECK_FAILS(first.check_router(), Status::InvalidArgument, "moved-from");
  CHECK_FAILS(first.clean_leftovers(), Status::InvalidArgument, "moved-from");
  CHECK_FAILS(first.renew_due(), Status::InvalidArgument, "moved-from");
  CHECK_FAILS(Client().open(udp(7777)), Status::InvalidArgument, "default-constructed");

  Result<Lease> opened = second.open(udp(7777));
  CHECK_OK(opened);
  Lease lease = std::move(opened).value_or(Lease());
  Lease other = std::move(lease);
  CHECK(lease.empty() && !other.empty());
  CHECK_FAILS(lease.info(), Status::InvalidArgument, "moved-from");
  CHECK_FAILS(lease.close(), Status::InvalidArgument, "moved-from");
  CHECK_FAILS(lease.message(Family::V4), Status::InvalidArgument, "moved-from");
  CHECK_OK(other.info());
  lease.reset();  // no-op on an empty lease

  portopen::Gateway gateway;
  CHECK_FAILS(gateway.info(), Status::InvalidArgument, "moved-from");
  CHECK_FAILS(gateway.location(), Status::InvalidArgument, "moved-from");
  CHECK_FAILS(gateway.server(), Status::InvalidArgument, "moved-from");

  // Move-assigning over live objects frees what they held (valgrind sees any leak).
  other = Lease();
  second = loopback_client(100);
  CHECK(!second.empty());

  // A value() on an error would abort; value_or is the non-fatal way out.
  Result<Lease> failed = first.open(udp(7777));
  CHECK(!failed.ok() && !failed);
  CHECK(std::move(failed).value_or(Lease()).empty());
}

static void bad_arguments() {
  Client client = loopback_client(100);
  CHECK_FAILS(client.open(udp(0)), Status::InvalidArgument, "internal_port must be 1..=65535, not 0");
  CHECK_FAILS(client.discover(static_cast<Family>(5)), Status::InvalidArgument,
              "family must be PORTOPEN_FAMILY_V4 (4) or PORTOPEN_FAMILY_V6 (6), not 5");
  OpenOptions options = udp(7777);
  options.protocol = static_cast<portopen::Protocol>(99);
  CHECK_FAILS(client.open(options), Status::InvalidArgument, "protocol");
  options = udp(7777);
  options.internal_v4 = "not an address";
  CHECK_FAILS(client.open(options), Status::InvalidArgument, "internal_v4");

  Config config = loopback(100);
  config.router = "router.local";
  CHECK_FAILS(Client::create(config), Status::InvalidArgument, "config->router");
  config.router = "127.0.0.1:0";
  CHECK_FAILS(Client::create(config), Status::InvalidArgument, "port 0");
  config = loopback(100);
  config.routes = 0x80;
  CHECK_FAILS(Client::create(config), Status::InvalidArgument, "config->route must be");
  config.routes = portopen::RouteFlag::Upnp | portopen::RouteFlag::Pcp;
  CHECK_OK(Client::create(config));
  config = loopback(100);
  config.description = "\xff\xfe not UTF-8";
  CHECK_FAILS(Client::create(config), Status::InvalidArgument, "UTF-8");

  // Valid calls on a client with no gateway around: values, not errors.
  Result<portopen::CheckReport> report = client.check_router();
  CHECK(report.ok() && report->grade == portopen::Grade::D && report->json.rfind("{\"grade\":\"D\",", 0) == 0);
  CHECK(report.ok() && report->v6_routes == 0 && report->v4_routes == 0 && report->v4_speaks == 0 && report->natpmp_external.empty());
  Result<uint32_t> next = client.renew_due();
  CHECK(next.ok() && *next == UINT32_MAX);
  CHECK(client.clean_leftovers().ok());

  Result<Lease> lease = client.open(udp(7777));
  CHECK_OK(lease);
  if (lease) CHECK_FAILS(lease->message(static_cast<Family>(0)), Status::InvalidArgument, "family");
  CHECK_FAILS(portopen::set_log_handler(static_cast<portopen::LogLevel>(99), [](portopen::LogLevel, std::string_view) {}),
              Status::InvalidArgument, "max_level");
}

static void calls_after_cancel() {
  double scale = check::time_scale();
  Client client = loopback_client(300);
  CHECK_OK(client.cancel());
  double started = check::now_ms();
  CHECK_FAILS(client.discover(Family::V4), Status::Cancelled, "cancelled");
  CHECK_STATUS(client.discover(Family::V4), Status::Cancelled);  // until reset_cancel
  CHECK(check::now_ms() - started < 400 * scale);
  // open too returns CANCELLED until reset_cancel: nothing is sent.
  CHECK_FAILS(client.open(udp(7777)), Status::Cancelled, "cancelled");
  CHECK_OK(client.reset_cancel());
  CHECK_FAILS(client.discover(Family::V4), Status::NoGateway, "no UPnP gateway answered");
}

static void cancel_from_another_thread() {
  Client client = loopback_client(5000);
  Status status = Status::Ok;
  double took = 0;
  std::thread worker([&] {
    double started = check::now_ms();
    status = client.discover(Family::V4).status();
    took = check::now_ms() - started;
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  CHECK_OK(client.cancel());
  worker.join();
  CHECK(status == Status::Cancelled);
  CHECK(took < 1000 * check::time_scale());
}

static void events_and_logs_without_gateway() {
  std::atomic<int> log_lines{0};
  CHECK_OK(portopen::set_log_handler(portopen::LogLevel::Debug,
                                     [&](portopen::LogLevel, std::string_view message) {
                                       if (!message.empty()) log_lines++;
                                     }));
  std::atomic<int> handled{0};
  Lease lease;
  uint64_t id = 0;
  {
    Client client = loopback_client(200);
    CHECK_OK(client.set_event_handler([&](const portopen::Event &e) {
      if (e.kind == portopen::EventKind::Failed) handled++;
    }));
    Client moved = std::move(client);  // the handler moves with the client
    Result<Lease> opened = moved.open(udp(7777));
    CHECK_OK(opened);
    if (opened) lease = std::move(*opened);
    Result<portopen::LeaseInfo> info = lease.info();
    CHECK_OK(info);
    if (info) {
      id = info->id;
      // IPv6: NoLocalAddress instead on a host without a global IPv6 address (no search then).
      CHECK(info->v4.status == PortStatus::NoGateway &&
            (info->v6.status == PortStatus::NoGateway || info->v6.status == PortStatus::NoLocalAddress));
      CHECK(info->v4.external.empty() && info->v4.external.to_string().empty());
    }
    Result<std::string> message = lease.message(Family::V4);
    CHECK(message.ok() && message->find("no UPnP gateway") != std::string::npos);

    std::vector<portopen::Event> events;
    for (;;) {
      Result<std::optional<portopen::Event>> next = moved.poll_event();
      CHECK_OK(next);
      if (!next || !*next) break;
      events.push_back(std::move(**next));
    }
    CHECK(events.size() == 2);
    for (const portopen::Event &e : events) CHECK(e.lease_id == id && e.kind == portopen::EventKind::Failed);
    CHECK(handled == 2);
    // The client goes first: the lease outlives it (state Closed), the handler is not called.
  }
  Result<portopen::LeaseInfo> after = lease.info();
  CHECK(after.ok() && after->v4.status == PortStatus::Closed);
  CHECK(log_lines > 0);
  CHECK_OK(portopen::set_log_handler(portopen::LogLevel::Debug, nullptr));
  int lines = log_lines;
  Client quiet = loopback_client(100);
  CHECK_STATUS(quiet.discover(Family::V4), Status::NoGateway);
  CHECK(log_lines == lines);
}

// Handlers replaced while another thread's opens deliver FAILED events to them: each handler
// owns heap data it reads, so one destroyed while still running shows under valgrind.
static void handler_replaced_while_delivering() {
  Client client = loopback_client(30);
  std::atomic<bool> done{false};
  std::atomic<int> calls{0};
  std::thread opener([&] {
    for (int i = 0; i < 8; i++) CHECK(client.open(udp(7777)).ok());
    done = true;
  });
  int replaced = 0;
  while (!done) {
    auto owned = std::make_shared<std::string>("handler " + std::to_string(replaced++));
    CHECK_OK(client.set_event_handler([owned, &calls](const portopen::Event &) {
      std::this_thread::sleep_for(std::chrono::milliseconds(2));  // be replaced meanwhile
      if (!owned->empty()) calls++;
    }));
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  opener.join();
  CHECK_OK(client.set_event_handler(nullptr));
  CHECK(calls > 0 && replaced > 1);
}

int main() {
  versions();
  moved_from_objects_return_errors();
  bad_arguments();
  calls_after_cancel();
  cancel_from_another_thread();
  events_and_logs_without_gateway();
  handler_replaced_while_delivering();
  return check::summary("cpp misuse");
}
