// The one place the plugin includes the portopen C and C++ headers (wrapped for UE's warning
// rules: portopen.h's `__STDC_VERSION__` test trips MSVC's C4668, an error in UE builds), and the
// conversions from portopen's values to the plugin's Blueprint types.
#pragma once

#include "CoreMinimal.h"
#include "PortOpenTypes.h"

THIRD_PARTY_INCLUDES_START
#include "portopen.hpp"
THIRD_PARTY_INCLUDES_END

namespace PortOpenNative
{
/** UTF-8 text from the library as an FString. */
FString ToFString(const std::string& Utf8);

portopen::Protocol ToNative(EPortOpenProtocol Protocol);
EPortOpenFamily FromNative(portopen::Family Family);
EPortOpenStatus FromNative(portopen::PortStatus Status);
EPortOpenEventKind FromNative(portopen::EventKind Kind);
EPortOpenRoute FromNative(portopen::Route Route);

/** A snapshot of `Lease` (its info and each family's message). Never blocks on the network. */
FPortOpenLease Snapshot(const portopen::Lease& Lease);

FPortOpenEvent FromNative(const portopen::Event& Event);

/** "IPv4"/"IPv6", "Open", "Lost"...: for log lines. */
const TCHAR* Name(EPortOpenFamily Family);
const TCHAR* Name(EPortOpenStatus Status);
const TCHAR* Name(EPortOpenEventKind Kind);
const TCHAR* Name(EPortOpenRoute Route);
}
