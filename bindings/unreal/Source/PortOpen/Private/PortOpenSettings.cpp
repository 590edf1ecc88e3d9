#include "PortOpenSettings.h"

#include "HAL/FileManager.h"
#include "Misc/Paths.h"

UPortOpenSettings::UPortOpenSettings()
{
	CategoryName = TEXT("Plugins");
	SectionName = TEXT("PortOpen");
}

FString UPortOpenSettings::FilesDirectory()
{
	// The form a library outside the engine's file layer can open (on Android the Saved
	// directory is relative to the engine's virtual root otherwise).
	return IFileManager::Get().ConvertToAbsolutePathForExternalAppForWrite(*FPaths::Combine(FPaths::ProjectSavedDir(), TEXT("PortOpen")));
}

FString UPortOpenSettings::JournalFile(int32 Slot) const
{
	if (!bJournal) return FString();
	const FString Name = Slot <= 0 ? FString(TEXT("journal.txt")) : FString::Printf(TEXT("journal-%d.txt"), Slot + 1);
	return FPaths::Combine(FilesDirectory(), Name);
}

FString UPortOpenSettings::GatewayCacheFile() const
{
	return bGatewayCache ? FPaths::Combine(FilesDirectory(), TEXT("gateways.txt")) : FString();
}
