#!/usr/bin/env bash
# Builds the engine here and packs what a GPU host needs to run the device script into artifacts/device
# (git-ignored): the .NET runtime of this SDK (only the files the pack's assemblies can reach), the test
# build, the engine's command line, the runner (devicerun) and the PyTorch twins. The GPU host has CUDA and
# PyTorch but no .NET and no network. See docs/cuda.md, "The device script".
#
#   tools/device/pack.sh [--no-build]
#
# The GPU tool carries the whole working tree plus the carried paths, 64 MiB in all. When the pack does not
# fit beside the tree, it is cut into parts (artifacts/device, artifacts/device-2, ...), one per call on the
# same warm machine; this script prints the calls.
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$repo"
die() { echo "pack.sh: $*" >&2; exit 1; }
mib() { awk -v b="$1" 'BEGIN { printf "%.1f MiB", b / 1048576 }'; }

build=1
for arg in "$@"; do
    case $arg in
        --no-build) build=0 ;;
        -h|--help) sed -n '2,12p' "$0"; exit 0 ;;
        *) die "unknown argument '$arg' (see --help)" ;;
    esac
done

limit=$((64 << 20))   # the GPU tool's limit on what travels: tree + carried paths
margin=$((128 << 10)) # headroom for small changes to the tree between packing and the call
config=Release
tfm=net10.0
tests=Tests/bin/$config/$tfm
cli=Samples/Cli/bin/$config/$tfm
runner=tools/device/DeviceRun/bin/$config/$tfm
started=$(date +%s)

if [ "$build" = 1 ]; then
    echo "pack.sh: dotnet build Engine.sln -c $config"
    dotnet build Engine.sln -c "$config" --nologo -v q -clp:ErrorsOnly || die "the build failed"
fi
for f in "$tests/Engine.Tests.dll" "$cli/engine.dll" "$runner/devicerun.dll"; do
    [ -f "$f" ] || die "$f is missing: build first (without --no-build)"
done

# The runtime beside this SDK (the GPU host gets exactly the version the build ran on here).
sdk_root=$(dirname "$(readlink -f "$(command -v dotnet)")")
fx_version=$(ls "$sdk_root/shared/Microsoft.NETCore.App" | sort -V | tail -1)
fxr_version=$(ls "$sdk_root/host/fxr" | sort -V | tail -1)
fx=$sdk_root/shared/Microsoft.NETCore.App/$fx_version
[ -d "$fx" ] || die "no Microsoft.NETCore.App under $sdk_root/shared"

stage=artifacts/device-stage
cache=artifacts/device-cache
rm -rf "$stage" artifacts/device artifacts/device-[0-9]*
mkdir -p "$stage/app" "$stage/bin" "$stage/Samples" "$cache" artifacts/device

# app/: the test build's top folder (not its copies of the goldens: the GPU host has Tests/Data in the tree,
# and run.sh links it; not the satellite resources, which invariant globalization never reads; not the
# dotnet-test adapter or the apphosts), then the command line and the runner over it (the engine's
# assemblies are the same build in all three).
find "$tests" -maxdepth 1 -type f \( -name '*.dll' -o -name '*.pdb' -o -name '*.json' -o -name '*.so' -o -name '*.status' \) \
    ! -name 'Microsoft.TestPlatform.*' ! -name 'Microsoft.VisualStudio.*' ! -name 'testhost.*' \
    ! -name 'xunit.runner.visualstudio.*' ! -name 'Newtonsoft.Json.dll' -exec cp {} "$stage/app/" \;
cp -f "$cli"/*.dll "$cli"/engine.deps.json "$cli"/engine.runtimeconfig.json "$stage/app/"
cp -f "$runner"/*.dll "$runner"/devicerun.deps.json "$runner"/devicerun.runtimeconfig.json "$stage/app/"
cp -r Samples/bench "$stage/Samples/"
for tool in engine devicerun; do
    cat > "$stage/bin/$tool" <<EOF
#!/bin/sh
# $tool from the device pack, on the runtime carried with it (invariant globalization: the host may lack libicu).
here=\$(cd "\$(dirname "\$0")/.." && pwd)
export DOTNET_ROOT="\$here/dotnet" DOTNET_SYSTEM_GLOBALIZATION_INVARIANT=1
exec "\$here/dotnet/dotnet" "\$here/app/$tool.dll" "\$@"
EOF
    chmod +x "$stage/bin/$tool"
done

# dotnet/: the host, hostfxr and the framework files the app's assemblies can reach (devicerun
# runtime-files follows their metadata). Packed once per file list and kept in artifacts/device-cache:
# compressing it is most of this script's time.
keep=$(dotnet "$runner/devicerun.dll" runtime-files "$fx" "$stage/app") || die "devicerun runtime-files failed"
key=$( { echo "$fx_version $fxr_version"; echo "$keep"; } | sha256sum | cut -c1-16)
runtime_xz=$cache/runtime-$fx_version-$key.tar.xz
if [ ! -f "$runtime_xz" ]; then
    echo "pack.sh: compressing the runtime ($fx_version, $(echo "$keep" | wc -l) framework files; about a minute)"
    rt=$stage/runtime
    mkdir -p "$rt/dotnet/host/fxr" "$rt/dotnet/shared/Microsoft.NETCore.App/$fx_version"
    cp "$sdk_root/dotnet" "$rt/dotnet/"
    cp -r "$sdk_root/host/fxr/$fxr_version" "$rt/dotnet/host/fxr/"
    mapfile -t keep_files <<< "$keep"
    (cd "$fx" && cp "${keep_files[@]}" "$OLDPWD/$rt/dotnet/shared/Microsoft.NETCore.App/$fx_version/")
    tar -C "$rt" -cf - dotnet | xz -9 -T2 > "$runtime_xz.tmp"
    mv "$runtime_xz.tmp" "$runtime_xz"
    rm -rf "$rt"
fi

commit=$(git rev-parse --short=12 HEAD)
dirty=$(git status --porcelain --untracked-files=no | grep -q . && echo " (with uncommitted changes)" || true)
cat > "$stage/MANIFEST.txt" <<EOF
engine device pack, built $(date -u '+%Y-%m-%d %H:%M UTC') from commit $commit$dirty
runtime: Microsoft.NETCore.App $fx_version (hostfxr $fxr_version), $(echo "$keep" | wc -l) of $(ls "$fx" | wc -l) framework files
app: $(ls "$stage/app" | wc -l) files, $(du -sb "$stage/app" | cut -f1) bytes; emulator: $([ -f "$stage/app/libcudaemu.so" ] && echo "libcudaemu.so included" || echo "none built")
EOF

# One file: the runtime's xz stream, then the app's. xz reads concatenated streams as one, and tar -i
# reads past the first archive's end.
app_xz=$stage/app.tar.xz
tar -C "$stage" -cf - app bin Samples MANIFEST.txt | xz -6 -T2 > "$app_xz"
cat "$runtime_xz" "$app_xz" > "$stage/pack.tar.xz"
pack_bytes=$(stat -c %s "$stage/pack.tar.xz")
(cd "$stage" && sha256sum pack.tar.xz > SHA256SUMS)

# What travels besides: every tracked and untracked-not-ignored file of this checkout.
tree_bytes=$(git ls-files -z --cached --others --exclude-standard | xargs -0 stat -c %s 2>/dev/null | awk '{ s += $1 } END { print s + 0 }')
room=$((limit - tree_bytes - margin))
[ "$room" -gt $((1 << 20)) ] || die "the tree alone is $(mib "$tree_bytes"): no room to carry anything within 64 MiB"
parts=$(( (pack_bytes + room - 1) / room ))
echo "parts: $parts" >> "$stage/MANIFEST.txt"

part_dir() { if [ "$1" = 1 ]; then echo artifacts/device; else echo "artifacts/device-$1"; fi; }
if [ "$parts" = 1 ]; then
    mv "$stage/pack.tar.xz" artifacts/device/
else
    split -b "$room" -d -a 2 "$stage/pack.tar.xz" "$stage/pack.tar.xz."
    for i in $(seq 1 "$parts"); do
        dir=$(part_dir "$i"); mkdir -p "$dir"
        mv "$stage/pack.tar.xz.$(printf %02d $((i - 1)))" "$dir/"
    done
fi
for i in $(seq 1 "$parts"); do cp "$stage/MANIFEST.txt" "$stage/SHA256SUMS" "$(part_dir "$i")/"; done
rm -rf "$stage"

echo
cat artifacts/device/MANIFEST.txt
echo "pack: $(mib "$pack_bytes") ($pack_bytes bytes) in $parts part(s); tree $(mib "$tree_bytes"); room per call $(mib "$room"); $(( $(date +%s) - started )) s"
echo
if [ "$parts" = 1 ]; then
    echo "On a lent GPU, one call:  carry [\"artifacts/device\"]  command: bash tools/device/run.sh"
else
    echo "On a lent GPU, $parts calls back to back on the same warm machine (it keeps ignored files between calls):"
    for i in $(seq 1 "$parts"); do
        cmd="bash tools/device/run.sh --check"; [ "$i" = "$parts" ] && cmd="bash tools/device/run.sh"
        echo "  call $i: carry [\"$(part_dir "$i")\"]  command: $cmd"
    done
fi
echo "Here, against the CUDA emulator (or with no device at all):  bash tools/device/run.sh /tmp/device-out"
