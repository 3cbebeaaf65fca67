#!/usr/bin/env bash
# GPU check for a machine with a GPU (none was available when this was written): installs the
# workspace if needed, type-checks and builds, runs the webgpu tests (test/gpu, which must not
# skip here), then benchmarks a Qwen3-architecture model with random weights on webgpu:
# prefill and decode tokens/s and a LoRA training step (bench/gpu-bench.ts).
#
#   bench/gpu-check.sh                  # Qwen3-0.6B shapes, then Qwen3-1.7B shapes
#   bench/gpu-check.sh --quick          # Qwen3-0.6B only, fewer tokens
#   bench/gpu-check.sh --compare-wasm   # also the same shapes at 2 layers on webgpu and wasm
#   bench/gpu-check.sh --make-bundle    # only build runs/gpu-bundle/ (see below), then exit
#
# Results: $OUT (set by the device runner) or runs/gpu-check/: gpu-check.log, one JSON per bench.
# Exit status: 0 when every step passed, 1 otherwise (later steps still run).
#
# Offline GPU machines (no npm registry; the workspace's node_modules are ~600 MB): make the
# bundle here with --make-bundle: runs/gpu-bundle/ (~34 MB: gpu-bench.ts and the eecot CLI
# bundled with tfjs and Dawn's dawn.node, tfjs's .wasm files, the tiny fixtures, run.sh). Carry
# that folder and run `bash runs/gpu-bundle/run.sh [--quick]` from the repository root: fixture
# check + benchmarks + a short calibrate/generate with the CLI, without vitest or a build. On the
# H200 used on 2026-11-28 (offline, no Node) Node 20's binary and Debian's libvulkan1/glvnd
# packages were carried too; see bench/README.md.
set -uo pipefail
cd "$(dirname "$0")/.."

QUICK=0
COMPARE_WASM=0
MAKE_BUNDLE=0
for arg in "$@"; do
  case "$arg" in
    --quick) QUICK=1 ;;
    --compare-wasm) COMPARE_WASM=1 ;;
    --make-bundle) MAKE_BUNDLE=1 ;;
    *) echo "gpu-check: unknown option $arg (expected --quick, --compare-wasm, --make-bundle)" >&2; exit 2 ;;
  esac
done

if [[ $MAKE_BUNDLE -eq 1 ]]; then
  set -e
  B=runs/gpu-bundle
  rm -rf "$B" && mkdir -p "$B/dist/linux-x64" "$B/fixtures"
  # Static imports of the optional packages, handed to tensor-core (a bundle cannot resolve them).
  cat >"$B/entry.ts" <<ENTRY
import * as webgpu from "$PWD/packages/tensor-core/node_modules/webgpu/index.js";
import * as tfjsWebgpu from "$PWD/packages/tensor-core/node_modules/@tensorflow/tfjs-backend-webgpu/dist/tf-backend-webgpu.node.js";
import { provideOptionalModule } from "@eecot/tensor-core";
provideOptionalModule("webgpu", webgpu);
provideOptionalModule("@tensorflow/tfjs-backend-webgpu", tfjsWebgpu);
await import("$PWD/bench/gpu-bench.ts");
ENTRY
  # --ignore-annotations keeps tfjs-backend-cpu's registering import; the banner gives the CJS
  # parts (tfjs-wasm finds its .wasm files via __dirname) what they expect in an ES module.
  node_modules/.bin/esbuild "$B/entry.ts" --bundle --ignore-annotations --platform=node --format=esm --target=node20 \
    --outfile="$B/gpu-bench.mjs" --tsconfig=tsconfig.json --log-level=error \
    --banner:js="import { createRequire as __cr } from 'node:module'; import { fileURLToPath as __fu } from 'node:url'; import { dirname as __dn } from 'node:path'; const require = __cr(import.meta.url); const __filename = __fu(import.meta.url); const __dirname = __dn(__filename);"
  # The eecot CLI itself, the same way (report PNGs need @resvg/resvg-js's native binary: left out,
  # the report then has SVGs only): `node runs/gpu-bundle/eecot.mjs --backend webgpu calibrate ...`.
  sed -e "s#bench/gpu-bench.ts#packages/cli/src/bin.ts#" "$B/entry.ts" >"$B/cli-entry.ts"
  node_modules/.bin/esbuild "$B/cli-entry.ts" --bundle --ignore-annotations --platform=node --format=esm --target=node20 \
    --outfile="$B/eecot.mjs" --tsconfig=tsconfig.json --log-level=error --external:@resvg/resvg-js \
    --banner:js="import { createRequire as __cr } from 'node:module'; import { fileURLToPath as __fu } from 'node:url'; import { dirname as __dn } from 'node:path'; const require = __cr(import.meta.url); const __filename = __fu(import.meta.url); const __dirname = __dn(__filename);"
  rm "$B/entry.ts" "$B/cli-entry.ts"
  cp -L packages/tensor-core/node_modules/webgpu/dist/linux-x64/dawn.node "$B/dist/linux-x64/"
  cp -L packages/tensor-core/node_modules/@tensorflow/tfjs-backend-wasm/dist/*.wasm "$B/"
  for f in qwen3-tiny-f32 qwen2-tiny-f32; do cp -r "packages/transformer/test/fixtures/$f" "$B/fixtures/"; done
  cp scripts/install-vulkan.sh "$B/"
  # The Vulkan loader, for machines whose NVIDIA driver has no distro libvulkan1 beside it.
  loader=$(ldconfig -p 2>/dev/null | awk '/libvulkan.so.1 .*x86-64/ { print $NF; exit }')
  if [[ -n "$loader" ]]; then mkdir -p "$B/lib" && cp -L "$loader" "$B/lib/libvulkan.so.1"; fi
  cat >"$B/run.sh" <<'RUN'
#!/usr/bin/env bash
# The offline GPU check (made by bench/gpu-check.sh --make-bundle): fixture logits + greedy
# decoding on webgpu, then the Qwen3-shaped benchmarks. Output: $OUT or this folder's out/.
set -uo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
OUT_DIR=${OUT:-$HERE/out}; mkdir -p "$OUT_DIR"
QUICK=0; [[ "${1:-}" == "--quick" ]] && QUICK=1
status=0
if ! ldconfig -p 2>/dev/null | grep -q 'libvulkan.so.1 ' && [[ -e "$HERE/lib/libvulkan.so.1" ]]; then
  export LD_LIBRARY_PATH="$HERE/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
  echo "gpu-check: no system Vulkan loader; using the bundled $HERE/lib/libvulkan.so.1"
fi
run() { echo "gpu-check: \$ $*"; timeout 420 "$@" 2>&1 | grep -v '^Warning: maxDynamic' | tee -a "$OUT_DIR/gpu-check.log"; [[ ${PIPESTATUS[0]} -eq 0 ]] || status=1; }
command -v nvidia-smi >/dev/null && nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader | tee -a "$OUT_DIR/gpu-check.log"
if ! ls /usr/share/vulkan/icd.d /etc/vulkan/icd.d 2>/dev/null | grep -q nvidia && ldconfig -p 2>/dev/null | grep -q libGLX_nvidia.so.0; then
  printf '{ "file_format_version": "1.0.0", "ICD": { "library_path": "libGLX_nvidia.so.0", "api_version": "1.3.0" } }\n' >"$OUT_DIR/nvidia_icd.json"
  export VK_ICD_FILENAMES="$OUT_DIR/nvidia_icd.json"
fi
node "$HERE/gpu-bench.mjs" --probe | tee -a "$OUT_DIR/gpu-check.log"; probe=${PIPESTATUS[0]}
[[ $probe -eq 0 ]] || echo "gpu-check: no hardware WebGPU adapter (probe status $probe); see $HERE/install-vulkan.sh for a software one"
run node "$HERE/gpu-bench.mjs" --backend webgpu --check-fixtures "$HERE/fixtures"
if [[ $probe -eq 0 ]]; then
  if [[ $QUICK -eq 1 ]]; then
    run node "$HERE/gpu-bench.mjs" --backend webgpu --preset qwen3-0.6b --prompt 128 --decode 16 --train-length 128 --train-steps 2 --json "$OUT_DIR/gpu-bench-qwen3-0.6b.json"
  else
    run node "$HERE/gpu-bench.mjs" --backend webgpu --preset qwen3-0.6b --prompt 512 --decode 64 --train-length 256 --train-steps 3 --json "$OUT_DIR/gpu-bench-qwen3-0.6b.json"
    run node "$HERE/gpu-bench.mjs" --backend webgpu --preset qwen3-1.7b --prompt 512 --decode 32 --train-length 256 --train-steps 2 --json "$OUT_DIR/gpu-bench-qwen3-1.7b.json"
  fi
  # The CLI end to end on the GPU: stage 1 (teacher, head warm-up, 10 steps, A.2) on the bundled
  # model (run from the repository root, where models/tiny-reasoner is), then sampled exits.
  if [[ -d models/tiny-reasoner ]]; then
    run node "$HERE/eecot.mjs" --backend webgpu calibrate --data "gsm-synthetic:12:maxSteps=1,tom:12" --out "$OUT_DIR/calibrate" --kl-factor 4 --steps 10 --head-warmup 4 --max-new-tokens 32 --held-out 4 --exit-loss soft
    run node "$HERE/eecot.mjs" --backend webgpu generate --adapter "$OUT_DIR/calibrate/adapter" --prompt "Tom has 3 apples and buys 4 more. How many apples does he have?" --exits sample --max-new-tokens 40
  fi
else
  run node "$HERE/gpu-bench.mjs" --backend webgpu --preset tiny --prompt 32 --decode 8 --train-length 32 --train-steps 2 --json "$OUT_DIR/gpu-bench-tiny.json"
fi
exit $status
RUN
  chmod +x "$B/run.sh" "$B/install-vulkan.sh"
  echo "gpu-check: bundle ready: $B ($(du -sh "$B" | cut -f1)); on the GPU machine: bash $B/run.sh [--quick]"
  exit 0
fi

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
step "build (tsup, every package)" 300 npx -y pnpm@10 -r --filter "./packages/*" run build

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
