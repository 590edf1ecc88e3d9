// The PortOpen module: on startup checks the native library's ABI and routes portopen's log
// lines to the LogPortOpen category; on shutdown unhooks them.
#pragma once

#include "CoreMinimal.h"
#include "Modules/ModuleInterface.h"

PORTOPEN_API DECLARE_LOG_CATEGORY_EXTERN(LogPortOpen, Log, All);

class FPortOpenModule : public IModuleInterface
{
public:
	virtual void StartupModule() override;
	virtual void ShutdownModule() override;
};
