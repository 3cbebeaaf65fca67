// The paper's Qwen3-4B pipeline: stage 1 on GSM8K + theory of mind, the A.1 sweep, then RLOO
// with the paper's settings, evaluation and the report. Without --model it runs the same
// pipeline on the bundled tiny model (with --quick: a smoke run of a minute or two).
import { loadGsm8k, gsm8kToTaskExample, type TaskExample } from "@eecot/datasets";
import { demoConfig, gsmExamples, runPipeline, tomExamples, type PipelineConfig } from "@eecot/cli";
import { parseExampleArgs, setUp } from "../example-args.js";

export function paperConfig(gsm8kPath: string | null, seed: number): PipelineConfig {
  const gsm = (count: number, offset: number): TaskExample[] => {
    if (!gsm8kPath) return gsmExamples(count, seed + offset);
    const { examples } = loadGsm8k(gsm8kPath);
    return examples.slice(offset, offset + count).map((e) => gsm8kToTaskExample(e, gsm8kPath));
  };
  return {
    calibrationExamples: [...gsm(128, 0), ...tomExamples(128, seed + 1)],
    heldOutExamples: [...gsm(50, 5000), ...tomExamples(50, seed + 2, 1)],
    rlExamples: [...gsm(2000, 128), ...tomExamples(1000, seed + 3)],
    sweepExamples: gsm(50, 6000),
    klFactors: [0.25, 0.5, 1, 2, 4],
    maxNewTokens: 512,
    // Reference-code settings: Adam 1e-5 for both groups, f = 1, 4 prescriptions per sequence.
    distill: { klFactor: 1, steps: 200, batchSize: 2, gradientAccumulation: 4, learningRates: { lora: 1e-5, heads: 1e-5 }, checkpointEvery: 25 },
    // The paper's stage 2 on Qwen3-4B: 380 steps, k = 4, λ = 1.5, β = 0.05 (small-model runs).
    rloo: { steps: 380, promptsPerStep: 8, samplesPerPrompt: 4, maxNewTokens: 512, exitPenalty: 1.5, klCoefficient: 0.05, learningRates: { lora: 1e-5, heads: 1e-5 }, evalEvery: 20, checkpointEvery: 20 },
    viewerSamples: 3,
    seed,
  };
}

export async function main(argv: readonly string[]): Promise<void> {
  const args = parseExampleArgs(argv, "qwen3-4b-rl");
  const { model, tokenizer } = await setUp(args);
  const config = args.model ? paperConfig(args.gsm8k, args.seed) : demoConfig(args.quick, args.seed);
  const result = await runPipeline(model, tokenizer, config, args.out);
  console.log(`qwen3-4b-rl: accuracy ${(100 * result.before.metrics.accuracy).toFixed(1)}% → ${(100 * result.after.metrics.accuracy).toFixed(1)}%, average compute ${(100 * result.before.metrics.averageCompute).toFixed(1)}% → ${(100 * result.after.metrics.averageCompute).toFixed(1)}%; report ${result.reportPath}`);
}

if (import.meta.url === `file://${process.argv[1]}`) await main(process.argv.slice(2));
