#include "PortOpenNative.h"

namespace PortOpenNative
{
namespace
{
/** "1.2.3.4:5" -> "1.2.3.4"; "[2001:db8::1]:5" -> "2001:db8::1" (portopen_addr_to_string's forms). */
FString HostOf(const std::string& Endpoint)
{
	if (Endpoint.empty()) return FString();
	if (Endpoint[0] == '[')
	{
		const std::string::size_type Close = Endpoint.find(']');
		return Close == std::string::npos ? FString() : ToFString(Endpoint.substr(1, Close - 1));
	}
	const std::string::size_type Colon = Endpoint.rfind(':');
	return ToFString(Colon == std::string::npos ? Endpoint : Endpoint.substr(0, Colon));
}

FPortOpenFamilyResult FamilyResult(const portopen::Lease& Lease, portopen::Family Family, const portopen::FamilyState& State)
{
	FPortOpenFamilyResult Out;
	Out.Family = FromNative(Family);
	Out.Status = FromNative(State.status);
	if (!State.external.empty())
	{
		const std::string Endpoint = State.external.to_string();
		Out.Endpoint = ToFString(Endpoint);
		Out.ExternalAddress = HostOf(Endpoint);
		Out.ExternalPort = State.external.port();
	}
	Out.Route = FromNative(State.route);
	Out.InternalAddress = HostOf(State.internal.to_string());
	Out.LeaseSeconds = static_cast<int32>(FMath::Min<uint32>(State.lease_secs, static_cast<uint32>(MAX_int32)));
	Out.UpnpErrorCode = State.upnp_code;
	portopen::Result<std::string> Why = Lease.message(Family);
	if (Why) Out.Message = ToFString(*Why);
	return Out;
}
}

FString ToFString(const std::string& Utf8)
{
	return FString(UTF8_TO_TCHAR(Utf8.c_str()));
}

portopen::Protocol ToNative(EPortOpenProtocol Protocol)
{
	return Protocol == EPortOpenProtocol::TCP ? portopen::Protocol::Tcp : portopen::Protocol::Udp;
}

EPortOpenFamily FromNative(portopen::Family Family)
{
	return Family == portopen::Family::V6 ? EPortOpenFamily::IPv6 : EPortOpenFamily::IPv4;
}

EPortOpenStatus FromNative(portopen::PortStatus Status)
{
	switch (Status)
	{
	case portopen::PortStatus::NotRequested: return EPortOpenStatus::NotRequested;
	case portopen::PortStatus::Open: return EPortOpenStatus::Open;
	case portopen::PortStatus::OpenAlready: return EPortOpenStatus::OpenAlready;
	case portopen::PortStatus::NoGateway: return EPortOpenStatus::NoGateway;
	case portopen::PortStatus::NoService: return EPortOpenStatus::NoService;
	case portopen::PortStatus::UpstreamNat: return EPortOpenStatus::UpstreamNat;
	case portopen::PortStatus::NotAllowed: return EPortOpenStatus::NotAllowed;
	case portopen::PortStatus::NotAuthorized: return EPortOpenStatus::NotAuthorized;
	case portopen::PortStatus::NoPortsAvailable: return EPortOpenStatus::NoPortsAvailable;
	case portopen::PortStatus::Failed: return EPortOpenStatus::Failed;
	case portopen::PortStatus::Lost: return EPortOpenStatus::Lost;
	case portopen::PortStatus::Closed: return EPortOpenStatus::Closed;
	case portopen::PortStatus::NoExternalAddress: return EPortOpenStatus::NoExternalAddress;
	case portopen::PortStatus::NoLocalAddress: return EPortOpenStatus::NoLocalAddress;
	}
	return EPortOpenStatus::Failed; // a value added by a newer library
}

EPortOpenRoute FromNative(portopen::Route Route)
{
	switch (Route)
	{
	case portopen::Route::None: return EPortOpenRoute::None;
	case portopen::Route::Upnp: return EPortOpenRoute::UPnP;
	case portopen::Route::Pcp: return EPortOpenRoute::PCP;
	case portopen::Route::NatPmp: return EPortOpenRoute::NATPMP;
	}
	return EPortOpenRoute::None; // a value added by a newer library
}

EPortOpenEventKind FromNative(portopen::EventKind Kind)
{
	switch (Kind)
	{
	case portopen::EventKind::Opened: return EPortOpenEventKind::Opened;
	case portopen::EventKind::Renewed: return EPortOpenEventKind::Renewed;
	case portopen::EventKind::Lost: return EPortOpenEventKind::Lost;
	case portopen::EventKind::Recovered: return EPortOpenEventKind::Recovered;
	case portopen::EventKind::Failed: return EPortOpenEventKind::Failed;
	case portopen::EventKind::Closed: return EPortOpenEventKind::Closed;
	}
	return EPortOpenEventKind::Failed; // a value added by a newer library
}

FPortOpenLease Snapshot(const portopen::Lease& Lease)
{
	FPortOpenLease Out;
	portopen::Result<portopen::LeaseInfo> Info = Lease.info();
	if (!Info) return Out;
	Out.LeaseId = static_cast<int64>(Info->id);
	Out.Protocol = Info->protocol == portopen::Protocol::Tcp ? EPortOpenProtocol::TCP : EPortOpenProtocol::UDP;
	Out.Port = Info->internal_port;
	Out.IPv4 = FamilyResult(Lease, portopen::Family::V4, Info->v4);
	Out.IPv6 = FamilyResult(Lease, portopen::Family::V6, Info->v6);
	return Out;
}

FPortOpenEvent FromNative(const portopen::Event& Event)
{
	FPortOpenEvent Out;
	Out.LeaseId = static_cast<int64>(Event.lease_id);
	Out.Family = FromNative(Event.family);
	Out.Kind = FromNative(Event.kind);
	Out.Endpoint = ToFString(Event.address.to_string());
	Out.LeaseSeconds = static_cast<int32>(FMath::Min<uint32>(Event.lease_secs, static_cast<uint32>(MAX_int32)));
	Out.Message = ToFString(Event.message);
	return Out;
}

const TCHAR* Name(EPortOpenFamily Family)
{
	return Family == EPortOpenFamily::IPv6 ? TEXT("IPv6") : TEXT("IPv4");
}

const TCHAR* Name(EPortOpenStatus Status)
{
	switch (Status)
	{
	case EPortOpenStatus::NotRequested: return TEXT("NotRequested");
	case EPortOpenStatus::Open: return TEXT("Open");
	case EPortOpenStatus::OpenAlready: return TEXT("OpenAlready");
	case EPortOpenStatus::NoGateway: return TEXT("NoGateway");
	case EPortOpenStatus::NoService: return TEXT("NoService");
	case EPortOpenStatus::UpstreamNat: return TEXT("UpstreamNat");
	case EPortOpenStatus::NotAllowed: return TEXT("NotAllowed");
	case EPortOpenStatus::NotAuthorized: return TEXT("NotAuthorized");
	case EPortOpenStatus::NoPortsAvailable: return TEXT("NoPortsAvailable");
	case EPortOpenStatus::Failed: return TEXT("Failed");
	case EPortOpenStatus::Lost: return TEXT("Lost");
	case EPortOpenStatus::Closed: return TEXT("Closed");
	case EPortOpenStatus::NoExternalAddress: return TEXT("NoExternalAddress");
	case EPortOpenStatus::NoLocalAddress: return TEXT("NoLocalAddress");
	}
	return TEXT("Unknown");
}

const TCHAR* Name(EPortOpenRoute Route)
{
	switch (Route)
	{
	case EPortOpenRoute::None: return TEXT("None");
	case EPortOpenRoute::UPnP: return TEXT("UPnP");
	case EPortOpenRoute::PCP: return TEXT("PCP");
	case EPortOpenRoute::NATPMP: return TEXT("NAT-PMP");
	}
	return TEXT("Unknown");
}

const TCHAR* Name(EPortOpenEventKind Kind)
{
	switch (Kind)
	{
	case EPortOpenEventKind::Opened: return TEXT("Opened");
	case EPortOpenEventKind::Renewed: return TEXT("Renewed");
	case EPortOpenEventKind::Lost: return TEXT("Lost");
	case EPortOpenEventKind::Recovered: return TEXT("Recovered");
	case EPortOpenEventKind::Failed: return TEXT("Failed");
	case EPortOpenEventKind::Closed: return TEXT("Closed");
	}
	return TEXT("Unknown");
}
}
