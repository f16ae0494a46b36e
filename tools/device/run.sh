#!/usr/bin/env bash
# Runs the device script from the pack that tools/device/pack.sh left in artifacts/device*: unpacks it (once
# per pack) into a temporary folder, finds the device (a real GPU, else the CUDA emulator when the pack has
# it, else none), runs tools/device/steps.txt through devicerun, and prints one table. The table, figures.json
# and run.log go to OUT_DIR (default $OUT, else artifacts/device-out). See docs/cuda.md, "The device script".
#
#   bash tools/device/run.sh [--check] [--emulator|--no-emulator] [--budget SECONDS] [OUT_DIR]
#
#   --check        only say which parts of the pack are here (for the calls that carry the first parts)
#   --emulator     use the pack's CUDA emulator even where a GPU is found; --no-emulator never uses it
#   --budget S     seconds for all the steps together (default 540, so a run ends inside the 10 minutes of one call)
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../.." && pwd)
die() { echo "run.sh: $*" >&2; exit 3; }

check=0 emulator=auto budget=540 out=""
while [ $# -gt 0 ]; do
    case $1 in
        --check) check=1 ;;
        --emulator) emulator=yes ;;
        --no-emulator) emulator=no ;;
        --budget) [ $# -ge 2 ] || die "--budget needs a number of seconds"; budget=$2; shift ;;
        -h|--help) sed -n '2,13p' "$0"; exit 0 ;;
        -*) die "unknown option $1 (see --help)" ;;
        *) out=$1 ;;
    esac
    shift
done
out=${out:-${OUT:-$repo/artifacts/device-out}}

# 1. The pack: whole in artifacts/device, or in parts carried by earlier calls on this machine.
manifest=$repo/artifacts/device/MANIFEST.txt
for m in "$repo"/artifacts/device*/MANIFEST.txt; do [ -f "$m" ] && manifest=$m && break; done
[ -f "$manifest" ] || die "no pack here: run tools/device/pack.sh on the build machine and carry artifacts/device"
sums=$(dirname "$manifest")/SHA256SUMS
parts=$(awk '/^parts:/ { print $2 }' "$manifest")
whole=$repo/artifacts/device/pack.tar.xz
chunks=()
missing=()
if [ -f "$whole" ]; then
    chunks=("$whole")
else
    for i in $(seq 1 "$parts"); do
        dir=$repo/artifacts/device; [ "$i" = 1 ] || dir=$repo/artifacts/device-$i
        f=$dir/pack.tar.xz.$(printf %02d $((i - 1)))
        if [ -f "$f" ]; then chunks+=("$f"); else missing+=("$i (carry ${dir#"$repo"/})"); fi
    done
fi
if [ "$check" = 1 ]; then
    echo "pack: $(head -1 "$manifest")"
    echo "parts here: ${#chunks[@]} of $parts${missing:+; missing: ${missing[*]}}"
    [ ${#missing[@]} = 0 ]; exit $?
fi
[ ${#missing[@]} = 0 ] || die "parts missing: ${missing[*]}. Carry each in a call on this same machine first (bash tools/device/run.sh --check), then run this."

# 2. Unpacked once per pack into a temporary folder (a second run on a warm machine reuses it).
key=$(cut -c1-16 "$sums")
work=${TMPDIR:-/tmp}/engine-device-$key
if [ ! -f "$work/.complete" ]; then
    rm -rf "$work"; mkdir -p "$work"
    echo "run.sh: unpacking $(head -1 "$manifest") into $work"
    cat "${chunks[@]}" > "$work/pack.tar.xz"
    want=$(cut -d' ' -f1 "$sums")
    if command -v sha256sum >/dev/null; then got=$(sha256sum "$work/pack.tar.xz" | cut -d' ' -f1)
    else got=$(python3 -c 'import hashlib,sys; print(hashlib.sha256(open(sys.argv[1],"rb").read()).hexdigest())' "$work/pack.tar.xz"); fi
    [ "$want" = "$got" ] || die "the pack is damaged (sha256 $got, expected $want): pack and carry it again"
    if command -v xz >/dev/null; then
        xz -dc "$work/pack.tar.xz" | tar -xif - -C "$work"
    else
        python3 -c 'import lzma,sys,tarfile; tarfile.open(fileobj=lzma.open(sys.argv[1]), mode="r|", ignore_zeros=True).extractall(sys.argv[2])' "$work/pack.tar.xz" "$work"
    fi
    rm -f "$work/pack.tar.xz"
    touch "$work/.complete"
fi
# The tests read their goldens beside the test assembly; the tree has them.
[ -d "$repo/Tests/Data" ] && ln -sfn "$repo/Tests/Data" "$work/app/Data"

export ENGINE_PACK=$work
export DOTNET_ROOT=$work/dotnet
export DOTNET_SYSTEM_GLOBALIZATION_INVARIANT=1 DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1 PYTHONUNBUFFERED=1
export PATH=$work/bin:$PATH
for cuda in "${CUDA_HOME:-}" /usr/local/cuda; do
    [ -n "$cuda" ] && [ -d "$cuda/bin" ] && export PATH=$PATH:$cuda/bin && break
done

# 3. The device: a real GPU first; the emulator only without one (or when asked for). With --no-emulator
# the library is put aside, or the test assembly would still pick it up beside itself.
[ -f "$work/app/libcudaemu.so.off" ] && mv "$work/app/libcudaemu.so.off" "$work/app/libcudaemu.so"
[ "$emulator" = no ] && [ -f "$work/app/libcudaemu.so" ] && mv "$work/app/libcudaemu.so" "$work/app/libcudaemu.so.off"
probe() { devicerun device | tail -1 > "$work/device.json"; sed -n 's/.*"kind":"\([a-z]*\)".*/\1/p' "$work/device.json"; }
use_emulator() {
    local lib=$work/app/libcudaemu.so
    export ENGINE_CUDA_EMULATOR=$lib ENGINE_LIBCUDA=$lib ENGINE_LIBCUBLAS=$lib ENGINE_LIBCUFFT=$lib ENGINE_LIBNVRTC=$lib
}
kind=none
[ "$emulator" = yes ] || kind=$(probe) || kind=none
if [ "$kind" = none ] && [ "$emulator" != no ]; then
    if [ -f "$work/app/libcudaemu.so" ]; then
        use_emulator
        kind=$(probe) || kind=none
    elif [ "$emulator" = yes ]; then
        die "--emulator: this pack has no libcudaemu.so (the test build did not build the emulator)"
    fi
fi
export DEVICE_KIND=$kind
case $kind in
    gpu) GEMM_N=4096 ADD_N=$((256 << 20)) OPS_REPEAT=10 ;;
    *)   GEMM_N=256  ADD_N=$((1 << 20))   OPS_REPEAT=2 ;;
esac
export GEMM_N ADD_N OPS_REPEAT

# 4. PyTorch, for the benchmarks' twins: the first python3 that imports torch.
torch_line="no PyTorch found"
for py in "${ENGINE_TORCH_PYTHON:-}" python3 /usr/bin/python3 /usr/local/bin/python3 /opt/conda/bin/python3; do
    [ -n "$py" ] && command -v "$py" >/dev/null || continue
    if v=$(timeout 60 "$py" -c 'import torch; print(torch.__version__, "with CUDA", torch.version.cuda, "(GPU visible)" if torch.cuda.is_available() else "(no GPU visible)")' 2>/dev/null); then
        ENGINE_TORCH_PYTHON=$(command -v "$py")
        export ENGINE_TORCH_PYTHON
        torch_line="torch $v ($ENGINE_TORCH_PYTHON)"
        break
    fi
done

# 5. The steps, then the table (devicerun prints it and writes it to $out).
mkdir -p "$out"
cd "$repo"
title="device script: $(head -1 "$work/MANIFEST.txt"); $torch_line"
rc=0
devicerun run "$here/steps.txt" --out "$out" --budget "$budget" --device-json "$work/device.json" --title "$title" || rc=$?
[ -f "$out/table.txt" ] || { echo "run.sh: devicerun ended (exit $rc) without a table; see $out/run.log" >&2; exit 3; }
echo "run.sh: exit $rc; table.txt, figures.json and run.log are in $out"
exit "$rc"
