// The PortOpen module: at start-up it loads the portopen native library (Windows: the
// delay-loaded DLL, from the plugin's Binaries/ThirdParty folder), checks its ABI version and
// routes its log lines to LogPortOpen. When any of that fails, the module says why and
// UPortOpenSubsystem does not start; nothing calls into the library.
#pragma once

#include "CoreMinimal.h"
#include "Modules/ModuleInterface.h"

PORTOPEN_API DECLARE_LOG_CATEGORY_EXTERN(LogPortOpen, Log, All);

class PORTOPEN_API FPortOpenModule : public IModuleInterface
{
public:
	virtual void StartupModule() override;
	virtual void ShutdownModule() override;

	/** The native library is loaded and its ABI matches the headers the plugin was built with. */
	static bool IsLibraryReady();

	/** Why the library is not ready ("" when it is): the missing file, or both ABI versions. */
	static FString GetLoadError();

private:
	void Fail(const FString& Why);

	void* LibraryHandle = nullptr;
};
