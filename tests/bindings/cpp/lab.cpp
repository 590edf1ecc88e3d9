// portopen.hpp against the real router lab, as a game would use it: open UDP $PORT on both
// families, stay open while tests/bindings/cpp.sh proves it reachable from wan, then let the
// Lease go out of scope (its destructor closes it) and check the CLOSED events.
// Runs only inside the lab's lan namespace (ip netns exec), driven through marker files in
// $MARKERS (see tests/bindings/lab_flow.bash). Env: PORT, EXT_V4, LAN_V6, MARKERS.
#include "check.hpp"

#include <sys/stat.h>

#include <atomic>
#include <thread>
#include <vector>

using portopen::Family;
using portopen::PortStatus;

static std::string env(const char *name) {
  const char *value = std::getenv(name);
  if (!value || !*value) {
    std::fprintf(stderr, "lab: %s is not set (run by tests/bindings/cpp.sh)\n", name);
    std::exit(2);
  }
  return value;
}

static void mark(const std::string &name) {
  std::FILE *f = std::fopen((env("MARKERS") + "/" + name).c_str(), "w");
  CHECK(f != nullptr);
  if (f) std::fclose(f);
}

/// Wait for the runner's marker; false after the deadline.
static bool await(const std::string &name) {
  std::string path = env("MARKERS") + "/" + name;
  double deadline = check::now_ms() + 60000 * check::time_scale();
  struct stat st;
  while (stat(path.c_str(), &st) != 0) {
    if (check::now_ms() > deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return true;
}

static std::vector<portopen::Event> drain(const portopen::Client &client) {
  std::vector<portopen::Event> events;
  for (;;) {
    auto next = client.poll_event();
    CHECK_OK(next);
    if (!next || !*next) return events;
    std::printf("event lease=%llu v%u kind=%u %s %s\n", (unsigned long long)(*next)->lease_id,
                static_cast<unsigned>((*next)->family), static_cast<unsigned>((*next)->kind),
                (*next)->address.to_string().c_str(), (*next)->message.c_str());
    events.push_back(std::move(**next));
  }
}

static bool has(const std::vector<portopen::Event> &events, Family family, portopen::EventKind kind) {
  for (const auto &e : events)
    if (e.family == family && e.kind == kind) return true;
  return false;
}

int main() {
  const int port = std::atoi(env("PORT").c_str());
  const std::string want_v4 = env("EXT_V4") + ":" + std::to_string(port);
  const std::string want_v6 = "[" + env("LAN_V6") + "]:" + std::to_string(port);
  const double scale = check::time_scale();

  std::atomic<int> log_lines{0};
  CHECK_OK(portopen::set_log_handler(portopen::LogLevel::Debug, [&](portopen::LogLevel, std::string_view) { log_lines++; }));

  portopen::Config config;
  config.discovery_timeout_ms = static_cast<uint32_t>(2000 * scale);
  config.action_timeout_ms = static_cast<uint32_t>(3000 * scale);
  auto created = portopen::Client::create(config);
  CHECK_OK(created);
  if (!created) return check::summary("cpp lab");
  portopen::Client client = std::move(created).value();

  std::atomic<int> opened_seen{0};
  CHECK_OK(client.set_event_handler([&](const portopen::Event &e) {
    if (e.kind == portopen::EventKind::Opened) opened_seen++;
  }));

  {
    portopen::OpenOptions options;
    options.protocol = portopen::Protocol::Udp;
    options.internal_port = static_cast<uint16_t>(port);
    options.lease_secs = 600;
    auto opened = client.open(options);
    CHECK_OK(opened);
    if (!opened) return check::summary("cpp lab");
    portopen::Lease lease = std::move(opened).value();
    auto info = lease.info();
    CHECK_OK(info);
    if (info) {
      for (Family family : {Family::V4, Family::V6}) {
        const portopen::FamilyState &s = info->of(family);
        auto message = lease.message(family);
        std::printf("lease %llu v%u: status=%u external=%s lease=%us upnp=%d %s\n", (unsigned long long)info->id,
                    static_cast<unsigned>(family), static_cast<unsigned>(s.status), s.external.to_string().c_str(),
                    s.lease_secs, s.upnp_code, message ? message->c_str() : "");
      }
      CHECK(info->v4.status == PortStatus::Open);
      CHECK(info->v6.status == PortStatus::Open);
      CHECK(info->protocol == portopen::Protocol::Udp && info->internal_port == port);
      CHECK(info->v4.external.to_string() == want_v4);
      CHECK(info->v6.external.to_string() == want_v6);
      CHECK(info->v4.lease_secs > 0 && info->v4.lease_secs <= 600);
    }
    auto events = drain(client);
    CHECK(has(events, Family::V4, portopen::EventKind::Opened) && has(events, Family::V6, portopen::EventKind::Opened));
    CHECK(opened_seen == 2);
    std::fflush(stdout);
    mark("opened");
    CHECK(await("close"));
  }  // the Lease's destructor closes both families on the router
  mark("closed");

  auto events = drain(client);
  CHECK(has(events, Family::V4, portopen::EventKind::Closed) && has(events, Family::V6, portopen::EventKind::Closed));
  CHECK(log_lines > 0);

  // The check on the lab router (UPnP, PCP and NAT-PMP on): both families open by PCP and UPnP,
  // and the router speaks all three over IPv4.
  auto report = client.check_router(static_cast<uint16_t>(port + 100));
  CHECK_OK(report);
  if (report) {
    using portopen::RouteFlag;
    std::printf("check: grade=%u v6_routes=%#x v4_routes=%#x v4_speaks=%#x pcp=%u natpmp=%s\n", static_cast<unsigned>(report->grade),
                report->v6_routes, report->v4_routes, report->v4_speaks, report->pcp_version, report->natpmp_external.to_string().c_str());
    CHECK(report->grade == portopen::Grade::A);
    CHECK(report->v6_routes == (RouteFlag::Upnp | RouteFlag::Pcp) && report->v4_routes == (RouteFlag::Upnp | RouteFlag::Pcp));
    CHECK(report->v4_speaks == (RouteFlag::Upnp | RouteFlag::Pcp | RouteFlag::NatPmp));
    CHECK(report->v6_igd_version == 2 && report->pcp_version == 2 && !report->v6_open_already);
    CHECK(report->natpmp_external.to_string() == env("EXT_V4") + ":0");
  }
  CHECK(await("exit"));
  CHECK_OK(portopen::set_log_handler(portopen::LogLevel::Debug, nullptr));
  return check::summary("cpp lab");
}
