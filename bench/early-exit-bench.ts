// Early-exit decoding at batch 1: every token forced to exit at the first exitable layer vs full
// depth (and full depth with every exit head evaluated, as the sampled policy runs before its
// heads learn to exit); wall-clock saved per decode step (prefill excluded, best of 5, the
// settings interleaved) against the FLOPs the compute accounting predicts. A 50% exit rate is
// the mean of the two runs (each token's cost is independent of the other tokens' exits apart
// from attention over the cache, which both runs share).
import { accountCompute, EarlyExitModel, tracesOfGeneration } from "@eecot/early-exit";
import type { BenchModel } from "./models.js";

interface Measured {
  readonly ms: number;
  readonly flopsSpent: number;
  readonly flopsFull: number;
}

export async function earlyExitDecodeBench(bench: BenchModel, decodeTokens: number): Promise<{ metric: string; value: number; unit: string }[]> {
  const base = { config: bench.config, params: bench.params, directory: bench.name };
  const model = EarlyExitModel.create(base, bench.config.exitLayers ? {} : { exitEvery: Math.max(1, Math.floor(bench.config.numLayers / 3)) });
  const exitLayer = model.exitLayers[0]!;
  const prompt = [[1, 2, 3, 4, 5, 6, 7, 8]];
  // Three settings: full depth; every token exits at the first exitable layer; mode "sample" with
  // fresh heads (p = sigmoid(−4) below the 0.1 gate): every head is evaluated and read back each
  // step, no token exits, so it is the heads' cost on top of full depth.
  const settings = [
    { forcedExitLayer: null, mode: "none" as const },
    { forcedExitLayer: exitLayer, mode: "none" as const },
    { forcedExitLayer: null, mode: "sample" as const },
  ];
  const options = (setting: (typeof settings)[number], maxNewTokens: number) => ({ maxNewTokens, temperature: 0, ...setting });
  const timed = async (setting: (typeof settings)[number], maxNewTokens: number) => {
    const start = performance.now();
    await model.generate(prompt, options(setting, maxNewTokens));
    return performance.now() - start;
  };
  const results: Awaited<ReturnType<EarlyExitModel["generate"]>>[] = [];
  for (const setting of settings) results.push(await model.generate(prompt, options(setting, decodeTokens + 1))); // warm-up
  // Per decode step, without the prompt's prefill (full depth either way): (1 + N) − 1 tokens,
  // as the best (1 + N)-token time minus the best 1-token time over 5 rounds; the settings take
  // turns within a round, so drift in the machine's speed hits them alike.
  const best = settings.map(() => ({ long: Infinity, short: Infinity }));
  for (let r = 0; r < 5; r++) {
    for (const [i, setting] of settings.entries()) {
      best[i]!.long = Math.min(best[i]!.long, await timed(setting, decodeTokens + 1));
      best[i]!.short = Math.min(best[i]!.short, await timed(setting, 1));
    }
  }
  const [full, exited, heads] = settings.map((_, i) => {
    const account = accountCompute(bench.config, tracesOfGeneration(results[i]!));
    return { ms: (best[i]!.long - best[i]!.short) / decodeTokens, flopsSpent: account.flopsSpent, flopsFull: account.flopsFullDepth };
  }) as [Measured, Measured, Measured];
  model.dispose();
  const wallSaved50 = 1 - (full.ms + exited.ms) / 2 / full.ms;
  const flopsSaved50 = 1 - (full.flopsSpent + exited.flopsSpent) / 2 / full.flopsFull;
  return [
    { metric: "decode batch 1, full depth", value: 1000 / full.ms, unit: "tokens/s" },
    { metric: `decode batch 1, exit at layer ${exitLayer}`, value: 1000 / exited.ms, unit: "tokens/s" },
    { metric: `decode batch 1, full depth, ${model.exitLayers.length} heads evaluated`, value: 1000 / heads.ms, unit: "tokens/s" },
    { metric: "50% exits: wall-clock saved", value: 100 * wallSaved50, unit: "%" },
    { metric: "50% exits: FLOPs saved (accounting)", value: 100 * flopsSaved50, unit: "%" },
    { metric: "wall-clock saving / FLOP saving", value: wallSaved50 / flopsSaved50, unit: "ratio" },
  ];
}
