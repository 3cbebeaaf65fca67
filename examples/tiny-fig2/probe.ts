// Stage-1 probe: how the stage-1 start (accuracy, average compute on the 60 held-out prompts)
// moves with the KL factor f and the exit offset, and what one RL step and one evaluation cost.
// Used once to choose fig2Config's dials; the numbers are in README.md.
//   tsx examples/tiny-fig2/probe.ts --out runs/fig2-probe --kl-factor 16 --offsets 0,-1,-2,-3
import { parseArgs } from "node:util";
import { join } from "node:path";
import { writeFile } from "node:fs/promises";
import { initBackend } from "@eecot/tensor-core";
import { bundledModelDir, evaluateModel, fig2Config, fig2Stage1, loadModelFolder, loadStage1, requireTokenizer, runRl } from "@eecot/cli";


const { values } = parseArgs({ options: { out: { type: "string" }, "kl-factor": { type: "string", default: "16" }, offsets: { type: "string", default: "0" }, "rl-steps": { type: "string", default: "2" }, "head-warmup": { type: "string", default: "0" } } });
await initBackend({ backend: "auto" });
const loaded = await loadModelFolder(bundledModelDir());
const tokenizer = requireTokenizer(loaded, "probe");
const base = loaded.model;
const f = Number(values["kl-factor"]);
const config0 = fig2Config(false, { klFactor: f });
const config = { ...config0, distill: { ...config0.distill, headWarmupEpochs: Number(values["head-warmup"]) } };
const dir = values.out ?? `runs/fig2-probe-f${f}`;
const t0 = performance.now();
const summary = await fig2Stage1(base, tokenizer, config, dir, (l) => console.error(l));
const rows: unknown[] = [{ offset: 0, accuracy: summary.stage1.accuracy, averageCompute: summary.stage1.averageCompute, meanLength: summary.stage1.meanLength, baseAccuracy: summary.base.accuracy, baseLength: summary.base.meanLength, stage1Seconds: (performance.now() - t0) / 1000 }];
console.error(JSON.stringify(rows[0]));
for (const offset of values.offsets!.split(",").map(Number).filter((x) => x !== 0)) {
  const model = await loadStage1(base, dir, offset);
  const t = performance.now();
  const r = await evaluateModel(base, model, tokenizer, config.heldOutExamples, { maxNewTokens: config.maxNewTokens, seed: 7, judge: false, label: `offset ${offset}` });
  model.dispose();
  rows.push({ offset, accuracy: r.metrics.accuracy, averageCompute: r.metrics.averageCompute, meanLength: r.metrics.meanLength, evalSeconds: (performance.now() - t) / 1000 });
  console.error(JSON.stringify(rows.at(-1)));
}
const steps = Number(values["rl-steps"]);
if (steps > 0) {
  const model = await loadStage1(base, dir, 0);
  const t = performance.now();
  const rl = await runRl({ base, model, tokenizer, train: config.rlExamples, heldOut: config.heldOutExamples.slice(0, 2), config: { ...config.rloo, steps, evalEvery: 0, checkpointEvery: 0, exitPenalty: 1.5, seed: 0 }, outDir: join(dir, "rl-timing"), evalMaxNewTokens: config.maxNewTokens });
  model.dispose();
  rows.push({ rlSteps: steps, rlSeconds: (performance.now() - t) / 1000, steps: rl.steps.length });
  console.error(JSON.stringify(rows.at(-1)));
}
await writeFile(join(dir, "probe.json"), JSON.stringify(rows, null, 2));
