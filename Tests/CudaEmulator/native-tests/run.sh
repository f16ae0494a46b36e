#!/bin/sh
# Builds the cuBLAS/cuFFT emulation sources with the stand-in runtime and runs their native tests.
# Built with -march=haswell -ffp-contract=fast on purpose (FMA available, and unlike a Zen -march=native,
# a tuning that does fuse loop-carried sums): the emulation must stay FMA-free under the most
# contracting flags a build could use. Pass "asan" to build with AddressSanitizer and UBSan instead.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
native="$here/../native"
out=${TMPDIR:-/tmp}/cuda-emu-native-tests
mkdir -p "$out"
flags="-std=c++17 -O2 -g -Wall -Wextra -Werror -march=haswell -ffp-contract=fast"
if [ "${1:-}" = asan ]; then flags="-std=c++17 -O1 -g -Wall -Wextra -Werror -fsanitize=address,undefined -fno-sanitize-recover=all"; fi
g++ $flags -I"$native" -o "$out/emu-lib-tests" "$here"/*.cpp \
    "$native/cuda_emu_blas.cpp" "$native/cuda_emu_fft.cpp" "$native/cuda_emu_lib_error.cpp"
# Leak detection is off: handles and the stub's "device" blocks are kept on purpose (never reused).
ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=0} "$out/emu-lib-tests"
