// The PortOpen Unreal plugin's own sources, run on the mock engine (mock/UnrealMock.h) as a game
// would use them: the module starts, the subsystem starts with the game instance, Blueprint
// nodes open and close ports. One case per run (argv[1] or $PLUGIN_CASE); tests/bindings/unreal.sh runs them:
//   missing  no library in the plugin's Binaries: a clear error, no subsystem, the nodes fail
//   abi      a library of another ABI: an error naming both versions, no subsystem
//   ready    the real library: subsystem up, files under Saved, requests refused without network
//   lab      in the lab's lan namespace: two Open Port nodes at once, each its own result;
//            reachable from wan; Close Port; the marker handshake of lab_flow.bash
//   recover  in the lab: open; the router restarts; On Port Lost, then On Port Recovered
//   crash    in the lab: open, then end the process without closing (what a crash leaves)
//   restart  in the lab, same Saved: the subsystem removes what "crash" left open
// The program is linked with portopen's symbols unresolved and lazily bound (like a Windows
// delay-loaded DLL): any portopen call before the module loaded the library kills the process
// with "symbol lookup error", so a clean "missing" or "abi" run proves there was none.
// Every blocking portopen call is wrapped (-Wl,--wrap) to count calls made on the game thread.
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <string>

#include "PortOpenAsyncActions.h"
#include "PortOpenModule.h"
#include "PortOpenSettings.h"
#include "PortOpenSubsystem.h"
#include "UnrealMock.h"
THIRD_PARTY_INCLUDES_START
#include "portopen.h"
THIRD_PARTY_INCLUDES_END

IModuleInterface* MockCreateModule_PortOpen();

namespace {
int Total = 0;
int Failed = 0;

#define EXPECT(Cond, ...)                                              \
  do {                                                                 \
    Total++;                                                           \
    if (!(Cond)) {                                                     \
      Failed++;                                                        \
      std::fprintf(stderr, "FAIL line %d: %s\n     ", __LINE__, #Cond); \
      std::fprintf(stderr, __VA_ARGS__);                               \
      std::fprintf(stderr, "\n");                                      \
    }                                                                  \
  } while (0)

std::string Env(const char* Name) {
  const char* Value = std::getenv(Name);
  if (!Value || !*Value) {
    std::fprintf(stderr, "plugin: %s is not set (run by tests/bindings/unreal.sh)\n", Name);
    std::exit(2);
  }
  return Value;
}

bool Contains(const FString& Text, const std::string& Part) { return std::string(*Text).find(Part) != std::string::npos; }

std::atomic<int> BlockingOnGameThread{0};
std::atomic<int> BlockingElsewhere{0};

[[maybe_unused]] void NoteBlocking(const char* Name) {
  if (IsInGameThread() && !IsEngineExitRequested()) {
    BlockingOnGameThread++;
    std::fprintf(stderr, "blocking call %s on the game thread\n", Name);
  } else {
    BlockingElsewhere++;
  }
}
}  // namespace

// The library's blocking functions, wrapped at link time (-Wl,--wrap=NAME). Not in the Windows
// build, which runs only the cases that make no such call (missing, abi).
#ifndef _WIN32
extern "C" {
#define WRAP(Name, Params, Args)                \
  portopen_status __real_##Name Params;         \
  portopen_status __wrap_##Name Params {        \
    NoteBlocking(#Name);                        \
    return __real_##Name Args;                  \
  }
WRAP(portopen_client_open, (const portopen_client* c, const portopen_open_options* o, portopen_lease** out), (c, o, out))
WRAP(portopen_client_discover, (const portopen_client* c, uint32_t f, portopen_gateway** out), (c, f, out))
WRAP(portopen_client_check, (const portopen_client* c, uint16_t p, uint32_t* g, char** j), (c, p, g, j))
WRAP(portopen_client_clean_leftovers, (const portopen_client* c, uint32_t* removed), (c, removed))
WRAP(portopen_client_renew_due, (const portopen_client* c, uint32_t* next), (c, next))
WRAP(portopen_client_free, (portopen_client* c), (c))
WRAP(portopen_lease_close, (const portopen_lease* l), (l))
WRAP(portopen_lease_free, (portopen_lease* l), (l))
#undef WRAP
}
#endif

namespace {
/// A game: the module, a world and its game instance (whose subsystem may or may not start).
struct FGame {
  IModuleInterface* Module = MockCreateModule_PortOpen();
  UGameInstance* GameInstance = new UGameInstance();
  UWorld* World = new UWorld();
  UPortOpenSubsystem* Subsystem = nullptr;

  FGame() {
    Module->StartupModule();
    World->MockGameInstance = GameInstance;
    Subsystem = GameInstance->MockStartSubsystem<UPortOpenSubsystem>();
  }
  ~FGame() {
    delete GameInstance;  // subsystems deinitialize
    MockEngine::JoinBackground();
    Module->ShutdownModule();
    delete Module;
    delete World;
    MockEngine::CollectGarbage();
  }
};

/// Runs an Open Port node to completion: which pin fired and with what.
struct FOpenOutcome {
  bool bOpened = false;
  bool bFailed = false;
  FPortOpenResult Result;
  UPortOpenOpenPortAction* Action = nullptr;
};

FOpenOutcome* StartOpen(UWorld* World, int32 Port, EPortOpenProtocol Protocol, bool bIPv4, bool bIPv6) {
  auto* Outcome = new FOpenOutcome();
  Outcome->Action = UPortOpenOpenPortAction::OpenPort(World, Port, Protocol, bIPv4, bIPv6);
  Outcome->Action->OnOpened.MockAdd([Outcome](const FPortOpenResult& R) { Outcome->bOpened = true; Outcome->Result = R; });
  Outcome->Action->OnFailed.MockAdd([Outcome](const FPortOpenResult& R) { Outcome->bFailed = true; Outcome->Result = R; });
  Outcome->Action->Activate();
  return Outcome;
}

bool Finish(FOpenOutcome* Outcome, double Seconds) {
  return MockEngine::FramesUntil([Outcome] { return Outcome->bOpened || Outcome->bFailed; }, Seconds);
}

struct FCloseOutcome {
  bool bClosed = false;
  bool bFailed = false;
  FString Error;
};

FCloseOutcome Close(UWorld* World, int64 LeaseId, double Seconds) {
  FCloseOutcome Outcome;
  UPortOpenClosePortAction* Action = UPortOpenClosePortAction::ClosePort(World, LeaseId);
  Action->OnClosed.MockAdd([&Outcome](int64, const FString&) { Outcome.bClosed = true; });
  Action->OnFailed.MockAdd([&Outcome](int64, const FString& E) { Outcome.bFailed = true; Outcome.Error = E; });
  Action->Activate();
  MockEngine::FramesUntil([&Outcome] { return Outcome.bClosed || Outcome.bFailed; }, Seconds);
  EXPECT(Action->bMockRegistered && Action->bMockReadyToDestroy, "the Close Port node did not register and finish");
  return Outcome;
}

void CheckUnavailable(const char* Expected) {
  FGame Game;
  EXPECT(!FPortOpenModule::IsLibraryReady(), "the library reads as ready");
  EXPECT(Contains(FPortOpenModule::GetLoadError(), Expected), "load error \"%s\" lacks \"%s\"", *FPortOpenModule::GetLoadError(), Expected);
  EXPECT(MockEngine::LogContains(std::string("LogPortOpen: Error: ")) && MockEngine::LogContains(Expected), "no error line naming \"%s\" in the log", Expected);
  EXPECT(Game.Subsystem == nullptr, "the subsystem started without a usable library");

  FOpenOutcome* Open = StartOpen(Game.World, 7777, EPortOpenProtocol::UDP, true, true);
  EXPECT(Finish(Open, 5), "the Open Port node never fired");
  EXPECT(Open->bFailed && !Open->bOpened, "Open Port did not take the failure pin");
  EXPECT(Contains(Open->Result.Error, "PortOpen is not available") && Contains(Open->Result.Error, Expected),
         "Open Port's error \"%s\" does not say why", *Open->Result.Error);
  EXPECT(Open->Action->bMockReadyToDestroy, "the Open Port node was not released");
  delete Open;

  FCloseOutcome Closed = Close(Game.World, 1, 5);
  EXPECT(Closed.bFailed && Contains(Closed.Error, Expected), "Close Port: failed=%d error \"%s\"", Closed.bFailed, *Closed.Error);
}

void CheckReady() {
  FGame Game;
  EXPECT(FPortOpenModule::IsLibraryReady(), "not ready: %s", *FPortOpenModule::GetLoadError());
  EXPECT(FPortOpenModule::GetLoadError().IsEmpty(), "load error while ready: %s", *FPortOpenModule::GetLoadError());
  EXPECT(MockEngine::LogContains("portopen 0.1.0 loaded (ABI 1)"), "no start-up line in the log");
  EXPECT(Game.Subsystem != nullptr, "the subsystem did not start");
  if (!Game.Subsystem) return;

  const UPortOpenSettings* Settings = GetDefault<UPortOpenSettings>();
  const std::string Files = MockEngine::SavedDir + "/PortOpen";
  EXPECT(Settings->bJournal && Settings->bGatewayCache, "journal and cache are not on by default");
  EXPECT(std::string(*Settings->JournalFile()) == Files + "/journal.txt", "journal at %s", *Settings->JournalFile());
  EXPECT(std::string(*Settings->GatewayCacheFile()) == Files + "/gateways.txt", "cache at %s", *Settings->GatewayCacheFile());
  struct stat Info;
  EXPECT(stat(Files.c_str(), &Info) == 0 && S_ISDIR(Info.st_mode), "%s was not created", Files.c_str());

  // Requests that cannot be tried fail on their own pin, without a word to any router.
  FOpenOutcome* BadPort = StartOpen(Game.World, 0, EPortOpenProtocol::UDP, true, true);
  FOpenOutcome* NoFamily = StartOpen(Game.World, 7777, EPortOpenProtocol::TCP, false, false);
  EXPECT(Finish(BadPort, 5) && Finish(NoFamily, 5), "an Open Port node never fired");
  EXPECT(BadPort->bFailed && Contains(BadPort->Result.Error, "port 0 is not in 1..65535"), "port 0: \"%s\"", *BadPort->Result.Error);
  EXPECT(NoFamily->bFailed && Contains(NoFamily->Result.Error, "neither IPv4 nor IPv6"), "no family: \"%s\"", *NoFamily->Result.Error);
  EXPECT(BadPort->Result.Lease.LeaseId == 0 && NoFamily->Result.Lease.LeaseId == 0, "a refused request has a lease id");
  delete BadPort;
  delete NoFamily;

  FCloseOutcome Closed = Close(Game.World, 42, 5);
  EXPECT(Closed.bFailed && Contains(Closed.Error, "no open port has lease id 42"), "Close Port 42: \"%s\"", *Closed.Error);
  EXPECT(Game.Subsystem->GetLeases().Num() == 0, "leases held after nothing was opened");
  EXPECT(Game.Subsystem->GetPendingOpenCount() == 0, "opens pending after refusals");
}

void Mark(const std::string& Name) {
  std::FILE* File = std::fopen((Env("MARKERS") + "/" + Name).c_str(), "w");
  EXPECT(File != nullptr, "cannot create marker %s", Name.c_str());
  if (File) std::fclose(File);
}

bool Await(const std::string& Name) {
  const std::string Path = Env("MARKERS") + "/" + Name;
  // Frames keep running while the runner probes: events are delivered meanwhile.
  return MockEngine::FramesUntil([&Path] { struct stat Info; return stat(Path.c_str(), &Info) == 0; }, 120);
}

bool HasEvent(const std::vector<FPortOpenEvent>& Events, int64 Lease, EPortOpenFamily Family, EPortOpenEventKind Kind) {
  for (const FPortOpenEvent& E : Events) if (E.LeaseId == Lease && E.Family == Family && E.Kind == Kind) return true;
  return false;
}

void CheckLab() {
  const int32 Port = std::atoi(Env("PORT").c_str());
  const std::string WantV4 = Env("EXT_V4") + ":" + std::to_string(Port);
  const std::string WantV6 = "[" + Env("LAN_V6") + "]:" + std::to_string(Port);
  FGame Game;
  EXPECT(Game.Subsystem != nullptr, "the subsystem did not start: %s", *FPortOpenModule::GetLoadError());
  if (!Game.Subsystem) return;
  std::vector<FPortOpenEvent> Events;
  Game.Subsystem->OnPortEvent.MockAdd([&Events](const FPortOpenEvent& E) { Events.push_back(E); });

  // Two nodes at once: each gets its own result on its own pins.
  FOpenOutcome* Udp = StartOpen(Game.World, Port, EPortOpenProtocol::UDP, true, true);
  FOpenOutcome* Tcp = StartOpen(Game.World, Port + 1, EPortOpenProtocol::TCP, true, false);
  EXPECT(Game.Subsystem->GetPendingOpenCount() == 2, "%d opens pending, 2 expected", Game.Subsystem->GetPendingOpenCount());
  EXPECT(Finish(Udp, 60) && Finish(Tcp, 60), "an Open Port node never fired");
  EXPECT(Udp->bOpened && !Udp->bFailed, "UDP open failed: %s / %s / %s", *Udp->Result.Error, *Udp->Result.Lease.IPv4.Message, *Udp->Result.Lease.IPv6.Message);
  EXPECT(Tcp->bOpened && !Tcp->bFailed, "TCP open failed: %s / %s", *Tcp->Result.Error, *Tcp->Result.Lease.IPv4.Message);
  const FPortOpenLease& U = Udp->Result.Lease;
  const FPortOpenLease& T = Tcp->Result.Lease;
  EXPECT(U.Port == Port && U.Protocol == EPortOpenProtocol::UDP, "UDP result is for port %d", U.Port);
  EXPECT(T.Port == Port + 1 && T.Protocol == EPortOpenProtocol::TCP, "TCP result is for port %d", T.Port);
  EXPECT(U.LeaseId != 0 && T.LeaseId != 0 && U.LeaseId != T.LeaseId, "lease ids %lld %lld", (long long)U.LeaseId, (long long)T.LeaseId);
  EXPECT(U.IPv4.Status == EPortOpenStatus::Open && std::string(*U.IPv4.Endpoint) == WantV4, "UDP IPv4 %s", *U.IPv4.Endpoint);
  EXPECT(U.IPv6.Status == EPortOpenStatus::Open && std::string(*U.IPv6.Endpoint) == WantV6, "UDP IPv6 %s", *U.IPv6.Endpoint);
  EXPECT(std::string(*U.IPv4.ExternalAddress) == Env("EXT_V4") && U.IPv4.ExternalPort == Port, "UDP IPv4 address %s port %d", *U.IPv4.ExternalAddress, U.IPv4.ExternalPort);
  EXPECT(std::string(*U.IPv6.ExternalAddress) == Env("LAN_V6"), "UDP IPv6 address %s", *U.IPv6.ExternalAddress);
  // The route that opened each family: the lab router speaks UPnP and PCP (which wins the race
  // where it answers); never None for an open family.
  EXPECT(U.IPv4.Route != EPortOpenRoute::None && U.IPv6.Route != EPortOpenRoute::None && T.IPv4.Route != EPortOpenRoute::None,
         "routes %d %d %d", static_cast<int>(U.IPv4.Route), static_cast<int>(U.IPv6.Route), static_cast<int>(T.IPv4.Route));
  EXPECT(T.IPv6.Route == EPortOpenRoute::None, "TCP IPv6 was not asked for but has route %d", static_cast<int>(T.IPv6.Route));
  EXPECT(U.IPv4.LeaseSeconds > 0 && U.IPv6.LeaseSeconds > 0, "lease seconds %d %d", U.IPv4.LeaseSeconds, U.IPv6.LeaseSeconds);
  EXPECT(T.IPv6.Status == EPortOpenStatus::NotRequested, "TCP IPv6 was not asked for but is %d", static_cast<int>(T.IPv6.Status));
  EXPECT(Game.Subsystem->GetLeases().Num() == 2 && Game.Subsystem->GetPendingOpenCount() == 0, "%d leases held", Game.Subsystem->GetLeases().Num());
  FPortOpenLease Held;
  EXPECT(Game.Subsystem->GetLease(U.LeaseId, Held) && Held.IPv4.IsOpen() && Held.IPv6.IsOpen(), "GetLease of the UDP lease");
  struct stat Info;
  const std::string Journal = *GetDefault<UPortOpenSettings>()->JournalFile();
  EXPECT(stat(Journal.c_str(), &Info) == 0 && Info.st_size > 0, "no journal at %s while ports are open", Journal.c_str());

  // A second game instance alive meanwhile (play-in-editor with two players) keeps its own
  // journal: reading the first one's, it would remove its open ports as a crash's leftovers
  // (the runner's probes below would then fail).
  {
    UGameInstance Second;
    UPortOpenSubsystem* Other = Second.MockStartSubsystem<UPortOpenSubsystem>();
    EXPECT(Other != nullptr, "a second game instance has no subsystem");
    MockEngine::JoinBackground();  // its leftover cleaning, if it had any to do
  }
  MockEngine::JoinBackground();
  MockEngine::Frame();
  EXPECT(!MockEngine::LogContains("port(s) an earlier run left open"), "the second game instance removed the first one's ports");

  FCloseOutcome TcpClosed = Close(Game.World, T.LeaseId, 30);
  EXPECT(TcpClosed.bClosed, "Close Port (TCP) failed: %s", *TcpClosed.Error);
  EXPECT(Game.Subsystem->GetLeases().Num() == 1, "%d leases after closing one", Game.Subsystem->GetLeases().Num());

  Mark("opened");
  EXPECT(Await("close"), "no close marker");
  FCloseOutcome UdpClosed = Close(Game.World, U.LeaseId, 30);
  EXPECT(UdpClosed.bClosed, "Close Port (UDP) failed: %s", *UdpClosed.Error);
  EXPECT(Game.Subsystem->GetLeases().Num() == 0, "%d leases after closing all", Game.Subsystem->GetLeases().Num());
  Mark("closed");
  EXPECT(Await("exit"), "no exit marker");

  MockEngine::Frame();  // the last events
  EXPECT(HasEvent(Events, U.LeaseId, EPortOpenFamily::IPv4, EPortOpenEventKind::Opened), "no IPv4 Opened event");
  EXPECT(HasEvent(Events, U.LeaseId, EPortOpenFamily::IPv6, EPortOpenEventKind::Opened), "no IPv6 Opened event");
  EXPECT(HasEvent(Events, U.LeaseId, EPortOpenFamily::IPv4, EPortOpenEventKind::Closed), "no IPv4 Closed event");
  EXPECT(HasEvent(Events, U.LeaseId, EPortOpenFamily::IPv6, EPortOpenEventKind::Closed), "no IPv6 Closed event");
  EXPECT(HasEvent(Events, T.LeaseId, EPortOpenFamily::IPv4, EPortOpenEventKind::Closed), "no Closed event of the TCP lease");
  delete Udp;
  delete Tcp;
}

/// Open; the runner restarts the router (rules flushed): On Port Lost, then On Port Recovered.
void Recover() {
  const int32 Port = std::atoi(Env("PORT").c_str());
  FGame Game;
  EXPECT(Game.Subsystem != nullptr, "the subsystem did not start");
  if (!Game.Subsystem) return;
  std::vector<FPortOpenEvent> Lost, Recovered;
  Game.Subsystem->OnPortLost.MockAdd([&Lost](const FPortOpenEvent& E) { Lost.push_back(E); });
  Game.Subsystem->OnPortRecovered.MockAdd([&Recovered](const FPortOpenEvent& E) { Recovered.push_back(E); });
  FOpenOutcome* Open = StartOpen(Game.World, Port, EPortOpenProtocol::UDP, true, true);
  EXPECT(Finish(Open, 60) && Open->bOpened, "open failed: %s", *Open->Result.Error);
  const int64 Id = Open->Result.Lease.LeaseId;
  delete Open;
  Mark("opened");
  EXPECT(Await("restarted"), "no restarted marker");
  // IPv6: the pinhole's id is gone after the restart: Lost, re-added, Recovered (lab_lifecycle.rs).
  const bool Back = MockEngine::FramesUntil([&] { return HasEvent(Recovered, Id, EPortOpenFamily::IPv6, EPortOpenEventKind::Recovered); }, 30);
  EXPECT(Back, "no On Port Recovered for IPv6 within 30 s of the router restart");
  EXPECT(HasEvent(Lost, Id, EPortOpenFamily::IPv6, EPortOpenEventKind::Lost), "no On Port Lost for IPv6 before it came back");
  FPortOpenLease Now;
  EXPECT(Game.Subsystem->GetLease(Id, Now) && Now.IPv6.Status == EPortOpenStatus::Open, "IPv6 is not open after recovery");
  Mark("recovered");
  EXPECT(Await("close"), "no close marker");
  FCloseOutcome Closed = Close(Game.World, Id, 30);
  EXPECT(Closed.bClosed, "Close Port failed: %s", *Closed.Error);
  Mark("closed");
}

/// Open, then end the process as a crash would: nothing closed, the journal left behind.
void Crash() {
  const int32 Port = std::atoi(Env("PORT").c_str());
  FGame* Game = new FGame();  // never destroyed: the process "crashes"
  EXPECT(Game->Subsystem != nullptr, "the subsystem did not start");
  if (!Game->Subsystem) return;
  FOpenOutcome* Open = StartOpen(Game->World, Port, EPortOpenProtocol::UDP, true, true);
  EXPECT(Finish(Open, 60) && Open->bOpened && Open->Result.Lease.IPv4.IsOpen() && Open->Result.Lease.IPv6.IsOpen(),
         "open before the crash failed: %s", *Open->Result.Error);
  std::printf("plugin crash: %d checks, %d failed\n", Total, Failed);
  std::fflush(stdout);
  _exit(Failed ? 1 : 0);
}

/// The next start after a crash: the subsystem removes what the journal lists.
void Restart() {
  FGame Game;
  EXPECT(Game.Subsystem != nullptr, "the subsystem did not start");
  const bool Cleaned = MockEngine::FramesUntil([] { return MockEngine::LogContains("removed 2 port(s) an earlier run left open"); }, 60);
  EXPECT(Cleaned, "the leftovers of the crashed run were not reported removed");
}
}  // namespace

int main(int argc, char** argv) {
  // The case: argv[1], or $PLUGIN_CASE (lab_flow.bash runs programs without arguments).
  const std::string Case = argc > 1 ? argv[1] : (std::getenv("PLUGIN_CASE") ? std::getenv("PLUGIN_CASE") : "");
  MockEngine::BecomeGameThread();
  MockEngine::PluginBaseDir = Env("PLUGIN_DIR");
  MockEngine::SavedDir = Env("SAVED_DIR");
  UPortOpenSettings* Settings = GetMutableDefault<UPortOpenSettings>();
  Settings->LeaseSeconds = 600;

#ifdef _WIN32
  const char* Library = "Binaries/ThirdParty/PortOpenLibrary/Win64/x64/portopen.dll (missing or not loadable";
#else
  const char* Library = "Binaries/ThirdParty/PortOpenLibrary/Linux/x86_64/libportopen.so (missing or not loadable";
#endif
  if (Case == "missing") CheckUnavailable(Library);
  else if (Case == "abi") CheckUnavailable("ABI version 999 but the plugin was built for ABI version 1");
  else if (Case == "ready") CheckReady();
  else if (Case == "lab") CheckLab();
  else if (Case == "recover") Recover();
  else if (Case == "crash") Crash();
  else if (Case == "restart") Restart();
  else {
    std::fprintf(stderr, "usage: plugin missing|abi|ready|lab|recover|crash|restart\n");
    return 2;
  }
  EXPECT(BlockingOnGameThread.load() == 0, "%d blocking portopen calls ran on the game thread", BlockingOnGameThread.load());
  std::printf("plugin %s: %d checks, %d failed (blocking portopen calls: %d off the game thread, %d on it)\n", Case.c_str(),
              Total, Failed, BlockingElsewhere.load(), BlockingOnGameThread.load());
  return Failed ? 1 : 0;
}
