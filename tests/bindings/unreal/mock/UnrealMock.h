// A stand-in for the few Unreal Engine types and macros the PortOpen plugin uses, so that its
// sources compile and run without the engine (tests/bindings/unreal.sh). It mimics signatures and
// behaviour the plugin relies on (threads, game-thread marshalling, object lifetime, delegates,
// logging, DLL loading), not the engine: no UHT, no reflection, no garbage collector.
// TCHAR is char here (UTF-8); in the engine it is a 16-bit type.
#pragma once

#include <algorithm>
#include <atomic>
#include <cstdarg>
#include <cstdint>
#include <cstdio>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

// ---- platform, basic types, text --------------------------------------------------------
#ifdef _WIN32
#define PLATFORM_WINDOWS 1
#define PLATFORM_LINUX 0
#else
#define PLATFORM_WINDOWS 0
#define PLATFORM_LINUX 1
#endif
#define PLATFORM_MAC 0
#define PLATFORM_CPU_ARM_FAMILY 0

using int8 = int8_t;
using int16 = int16_t;
using int32 = int32_t;
using int64 = int64_t;
using uint8 = uint8_t;
using uint16 = uint16_t;
using uint32 = uint32_t;
using uint64 = uint64_t;
using TCHAR = char;
constexpr int32 MAX_int32 = 0x7fffffff;

#define TEXT(x) x
#define UTF8_TO_TCHAR(x) (x)
#define TCHAR_TO_UTF8(x) (x)
#define PORTOPEN_API

// The engine silences third-party warnings between these; the mock does the same for the
// warnings UE builds turn into errors.
#define THIRD_PARTY_INCLUDES_START _Pragma("GCC diagnostic push") _Pragma("GCC diagnostic ignored \"-Wundef\"")
#define THIRD_PARTY_INCLUDES_END _Pragma("GCC diagnostic pop")

// ---- reflection macros: UHT is not run, so they expand to nothing ---------------------------
#define UENUM(...)
#define UMETA(...)
#define USTRUCT(...)
#define UCLASS(...)
#define UPROPERTY(...)
#define UFUNCTION(...)
#define GENERATED_BODY()
// A mock engine base class names itself Super, so that a plugin class deriving from it finds
// its direct base under that name, as GENERATED_BODY() provides in the engine.
#define MOCK_ENGINE_BASE(Class) \
 public:                          \
  using Super = Class;

template <class T>
constexpr std::remove_reference_t<T>&& MoveTemp(T&& Value) { return static_cast<std::remove_reference_t<T>&&>(Value); }
template <class Signature>
using TFunction = std::function<Signature>;

struct FMath {
  template <class T> static T Min(T A, T B) { return A < B ? A : B; }
  template <class T> static T Max(T A, T B) { return A < B ? B : A; }
};

class FString {
 public:
  FString() = default;
  FString(const TCHAR* Text) : Data(Text ? Text : "") {}
  const TCHAR* operator*() const { return Data.c_str(); }
  bool IsEmpty() const { return Data.empty(); }
  int32 Len() const { return static_cast<int32>(Data.size()); }
  bool Contains(const FString& Part) const { return Data.find(Part.Data) != std::string::npos; }
  FString& operator+=(const FString& More) { Data += More.Data; return *this; }
  friend FString operator+(FString A, const FString& B) { return A += B; }
  bool operator==(const FString& Other) const { return Data == Other.Data; }
  bool operator!=(const FString& Other) const { return Data != Other.Data; }
  static FString Printf(const TCHAR* Format, ...) __attribute__((format(printf, 1, 2)));

 private:
  std::string Data;
};

class FName {
 public:
  FName(const TCHAR* Text = "None") : Data(Text) {}
  const char* Mock() const { return Data.c_str(); }

 private:
  std::string Data;
};

// ---- containers and pointers ----------------------------------------------------------------
// A deque, not a vector: std::vector<bool> hands out proxies, TArray<bool> real references.
template <class T>
class TArray {
 public:
  void Add(const T& Item) { Items.push_back(Item); }
  void Add(T&& Item) { Items.push_back(std::move(Item)); }
  int32 Num() const { return static_cast<int32>(Items.size()); }
  bool IsEmpty() const { return Items.empty(); }
  void Empty() { Items.clear(); }
  T& operator[](int32 Index) { return Items.at(static_cast<size_t>(Index)); }
  const T& operator[](int32 Index) const { return Items.at(static_cast<size_t>(Index)); }
  typename std::deque<T>::iterator begin() { return Items.begin(); }
  typename std::deque<T>::iterator end() { return Items.end(); }
  typename std::deque<T>::const_iterator begin() const { return Items.begin(); }
  typename std::deque<T>::const_iterator end() const { return Items.end(); }

 private:
  std::deque<T> Items;
};

template <class K, class V>
struct TPair {
  K Key;
  V Value;
};

template <class K, class V>
class TMap {
 public:
  void Add(const K& Key, V Value) {
    if (V* Found = Find(Key)) *Found = std::move(Value);
    else Pairs.push_back(TPair<K, V>{Key, std::move(Value)});
  }
  V* Find(const K& Key) {
    for (TPair<K, V>& P : Pairs) if (P.Key == Key) return &P.Value;
    return nullptr;
  }
  const V* Find(const K& Key) const { return const_cast<TMap*>(this)->Find(Key); }
  bool RemoveAndCopyValue(const K& Key, V& Out) {
    for (auto It = Pairs.begin(); It != Pairs.end(); ++It) {
      if (It->Key == Key) {
        Out = std::move(It->Value);
        Pairs.erase(It);
        return true;
      }
    }
    return false;
  }
  int32 Num() const { return static_cast<int32>(Pairs.size()); }
  void Empty() { Pairs.clear(); }
  typename std::vector<TPair<K, V>>::iterator begin() { return Pairs.begin(); }
  typename std::vector<TPair<K, V>>::iterator end() { return Pairs.end(); }
  typename std::vector<TPair<K, V>>::const_iterator begin() const { return Pairs.begin(); }
  typename std::vector<TPair<K, V>>::const_iterator end() const { return Pairs.end(); }

 private:
  std::vector<TPair<K, V>> Pairs;
};

enum class ESPMode { NotThreadSafe, ThreadSafe };

template <class T, ESPMode Mode = ESPMode::ThreadSafe>
class TSharedPtr : public std::shared_ptr<T> {
 public:
  TSharedPtr() = default;
  TSharedPtr(std::shared_ptr<T> Other) : std::shared_ptr<T>(std::move(Other)) {}
  void Reset() { this->reset(); }
  bool IsValid() const { return static_cast<bool>(*this); }
};

template <class T, ESPMode Mode = ESPMode::ThreadSafe, class... Args>
TSharedPtr<T, Mode> MakeShared(Args&&... Arguments) {
  return TSharedPtr<T, Mode>(std::make_shared<T>(std::forward<Args>(Arguments)...));
}

// ---- logging --------------------------------------------------------------------------------
namespace ELogVerbosity {
enum Type : uint8 { NoLogging = 0, Fatal, Error, Warning, Display, Log, Verbose, VeryVerbose, All = VeryVerbose };
}

struct FLogCategoryBase {
  FLogCategoryBase(const char* InName, ELogVerbosity::Type InVerbosity) : Name(InName), Verbosity(InVerbosity) {}
  ELogVerbosity::Type GetVerbosity() const { return Verbosity; }
  const char* Name;
  ELogVerbosity::Type Verbosity;
};

#define DECLARE_LOG_CATEGORY_EXTERN(CategoryName, DefaultVerbosity, CompileTimeVerbosity)            \
  extern struct FLogCategory##CategoryName : public FLogCategoryBase {                              \
    FLogCategory##CategoryName() : FLogCategoryBase(#CategoryName, ELogVerbosity::DefaultVerbosity) {} \
  } CategoryName
#define DEFINE_LOG_CATEGORY(CategoryName) FLogCategory##CategoryName CategoryName

void MockLog(const FLogCategoryBase& Category, ELogVerbosity::Type Verbosity, const TCHAR* Format, ...)
    __attribute__((format(printf, 3, 4)));
#define UE_LOG(CategoryName, Verbosity, Format, ...) MockLog(CategoryName, ELogVerbosity::Verbosity, Format, ##__VA_ARGS__)

// ---- objects --------------------------------------------------------------------------------
class UWorld;
class UGameInstance;

class UObject {
  MOCK_ENGINE_BASE(UObject)
  UObject() : AliveToken(std::make_shared<int>(0)) {}
  virtual ~UObject() = default;
  UObject(const UObject&) = delete;
  UObject& operator=(const UObject&) = delete;
  virtual UWorld* GetWorld() const;

  UObject* MockOuter = nullptr;
  std::shared_ptr<int> AliveToken;  ///< TWeakObjectPtr watches it: gone with the object
};

template <class T>
using TObjectPtr = T*;

template <class T>
class TWeakObjectPtr {
 public:
  TWeakObjectPtr() = default;
  TWeakObjectPtr(T* Object) : Ptr(Object), Token(Object ? std::weak_ptr<int>(Object->AliveToken) : std::weak_ptr<int>()) {}
  T* Get() const { return Token.expired() ? nullptr : Ptr; }

 private:
  T* Ptr = nullptr;
  std::weak_ptr<int> Token;
};

/// The mock's object registry: NewObject's objects, freed by MockCollectGarbage.
void MockRegisterObject(UObject* Object);
template <class T>
T* NewObject(UObject* Outer = nullptr) {
  T* Object = new T();
  Object->MockOuter = Outer;
  MockRegisterObject(Object);
  return Object;
}

template <class T>
T& MockDefaultObject() {
  static T* Object = new T();  // the class default object; never destroyed
  return *Object;
}
template <class T>
const T* GetDefault() { return &MockDefaultObject<T>(); }
template <class T>
T* GetMutableDefault() { return &MockDefaultObject<T>(); }

template <class T>
const void* MockTypeTag() {
  static const char Tag = 0;
  return &Tag;
}

struct FSubsystemCollectionBase {};

class UGameInstanceSubsystem : public UObject {
  MOCK_ENGINE_BASE(UGameInstanceSubsystem)
  virtual bool ShouldCreateSubsystem(UObject*) const { return true; }
  virtual void Initialize(FSubsystemCollectionBase&) {}
  virtual void Deinitialize() {}
  UGameInstance* GetGameInstance() const;
};

class UGameInstance : public UObject {
  MOCK_ENGINE_BASE(UGameInstance)
  ~UGameInstance() override { MockShutdown(); }
  template <class T>
  T* GetSubsystem() const {
    for (const auto& Entry : Subsystems) if (Entry.first == MockTypeTag<T>()) return static_cast<T*>(Entry.second);
    return nullptr;
  }
  /// What the engine does for each subsystem class when the game instance starts.
  template <class T>
  T* MockStartSubsystem() {
    T* Subsystem = new T();
    Subsystem->MockOuter = this;
    if (!Subsystem->ShouldCreateSubsystem(this)) {
      delete Subsystem;
      return nullptr;
    }
    FSubsystemCollectionBase Collection;
    Subsystem->Initialize(Collection);
    Subsystems.emplace_back(MockTypeTag<T>(), Subsystem);
    return Subsystem;
  }
  /// Deinitialize and destroy every subsystem (game instance shutdown).
  void MockShutdown() {
    while (!Subsystems.empty()) {
      UGameInstanceSubsystem* Subsystem = Subsystems.back().second;
      Subsystems.pop_back();
      Subsystem->Deinitialize();
      delete Subsystem;
    }
  }

 private:
  std::vector<std::pair<const void*, UGameInstanceSubsystem*>> Subsystems;
};

class UWorld : public UObject {
  MOCK_ENGINE_BASE(UWorld)
  UWorld* GetWorld() const override { return const_cast<UWorld*>(this); }
  UGameInstance* GetGameInstance() const { return MockGameInstance; }
  UGameInstance* MockGameInstance = nullptr;
};

enum class EGetWorldErrorMode { ReturnNull, LogAndReturnNull, Assert };
class UEngine {
 public:
  UWorld* GetWorldFromContextObject(const UObject* Object, EGetWorldErrorMode) const { return Object ? Object->GetWorld() : nullptr; }
};
extern UEngine* GEngine;

class UBlueprintAsyncActionBase : public UObject {
  MOCK_ENGINE_BASE(UBlueprintAsyncActionBase)
  virtual void Activate() {}
  void RegisterWithGameInstance(const UObject* WorldContextObject) { bMockRegistered = WorldContextObject != nullptr; }
  virtual void SetReadyToDestroy() { bMockReadyToDestroy = true; }
  bool bMockRegistered = false;
  bool bMockReadyToDestroy = false;
};

class UDeveloperSettings : public UObject {
  MOCK_ENGINE_BASE(UDeveloperSettings)

 protected:
  FName CategoryName;
  FName SectionName;
};

// ---- delegates ------------------------------------------------------------------------------
template <class... Args>
class TMockDynamicMulticast {
 public:
  /// The engine binds with AddDynamic (a UFUNCTION); the mock takes any callable.
  void MockAdd(std::function<void(Args...)> Handler) { Handlers.push_back(std::move(Handler)); }
  void Broadcast(Args... Arguments) const {
    const std::vector<std::function<void(Args...)>> Copy = Handlers;
    for (const auto& Handler : Copy) Handler(Arguments...);
  }
  bool IsBound() const { return !Handlers.empty(); }

 private:
  std::vector<std::function<void(Args...)>> Handlers;
};
#define DECLARE_DYNAMIC_MULTICAST_DELEGATE_OneParam(Name, T1, N1) \
  class Name : public TMockDynamicMulticast<T1> {}
#define DECLARE_DYNAMIC_MULTICAST_DELEGATE_TwoParams(Name, T1, N1, T2, N2) \
  class Name : public TMockDynamicMulticast<T1, T2> {}

// ---- threads: the thread pool, the game thread's queue, the core ticker ---------------------
enum class EAsyncExecution { TaskGraph, TaskGraphMainThread, Thread, ThreadIfForkSafe, ThreadPool, LargeThreadPool };
namespace ENamedThreads {
enum Type { GameThread, AnyThread };
}

void MockRunInBackground(std::function<void()> Work);
void MockRunOnGameThread(std::function<void()> Work);
bool IsInGameThread();
bool IsEngineExitRequested();

template <class F>
void Async(EAsyncExecution, F&& Work) { MockRunInBackground(std::function<void()>(std::forward<F>(Work))); }
template <class F>
void AsyncTask(ENamedThreads::Type Thread, F&& Work) {
  if (Thread == ENamedThreads::GameThread) MockRunOnGameThread(std::function<void()>(std::forward<F>(Work)));
  else MockRunInBackground(std::function<void()>(std::forward<F>(Work)));
}

class FTickerDelegate {
 public:
  template <class T>
  static FTickerDelegate CreateUObject(T* Object, bool (T::*Method)(float)) {
    FTickerDelegate Delegate;
    TWeakObjectPtr<T> Weak(Object);
    Delegate.Call = [Weak, Method](float Delta) {
      T* Alive = Weak.Get();
      return Alive ? (Alive->*Method)(Delta) : false;
    };
    return Delegate;
  }
  std::function<bool(float)> Call;
};

class FTSTicker {
 public:
  struct FDelegateHandle {
    uint64 Id = 0;
  };
  static FTSTicker& GetCoreTicker();
  FDelegateHandle AddTicker(FTickerDelegate Delegate, float Delay);
  void RemoveTicker(FDelegateHandle Handle);
  void MockTick(float Delta);  ///< what the engine loop does each frame (game thread)
  size_t MockCount() const { return Tickers.size(); }

 private:
  std::vector<std::pair<uint64, FTickerDelegate>> Tickers;
  uint64 NextId = 1;
};

// ---- files, paths, app, plugins, modules, DLLs ----------------------------------------------
struct FPaths {
  static FString ProjectSavedDir();
  static FString Combine(const FString& A, const FString& B);
  template <class... Rest>
  static FString Combine(const FString& A, const FString& B, const Rest&... More) { return Combine(Combine(A, B), More...); }
};

class IFileManager {
 public:
  static IFileManager& Get();
  bool MakeDirectory(const TCHAR* Path, bool Tree = false);
  FString ConvertToAbsolutePathForExternalAppForWrite(const TCHAR* Path);
};

struct FApp {
  static const TCHAR* GetProjectName() { return TEXT("MockGame"); }
};

class IPlugin {
 public:
  FString GetBaseDir() const;
};
class IPluginManager {
 public:
  static IPluginManager& Get();
  TSharedPtr<IPlugin> FindPlugin(const TCHAR* Name);
};

struct FPlatformProcess {
  static void* GetDllHandle(const TCHAR* Path);
  static void FreeDllHandle(void* Handle);
};

class IModuleInterface {
 public:
  virtual ~IModuleInterface() = default;
  virtual void StartupModule() {}
  virtual void ShutdownModule() {}
};
#define IMPLEMENT_MODULE(ModuleClass, ModuleName) \
  IModuleInterface* MockCreateModule_##ModuleName() { return new ModuleClass(); }

// ---- what a test drives: the mock engine's state --------------------------------------------
namespace MockEngine {
/// Settings a test sets before starting anything.
extern std::string PluginBaseDir;  ///< IPlugin::GetBaseDir() of "PortOpen"
extern std::string SavedDir;       ///< FPaths::ProjectSavedDir()
extern std::atomic<bool> ExitRequested;

/// Record the calling thread as the game thread.
void BecomeGameThread();
/// One frame: run queued game-thread work, tick the core ticker.
void Frame();
/// Frames until `Done()` or `Seconds` pass; false on time-out.
bool FramesUntil(const std::function<bool()>& Done, double Seconds);
/// Wait for every background task started so far (and those they start).
void JoinBackground();
/// Free the NewObject objects whose async action is done (a crude garbage collection).
void CollectGarbage();
/// Every log line so far, "Category: Verbosity: text".
std::vector<std::string> LogLines();
bool LogContains(const std::string& Part);
}  // namespace MockEngine
