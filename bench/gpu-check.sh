#!/usr/bin/env bash
# GPU check for a machine with a GPU (none was available when this was written): installs the
# workspace if needed, type-checks and builds, runs the webgpu tests (test/gpu, which must not
# skip here), then benchmarks a Qwen3-architecture model with random weights on webgpu:
# prefill and decode tokens/s and a LoRA training step (bench/gpu-bench.ts).
#
#   bench/gpu-check.sh                  # Qwen3-0.6B shapes, then Qwen3-1.7B shapes
#   bench/gpu-check.sh --quick          # Qwen3-0.6B only, fewer tokens
#   bench/gpu-check.sh --compare-wasm   # also the same shapes at 2 layers on webgpu and wasm
#
# Results: $OUT (set by the device runner) or runs/gpu-check/: gpu-check.log, one JSON per bench.
# Exit status: 0 when every step passed, 1 otherwise (later steps still run).
set -uo pipefail
cd "$(dirname "$0")/.."

QUICK=0
COMPARE_WASM=0
for arg in "$@"; do
  case "$arg" in
    --quick) QUICK=1 ;;
    --compare-wasm) COMPARE_WASM=1 ;;
    *) echo "gpu-check: unknown option $arg (expected --quick, --compare-wasm)" >&2; exit 2 ;;
  esac
done

OUT_DIR=${OUT:-runs/gpu-check}
mkdir -p "$OUT_DIR"
LOG="$OUT_DIR/gpu-check.log"
: >"$LOG"
FAILED=()
log() { echo "gpu-check: $*" | tee -a "$LOG"; }
# step NAME TIMEOUT_S COMMAND...: runs one step with a time limit, output to the log.
step() {
  local name=$1 limit=$2
  shift 2
  log "== $name"
  local start=$SECONDS
  if timeout "$limit" "$@" 2>&1 | grep -v '^Warning: maxDynamic' | tee -a "$LOG"; [[ ${PIPESTATUS[0]} -eq 0 ]]; then
    log "ok: $name ($((SECONDS - start)) s)"
  else
    log "FAILED: $name ($((SECONDS - start)) s)"
    FAILED+=("$name")
  fi
}

# 1. Node and the workspace.
if ! command -v node >/dev/null 2>&1 || [[ $(node -p 'process.versions.node.split(".")[0]') -lt 20 ]]; then
  log "Node >= 20 is required (found: $(node --version 2>/dev/null || echo none))"
  exit 1
fi
log "node $(node --version), $(nproc) CPUs, $(uname -srm)"
command -v nvidia-smi >/dev/null 2>&1 && nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader 2>&1 | sed 's/^/gpu-check: nvidia-smi: /' | tee -a "$LOG"
if [[ ! -d node_modules/.pnpm || ! -e packages/tensor-core/node_modules/webgpu ]]; then
  step "install (pnpm, frozen lockfile; needs the npm registry)" 300 npx -y pnpm@10 install --frozen-lockfile
fi

# 2. A Vulkan driver Dawn can use. NVIDIA containers often mount the driver's Vulkan library
#    (libGLX_nvidia.so.0, with NVIDIA_DRIVER_CAPABILITIES including "graphics") but no ICD file.
icd_dirs="/usr/share/vulkan/icd.d /etc/vulkan/icd.d"
if ! ls $icd_dirs 2>/dev/null | grep -q nvidia && ldconfig -p 2>/dev/null | grep -q 'libGLX_nvidia.so.0'; then
  printf '{ "file_format_version": "1.0.0", "ICD": { "library_path": "libGLX_nvidia.so.0", "api_version": "1.3.0" } }\n' >"$OUT_DIR/nvidia_icd.json"
  export VK_ICD_FILENAMES="$PWD/$OUT_DIR/nvidia_icd.json"
  log "no NVIDIA Vulkan ICD file; using $VK_ICD_FILENAMES (libGLX_nvidia.so.0 is present)"
fi
npx tsx bench/gpu-bench.ts --probe 2>&1 | grep -v '^Warning: maxDynamic' | tee -a "$LOG"
probe=${PIPESTATUS[0]}
if [[ $probe -eq 1 && -z "${VK_ICD_FILENAMES:-}" ]]; then
  log "no WebGPU adapter: installing Mesa lavapipe so at least the code path runs (numbers will be CPU speed)"
  scripts/install-vulkan.sh 2>&1 | tee -a "$LOG"
  npx tsx bench/gpu-bench.ts --probe 2>&1 | grep -v '^Warning: maxDynamic' | tee -a "$LOG"
  probe=${PIPESTATUS[0]}
fi
case $probe in
  0) log "hardware WebGPU adapter found" ;;
  3) log "WARNING: only a software adapter (lavapipe): the NVIDIA Vulkan driver is not visible (set NVIDIA_DRIVER_CAPABILITIES=compute,utility,graphics, or install the driver's Vulkan ICD). Benchmarks will use --preset tiny." ;;
  *) log "no WebGPU adapter at all; the webgpu steps will fail" ;;
esac

# 3. Type-check and build.
step "type-check" 300 npx tsc -p tsconfig.json --noEmit
step "build" 300 npx -y pnpm@10 build

# 4. The webgpu tests (fixture logits, greedy decode, early-exit replay, training steps vs wasm).
step "webgpu tests (test/gpu)" 300 env EECOT_REQUIRE_WEBGPU=1 npx vitest run test/gpu

# 5. Benchmarks on webgpu.
bench() {
  local name=$1
  shift
  step "bench $name" 420 env EECOT_BACKEND=webgpu npx tsx bench/gpu-bench.ts --json "$OUT_DIR/gpu-bench-$name.json" "$@"
}
if [[ $probe -eq 0 ]]; then
  if [[ $QUICK -eq 1 ]]; then
    bench qwen3-0.6b --preset qwen3-0.6b --prompt 128 --decode 16 --train-length 128 --train-steps 2
  else
    bench qwen3-0.6b --preset qwen3-0.6b --prompt 512 --decode 64 --train-length 256 --train-steps 3
    bench qwen3-1.7b --preset qwen3-1.7b --prompt 512 --decode 32 --train-length 256 --train-steps 2
  fi
  if [[ $COMPARE_WASM -eq 1 ]]; then
    bench qwen3-0.6b-2layers --preset qwen3-0.6b --layers 2 --prompt 64 --decode 8 --train-length 64 --train-steps 2
    step "bench qwen3-0.6b-2layers on wasm" 420 env EECOT_BACKEND=wasm npx tsx bench/gpu-bench.ts --json "$OUT_DIR/gpu-bench-qwen3-0.6b-2layers-wasm.json" --preset qwen3-0.6b --layers 2 --prompt 64 --decode 8 --train-length 64 --train-steps 2
  fi
elif [[ $probe -eq 3 ]]; then
  bench tiny --preset tiny --prompt 32 --decode 8 --train-length 32 --train-steps 2
fi

if [[ ${#FAILED[@]} -gt 0 ]]; then
  log "failed steps: ${FAILED[*]}"
  exit 1
fi
log "all steps passed; results in $OUT_DIR"
