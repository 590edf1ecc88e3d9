// Project Settings > Plugins > PortOpen: how the subsystem's portopen client behaves. Stored in
// DefaultGame.ini ([/Script/PortOpen.PortOpenSettings]); read when a game instance starts.
#pragma once

#include "CoreMinimal.h"
#include "Engine/DeveloperSettings.h"
#include "PortOpenSettings.generated.h"

UCLASS(config = Game, defaultconfig, meta = (DisplayName = "PortOpen"))
class PORTOPEN_API UPortOpenSettings : public UDeveloperSettings
{
	GENERATED_BODY()

public:
	UPortOpenSettings();

	/** Lease asked of the router, seconds; the library renews it until the port is closed.
	 *  Short leases vanish soon after a crash even without the journal. */
	UPROPERTY(config, EditAnywhere, Category = "Router", meta = (ClampMin = "120", ClampMax = "86400", Units = "s"))
	int32 LeaseSeconds = 3600;

	/** How long discovery listens for the router, per family, ms. */
	UPROPERTY(config, EditAnywhere, Category = "Router", meta = (ClampMin = "100", ClampMax = "30000", Units = "ms"))
	int32 DiscoveryTimeoutMs = 2000;

	/** Budget of one router action, ms. Also bounds the close at exit (per family). */
	UPROPERTY(config, EditAnywhere, Category = "Router", meta = (ClampMin = "100", ClampMax = "30000", Units = "ms"))
	int32 ActionTimeoutMs = 2000;

	/** Shown in the router's list of port mappings; only mappings with this description are
	 *  cleaned up as leftovers. Empty: the project name. */
	UPROPERTY(config, EditAnywhere, Category = "Router")
	FString Description;

	/** Also ask this router directly ("192.168.1.1" or "192.168.1.1:1900"), besides multicast
	 *  discovery. Empty: discovery only. */
	UPROPERTY(config, EditAnywhere, Category = "Router", AdvancedDisplay)
	FString RouterAddress;

	/** Keep a journal of what is open (Saved/PortOpen/journal.txt): what a crash left open on the
	 *  router is removed when the game next starts. */
	UPROPERTY(config, EditAnywhere, Category = "Files")
	bool bJournal = true;

	/** Remember the router found (Saved/PortOpen/gateways.txt): the next start skips most of discovery. */
	UPROPERTY(config, EditAnywhere, Category = "Files")
	bool bGatewayCache = true;

	/** The journal file of the `Slot`th game instance alive in this process (0: the first,
	 *  journal.txt; 1: journal-2.txt ...), absolute; empty when the journal is off. */
	FString JournalFile(int32 Slot = 0) const;

	/** The gateway cache file, absolute; empty when the cache is off. */
	FString GatewayCacheFile() const;

	/** Saved/PortOpen, absolute: where both files live. */
	static FString FilesDirectory();
};
