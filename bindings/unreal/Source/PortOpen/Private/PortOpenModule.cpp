#include "PortOpenModule.h"

#include "HAL/PlatformProcess.h"
#include "Interfaces/IPluginManager.h"
#include "Misc/Paths.h"
#include "PortOpenNative.h"

DEFINE_LOG_CATEGORY(LogPortOpen);

// PORTOPEN_DELAY_LOAD (set by PortOpenLibrary.Build.cs on Win64): the library is linked
// delay-loaded and must be loaded here, by path, before its first call. A missing DLL is then an
// error in the log instead of Windows refusing to start the game.
#ifndef PORTOPEN_DELAY_LOAD
#define PORTOPEN_DELAY_LOAD 0
#endif

namespace
{
bool GLibraryReady = false;
FString GLoadError = TEXT("the PortOpen module has not started");

#if PORTOPEN_DELAY_LOAD
/** Where RuntimeDependencies in PortOpenLibrary.Build.cs stage the library, under the plugin. */
const TCHAR* LibraryPathInPlugin()
{
#if PLATFORM_WINDOWS && PLATFORM_CPU_ARM_FAMILY
	return TEXT("Binaries/ThirdParty/PortOpenLibrary/Win64/arm64/portopen.dll");
#elif PLATFORM_WINDOWS
	return TEXT("Binaries/ThirdParty/PortOpenLibrary/Win64/x64/portopen.dll");
#else
	return TEXT("Binaries/ThirdParty/PortOpenLibrary/Linux/x86_64/libportopen.so"); // the mock-engine test
#endif
}
#endif

// Runs on whatever thread logs (game thread, renewal thread, a worker), often inside the
// library's locks: UE_LOG is thread-safe and returns quickly; nothing here calls back into portopen.
void LogToUnreal(portopen::LogLevel Level, std::string_view Message)
{
	const FString Text = PortOpenNative::ToFString(std::string(Message));
	switch (Level)
	{
	case portopen::LogLevel::Error: UE_LOG(LogPortOpen, Error, TEXT("%s"), *Text); break;
	case portopen::LogLevel::Warn: UE_LOG(LogPortOpen, Warning, TEXT("%s"), *Text); break;
	case portopen::LogLevel::Info: UE_LOG(LogPortOpen, Log, TEXT("%s"), *Text); break;
	case portopen::LogLevel::Debug: UE_LOG(LogPortOpen, Verbose, TEXT("%s"), *Text); break;
	default: UE_LOG(LogPortOpen, VeryVerbose, TEXT("%s"), *Text); break;
	}
}

// The most verbose portopen level the category would print (so disabled lines are never built).
portopen::LogLevel LevelFor(ELogVerbosity::Type Verbosity)
{
	if (Verbosity >= ELogVerbosity::VeryVerbose) return portopen::LogLevel::Trace;
	if (Verbosity >= ELogVerbosity::Verbose) return portopen::LogLevel::Debug;
	if (Verbosity >= ELogVerbosity::Log) return portopen::LogLevel::Info;
	if (Verbosity >= ELogVerbosity::Warning) return portopen::LogLevel::Warn;
	return portopen::LogLevel::Error;
}
}

bool FPortOpenModule::IsLibraryReady()
{
	return GLibraryReady;
}

FString FPortOpenModule::GetLoadError()
{
	return GLibraryReady ? FString() : GLoadError;
}

void FPortOpenModule::Fail(const FString& Why)
{
	GLibraryReady = false;
	GLoadError = Why;
	UE_LOG(LogPortOpen, Error, TEXT("%s; PortOpen is disabled (its subsystem does not start)"), *Why);
}

void FPortOpenModule::StartupModule()
{
	GLibraryReady = false;
#if PORTOPEN_DELAY_LOAD
	// Nothing may call into portopen before this succeeds: the first call would raise the
	// delay-load failure (an exception on Windows) instead of an error message.
	const TSharedPtr<IPlugin> Plugin = IPluginManager::Get().FindPlugin(TEXT("PortOpen"));
	const FString Path = Plugin ? FPaths::Combine(Plugin->GetBaseDir(), LibraryPathInPlugin()) : FString(LibraryPathInPlugin());
	LibraryHandle = FPlatformProcess::GetDllHandle(*Path);
	if (!LibraryHandle)
	{
		Fail(FString::Printf(TEXT("cannot load the portopen native library %s (missing or not loadable: "
			"stage it with scripts/release.sh, see the plugin's README)"), *Path));
		return;
	}
#endif
	const uint32 LoadedAbi = portopen::abi_version();
	if (LoadedAbi != PORTOPEN_ABI_VERSION)
	{
		Fail(FString::Printf(TEXT("the portopen native library has ABI version %u but the plugin was built "
			"for ABI version %u: replace ThirdParty/portopen with files from the same release"),
			LoadedAbi, static_cast<uint32>(PORTOPEN_ABI_VERSION)));
#if PORTOPEN_DELAY_LOAD
		FPlatformProcess::FreeDllHandle(LibraryHandle);
		LibraryHandle = nullptr;
#endif
		return;
	}
	const portopen::Result<void> Hooked = portopen::set_log_handler(LevelFor(LogPortOpen.GetVerbosity()), &LogToUnreal);
	if (!Hooked)
	{
		UE_LOG(LogPortOpen, Warning, TEXT("portopen logging not bridged: %s"), *PortOpenNative::ToFString(Hooked.error().message));
	}
	GLibraryReady = true;
	UE_LOG(LogPortOpen, Log, TEXT("portopen %s loaded (ABI %u)"), UTF8_TO_TCHAR(portopen::version()), LoadedAbi);
}

void FPortOpenModule::ShutdownModule()
{
	if (GLibraryReady)
	{
		// When this returns the handler no longer runs: safe even if the library stays loaded.
		(void)portopen::set_log_handler(portopen::LogLevel::Error, nullptr);
	}
	GLibraryReady = false;
	GLoadError = TEXT("the PortOpen module has shut down");
	// The library stays loaded: a thread-pool task may still be closing a lease inside it
	// (UPortOpenSubsystem::Deinitialize hands the client to one), and the process is ending.
}

IMPLEMENT_MODULE(FPortOpenModule, PortOpen)
