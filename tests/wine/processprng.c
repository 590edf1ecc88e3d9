/* bcryptprimitives.dll for Wine 8, which lacks it: Rust's std (1.78+) gets its random bytes
 * (HashMap keys) from ProcessPrng there, and a Windows build then exits with code 53 at start-up.
 * This DLL exports ProcessPrng and forwards it to advapi32's RtlGenRandom (SystemFunction036),
 * which Wine has. Built by tests/wine/wine.bash with mingw and placed in the prefix's system32;
 * only for tests under Wine, never shipped (real Windows 10+ has the real DLL). */
#include <windows.h>

BOOLEAN WINAPI SystemFunction036(PVOID buffer, ULONG length);

__declspec(dllexport) BOOL WINAPI ProcessPrng(PBYTE data, SIZE_T length) {
  while (length > 0) {
    ULONG chunk = length > 0x40000000 ? 0x40000000 : (ULONG)length;
    if (!SystemFunction036(data, chunk)) return FALSE;
    data += chunk;
    length -= chunk;
  }
  return TRUE;
}
