// The latent Blueprint nodes "Open Port" and "Close Port": each node instance carries its own
// request and fires its own output pins once, on the game thread.
#pragma once

#include "CoreMinimal.h"
#include "Kismet/BlueprintAsyncActionBase.h"
#include "PortOpenTypes.h"
#include "PortOpenAsyncActions.generated.h"

DECLARE_DYNAMIC_MULTICAST_DELEGATE_OneParam(FPortOpenResultPin, const FPortOpenResult&, Result);
DECLARE_DYNAMIC_MULTICAST_DELEGATE_TwoParams(FPortClosePin, int64, LeaseId, const FString&, Error);

UCLASS()
class PORTOPEN_API UPortOpenOpenPortAction : public UBlueprintAsyncActionBase
{
	GENERATED_BODY()

public:
	/** Open Port on the home router (IPv4 port mapping and/or IPv6 pinhole) in the background.
	 *  On Opened at least one family is open: give Result.Lease's endpoints to your players.
	 *  On Failed nothing is open; each family's Status and Message (or Result.Error) say why.
	 *  Port: the port the game listens on (1..65535). */
	UFUNCTION(BlueprintCallable, Category = "PortOpen",
		meta = (BlueprintInternalUseOnly = "true", WorldContext = "WorldContextObject", DisplayName = "Open Port"))
	static UPortOpenOpenPortAction* OpenPort(UObject* WorldContextObject, int32 Port = 7777,
		EPortOpenProtocol Protocol = EPortOpenProtocol::UDP, bool bIPv4 = true, bool bIPv6 = true);

	UPROPERTY(BlueprintAssignable)
	FPortOpenResultPin OnOpened;

	UPROPERTY(BlueprintAssignable)
	FPortOpenResultPin OnFailed;

	virtual void Activate() override;

private:
	void Finish(const FPortOpenResult& Result);

	UPROPERTY()
	TObjectPtr<UObject> WorldContext;

	FPortOpenRequest Request;
};

UCLASS()
class PORTOPEN_API UPortOpenClosePortAction : public UBlueprintAsyncActionBase
{
	GENERATED_BODY()

public:
	/** Close Port: remove the lease's mapping and pinhole from the router, in the background. */
	UFUNCTION(BlueprintCallable, Category = "PortOpen",
		meta = (BlueprintInternalUseOnly = "true", WorldContext = "WorldContextObject", DisplayName = "Close Port"))
	static UPortOpenClosePortAction* ClosePort(UObject* WorldContextObject, int64 LeaseId);

	UPROPERTY(BlueprintAssignable)
	FPortClosePin OnClosed;

	UPROPERTY(BlueprintAssignable)
	FPortClosePin OnFailed;

	virtual void Activate() override;

private:
	void Finish(bool bClosed, const FString& Error);

	UPROPERTY()
	TObjectPtr<UObject> WorldContext;

	int64 LeaseId = 0;
};
