// The mock engine's state and behaviour (see UnrealMock.h).
#include "UnrealMock.h"

#include <chrono>
#include <deque>
#include <filesystem>

#ifdef _WIN32
#include <windows.h>
#else
#include <dlfcn.h>
#endif

namespace MockEngine {
std::string PluginBaseDir;
std::string SavedDir;
std::atomic<bool> ExitRequested{false};
}  // namespace MockEngine

namespace {
std::mutex LogMutex;
std::vector<std::string> Lines;

std::mutex QueueMutex;
std::deque<std::function<void()>> GameThreadQueue;
std::thread::id GameThreadId;

std::mutex PoolMutex;
std::vector<std::thread> PoolThreads;

std::vector<UObject*> Objects;

const char* VerbosityName(ELogVerbosity::Type Verbosity) {
  switch (Verbosity) {
    case ELogVerbosity::Fatal: return "Fatal";
    case ELogVerbosity::Error: return "Error";
    case ELogVerbosity::Warning: return "Warning";
    case ELogVerbosity::Display: return "Display";
    case ELogVerbosity::Log: return "Log";
    case ELogVerbosity::Verbose: return "Verbose";
    case ELogVerbosity::VeryVerbose: return "VeryVerbose";
    default: return "NoLogging";
  }
}

std::string VFormat(const char* Format, va_list Arguments) {
  va_list Copy;
  va_copy(Copy, Arguments);
  const int Size = std::vsnprintf(nullptr, 0, Format, Copy);
  va_end(Copy);
  std::string Out(Size > 0 ? static_cast<size_t>(Size) : 0, '\0');
  if (Size > 0) std::vsnprintf(&Out[0], Out.size() + 1, Format, Arguments);
  return Out;
}
}  // namespace

UEngine* GEngine = new UEngine();

FString FString::Printf(const TCHAR* Format, ...) {
  va_list Arguments;
  va_start(Arguments, Format);
  std::string Text = VFormat(Format, Arguments);
  va_end(Arguments);
  return FString(Text.c_str());
}

void MockLog(const FLogCategoryBase& Category, ELogVerbosity::Type Verbosity, const TCHAR* Format, ...) {
  if (Verbosity > Category.Verbosity) return;
  va_list Arguments;
  va_start(Arguments, Format);
  std::string Line = std::string(Category.Name) + ": " + VerbosityName(Verbosity) + ": " + VFormat(Format, Arguments);
  va_end(Arguments);
  std::lock_guard<std::mutex> Lock(LogMutex);
  std::fprintf(stderr, "%s\n", Line.c_str());
  Lines.push_back(std::move(Line));
}

UWorld* UObject::GetWorld() const { return MockOuter ? MockOuter->GetWorld() : nullptr; }

UGameInstance* UGameInstanceSubsystem::GetGameInstance() const { return static_cast<UGameInstance*>(MockOuter); }

void MockRegisterObject(UObject* Object) { Objects.push_back(Object); }

void MockRunInBackground(std::function<void()> Work) {
  std::lock_guard<std::mutex> Lock(PoolMutex);
  PoolThreads.emplace_back(std::move(Work));
}

void MockRunOnGameThread(std::function<void()> Work) {
  std::lock_guard<std::mutex> Lock(QueueMutex);
  GameThreadQueue.push_back(std::move(Work));
}

bool IsInGameThread() { return std::this_thread::get_id() == GameThreadId; }
bool IsEngineExitRequested() { return MockEngine::ExitRequested.load(); }

FTSTicker& FTSTicker::GetCoreTicker() {
  static FTSTicker Ticker;
  return Ticker;
}

FTSTicker::FDelegateHandle FTSTicker::AddTicker(FTickerDelegate Delegate, float) {
  FDelegateHandle Handle{NextId++};
  Tickers.emplace_back(Handle.Id, std::move(Delegate));
  return Handle;
}

void FTSTicker::RemoveTicker(FDelegateHandle Handle) {
  Tickers.erase(std::remove_if(Tickers.begin(), Tickers.end(), [&](const auto& T) { return T.first == Handle.Id; }), Tickers.end());
}

void FTSTicker::MockTick(float Delta) {
  const auto Copy = Tickers;
  for (const auto& T : Copy) {
    if (!T.second.Call(Delta)) RemoveTicker(FDelegateHandle{T.first});
  }
}

FString FPaths::ProjectSavedDir() { return FString((MockEngine::SavedDir + "/").c_str()); }

FString FPaths::Combine(const FString& A, const FString& B) {
  std::string Left = *A;
  if (!Left.empty() && Left.back() != '/') Left += '/';
  return FString((Left + *B).c_str());
}

IFileManager& IFileManager::Get() {
  static IFileManager Manager;
  return Manager;
}

bool IFileManager::MakeDirectory(const TCHAR* Path, bool Tree) {
  std::error_code Error;
  if (Tree) std::filesystem::create_directories(Path, Error);
  else std::filesystem::create_directory(Path, Error);
  return !Error && std::filesystem::is_directory(Path, Error);
}

FString IFileManager::ConvertToAbsolutePathForExternalAppForWrite(const TCHAR* Path) {
  std::error_code Error;
  const std::filesystem::path Absolute = std::filesystem::absolute(Path, Error);
  return FString((Error ? std::string(Path) : Absolute.lexically_normal().string()).c_str());
}

FString IPlugin::GetBaseDir() const { return FString(MockEngine::PluginBaseDir.c_str()); }

IPluginManager& IPluginManager::Get() {
  static IPluginManager Manager;
  return Manager;
}

TSharedPtr<IPlugin> IPluginManager::FindPlugin(const TCHAR* Name) {
  if (std::string(Name) != "PortOpen" || MockEngine::PluginBaseDir.empty()) return TSharedPtr<IPlugin>();
  return TSharedPtr<IPlugin>(std::make_shared<IPlugin>());
}

#ifdef _WIN32
void* FPlatformProcess::GetDllHandle(const TCHAR* Path) {
  // As the engine does: by full path; the delay-load thunks then find the module by name.
  HMODULE Handle = LoadLibraryA(Path);
  if (!Handle) std::fprintf(stderr, "mock GetDllHandle: LoadLibrary error %lu\n", GetLastError());
  return reinterpret_cast<void*>(Handle);
}

void FPlatformProcess::FreeDllHandle(void* Handle) {
  if (Handle) FreeLibrary(reinterpret_cast<HMODULE>(Handle));
}
#else
void* FPlatformProcess::GetDllHandle(const TCHAR* Path) {
  // RTLD_GLOBAL: the test programs are linked with the library's symbols unresolved and lazily
  // bound, so, as with a delay-loaded DLL, the first call finds them once this has loaded it.
  void* Handle = dlopen(Path, RTLD_NOW | RTLD_GLOBAL);
  if (!Handle) std::fprintf(stderr, "mock GetDllHandle: %s\n", dlerror());
  return Handle;
}

void FPlatformProcess::FreeDllHandle(void* Handle) {
  if (Handle) dlclose(Handle);
}
#endif

namespace MockEngine {
void BecomeGameThread() { GameThreadId = std::this_thread::get_id(); }

void Frame() {
  std::deque<std::function<void()>> Work;
  {
    std::lock_guard<std::mutex> Lock(QueueMutex);
    Work.swap(GameThreadQueue);
  }
  for (auto& Item : Work) Item();
  FTSTicker::GetCoreTicker().MockTick(0.016f);
}

bool FramesUntil(const std::function<bool()>& Done, double Seconds) {
  const auto Deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(Seconds);
  while (!Done()) {
    if (std::chrono::steady_clock::now() > Deadline) return false;
    Frame();
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return true;
}

void JoinBackground() {
  for (;;) {
    std::vector<std::thread> Threads;
    {
      std::lock_guard<std::mutex> Lock(PoolMutex);
      Threads.swap(PoolThreads);
    }
    if (Threads.empty()) return;
    for (std::thread& T : Threads) T.join();
  }
}

void CollectGarbage() {
  std::vector<UObject*> Keep;
  for (UObject* Object : Objects) {
    auto* Action = static_cast<UBlueprintAsyncActionBase*>(Object);  // the mock only makes actions
    if (Action->bMockReadyToDestroy) delete Action;
    else Keep.push_back(Object);
  }
  Objects.swap(Keep);
}

std::vector<std::string> LogLines() {
  std::lock_guard<std::mutex> Lock(LogMutex);
  return Lines;
}

bool LogContains(const std::string& Part) {
  std::lock_guard<std::mutex> Lock(LogMutex);
  for (const std::string& Line : Lines) if (Line.find(Part) != std::string::npos) return true;
  return false;
}
}  // namespace MockEngine
