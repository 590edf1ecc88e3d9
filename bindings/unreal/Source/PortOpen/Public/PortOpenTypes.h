// The Blueprint types of the PortOpen plugin: what a caller asks for (protocol, families) and what
// it gets back (per-family result, lease snapshot, event), mirroring portopen.h's values.
#pragma once

#include "CoreMinimal.h"
#include "PortOpenTypes.generated.h"

/** Transport protocol of the port to open. */
UENUM(BlueprintType)
enum class EPortOpenProtocol : uint8
{
	UDP,
	TCP
};

/** Address family: the IPv4 port mapping or the IPv6 firewall pinhole. */
UENUM(BlueprintType)
enum class EPortOpenFamily : uint8
{
	IPv4,
	IPv6
};

/** Where one family of a lease stands (portopen_port_status). */
UENUM(BlueprintType)
enum class EPortOpenStatus : uint8
{
	NotRequested UMETA(ToolTip = "This family was not asked for."),
	Open UMETA(ToolTip = "Open on the router; peers can reach the external address."),
	OpenAlready UMETA(ToolTip = "IPv6: the router's firewall is off, inbound traffic already passes."),
	NoGateway UMETA(ToolTip = "No UPnP router answered."),
	NoService UMETA(ToolTip = "The router does not offer port mappings or pinholes."),
	UpstreamNat UMETA(ToolTip = "IPv4: another NAT sits above the router (carrier-grade NAT)."),
	NotAllowed UMETA(ToolTip = "IPv6: the router refuses pinholes until the user changes a router setting."),
	NotAuthorized UMETA(ToolTip = "The router refused (UPnP 606, action not authorized)."),
	NoPortsAvailable UMETA(ToolTip = "The router has no port left for this mapping."),
	Failed UMETA(ToolTip = "The router refused or failed; see Message and UpnpErrorCode."),
	Lost UMETA(ToolTip = "Was open; the router lost it; recovery is under way."),
	Closed UMETA(ToolTip = "Closed; nothing of it remains on the router."),
	NoExternalAddress UMETA(ToolTip = "IPv4: the router reports no usable external address."),
	NoLocalAddress UMETA(ToolTip = "This host has no address of the family (IPv6: no global address); no router was asked.")
};

/** The protocol that opened a family of a lease (portopen_route). */
UENUM(BlueprintType)
enum class EPortOpenRoute : uint8
{
	None UMETA(ToolTip = "Not open (or nothing needed opening)."),
	UPnP UMETA(ToolTip = "UPnP IGD: an IPv4 port mapping or an IPv6 firewall pinhole."),
	PCP UMETA(ToolTip = "PCP (RFC 6887) MAP, either family."),
	NATPMP UMETA(DisplayName = "NAT-PMP", ToolTip = "NAT-PMP (RFC 6886), IPv4 only.")
};

/** What happened to one family of a lease (portopen_event_kind). */
UENUM(BlueprintType)
enum class EPortOpenEventKind : uint8
{
	Opened,
	Renewed,
	Lost,
	Recovered,
	Failed,
	Closed
};

/** What to open. */
USTRUCT(BlueprintType)
struct PORTOPEN_API FPortOpenRequest
{
	GENERATED_BODY()

	/** The port the game listens on, 1..65535 (IPv6 pinholes: routers often refuse below 1024). */
	UPROPERTY(EditAnywhere, BlueprintReadWrite, Category = "PortOpen", meta = (ClampMin = "1", ClampMax = "65535"))
	int32 Port = 7777;

	UPROPERTY(EditAnywhere, BlueprintReadWrite, Category = "PortOpen")
	EPortOpenProtocol Protocol = EPortOpenProtocol::UDP;

	/** Ask for an IPv4 port mapping. */
	UPROPERTY(EditAnywhere, BlueprintReadWrite, Category = "PortOpen")
	bool bIPv4 = true;

	/** Ask for an IPv6 firewall pinhole. */
	UPROPERTY(EditAnywhere, BlueprintReadWrite, Category = "PortOpen")
	bool bIPv6 = true;

	/** External IPv4 port wished for (0: same as Port); the router may grant another. */
	UPROPERTY(EditAnywhere, BlueprintReadWrite, Category = "PortOpen", AdvancedDisplay, meta = (ClampMin = "0", ClampMax = "65535"))
	int32 ExternalPort = 0;
};

/** One family (IPv4 mapping or IPv6 pinhole) of a lease. */
USTRUCT(BlueprintType)
struct PORTOPEN_API FPortOpenFamilyResult
{
	GENERATED_BODY()

	UPROPERTY(BlueprintReadOnly, Category = "PortOpen")
	EPortOpenFamily Family = EPortOpenFamily::IPv4;

	UPROPERTY(BlueprintReadOnly, Category = "PortOpen")
	EPortOpenStatus Status = EPortOpenStatus::NotRequested;

	/** The address peers send to ("203.0.113.7", "2001:db8::10"); empty when not open. For IPv6
	 *  it is this host's own address: the pinhole lets traffic reach it. */
	UPROPERTY(BlueprintReadOnly, Category = "PortOpen")
	FString ExternalAddress;

	/** The port peers send to (IPv4: the router may grant another than asked); 0 when not open. */
	UPROPERTY(BlueprintReadOnly, Category = "PortOpen")
	int32 ExternalPort = 0;

	/** Address and port to give to peers: "203.0.113.7:7777" or "[2001:db8::10]:7777"; empty when not open. */
	UPROPERTY(BlueprintReadOnly, Category = "PortOpen")
	FString Endpoint;

	/** The protocol that opened it (UPnP, PCP or NAT-PMP); None when not open. */
	UPROPERTY(BlueprintReadOnly, Category = "PortOpen")
	EPortOpenRoute Route = EPortOpenRoute::None;

	/** This host's address the router forwards to; empty when not known. */
	UPROPERTY(BlueprintReadOnly, Category = "PortOpen")
	FString InternalAddress;

	/** Lease the router granted, seconds (0 while open: permanent until closed). Renewed by the library. */
	UPROPERTY(BlueprintReadOnly, Category = "PortOpen")
	int32 LeaseSeconds = 0;

	/** The router's UPnP error code behind a refusal; 0 when none. */
	UPROPERTY(BlueprintReadOnly, Category = "PortOpen")
	int32 UpnpErrorCode = 0;

	/** Why the family is in its state, in words; empty when open without remark. */
	UPROPERTY(BlueprintReadOnly, Category = "PortOpen")
	FString Message;

	/** Open or OpenAlready: peers can reach this family. */
	bool IsOpen() const { return Status == EPortOpenStatus::Open || Status == EPortOpenStatus::OpenAlready; }
};

/** A snapshot of an open port: both families. */
USTRUCT(BlueprintType)
struct PORTOPEN_API FPortOpenLease
{
	GENERATED_BODY()

	/** Identifies the lease for Close Port and in events; unique within the game instance. 0: none. */
	UPROPERTY(BlueprintReadOnly, Category = "PortOpen")
	int64 LeaseId = 0;

	UPROPERTY(BlueprintReadOnly, Category = "PortOpen")
	EPortOpenProtocol Protocol = EPortOpenProtocol::UDP;

	/** The port the game listens on. */
	UPROPERTY(BlueprintReadOnly, Category = "PortOpen")
	int32 Port = 0;

	UPROPERTY(BlueprintReadOnly, Category = "PortOpen")
	FPortOpenFamilyResult IPv4;

	UPROPERTY(BlueprintReadOnly, Category = "PortOpen")
	FPortOpenFamilyResult IPv6;

	/** At least one family is open. */
	bool IsOpen() const { return IPv4.IsOpen() || IPv6.IsOpen(); }
};

/** The outcome of one Open Port. */
USTRUCT(BlueprintType)
struct PORTOPEN_API FPortOpenResult
{
	GENERATED_BODY()

	/** At least one family is open (the other's status says why not). */
	UPROPERTY(BlueprintReadOnly, Category = "PortOpen")
	bool bSuccess = false;

	/** Each family's outcome. LeaseId is 0 when nothing was opened (nothing to close then). */
	UPROPERTY(BlueprintReadOnly, Category = "PortOpen")
	FPortOpenLease Lease;

	/** Why the request failed as a whole ("cancelled", "PortOpen is not available: ..."); empty
	 *  when the router was asked (the families' Message then say what it answered). */
	UPROPERTY(BlueprintReadOnly, Category = "PortOpen")
	FString Error;
};

/** A change to a family of a lease, delivered on the game thread. */
USTRUCT(BlueprintType)
struct PORTOPEN_API FPortOpenEvent
{
	GENERATED_BODY()

	UPROPERTY(BlueprintReadOnly, Category = "PortOpen")
	int64 LeaseId = 0;

	UPROPERTY(BlueprintReadOnly, Category = "PortOpen")
	EPortOpenFamily Family = EPortOpenFamily::IPv4;

	UPROPERTY(BlueprintReadOnly, Category = "PortOpen")
	EPortOpenEventKind Kind = EPortOpenEventKind::Opened;

	/** The reachable address and port after the event ("203.0.113.7:7777"); empty when none. */
	UPROPERTY(BlueprintReadOnly, Category = "PortOpen")
	FString Endpoint;

	/** Lease seconds granted (Opened, Renewed, Recovered); 0 otherwise. */
	UPROPERTY(BlueprintReadOnly, Category = "PortOpen")
	int32 LeaseSeconds = 0;

	/** Why, in words. */
	UPROPERTY(BlueprintReadOnly, Category = "PortOpen")
	FString Message;
};

DECLARE_DYNAMIC_MULTICAST_DELEGATE_OneParam(FPortOpenEventSignature, const FPortOpenEvent&, Event);
