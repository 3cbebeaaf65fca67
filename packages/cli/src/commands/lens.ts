// `eecot lens`: the logits of the last position and, for every layer, the logit lens (final norm
// + unembedding applied to that layer's residual): top tokens and KL(final ‖ layer).
import type { Command } from "commander";
import { tf } from "@eecot/tensor-core";
import { qwenForward, unembed } from "@eecot/transformer";
import { loadModelFolder, parseIds, requireTokenizer, startBackend, validateVocabulary } from "../setup.js";
import { bundledModelDir } from "../bundled.js";
import { positiveIntegerFlag } from "../flags.js";

interface LensOptions {
  model?: string;
  text?: string;
  ids?: string;
  top: string;
  json?: boolean;
}

/** Log-softmax of a row in float64. */
function logSoftmax(row: ArrayLike<number>): Float64Array {
  let max = -Infinity;
  for (let i = 0; i < row.length; i++) max = Math.max(max, row[i]!);
  let sum = 0;
  for (let i = 0; i < row.length; i++) sum += Math.exp(row[i]! - max);
  const lse = max + Math.log(sum);
  return Float64Array.from(row as ArrayLike<number>, (v) => v - lse);
}

/** KL(p ‖ q) = Σ p (log p − log q) from log-probabilities. */
export function klDivergence(logP: Float64Array, logQ: Float64Array): number {
  let kl = 0;
  for (let i = 0; i < logP.length; i++) kl += Math.exp(logP[i]!) * (logP[i]! - logQ[i]!);
  return Math.max(0, kl);
}

function topTokens(row: ArrayLike<number>, k: number): number[] {
  return Array.from({ length: row.length }, (_, i) => i)
    .sort((a, b) => row[b]! - row[a]!)
    .slice(0, k);
}

export function registerLens(program: Command): void {
  program
    .command("lens")
    .description("logit lens at the last position: every layer's top tokens and KL(final ‖ layer)")
    .option("--model <dir>", "Hugging Face model folder (config.json + safetensors) (default: the bundled models/tiny-reasoner)")
    .option("--text <string>", "input text (needs tokenizer.json in the folder)")
    .option("--ids <list>", "input token ids, comma-separated, e.g. 1,2,3")
    .option("--top <k>", "top tokens to show per layer", "5")
    .option("--json", "print one JSON document on stdout")
    .action(async (options: LensOptions, command: Command) => {
      options.model ??= bundledModelDir();
      if (!options.text === !options.ids) throw new Error("lens needs exactly one of --text or --ids");
      // Flags are checked before the backend starts and the model loads.
      const k = positiveIntegerFlag(options.top, "--top");
      const givenIds = options.ids ? parseIds(options.ids) : null;
      const backend = await startBackend(command);
      const loaded = await loadModelFolder(options.model);
      const { config, params } = loaded.model;
      const ids = givenIds ?? requireTokenizer(loaded, "--text").encode(options.text!);
      validateVocabulary(ids, config.vocabSize);
      const T = ids.length;
      const out = qwenForward(params, config, [ids], { outputHiddenStates: true, lastPositionOnly: true });
      const finalLogits = Array.from(await out.logits!.data());
      const finalLog = logSoftmax(finalLogits);
      const layers = [];
      for (let l = 1; l <= config.numLayers; l++) {
        const lens = tf.tidy(() => unembed(params, config, tf.reshape(tf.slice(out.hiddenStates[l]!, [0, T - 1, 0], [1, 1, config.hiddenSize]), [1, config.hiddenSize]) as tf.Tensor2D));
        const row = Array.from(await lens.data());
        lens.dispose();
        const logQ = logSoftmax(row);
        layers.push({
          layer: l,
          klToFinal: klDivergence(finalLog, logQ),
          top: topTokens(row, k).map((id) => ({ id, token: loaded.tokenizer?.decode([id]) ?? null, logit: row[id]!, prob: Math.exp(logQ[id]!) })),
        });
      }
      tf.dispose([out.logits!, ...out.hiddenStates]);
      if (options.json) {
        process.stdout.write(JSON.stringify({ model: options.model, backend: backend.name, ids, logits: finalLogits, layers }) + "\n");
        return;
      }
      const show = (id: number) => (loaded.tokenizer ? JSON.stringify(loaded.tokenizer.decode([id])) : `#${id}`);
      process.stdout.write(`input: ${T} tokens; last-position top-${k}: ${topTokens(finalLogits, k).map(show).join(" ")}\n`);
      process.stdout.write(`layer  KL(final‖layer)  top tokens (prob)\n`);
      for (const layer of layers) {
        const tops = layer.top.map((t) => `${show(t.id)} ${t.prob.toFixed(3)}`).join(", ");
        process.stdout.write(`${String(layer.layer).padStart(5)}  ${layer.klToFinal.toFixed(5).padStart(15)}  ${tops}\n`);
      }
    });
}
