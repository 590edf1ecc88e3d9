#include "PortOpenSubsystem.h"

#include "Async/Async.h"
#include "HAL/FileManager.h"
#include "Misc/App.h"
#include "PortOpenModule.h"
#include "PortOpenNative.h"
#include "PortOpenSettings.h"

/** The client and what the background tasks need of the settings. */
struct FPortOpenClientState
{
	portopen::Client Client;
	uint32 LeaseSeconds = 0;
};

/** One open lease; destroying it closes the port on the router (blocking: never on the game thread). */
struct FPortOpenHeldLease
{
	explicit FPortOpenHeldLease(portopen::Lease InLease) : Lease(std::move(InLease)) {}
	portopen::Lease Lease;
};

namespace
{
using FHeldLeasePtr = TSharedPtr<FPortOpenHeldLease, ESPMode::ThreadSafe>;

/** Drop `Held` on the thread pool: if it is the last reference, the port is closed there. */
void ReleaseInBackground(FHeldLeasePtr Held)
{
	if (!Held) return;
	Async(EAsyncExecution::ThreadPool, [Held = MoveTemp(Held)]() mutable { Held.Reset(); });
}

/** The reason a request cannot even be tried; empty when it can. */
FString Validate(const FPortOpenRequest& Request)
{
	if (Request.Port < 1 || Request.Port > 65535) return FString::Printf(TEXT("port %d is not in 1..65535"), Request.Port);
	if (Request.ExternalPort < 0 || Request.ExternalPort > 65535) return FString::Printf(TEXT("external port %d is not in 0..65535"), Request.ExternalPort);
	if (!Request.bIPv4 && !Request.bIPv6) return TEXT("neither IPv4 nor IPv6 was asked for");
	return FString();
}

std::string Utf8(const FString& Text)
{
	return std::string(TCHAR_TO_UTF8(*Text));
}

/** Journal slots taken by the game instances alive in this process (game thread only). Two
 *  instances at once (play-in-editor with several players) must not share a journal: the second
 *  would read the first one's open ports as leftovers of a crash and remove them. The first
 *  instance always gets slot 0, so the next start finds what a crash left in it. */
TArray<bool> GJournalSlots;

int32 ClaimJournalSlot()
{
	for (int32 Slot = 0; Slot < GJournalSlots.Num(); ++Slot)
	{
		if (!GJournalSlots[Slot])
		{
			GJournalSlots[Slot] = true;
			return Slot;
		}
	}
	GJournalSlots.Add(true);
	return GJournalSlots.Num() - 1;
}

void ReleaseJournalSlot(int32 Slot)
{
	if (Slot >= 0 && Slot < GJournalSlots.Num()) GJournalSlots[Slot] = false;
}
}

bool UPortOpenSubsystem::ShouldCreateSubsystem(UObject* Outer) const
{
	// Without a loaded, matching library every call would fail (or, delay-loaded, crash).
	return FPortOpenModule::IsLibraryReady() && Super::ShouldCreateSubsystem(Outer);
}

void UPortOpenSubsystem::Initialize(FSubsystemCollectionBase& Collection)
{
	Super::Initialize(Collection);
	const UPortOpenSettings* Settings = GetDefault<UPortOpenSettings>();
	portopen::Config Config;
	Config.discovery_timeout_ms = static_cast<uint32_t>(FMath::Max(Settings->DiscoveryTimeoutMs, 1));
	Config.action_timeout_ms = static_cast<uint32_t>(FMath::Max(Settings->ActionTimeoutMs, 1));
	Config.description = Utf8(Settings->Description.IsEmpty() ? FString(FApp::GetProjectName()) : Settings->Description);
	Config.router = Utf8(Settings->RouterAddress);
	if (Settings->bJournal || Settings->bGatewayCache)
	{
		IFileManager::Get().MakeDirectory(*UPortOpenSettings::FilesDirectory(), true);
	}
	if (Settings->bJournal) JournalSlot = ClaimJournalSlot();
	Config.journal_file = Utf8(Settings->JournalFile(JournalSlot));
	Config.cache_file = Utf8(Settings->GatewayCacheFile());

	// Sends nothing; reads the journal and cache files.
	portopen::Result<portopen::Client> Created = portopen::Client::create(Config);
	if (!Created)
	{
		UE_LOG(LogPortOpen, Error, TEXT("cannot create the portopen client (check Project Settings > Plugins > PortOpen): %s"),
			*PortOpenNative::ToFString(Created.error().message));
		ReleaseJournalSlot(JournalSlot);
		JournalSlot = -1;
		return;
	}
	State = MakeShared<FPortOpenClientState, ESPMode::ThreadSafe>();
	State->Client = std::move(Created).value();
	State->LeaseSeconds = static_cast<uint32>(FMath::Max(Settings->LeaseSeconds, 0));
	TickHandle = FTSTicker::GetCoreTicker().AddTicker(FTickerDelegate::CreateUObject(this, &UPortOpenSubsystem::PollEvents), 0.0f);

	if (Settings->bJournal)
	{
		// What a crash left open: removed now rather than at the first open (no traffic when
		// the journal lists nothing).
		Async(EAsyncExecution::ThreadPool, [S = State]()
		{
			portopen::Result<uint32_t> Removed = S->Client.clean_leftovers();
			if (!Removed)
			{
				UE_LOG(LogPortOpen, Warning, TEXT("leftovers of an earlier run not cleaned: %s"), *PortOpenNative::ToFString(Removed.error().message));
			}
			else if (*Removed > 0)
			{
				UE_LOG(LogPortOpen, Log, TEXT("removed %u port(s) an earlier run left open"), *Removed);
			}
		});
	}
}

void UPortOpenSubsystem::Deinitialize()
{
	FTSTicker::GetCoreTicker().RemoveTicker(TickHandle);
	const int32 Slot = JournalSlot;
	JournalSlot = -1;
	if (!State)
	{
		ReleaseJournalSlot(Slot);
	}
	else
	{
		(void)State->Client.cancel(); // opens under way return at once; closing still works
		TArray<FHeldLeasePtr> Held;
		for (TPair<int64, FHeldLeasePtr>& Pair : Leases) Held.Add(MoveTemp(Pair.Value));
		Leases.Empty();
		// The leases close their ports, then the client goes (closing anything still open).
		auto Release = [Held = MoveTemp(Held), Last = MoveTemp(State)]() mutable
		{
			Held.Empty();
			Last.Reset();
		};
		if (IsEngineExitRequested())
		{
			// The thread pool may not run again: close here, bounded by the action timeout per family.
			Release();
			ReleaseJournalSlot(Slot);
		}
		else
		{
			// The journal slot is free again only once the client has written its last journal:
			// a game instance starting meanwhile takes another one instead of sharing the file.
			Async(EAsyncExecution::ThreadPool, [Release = MoveTemp(Release), Slot]() mutable
			{
				Release();
				AsyncTask(ENamedThreads::GameThread, [Slot]() { ReleaseJournalSlot(Slot); });
			});
		}
	}
	Super::Deinitialize();
}

void UPortOpenSubsystem::OpenPort(const FPortOpenRequest& Request, TFunction<void(const FPortOpenResult&)> OnDone)
{
	FPortOpenResult Refused;
	Refused.Error = State ? Validate(Request) : TEXT("the portopen client could not be created (see LogPortOpen)");
	if (!Refused.Error.IsEmpty())
	{
		UE_LOG(LogPortOpen, Warning, TEXT("Open Port %d: %s"), Request.Port, *Refused.Error);
		OnDone(Refused);
		return;
	}
	++PendingOpens;
	TWeakObjectPtr<UPortOpenSubsystem> WeakThis(this);
	Async(EAsyncExecution::ThreadPool, [S = State, WeakThis, Request, OnDone = MoveTemp(OnDone)]() mutable
	{
		(void)S->Client.reset_cancel(); // a CancelPendingOpens before this open does not stop it
		portopen::OpenOptions Options;
		Options.protocol = PortOpenNative::ToNative(Request.Protocol);
		Options.internal_port = static_cast<uint16_t>(Request.Port);
		Options.external_port = static_cast<uint16_t>(Request.ExternalPort);
		Options.want_v4 = Request.bIPv4;
		Options.want_v6 = Request.bIPv6;
		Options.lease_secs = S->LeaseSeconds;
		portopen::Result<portopen::Lease> Opened = S->Client.open(Options); // blocks: this is a pool thread

		FPortOpenResult Result;
		FHeldLeasePtr Held;
		if (!Opened)
		{
			Result.Error = PortOpenNative::ToFString(Opened.error().message);
		}
		else
		{
			Result.Lease = PortOpenNative::Snapshot(*Opened);
			Result.bSuccess = Result.Lease.IsOpen();
			if (Result.bSuccess)
			{
				Held = MakeShared<FPortOpenHeldLease, ESPMode::ThreadSafe>(std::move(Opened).value());
			}
			else
			{
				Result.Lease.LeaseId = 0; // nothing held: the lease is freed here, with nothing to close
			}
		}
		UE_LOG(LogPortOpen, Log, TEXT("Open Port %d: IPv4 %s %s by %s, IPv6 %s %s by %s%s%s"), Request.Port,
			PortOpenNative::Name(Result.Lease.IPv4.Status), *Result.Lease.IPv4.Endpoint, PortOpenNative::Name(Result.Lease.IPv4.Route),
			PortOpenNative::Name(Result.Lease.IPv6.Status), *Result.Lease.IPv6.Endpoint, PortOpenNative::Name(Result.Lease.IPv6.Route),
			Result.Error.IsEmpty() ? TEXT("") : TEXT(": "), *Result.Error);

		AsyncTask(ENamedThreads::GameThread, [WeakThis, Result, Held = MoveTemp(Held), OnDone = MoveTemp(OnDone)]() mutable
		{
			UPortOpenSubsystem* Self = WeakThis.Get();
			if (Self && Self->State)
			{
				--Self->PendingOpens;
				if (Held) Self->Leases.Add(Result.Lease.LeaseId, MoveTemp(Held));
			}
			else if (Held)
			{
				// The game instance ended meanwhile: nobody could close this lease later.
				Result.bSuccess = false;
				Result.Error = TEXT("the game instance ended while the port was being opened; closed again");
				ReleaseInBackground(MoveTemp(Held));
			}
			OnDone(Result);
		});
	});
}

void UPortOpenSubsystem::ClosePort(int64 LeaseId, TFunction<void(bool bClosed, const FString& Error)> OnDone)
{
	FHeldLeasePtr Held;
	if (!Leases.RemoveAndCopyValue(LeaseId, Held))
	{
		OnDone(false, FString::Printf(TEXT("no open port has lease id %lld"), static_cast<long long>(LeaseId)));
		return;
	}
	Async(EAsyncExecution::ThreadPool, [Held = MoveTemp(Held), LeaseId, OnDone = MoveTemp(OnDone)]() mutable
	{
		const portopen::Result<void> Closed = Held->Lease.close(); // blocks while the router answers
		const bool bClosed = Closed.ok();
		const FString Error = bClosed ? FString() : PortOpenNative::ToFString(Closed.error().message);
		Held.Reset(); // closed: nothing left to remove
		UE_LOG(LogPortOpen, Log, TEXT("Close Port (lease %lld): %s"), static_cast<long long>(LeaseId), bClosed ? TEXT("closed") : *Error);
		AsyncTask(ENamedThreads::GameThread, [bClosed, Error, OnDone = MoveTemp(OnDone)]() { OnDone(bClosed, Error); });
	});
}

void UPortOpenSubsystem::CancelPendingOpens()
{
	if (State) (void)State->Client.cancel();
}

TArray<FPortOpenLease> UPortOpenSubsystem::GetLeases() const
{
	TArray<FPortOpenLease> Out;
	for (const TPair<int64, FHeldLeasePtr>& Pair : Leases)
	{
		Out.Add(PortOpenNative::Snapshot(Pair.Value->Lease));
	}
	return Out;
}

bool UPortOpenSubsystem::GetLease(int64 LeaseId, FPortOpenLease& Lease) const
{
	const FHeldLeasePtr* Held = Leases.Find(LeaseId);
	if (!Held) return false;
	Lease = PortOpenNative::Snapshot((*Held)->Lease);
	return true;
}

bool UPortOpenSubsystem::PollEvents(float)
{
	// A bounded number per frame; poll_event never blocks (the library queues from its threads).
	for (int32 Count = 0; Count < 64 && State; ++Count)
	{
		portopen::Result<std::optional<portopen::Event>> Next = State->Client.poll_event();
		if (!Next || !*Next) break;
		const FPortOpenEvent Event = PortOpenNative::FromNative(**Next);
		UE_LOG(LogPortOpen, Verbose, TEXT("lease %lld %s %s %s %s"), static_cast<long long>(Event.LeaseId),
			PortOpenNative::Name(Event.Family), PortOpenNative::Name(Event.Kind), *Event.Endpoint, *Event.Message);
		OnPortEvent.Broadcast(Event);
		if (Event.Kind == EPortOpenEventKind::Lost) OnPortLost.Broadcast(Event);
		if (Event.Kind == EPortOpenEventKind::Recovered) OnPortRecovered.Broadcast(Event);
	}
	return true; // keep ticking
}
