#!/usr/bin/env bash
# Conversion and generation at LLaMA-2-7B shape within bounded memory (docs/SCALE.md): builds a
# synthetic random-weight BF16 checkpoint (13.5 GB), converts it with `sdllm convert` and
# generates from the converted file, each under /usr/bin/time -v, then prints peak resident
# memory, wall time, file size and tokens/s. Needs about 20 GB of free disk in DIR.
#   bench/convert-7b.sh [DIR]     (default: $SDLLM_BIG_DIR, else /tmp/sdllm-7b)
# SDLLM_CALIB: calibration text (default ../shared/data/text/wikitext-2-raw-test.txt);
# SDLLM_CALIB_TOKENS: calibration tokens (default 256).
set -euo pipefail
cd "$(dirname "$0")/.."
DIR=${1:-${SDLLM_BIG_DIR:-/tmp/sdllm-7b}}
CALIB=${SDLLM_CALIB:-../shared/data/text/wikitext-2-raw-test.txt}
TOKENS=${SDLLM_CALIB_TOKENS:-256}
mkdir -p "$DIR"
npx tsc -p tsconfig.json

timed() { # timed NAME CMD...: runs CMD under /usr/bin/time -v, its report in DIR/NAME.time
  local name=$1; shift
  echo "+ $*" | tee "$DIR/$name.cmd" >&2
  echo "  load before: $(uptime)" | tee -a "$DIR/$name.cmd" >&2
  /usr/bin/time -v -o "$DIR/$name.time" "$@"
}
rss_gb() { awk '/Maximum resident set size/ {printf "%.2f", $NF * 1024 / 1e9}' "$DIR/$1.time"; }
wall() { awk -F': ' '/Elapsed \(wall clock\)/ {print $2}' "$DIR/$1.time"; }

if [ ! -f "$DIR/checkpoint/model.safetensors.index.json" ]; then
  timed make node dist/tools/make-synthetic-checkpoint.js --out "$DIR/checkpoint" --shape 7b --shard-gb 5
fi
timed convert node bin/sdllm.js convert --model "$DIR/checkpoint" --out "$DIR/model.sdllm" --calib-data "$CALIB" --calib-tokens "$TOKENS" --json > "$DIR/convert.json"
timed generate node bin/sdllm.js generate --model "$DIR/model.sdllm" --prompt "Once upon a time" --max-new-tokens 16 > "$DIR/generate.out" 2> "$DIR/generate.err"

size=$(stat -c %s "$DIR/model.sdllm")
ckpt=$(du -sb "$DIR/checkpoint" | cut -f1)
echo "checkpoint (BF16):       $(awk -v b="$ckpt" 'BEGIN {printf "%.2f GB", b / 1e9}')"
echo "convert:                 wall $(wall convert), peak RSS $(rss_gb convert) GB"
echo "converted file:          $(awk -v b="$size" 'BEGIN {printf "%.2f GB", b / 1e9}')"
echo "generate (16 tokens):    wall $(wall generate), peak RSS $(rss_gb generate) GB = $(awk -v r="$(rss_gb generate)" -v b="$size" 'BEGIN {printf "%.2f", r * 1e9 / b}') x file size"
echo "speed:                   $(grep -o 'prompt eval.*' "$DIR/generate.err" "$DIR/generate.out" | head -1 | cut -d: -f2-)"
echo "load after:              $(uptime)"
