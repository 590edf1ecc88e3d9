#include "PortOpenSubsystem.h"

#include "Async/Async.h"
#include "Misc/ScopeLock.h"
#include "PortOpenModule.h"

#include "portopen.hpp"

/** What the background tasks share with the subsystem; freed (closing the port) by the last owner. */
struct FPortOpenState
{
	portopen::Client Client;
	FCriticalSection Mutex;
	portopen::Lease Lease; // guarded by Mutex

	/** Swap in a new lease and return the old one, to be destroyed (closed) outside the lock. */
	portopen::Lease Exchange(portopen::Lease Next)
	{
		FScopeLock Lock(&Mutex);
		std::swap(Lease, Next);
		return Next;
	}
};

namespace
{
FString Utf8(const std::string& Text) { return FString(UTF8_TO_TCHAR(Text.c_str())); }

bool IsOpen(portopen::PortStatus Status)
{
	return Status == portopen::PortStatus::Open || Status == portopen::PortStatus::OpenAlready;
}

const TCHAR* KindName(portopen::EventKind Kind)
{
	switch (Kind)
	{
	case portopen::EventKind::Opened: return TEXT("Opened");
	case portopen::EventKind::Renewed: return TEXT("Renewed");
	case portopen::EventKind::Lost: return TEXT("Lost");
	case portopen::EventKind::Recovered: return TEXT("Recovered");
	case portopen::EventKind::Failed: return TEXT("Failed");
	case portopen::EventKind::Closed: return TEXT("Closed");
	}
	return TEXT("Unknown");
}
}

void UPortOpenSubsystem::Initialize(FSubsystemCollectionBase& Collection)
{
	Super::Initialize(Collection);
	portopen::Config Config;
	Config.action_timeout_ms = 2000; // bounds the close at shutdown (per family)
	portopen::Result<portopen::Client> Created = portopen::Client::create(Config); // sends nothing
	if (!Created)
	{
		UE_LOG(LogPortOpen, Error, TEXT("cannot create the portopen client: %s"), *Utf8(Created.error().message));
		return;
	}
	State = MakeShared<FPortOpenState, ESPMode::ThreadSafe>();
	State->Client = std::move(Created).value();
	TickHandle = FTSTicker::GetCoreTicker().AddTicker(FTickerDelegate::CreateUObject(this, &UPortOpenSubsystem::PollEvents), 0.0f);
}

void UPortOpenSubsystem::Deinitialize()
{
	FTSTicker::GetCoreTicker().RemoveTicker(TickHandle);
	if (State)
	{
		(void)State->Client.cancel(); // a running open returns at once; closing still works
		TSharedPtr<FPortOpenState, ESPMode::ThreadSafe> Last = MoveTemp(State);
		if (IsEngineExitRequested())
		{
			Last.Reset(); // closes here: the thread pool may not run again (bounded by action_timeout_ms)
		}
		else
		{
			Async(EAsyncExecution::ThreadPool, [Last = MoveTemp(Last)]() mutable { Last.Reset(); });
		}
	}
	Super::Deinitialize();
}

void UPortOpenSubsystem::OpenPort(int32 Port, bool bTcp)
{
	if (!State || Port < 1 || Port > 65535)
	{
		UE_LOG(LogPortOpen, Error, TEXT("OpenPort(%d): %s"), Port, State ? TEXT("port must be 1..65535") : TEXT("no client"));
		OnPortOpened.Broadcast(false, FString(), FString(), TEXT("invalid port or no client"));
		return;
	}
	bOpening = true;
	TWeakObjectPtr<UPortOpenSubsystem> WeakThis(this);
	Async(EAsyncExecution::ThreadPool, [S = State, WeakThis, Port, bTcp]()
	{
		(void)S->Client.reset_cancel(); // a CancelPending before this open does not stop it
		portopen::OpenOptions Options;
		Options.protocol = bTcp ? portopen::Protocol::Tcp : portopen::Protocol::Udp;
		Options.internal_port = static_cast<uint16_t>(Port);
		portopen::Result<portopen::Lease> Opened = S->Client.open(Options); // blocks: this is a pool thread
		bool bSuccess = false;
		FString V4, V6, Message;
		if (!Opened)
		{
			Message = Utf8(Opened.error().message);
		}
		else
		{
			portopen::Result<portopen::LeaseInfo> Info = Opened->info();
			if (Info)
			{
				bSuccess = IsOpen(Info->v4.status) || IsOpen(Info->v6.status);
				V4 = Utf8(Info->v4.external.to_string());
				V6 = Utf8(Info->v6.external.to_string());
			}
			for (portopen::Family Family : {portopen::Family::V4, portopen::Family::V6})
			{
				portopen::Result<std::string> Why = Opened->message(Family);
				if (Why && !Why->empty())
				{
					Message += FString::Printf(TEXT("%s%s: %s"), Message.IsEmpty() ? TEXT("") : TEXT("; "),
						Family == portopen::Family::V4 ? TEXT("IPv4") : TEXT("IPv6"), *Utf8(*Why));
				}
			}
			S->Exchange(std::move(Opened).value()); // the replaced lease closes here, off the game thread
		}
		UE_LOG(LogPortOpen, Log, TEXT("OpenPort(%d): v4 \"%s\" v6 \"%s\" %s"), Port, *V4, *V6, *Message);
		AsyncTask(ENamedThreads::GameThread, [WeakThis, bSuccess, V4, V6, Message]()
		{
			if (UPortOpenSubsystem* Self = WeakThis.Get())
			{
				Self->bOpening = false;
				Self->OnPortOpened.Broadcast(bSuccess, V4, V6, Message);
			}
		});
	});
}

void UPortOpenSubsystem::ClosePort()
{
	if (!State) return;
	TWeakObjectPtr<UPortOpenSubsystem> WeakThis(this);
	Async(EAsyncExecution::ThreadPool, [S = State, WeakThis]()
	{
		S->Exchange(portopen::Lease()); // the returned lease's destructor closes it on the router
		AsyncTask(ENamedThreads::GameThread, [WeakThis]()
		{
			if (UPortOpenSubsystem* Self = WeakThis.Get()) Self->OnPortClosed.Broadcast();
		});
	});
}

void UPortOpenSubsystem::CancelPending()
{
	if (State) (void)State->Client.cancel();
}

bool UPortOpenSubsystem::PollEvents(float)
{
	if (!State) return true;
	for (;;) // never blocks: the library queues events from its own threads
	{
		portopen::Result<std::optional<portopen::Event>> Next = State->Client.poll_event();
		if (!Next || !*Next) break;
		const portopen::Event& Event = **Next;
		OnPortEvent.Broadcast(Event.family == portopen::Family::V4 ? TEXT("IPv4") : TEXT("IPv6"), KindName(Event.kind),
			Utf8(Event.address.to_string()), Utf8(Event.message));
	}
	return true; // keep ticking
}
