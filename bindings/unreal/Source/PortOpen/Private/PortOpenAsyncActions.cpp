#include "PortOpenAsyncActions.h"

#include "Engine/Engine.h"
#include "Engine/GameInstance.h"
#include "PortOpenModule.h"
#include "PortOpenSubsystem.h"

namespace
{
/** The game instance's subsystem, or null with the reason in `Why`. */
UPortOpenSubsystem* FindSubsystem(UObject* WorldContextObject, FString& Why)
{
	if (!FPortOpenModule::IsLibraryReady())
	{
		Why = FString::Printf(TEXT("PortOpen is not available: %s"), *FPortOpenModule::GetLoadError());
		return nullptr;
	}
	UWorld* World = GEngine ? GEngine->GetWorldFromContextObject(WorldContextObject, EGetWorldErrorMode::LogAndReturnNull) : nullptr;
	UGameInstance* GameInstance = World ? World->GetGameInstance() : nullptr;
	UPortOpenSubsystem* Subsystem = GameInstance ? GameInstance->GetSubsystem<UPortOpenSubsystem>() : nullptr;
	if (!Subsystem) Why = TEXT("PortOpen is not available: no game instance (or its PortOpen subsystem did not start)");
	return Subsystem;
}
}

UPortOpenOpenPortAction* UPortOpenOpenPortAction::OpenPort(UObject* WorldContextObject, int32 Port,
	EPortOpenProtocol Protocol, bool bIPv4, bool bIPv6)
{
	UPortOpenOpenPortAction* Action = NewObject<UPortOpenOpenPortAction>();
	Action->WorldContext = WorldContextObject;
	Action->Request.Port = Port;
	Action->Request.Protocol = Protocol;
	Action->Request.bIPv4 = bIPv4;
	Action->Request.bIPv6 = bIPv6;
	Action->RegisterWithGameInstance(WorldContextObject); // kept alive until SetReadyToDestroy
	return Action;
}

void UPortOpenOpenPortAction::Activate()
{
	FString Why;
	UPortOpenSubsystem* Subsystem = FindSubsystem(WorldContext, Why);
	if (!Subsystem)
	{
		FPortOpenResult Result;
		Result.Error = Why;
		Finish(Result);
		return;
	}
	TWeakObjectPtr<UPortOpenOpenPortAction> WeakThis(this);
	Subsystem->OpenPort(Request, [WeakThis](const FPortOpenResult& Result)
	{
		if (UPortOpenOpenPortAction* Self = WeakThis.Get()) Self->Finish(Result);
	});
}

void UPortOpenOpenPortAction::Finish(const FPortOpenResult& Result)
{
	if (Result.bSuccess)
	{
		OnOpened.Broadcast(Result);
	}
	else
	{
		OnFailed.Broadcast(Result);
	}
	SetReadyToDestroy();
}

UPortOpenClosePortAction* UPortOpenClosePortAction::ClosePort(UObject* WorldContextObject, int64 LeaseId)
{
	UPortOpenClosePortAction* Action = NewObject<UPortOpenClosePortAction>();
	Action->WorldContext = WorldContextObject;
	Action->LeaseId = LeaseId;
	Action->RegisterWithGameInstance(WorldContextObject);
	return Action;
}

void UPortOpenClosePortAction::Activate()
{
	FString Why;
	UPortOpenSubsystem* Subsystem = FindSubsystem(WorldContext, Why);
	if (!Subsystem)
	{
		Finish(false, Why);
		return;
	}
	TWeakObjectPtr<UPortOpenClosePortAction> WeakThis(this);
	Subsystem->ClosePort(LeaseId, [WeakThis](bool bClosed, const FString& Error)
	{
		if (UPortOpenClosePortAction* Self = WeakThis.Get()) Self->Finish(bClosed, Error);
	});
}

void UPortOpenClosePortAction::Finish(bool bClosed, const FString& Error)
{
	if (bClosed)
	{
		OnClosed.Broadcast(LeaseId, Error);
	}
	else
	{
		OnFailed.Broadcast(LeaseId, Error);
	}
	SetReadyToDestroy();
}
