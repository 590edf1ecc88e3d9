// Opens and closes the game's ports on the home router for the lifetime of the game instance.
// Every router exchange runs on the thread pool; results and events come back on the game thread.
#pragma once

#include "CoreMinimal.h"
#include "Containers/Ticker.h"
#include "PortOpenTypes.h"
#include "Subsystems/GameInstanceSubsystem.h"
#include "PortOpenSubsystem.generated.h"

struct FPortOpenClientState;
struct FPortOpenHeldLease;

/**
 * One portopen client per game instance, configured from UPortOpenSettings. Blueprints use the
 * Open Port and Close Port nodes (UPortOpenOpenPortAction, UPortOpenClosePortAction), the getters
 * and the delegates below; C++ may call OpenPort/ClosePort with a callback. Does not start when
 * the native library is missing or does not match (FPortOpenModule::GetLoadError says why).
 */
UCLASS()
class PORTOPEN_API UPortOpenSubsystem : public UGameInstanceSubsystem
{
	GENERATED_BODY()

public:
	virtual bool ShouldCreateSubsystem(UObject* Outer) const override;
	virtual void Initialize(FSubsystemCollectionBase& Collection) override;
	virtual void Deinitialize() override;

	/** Open a port in the background. OnDone runs on the game thread with this request's own
	 *  result (every call gets its own; nothing is shared between callers). The lease is renewed
	 *  until ClosePort or the end of the game instance. */
	void OpenPort(const FPortOpenRequest& Request, TFunction<void(const FPortOpenResult&)> OnDone);

	/** Close a lease in the background (removes the mapping and pinhole on the router). OnDone
	 *  runs on the game thread: true when closed, else the reason. */
	void ClosePort(int64 LeaseId, TFunction<void(bool bClosed, const FString& Error)> OnDone);

	/** Stop the opens under way: they fail soon with "cancelled". Closing still works. */
	UFUNCTION(BlueprintCallable, Category = "PortOpen")
	void CancelPendingOpens();

	/** The ports open now (a snapshot; never waits for the router). */
	UFUNCTION(BlueprintPure, Category = "PortOpen")
	TArray<FPortOpenLease> GetLeases() const;

	/** The lease with this id, if it is held. */
	UFUNCTION(BlueprintPure, Category = "PortOpen")
	bool GetLease(int64 LeaseId, FPortOpenLease& Lease) const;

	/** Opens under way. */
	UFUNCTION(BlueprintPure, Category = "PortOpen")
	int32 GetPendingOpenCount() const { return PendingOpens; }

	/** A family of a lease was lost (router reboot, lease expired); the library is recovering it. */
	UPROPERTY(BlueprintAssignable, Category = "PortOpen")
	FPortOpenEventSignature OnPortLost;

	/** A lost family is open again (its endpoint may have changed). */
	UPROPERTY(BlueprintAssignable, Category = "PortOpen")
	FPortOpenEventSignature OnPortRecovered;

	/** Every event of every lease (opened, renewed, lost, recovered, failed, closed). */
	UPROPERTY(BlueprintAssignable, Category = "PortOpen")
	FPortOpenEventSignature OnPortEvent;

private:
	bool PollEvents(float DeltaTime);

	/** The client, shared with the background tasks so that it outlives this object. */
	TSharedPtr<FPortOpenClientState, ESPMode::ThreadSafe> State;
	/** The leases held, by id. Only the game thread touches the map; a lease's last reference is
	 *  always dropped on the thread pool, because dropping it closes the port on the router. */
	TMap<int64, TSharedPtr<FPortOpenHeldLease, ESPMode::ThreadSafe>> Leases;
	FTSTicker::FDelegateHandle TickHandle;
	int32 PendingOpens = 0;
	/** Which journal this game instance keeps (UPortOpenSettings::JournalFile); -1: none. */
	int32 JournalSlot = -1;
};
