// Opens and closes the game's port on the home router for the lifetime of the game instance.
// Every router exchange runs on the thread pool; results come back as delegates on the game thread.
#pragma once

#include "CoreMinimal.h"
#include "Containers/Ticker.h"
#include "Subsystems/GameInstanceSubsystem.h"
#include "PortOpenSubsystem.generated.h"

/** bSuccess: at least one family is open. External addresses are "" when that family is not. */
DECLARE_DYNAMIC_MULTICAST_DELEGATE_FourParams(FPortOpenedSignature, bool, bSuccess, const FString&, ExternalV4,
	const FString&, ExternalV6, const FString&, Message);
DECLARE_DYNAMIC_MULTICAST_DELEGATE(FPortClosedSignature);
/** Family "IPv4"/"IPv6"; Kind "Opened", "Renewed", "Lost", "Recovered", "Failed" or "Closed". */
DECLARE_DYNAMIC_MULTICAST_DELEGATE_FourParams(FPortEventSignature, const FString&, Family, const FString&, Kind,
	const FString&, Address, const FString&, Message);

struct FPortOpenState;

UCLASS()
class PORTOPEN_API UPortOpenSubsystem : public UGameInstanceSubsystem
{
	GENERATED_BODY()

public:
	virtual void Initialize(FSubsystemCollectionBase& Collection) override;
	virtual void Deinitialize() override;

	/** Open Port (UDP, or TCP) on IPv4 and IPv6 in the background, replacing any port opened
	 *  before; OnPortOpened tells the outcome. Renewed by the library until closed. */
	UFUNCTION(BlueprintCallable, Category = "PortOpen")
	void OpenPort(int32 Port, bool bTcp = false);

	/** Close the open port in the background (removes the mapping and pinhole); then OnPortClosed. */
	UFUNCTION(BlueprintCallable, Category = "PortOpen")
	void ClosePort();

	/** Stop a running OpenPort quickly (it reports failure). Closing still works. */
	UFUNCTION(BlueprintCallable, Category = "PortOpen")
	void CancelPending();

	/** An OpenPort is under way. */
	UFUNCTION(BlueprintPure, Category = "PortOpen")
	bool IsOpening() const { return bOpening; }

	UPROPERTY(BlueprintAssignable, Category = "PortOpen")
	FPortOpenedSignature OnPortOpened;

	UPROPERTY(BlueprintAssignable, Category = "PortOpen")
	FPortClosedSignature OnPortClosed;

	/** Every lease event (renewals, losses and recoveries included), polled each frame. */
	UPROPERTY(BlueprintAssignable, Category = "PortOpen")
	FPortEventSignature OnPortEvent;

private:
	bool PollEvents(float DeltaTime);

	/** The client and lease, shared with the background tasks so they outlive this object. */
	TSharedPtr<FPortOpenState, ESPMode::ThreadSafe> State;
	FTSTicker::FDelegateHandle TickHandle;
	bool bOpening = false;
};
