#!/usr/bin/env bash
# Real scale on a GPU: for R1-Distill-Qwen-1.5B and Qwen3-4B (seeded random weights from
# `eecot make-checkpoint`, true shapes) prints checkpoint write and load time, GPU memory, decode
# tokens/s at batch 1 / 8 / 32 / 64, one stage-1 step, and three RLOO steps at the paper's
# settings (8 prompts × k = 4, 512 new tokens) in s/step with the projected time of 380 steps
# (bench/real-scale.ts). Budget: ≤ 8 minutes on an H200 (each part has its own time limit, so a
# slow part leaves the others their time and its partial numbers).
#
#   bash bench/gpu-real-scale.sh --make-bundle      # here: build runs/real-scale-bundle/ (self-contained)
#   bash runs/real-scale-bundle/run.sh              # on the GPU machine: both presets on webgpu
#   bash runs/real-scale-bundle/run.sh --tiny       # shrunken presets (make-checkpoint --tiny), short
#                                                   #   rollouts: the whole path in a few minutes on lavapipe
#   bash bench/gpu-real-scale.sh [--tiny]           # the same from a checkout with node_modules (tsx)
#
# The bundle: one esbuild file holding the eecot CLI and bench/real-scale.ts with tfjs and Dawn,
# dawn.node, tfjs's .wasm files, the Vulkan loader/glvnd libraries of this machine, and Node
# itself (xz) for machines without Node ≥ 20. Output: $OUT (set by the device runner) or
# runs/real-scale/: real-scale.log, one JSON per preset, nvidia-smi samples.
# Exit status: 0 when every part passed, 1 otherwise.
set -uo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"

if [[ "${1:-}" == "--make-bundle" ]]; then
  set -e
  cd "$HERE/.."
  B=runs/real-scale-bundle
  # bin/ holds the program with what it finds beside itself (tfjs's .wasm files, dist/…/dawn.node);
  # the CLI reads its version from ../package.json.
  rm -rf "$B" && mkdir -p "$B/bin/dist/linux-x64" "$B/lib"
  # Static imports of the optional packages, handed to tensor-core (a bundle cannot resolve them);
  # the first argument picks the program: `eecot ...` or `real-scale ...`.
  cat >"$B/entry.ts" <<ENTRY
import * as webgpu from "$PWD/packages/tensor-core/node_modules/webgpu/index.js";
import * as tfjsWebgpu from "$PWD/packages/tensor-core/node_modules/@tensorflow/tfjs-backend-webgpu/dist/tf-backend-webgpu.node.js";
import { provideOptionalModule } from "@eecot/tensor-core";
provideOptionalModule("webgpu", webgpu);
provideOptionalModule("@tensorflow/tfjs-backend-webgpu", tfjsWebgpu);
const program = process.argv.splice(2, 1)[0];
if (program === "eecot") await import("$PWD/packages/cli/src/bin.ts");
else if (program === "real-scale") await import("$PWD/bench/real-scale.ts");
else throw new Error(\`real-scale bundle: first argument must be eecot or real-scale, got \${program}\`);
ENTRY
  # esbuild through tsx's dependency (no esbuild binary at the root). --ignore-annotations keeps
  # tfjs-backend-cpu's registering import; the banner gives the CJS parts (tfjs-wasm finds its
  # .wasm files via __dirname) what they expect in an ES module.
  node --input-type=module -e "
    import { createRequire } from 'node:module';
    const esbuild = createRequire(createRequire(import.meta.url + '/').resolve('tsx/package.json'))('esbuild');
    await esbuild.build({
      entryPoints: ['$B/entry.ts'], bundle: true, ignoreAnnotations: true, platform: 'node', format: 'esm', target: 'node20',
      outfile: '$B/bin/real-scale.mjs', tsconfig: 'tsconfig.json', logLevel: 'error', external: ['@resvg/resvg-js'],
      banner: { js: \"import { createRequire as __cr } from 'node:module'; import { fileURLToPath as __fu } from 'node:url'; import { dirname as __dn } from 'node:path'; const require = __cr(import.meta.url); const __filename = __fu(import.meta.url); const __dirname = __dn(__filename);\" },
    });"
  rm "$B/entry.ts"
  cp -L packages/tensor-core/node_modules/webgpu/dist/linux-x64/dawn.node "$B/bin/dist/linux-x64/"
  cp -L packages/tensor-core/node_modules/@tensorflow/tfjs-backend-wasm/dist/*.wasm "$B/bin/"
  cp packages/cli/package.json "$B/package.json"
  for lib in libvulkan.so.1 libGLdispatch.so.0 libGLX.so.0; do
    path=$(ldconfig -p 2>/dev/null | awk -v name="$lib" '$1 == name && /x86-64/ { print $NF; exit }')
    if [[ -n "$path" ]]; then cp -L "$path" "$B/lib/$lib"; fi
  done
  xz -T2 -6 -c "$(command -v node)" >"$B/node.xz"
  cp bench/gpu-real-scale.sh "$B/run.sh"
  chmod +x "$B/run.sh"
  echo "real-scale: bundle ready: $B ($(du -sh "$B" | cut -f1)); on the GPU machine: bash $B/run.sh [--tiny]"
  exit 0
fi

TINY=0
for arg in "$@"; do
  case "$arg" in
    --tiny) TINY=1 ;;
    *) echo "real-scale: unknown option $arg (expected --make-bundle or --tiny)" >&2; exit 2 ;;
  esac
done

# Inside the bundle: node + real-scale.mjs; in a checkout: tsx on the sources.
if [[ -e "$HERE/bin/real-scale.mjs" ]]; then
  NODE=node
  if ! command -v node >/dev/null 2>&1 || [[ $(node -p 'process.versions.node.split(".")[0]') -lt 20 ]]; then
    mkdir -p "${TMPDIR:-/tmp}/real-scale-node" && xz -dc "$HERE/node.xz" >"${TMPDIR:-/tmp}/real-scale-node/node" && chmod +x "${TMPDIR:-/tmp}/real-scale-node/node"
    NODE="${TMPDIR:-/tmp}/real-scale-node/node"
  fi
  EECOT=("$NODE" "$HERE/bin/real-scale.mjs" eecot)
  BENCH=("$NODE" "$HERE/bin/real-scale.mjs" real-scale)
  if ! ldconfig -p 2>/dev/null | grep -q 'libvulkan.so.1 '; then export LD_LIBRARY_PATH="$HERE/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"; fi
else
  cd "$HERE/.."
  EECOT=(npx tsx packages/cli/src/bin.ts)
  BENCH=(npx tsx bench/real-scale.ts)
fi
OUT_DIR=${OUT:-runs/real-scale}
mkdir -p "$OUT_DIR"
LOG="$OUT_DIR/real-scale.log"
: >"$LOG"
WORK=${REAL_SCALE_WORK:-${TMPDIR:-/tmp}/real-scale-checkpoints}
mkdir -p "$WORK"
status=0
log() { echo "real-scale: $*" | tee -a "$LOG"; }
# part NAME LIMIT_S COMMAND...: one part with a time limit; its output goes to the log.
part() {
  local name=$1 limit=$2
  shift 2
  log "== $name (limit ${limit} s): $*"
  local start=$SECONDS
  if timeout "$limit" "$@" 2>&1 | grep --line-buffered -v -e '^Warning: maxDynamic' -e 'MiB/s  eta' | tee -a "$LOG"; [[ ${PIPESTATUS[0]} -eq 0 ]]; then
    log "ok: $name ($((SECONDS - start)) s)"
  else
    log "FAILED or timed out: $name ($((SECONDS - start)) s)"
    status=1
  fi
}

# NVIDIA containers often mount the driver's Vulkan library but no ICD file.
if ! ls /usr/share/vulkan/icd.d /etc/vulkan/icd.d 2>/dev/null | grep -q nvidia && ldconfig -p 2>/dev/null | grep -q libGLX_nvidia.so.0; then
  printf '{ "file_format_version": "1.0.0", "ICD": { "library_path": "libGLX_nvidia.so.0", "api_version": "1.3.0" } }\n' >"$OUT_DIR/nvidia_icd.json"
  export VK_ICD_FILENAMES="$(cd "$OUT_DIR" && pwd)/nvidia_icd.json"
fi
log "$(date -u +%FT%TZ) $(nproc) CPUs, $(uname -srm); tiny=$TINY"
SAMPLER=""
if command -v nvidia-smi >/dev/null 2>&1; then
  nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader | tee -a "$LOG"
  # GPU memory in use, once a second, for the peak per preset.
  nvidia-smi --query-gpu=timestamp,memory.used --format=csv,noheader,nounits -l 1 >"$OUT_DIR/nvidia-smi.csv" 2>/dev/null &
  SAMPLER=$!
fi
export EECOT_BACKEND=${EECOT_BACKEND:-webgpu}

if [[ $TINY -eq 1 ]]; then
  WRITE_FLAGS=(--tiny --dtype f32)
  # Every part at minimal sizes: lavapipe takes seconds per step at the full 151,936-token vocabulary.
  BENCH_FLAGS=(--batches 1,8,32,64 --prompt 8 --decode 2 --stage1-length 16 --stage1-sequences 1 --exit-samples 2 --rl-steps 3 --prompts 2 --k 2 --max-new-tokens 4)
  LIMITS=(120 400)
else
  WRITE_FLAGS=(--dtype bf16)
  BENCH_FLAGS=(--batches 1,8,32,64 --prompt 64 --decode 8 --stage1-length 256 --rl-steps 3 --prompts 8 --k 4 --max-new-tokens 512)
  LIMITS=(60 140) # 1.5B; the 4B gets (90 190): 480 s in all
fi
# The 1.5B first: if the 4B runs out of time, the 1.5B's numbers are complete.
for preset in r1-distill-qwen-1.5b qwen3-4b; do
  dir="$WORK/$preset"
  rm -rf "$dir"
  [[ $preset == qwen3-4b && $TINY -eq 0 ]] && LIMITS=(90 190)
  part "$preset: make-checkpoint" "${LIMITS[0]}" "${EECOT[@]}" make-checkpoint --preset "$preset" --out "$dir" "${WRITE_FLAGS[@]}"
  [[ -d "$dir" ]] || continue
  part "$preset: real-scale bench" "${LIMITS[1]}" "${BENCH[@]}" --model "$dir" --json "$OUT_DIR/real-scale-$preset.json" "${BENCH_FLAGS[@]}"
  if [[ -n "$SAMPLER" ]]; then
    peak=$(awk -F', ' '{ if ($2 + 0 > max) max = $2 + 0 } END { print max + 0 }' "$OUT_DIR/nvidia-smi.csv")
    log "$preset: peak GPU memory in use so far (nvidia-smi): ${peak} MiB"
  fi
  rm -rf "$dir" # 8 GB for the 4B
done
[[ -n "$SAMPLER" ]] && kill "$SAMPLER" 2>/dev/null
log "done (status $status); results in $OUT_DIR"
exit $status
