#include "PortOpenModule.h"

#include <string>

#include "portopen.hpp"

DEFINE_LOG_CATEGORY(LogPortOpen);

namespace
{
// Runs on whatever thread logs (game or renewal thread), often inside the library's locks:
// UE_LOG is thread-safe and returns quickly; nothing here calls back into portopen.
void LogToUnreal(portopen::LogLevel Level, std::string_view Message)
{
	const FString Text(UTF8_TO_TCHAR(std::string(Message).c_str()));
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

void FPortOpenModule::StartupModule()
{
	if (portopen::abi_version() != PORTOPEN_ABI_VERSION)
	{
		UE_LOG(LogPortOpen, Error, TEXT("native library ABI %u, header ABI %u: rebuild or replace ThirdParty/portopen"),
			portopen::abi_version(), static_cast<uint32>(PORTOPEN_ABI_VERSION));
	}
	const portopen::Result<void> Hooked = portopen::set_log_handler(LevelFor(LogPortOpen.GetVerbosity()), &LogToUnreal);
	if (!Hooked)
	{
		UE_LOG(LogPortOpen, Warning, TEXT("portopen logging not bridged: %s"), UTF8_TO_TCHAR(Hooked.error().message.c_str()));
	}
	UE_LOG(LogPortOpen, Log, TEXT("portopen %s loaded"), UTF8_TO_TCHAR(portopen::version()));
}

void FPortOpenModule::ShutdownModule()
{
	// When this returns the handler no longer runs: safe even if the library stays loaded.
	(void)portopen::set_log_handler(portopen::LogLevel::Error, nullptr);
}

IMPLEMENT_MODULE(FPortOpenModule, PortOpen)
