#!/usr/bin/env bash
# Fuzzes one reader of the engine with AFL++ for a fixed time (issue 21, part 1):
#   Tests/Fuzz/run.sh TARGET SECONDS        (targets: safetensors checkpoint idx idx-gz cifar10 npm golden pth image)
# Builds the harness (Tests/Fuzz), installs the SharpFuzz instrumenter (dotnet tool SharpFuzz.CommandLine 2.3.0)
# into the work folder, instruments Engine.Models.dll (where every reader lives), then runs afl-fuzz on the seed
# corpus Tests/Fuzz/corpus/TARGET. Findings go to $FUZZ_WORK/findings/TARGET (default Tests/Fuzz/out, ignored
# by git); the last line is a summary: executions, exec/s, coverage edges, crashes, hangs.
# Exit code: 0 when no crash and no hang was saved, 1 otherwise, 3 when afl-fuzz is not installed.
set -euo pipefail
if [ $# -ne 2 ]; then echo "usage: $0 TARGET SECONDS" >&2; exit 2; fi
target=$1 seconds=$2
here=$(cd "$(dirname "$0")" && pwd)
work=${FUZZ_WORK:-$here/out}
if ! command -v afl-fuzz >/dev/null; then echo "afl-fuzz is not installed (Debian: apt-get install afl++)" >&2; exit 3; fi
if [ ! -d "$here/corpus/$target" ]; then echo "unknown target '$target'; known: $(ls "$here/corpus" | tr '\n' ' ')" >&2; exit 2; fi
mkdir -p "$work"

# The instrumenter, once per work folder.
if [ ! -x "$work/tools/sharpfuzz" ]; then
  dotnet tool install --tool-path "$work/tools" SharpFuzz.CommandLine --version 2.3.0 >/dev/null
fi

# Build, then instrument a copy (instrumenting rewrites the dll in place; the build output stays clean).
# A lock keeps two runs started at once from instrumenting the same copy twice.
(
  flock 9
  dotnet build "$here/Fuzz.csproj" -c Release -o "$work/build" -v quiet -nologo >/dev/null
  stamp=$(sha256sum "$work/build/Engine.Models.dll" "$work/build/engine-fuzz.dll" | sha256sum | cut -c1-16)
  if [ ! -f "$work/instrumented/$stamp" ]; then
    rm -rf "$work/instrumented" && mkdir -p "$work/instrumented"
    cp -r "$work/build/." "$work/instrumented/"
    "$work/tools/sharpfuzz" "$work/instrumented/Engine.Models.dll" >/dev/null
    touch "$work/instrumented/$stamp"
  fi
) 9>"$work/.lock"

findings="$work/findings/$target"
rm -rf "$findings" && mkdir -p "$work/findings"
export AFL_SKIP_BIN_CHECK=1 AFL_NO_UI=1 AFL_SKIP_CPUFREQ=1 AFL_NO_AFFINITY=1 AFL_I_DONT_CARE_ABOUT_MISSING_CRASHES=1
export DOTNET_TieredPGO=0
# -t: a .NET start and one input under load; an input that takes longer is a hang, which counts as a crash here.
afl-fuzz -V "$seconds" -t 10000 -m none -i "$here/corpus/$target" -o "$findings" -- "$(command -v dotnet)" "$work/instrumented/engine-fuzz.dll" "$target" >"$work/afl-$target.log" 2>&1 || {
  echo "afl-fuzz failed; its log: $work/afl-$target.log" >&2; tail -20 "$work/afl-$target.log" >&2; exit 1; }

stats="$findings/default/fuzzer_stats"
value() { awk -F' *: *' -v k="$1" '$1 == k { print $2 }' "$stats"; }
crashes=$(find "$findings/default/crashes" -type f -name 'id:*' | wc -l)
hangs=$(find "$findings/default/hangs" -type f -name 'id:*' | wc -l)
echo "$target: $(value execs_done) executions in $(value run_time) s, $(value execs_per_sec) exec/s, $(value edges_found) edges of $(value total_edges), corpus $(value corpus_count), crashes $crashes, hangs $hangs"
[ "$crashes" -eq 0 ] && [ "$hangs" -eq 0 ]
