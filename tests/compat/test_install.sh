#!/usr/bin/env bash
# Installs the build into a temporary prefix, then builds a small program
# against it twice, as users would: with pkg-config (rill.pc) and with the CMake
# package (find_package(rill)). Both programs must start an embedded broker.
set -euo pipefail
BIN=$1
BUILD=$(cd "$BIN/.." && pwd)
SRC=$(cd "$(dirname "$0")/../.." && pwd)
T=$(mktemp -d /tmp/rill-install-XXXXXX)
trap 'rm -rf "$T"' EXIT

cmake --install "$BUILD" --prefix "$T/prefix" >/dev/null
export PKG_CONFIG_PATH="$T/prefix/lib/pkgconfig"
pkg-config --exists rill || { echo "FAIL: pkg-config does not find rill"; exit 1; }

# Sanitizer builds need the sanitizer runtime at link time too.
EXTRA=""
if grep -q "RILL_SANITIZE:BOOL=ON" "$BUILD/CMakeCache.txt"; then
  EXTRA="-fsanitize=address,undefined"
elif grep -q "RILL_TSAN:BOOL=ON" "$BUILD/CMakeCache.txt"; then
  EXTRA="-fsanitize=thread"
fi

gcc -std=c11 -Wall -Werror $EXTRA "$SRC/tests/install/consumer.c" \
    $(pkg-config --cflags --libs rill) -Wl,-rpath,"$T/prefix/lib" -o "$T/pc-consumer"
out=$("$T/pc-consumer" "$T/data1" 2>/dev/null)
echo "$out" | grep -q '^bootstrap 127.0.0.1:[0-9]' || { echo "FAIL: pkg-config build: $out"; exit 1; }
echo "ok: pkg-config consumer ($out)"

cmake -S "$SRC/tests/install" -B "$T/cm" -DCMAKE_PREFIX_PATH="$T/prefix" \
      -DCMAKE_C_FLAGS="$EXTRA" -DCMAKE_EXE_LINKER_FLAGS="$EXTRA" \
      -DCMAKE_BUILD_RPATH="$T/prefix/lib" >/dev/null
cmake --build "$T/cm" >/dev/null
out=$("$T/cm/consumer" "$T/data2" 2>/dev/null)
echo "$out" | grep -q '^bootstrap 127.0.0.1:[0-9]' || { echo "FAIL: CMake package build: $out"; exit 1; }
echo "ok: find_package(rill) consumer ($out)"
echo "PASS: install"
