#!/usr/bin/env bash
# Release check: build @eecot/early-exit and the packages it depends on, `pnpm pack` them, install
# the tarballs with plain npm in a fresh folder, and import + run them there.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/tgz"
cd "$root"
for p in tensor-core policy transformer early-exit; do
  npx -y pnpm@10 --filter "@eecot/$p" run build >/dev/null
  (cd "packages/$p" && npx -y pnpm@10 pack --pack-destination "$work/tgz" >/dev/null)
done
cd "$work"
npm init -y >/dev/null
npm install --no-audit --no-fund --ignore-scripts ./tgz/*.tgz >/dev/null
cat > check.mjs <<'JS'
import { initBackend } from "@eecot/tensor-core";
import { EarlyExitModel } from "@eecot/early-exit";
import { parseQwenConfig, initQwenParams } from "@eecot/transformer";
await initBackend({ backend: "wasm", quiet: true });
const config = parseQwenConfig({ model_type: "qwen3", vocab_size: 64, hidden_size: 32, intermediate_size: 64, num_hidden_layers: 4, num_attention_heads: 2, num_key_value_heads: 1, head_dim: 16, tie_word_embeddings: true });
const model = EarlyExitModel.create({ config, params: initQwenParams(config, 1), directory: "random" }, { exitLayers: [2], exitOffset: 4 });
const { sequences } = await model.generate([[1, 2, 3]], { maxNewTokens: 4, seed: 1 });
console.log(JSON.stringify({ tokens: sequences[0].tokens, exitLayers: sequences[0].exitLayers }));
JS
node check.mjs
