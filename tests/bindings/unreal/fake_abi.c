/* A portopen library built for another C ABI (only the version query: the plugin must call
 * nothing else once the versions differ). Used by tests/bindings/unreal.sh's "abi" case. */
#include <stdint.h>

uint32_t portopen_abi_version(void) { return 999; }
