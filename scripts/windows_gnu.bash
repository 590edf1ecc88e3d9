# The x86_64-pc-windows-gnu cross build (sourced by scripts/release.sh and
# tests/bindings/windows.sh; not a script itself).
#
# rustup cannot fetch targets on this machine, and Debian has no Windows std for its current
# rustc (libstd-rust-dev-windows is for the old rustc 1.63), so std is built from Debian's
# source (rust-web-src) with -Zbuild-std, with Debian's rustc-web/cargo-web 1.96 and mingw's gcc
# as linker. CARGO_HOME and the target directory live under /var/cache, outside the clone: a
# second run is incremental (std is built once per profile).

WINDOWS_TARGET=x86_64-pc-windows-gnu
WINDOWS_CACHE=${PORTOPEN_WINDOWS_CACHE:-/var/cache/portopen-windows}
WINDOWS_TARGET_DIR=$WINDOWS_CACHE/target

# windows_cargo CARGO-ARGS...: Debian's cargo for the Windows target (std built from source).
# The subcommand comes first: windows_cargo build --release --lib.
windows_cargo() {
  local sub=$1
  shift
  mkdir -p "$WINDOWS_CACHE"
  # rustup's proxies are bypassed (PATH without ~/.cargo/bin): they would pick rustup's
  # toolchain, which has no Windows std here.
  env PATH=/usr/bin:/bin:/usr/sbin:/sbin RUSTC=/usr/bin/rustc CARGO=/usr/bin/cargo RUSTC_BOOTSTRAP=1 \
    CARGO_HOME="$WINDOWS_CACHE/cargo-home" CARGO_TARGET_DIR="$WINDOWS_TARGET_DIR" \
    CARGO_TARGET_X86_64_PC_WINDOWS_GNU_LINKER=x86_64-w64-mingw32-gcc \
    nice -n 10 /usr/bin/cargo "$sub" -Zbuild-std=std,panic_unwind --target "$WINDOWS_TARGET" "$@"
}

# The directory of a profile's output: windows_out release|debug.
windows_out() { echo "$WINDOWS_TARGET_DIR/$WINDOWS_TARGET/$1"; }

# windows_import_lib DLL DIR: DIR/portopen.def (the DLL's own export table) and DIR/portopen.lib,
# an import library in the short format Microsoft's lib.exe writes (llvm-dlltool), which MSVC's
# link.exe takes. mingw's libportopen.dll.a (long format, import objects) is for mingw users:
# link.exe is not reliable with it.
windows_import_lib() {
  local dll=$1 dir=$2
  {
    echo "LIBRARY portopen.dll"
    echo "EXPORTS"
    x86_64-w64-mingw32-objdump -p "$dll" |
      awk '/\[Ordinal\/Name Pointer\] Table/ { on = 1; next } on && /^\t\[/ { print "  " $NF; next } on { exit }'
  } >"$dir/portopen.def"
  grep -q '^  portopen_client_new$' "$dir/portopen.def" || { echo "no portopen_client_new exported by $dll" >&2; return 1; }
  llvm-dlltool -m i386:x86-64 -D portopen.dll -d "$dir/portopen.def" -l "$dir/portopen.lib"
}

# The DLLs a Windows binary imports, lower case, one a line.
windows_imports() { x86_64-w64-mingw32-objdump -p "$1" | awk '/DLL Name:/ { print tolower($3) }' | sort -u; }

# True when every DLL the binary imports ships with Windows (no mingw runtime DLL to carry).
windows_imports_system_only() {
  local dll
  for dll in $(windows_imports "$1"); do
    case $dll in
      kernel32.dll | ntdll.dll | ws2_32.dll | iphlpapi.dll | advapi32.dll | userenv.dll | bcryptprimitives.dll | \
        msvcrt.dll | ucrtbase.dll | api-ms-win-*) ;;
      *) echo "$1 imports $dll, which Windows does not ship" >&2; return 1 ;;
    esac
  done
}
