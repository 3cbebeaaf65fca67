// Appendix A.1 / A.2 for DeepSeek-R1-Distill-Qwen-1.5B (Qwen2 architecture, 28 layers, exits at
// 5, 10, 15, 20, 25): the KL-factor sweep with exits sampled from the target distribution, then
// stage-1 calibration and the learned-vs-target exit histograms, on GSM8K prompts. Without
// --model it runs on the bundled tiny model.
import { join } from "node:path";
import type { TaskExample } from "@eecot/datasets";
import { buildTeacherTrajectories, calibrate, calibrationReport, sweepKlFactors } from "@eecot/distill";
import { EarlyExitModel, loadEarlyExitAdapters } from "@eecot/early-exit";
import { judgeConfigFromEnv, writeReport } from "@eecot/eval";
import { currentBackend } from "@eecot/tensor-core";
import { gsmExamples, promptIds, runScript } from "@eecot/cli";
import { exampleCommand, gsm8kExamples, parseExample, setUp, takeExamples } from "../example-args.js";

export async function main(argv: readonly string[]): Promise<void> {
  const command = exampleCommand("r1-distill-calibration", "Appendix A.1 / A.2 for DeepSeek-R1-Distill-Qwen-1.5B: the KL-factor sweep, stage-1 calibration, learned vs target exits");
  const args = parseExample(command, argv);
  const { model: base, tokenizer } = await setUp(args);
  const started = performance.now();
  const n = args.model ? { prompts: 50, calibration: 128, steps: 200, tokens: 256 } : args.quick ? { prompts: 3, calibration: 6, steps: 3, tokens: 32 } : { prompts: 16, calibration: 32, steps: 60, tokens: 64 };
  // GSM8K file: stage-1 prompts first, then the held-out ones (which the A.1 sweep also uses: it
  // trains nothing). Fewer than asked for is reported, none refused.
  const file = args.gsm8k ? gsm8kExamples(args.gsm8k) : null;
  const log = (line: string) => process.stderr.write(`${line}\n`);
  const gsm = (count: number, offset: number, what: string): TaskExample[] =>
    file ? takeExamples(file, offset, count, `${what} from ${args.gsm8k}`, log) : gsmExamples(count, args.seed + offset);
  const decode = (ids: readonly number[]) => tokenizer.decode(ids, { skipSpecialTokens: true });
  const padTokenId = tokenizer.padTokenId ?? 0;
  const exitLayers = [...EarlyExitModel.create(base).exitLayers];

  // A.1: exits sampled from the KL-heuristic target itself, per KL factor (no training).
  const sweepPrompts = gsm(n.prompts, file ? n.calibration : 7000, "A.1 prompts").map((e) => ({ promptTokens: promptIds(tokenizer, e), question: e.prompt }));
  const sweep = await sweepKlFactors(base, exitLayers, sweepPrompts, { maxNewTokens: n.tokens, stopTokenIds: tokenizer.eosTokenIds, padTokenId, decode, judge: judgeConfigFromEnv(), seed: args.seed });
  console.log("A.1  f      early-exit  ALS");
  for (const row of sweep.rows) console.log(`     ${String(row.klFactor).padEnd(6)} ${(100 * row.earlyExitRate).toFixed(1).padStart(9)}% ${(100 * row.averageLayerSavings).toFixed(1).padStart(5)}%`);

  // Stage 1 and A.2 on held-out prompts.
  const calibrationSet = gsm(n.calibration, 0, "stage-1 prompts");
  const heldOut = gsm(n.prompts, file ? calibrationSet.length : 5000, "held-out prompts");
  const { trajectories } = await buildTeacherTrajectories(base, [...calibrationSet, ...heldOut].map((e) => ({ id: e.id, promptTokens: promptIds(tokenizer, e) })), {
    maxNewTokens: n.tokens,
    stopTokenIds: tokenizer.eosTokenIds,
    padTokenId,
    decode,
    cacheDir: join(args.out, "teacher-cache"),
  });
  const student = EarlyExitModel.create(base, { seed: args.seed });
  const result = await calibrate(student, trajectories.slice(0, calibrationSet.length), {
    outDir: join(args.out, "stage1"),
    config: { klFactor: 1, steps: n.steps, seed: args.seed, ...(args.model ? { learningRates: { lora: 1e-5, heads: 1e-5 } } : { learningRates: { lora: 2e-3, heads: 5e-3 } }) },
    padTokenId,
  });
  student.dispose();
  const trained = await loadEarlyExitAdapters(result.adapterDir!, base);
  const a2 = await calibrationReport(trained, trajectories.slice(calibrationSet.length), { klFactor: 1, padTokenId, description: `learned vs target, f = 1, ${heldOut.length} held-out prompts` });
  trained.dispose();
  console.log(`A.2  learned early-exit rate ${(100 * a2.comparison.learnedEarlyExitRate).toFixed(1)}% vs target ${(100 * a2.comparison.targetEarlyExitRate).toFixed(1)}%, mean per-token TV ${a2.comparison.meanTokenTotalVariation.toFixed(3)}`);

  const written = await writeReport(join(args.out, "report"), {
    title: `A.1 / A.2: ${base.directory}`,
    run: { model: base.directory, date: new Date().toISOString(), seed: args.seed, backend: currentBackend()?.name ?? "unknown", durations: [{ stage: "total", seconds: (performance.now() - started) / 1000 }], numLayers: base.config.numLayers, exitableLayers: exitLayers },
    judge: { enabled: judgeConfigFromEnv() !== null },
    klSweep: { promptCount: sweep.promptCount, rows: sweep.rows },
    calibration: { comparison: a2.comparison, numLayers: base.config.numLayers, description: a2.description },
  });
  console.log(`r1-distill-calibration: report ${written.htmlPath}`);
}

if (import.meta.url === `file://${process.argv[1]}`) await runScript("r1-distill-calibration", () => main(process.argv.slice(2)));
