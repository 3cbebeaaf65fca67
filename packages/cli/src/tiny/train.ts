// Trains the bundled tiny reasoner from scratch: tokenizer from the training text, a small
// Qwen3 (qk-norm, GQA, tied embeddings), supervised training on worked solutions, evaluation,
// depth analysis, and a Hugging Face folder with a model card. Checkpoints resume exactly.
import { appendFile, mkdir, readFile, rm, writeFile } from "node:fs/promises";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { Rng, tf, writeSafetensors, loadCheckpointTensors, openSafetensors, replaceDirectory, type RngState, type SafetensorsTensor } from "@eecot/tensor-core";
import {
  buildTokenizer,
  createTokenizerConfig,
  LanguageModelTrainer,
  initQwenParams,
  loadTokenizer,
  parseQwenConfig,
  paramsFromTensors,
  resolveLmTrainingConfig,
  saveQwenModel,
  checkpointRecords,
  writeTokenizerFolder,
  type LmBatch,
  type QwenConfig,
  type Tokenizer,
} from "@eecot/transformer";
import type { TaskExample } from "@eecot/datasets";
import { chatPrompt } from "../chat.js";
import { createProgress } from "../progress.js";
import { buildTinyData, targetAnswer, type TinyData, type TinyDataConfig } from "./data.js";

/** Everything that determines the bundled model (the model card prints it). */
export interface TinyTrainingConfig {
  readonly data: TinyDataConfig;
  /** Tokenizer size (BPE merges over words + single digits + ChatML tokens), e.g. 1024. */
  readonly vocabSize: number;
  readonly hiddenSize: number;
  readonly intermediateSize: number;
  readonly numLayers: number;
  readonly numHeads: number;
  readonly numKvHeads: number;
  readonly headDim: number;
  /** Exitable layers declared in config.json (`early_exit_layers`). */
  readonly exitLayers: readonly number[];
  /** Optimiser steps, e.g. 1500. */
  readonly steps: number;
  /** Sequences per step, e.g. 16. */
  readonly batchSize: number;
  readonly learningRate: number;
  readonly warmupSteps: number;
  /** Evaluate held-out loss every N steps, e.g. 100. */
  readonly evalEvery: number;
  /** Write a resumable checkpoint every N steps, e.g. 100. */
  readonly checkpointEvery: number;
  readonly seed: number;
}

export const DEFAULT_TINY_TRAINING_CONFIG: TinyTrainingConfig = {
  data: { gsmTrain: 12000, tomTrain: 12000, heldOut: 200, seed: 0 },
  vocabSize: 1024,
  hiddenSize: 128,
  intermediateSize: 384,
  numLayers: 8,
  numHeads: 4,
  numKvHeads: 2,
  headDim: 32,
  exitLayers: [2, 4, 6],
  steps: 900,
  batchSize: 16,
  learningRate: 4e-3,
  warmupSteps: 40,
  evalEvery: 100,
  checkpointEvery: 100,
  seed: 0,
};

export function tinyModelConfig(config: TinyTrainingConfig, vocabSize: number, tokenizer: Tokenizer): QwenConfig {
  return parseQwenConfig({
    model_type: "qwen3",
    vocab_size: vocabSize,
    hidden_size: config.hiddenSize,
    intermediate_size: config.intermediateSize,
    num_hidden_layers: config.numLayers,
    num_attention_heads: config.numHeads,
    num_key_value_heads: config.numKvHeads,
    head_dim: config.headDim,
    rope_theta: 10000,
    rms_norm_eps: 1e-6,
    tie_word_embeddings: true,
    max_position_embeddings: 512,
    eos_token_id: tokenizer.eosTokenIds[0],
    early_exit_layers: config.exitLayers,
  });
}

/** A training example as token ids plus where the answer starts. */
export interface EncodedExample {
  readonly ids: number[];
  readonly promptLength: number;
  readonly task: string;
}

export function encodeExample(tokenizer: Tokenizer, example: TaskExample): EncodedExample {
  const prompt = tokenizer.encode(chatPrompt(tokenizer, example.prompt), { addSpecialTokens: false });
  const answer = tokenizer.encode(`${targetAnswer(example)}<|im_end|>`, { addSpecialTokens: false });
  return { ids: [...prompt, ...answer], promptLength: prompt.length, task: example.task };
}

/** Right-padded batch; the loss covers the answer tokens only. */
export function makeBatch(examples: readonly EncodedExample[], padId: number): LmBatch {
  const width = Math.max(...examples.map((e) => e.ids.length));
  return {
    ids: examples.map((e) => [...e.ids, ...Array<number>(width - e.ids.length).fill(padId)]),
    attentionMask: examples.map((e) => [...e.ids.map(() => 1), ...Array<number>(width - e.ids.length).fill(0)]),
    // lossMask[t] weights predicting token t+1: answer tokens are positions ≥ promptLength.
    lossMask: examples.map((e) => Array.from({ length: width }, (_, t) => (t + 1 >= e.promptLength && t + 1 < e.ids.length ? 1 : 0))),
  };
}

/** Batches of one task at a time (similar lengths, little padding), in a seeded order. */
export function batchSchedule(examples: readonly EncodedExample[], batchSize: number, steps: number, rng: Rng): number[][] {
  const byTask = new Map<string, number[]>();
  examples.forEach((e, i) => byTask.set(e.task, [...(byTask.get(e.task) ?? []), i]));
  const pools = [...byTask.values()];
  const cursors = pools.map(() => 0);
  const orders = pools.map((pool) => rng.shuffle([...pool]));
  const schedule: number[][] = [];
  for (let step = 0; step < steps; step++) {
    const p = step % pools.length;
    const order = orders[p]!;
    if (cursors[p]! + batchSize > order.length) {
      orders[p] = rng.shuffle([...pools[p]!]);
      cursors[p] = 0;
    }
    schedule.push(orders[p]!.slice(cursors[p]!, cursors[p]! + batchSize));
    cursors[p]! += batchSize;
  }
  return schedule;
}

interface CheckpointState {
  step: number;
  rng: RngState;
  config: TinyTrainingConfig;
  /** Steps of each training phase (a warm restart starts a new phase). */
  phases: number[];
  /** Training seconds and padded tokens so far, across resumes. */
  seconds?: number;
  tokens?: number;
}

async function saveCheckpoint(dir: string, trainer: LanguageModelTrainer, config: QwenConfig, state: CheckpointState): Promise<void> {
  const staging = `${dir}.tmp-${process.pid}`;
  await rm(staging, { recursive: true, force: true });
  await mkdir(staging, { recursive: true });
  await writeSafetensors(join(staging, "model.safetensors"), await checkpointRecords(config, trainer.params));
  // Slots are stored by variable position (tfjs matches Adam moments to variables by position;
  // variable names carry a per-process instance suffix).
  const position = new Map(trainer.variables.map((v, i) => [v.name, i]));
  const slotName = (name: string) => {
    if (name === "iter") return name;
    const [variable, moment] = [name.slice(0, name.lastIndexOf("/")), name.slice(name.lastIndexOf("/") + 1)];
    return `${moment}.${position.get(variable)}`;
  };
  const optimizerWeights = await trainer.optimizer.getWeights();
  const records: Record<string, SafetensorsTensor> = {};
  for (const { name, tensor } of optimizerWeights) {
    records[slotName(name)] =
      tensor.dtype === "int32"
        ? { dtype: "I32", shape: [...tensor.shape], data: (await tensor.data()) as Int32Array }
        : { dtype: "F32", shape: [...tensor.shape], data: (await tensor.data()) as Float32Array };
  }
  await writeSafetensors(join(staging, "optimizer.safetensors"), records);
  await writeFile(join(staging, "state.json"), JSON.stringify({ ...state, trainerStep: trainer.step }, null, 2));
  await replaceDirectory(staging, dir);
}

export interface TinyTrainingResult {
  readonly config: QwenConfig;
  readonly tokenizer: Tokenizer;
  readonly data: TinyData;
  readonly trainer: LanguageModelTrainer;
  readonly seconds: number;
  readonly tokensSeen: number;
  readonly finalTrainLoss: number;
  readonly finalEvalLoss: number;
  /** Steps per phase, e.g. [900, 1400]. */
  readonly phases: readonly number[];
}

/**
 * Train into `workDir` (tokenizer/, checkpoint/, metrics.jsonl). With `resume`, continues from
 * workDir/checkpoint exactly (same batches, same optimizer state).
 */
export async function trainTinyReasoner(
  config: TinyTrainingConfig,
  workDir: string,
  options: {
    resume?: boolean;
    /** With resume: train this many steps past the checkpoint with a fresh warm-up + cosine schedule (a warm restart). */
    moreSteps?: number;
    log?: (line: string) => void;
    shouldStop?: () => boolean;
  } = {},
): Promise<TinyTrainingResult> {
  const log = options.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  await mkdir(workDir, { recursive: true });
  const data = buildTinyData(config.data);
  log(`tiny: ${data.train.length} training examples, ${data.heldOutGsm.length} + ${data.heldOutTom.length} held out`);

  // Tokenizer from the training text (prompts as the chat template will render them, answers).
  const tokenizerDir = join(workDir, "tokenizer");
  if (!(options.resume && existsSync(join(tokenizerDir, "tokenizer.json")))) {
    const texts = data.train.flatMap((e) => [e.prompt, targetAnswer(e)]);
    const json = buildTokenizer(texts, { vocabSize: config.vocabSize });
    await writeTokenizerFolder(tokenizerDir, json, createTokenizerConfig(json, { modelMaxLength: 512 }));
  }
  const tokenizer = await loadTokenizer(tokenizerDir);
  const vocabSize = Math.ceil(tokenizer.vocabSize / 64) * 64; // padded like real checkpoints
  const modelConfig = tinyModelConfig(config, vocabSize, tokenizer);
  const encoded = data.train.map((e) => encodeExample(tokenizer, e));
  const heldOut = [...data.heldOutGsm.slice(0, 32), ...data.heldOutTom.slice(0, 32)].map((e) => encodeExample(tokenizer, e));
  const padId = tokenizer.padTokenId ?? 0;
  const meanLength = encoded.reduce((a, e) => a + e.ids.length, 0) / encoded.length;
  log(`tiny: vocabulary ${tokenizer.vocabSize} (padded to ${vocabSize}), mean example ${meanLength.toFixed(0)} tokens`);

  const rng = new Rng(config.seed);
  const params = initQwenParams(modelConfig, config.seed);
  const checkpointDir = join(workDir, "checkpoint");
  const saved = options.resume && existsSync(join(checkpointDir, "state.json"))
    ? (JSON.parse(await readFile(join(checkpointDir, "state.json"), "utf8")) as CheckpointState & { trainerStep: number; phases?: number[] })
    : null;
  if (options.moreSteps !== undefined && !saved) throw new Error(`--more-steps needs a checkpoint to continue from (${join(checkpointDir, "state.json")} not found)`);
  // Phases: [900] for one run; [900, 1400] after a warm restart of 1400 more steps.
  const phases = [...(saved?.phases ?? [config.steps])];
  if (options.moreSteps !== undefined) phases.push(options.moreSteps);
  const totalSteps = phases.reduce((a, b) => a + b, 0);
  const phaseStart = totalSteps - phases.at(-1)!;
  const trainer = new LanguageModelTrainer(
    params,
    modelConfig,
    resolveLmTrainingConfig({ learningRate: config.learningRate, minLearningRate: config.learningRate / 10, warmupSteps: config.warmupSteps, totalSteps: phases.at(-1)!, weightDecay: 0.01, beta1: 0.9, beta2: 0.95, maxGradNorm: 1 }),
  );
  // The batch order is one seeded sequence over all phases (its first N batches never change).
  const schedule = batchSchedule(encoded, config.batchSize, totalSteps, rng);
  const metricsFile = join(workDir, "metrics.jsonl");
  let start = 0;
  if (saved) {
    const state = saved;
    const tensors = await loadCheckpointTensors(checkpointDir);
    const restored = paramsFromTensors(modelConfig, tensors, checkpointDir);
    // Copy weights into the variables (layout conversion done by paramsFromTensors).
    const fresh = [restored.embedTokens, restored.norm, ...restored.layers.flatMap((l) => [l.inputLayernorm, l.postAttentionLayernorm, l.qNorm!, l.kNorm!, l.qProj.weightT, l.kProj.weightT, l.vProj.weightT, l.oProj.weightT, l.gateProj.weightT, l.upProj.weightT, l.downProj.weightT])];
    const targets = [params.embedTokens, params.norm, ...params.layers.flatMap((l) => [l.inputLayernorm, l.postAttentionLayernorm, l.qNorm!, l.kNorm!, l.qProj.weightT, l.kProj.weightT, l.vProj.weightT, l.oProj.weightT, l.gateProj.weightT, l.upProj.weightT, l.downProj.weightT])];
    targets.forEach((t, i) => (t as tf.Variable).assign(fresh[i]!));
    tf.dispose([...fresh, restored.lmHeadT]);
    const optimizerTensors = await openSafetensors(join(checkpointDir, "optimizer.safetensors"));
    // tfjs's Adam matches its moments to variables by position, so restore them in the trainer's
    // variable order (iterations, every first moment, every second moment).
    const read = async (name: string) => {
      if (!optimizerTensors.has(name)) throw new Error(`${join(checkpointDir, "optimizer.safetensors")}: missing optimizer slot "${name}"`);
      const values = await optimizerTensors.read(name);
      return tf.tensor(values as Float32Array | Int32Array, optimizerTensors.info(name).shape as number[], values instanceof Int32Array ? "int32" : "float32");
    };
    const weights: { name: string; tensor: tf.Tensor }[] = [{ name: "iter", tensor: await read("iter") }];
    for (const moment of ["m", "v"]) {
      for (const [i, variable] of trainer.variables.entries()) {
        // Checkpoints written before slots were stored by position used the variable's name.
        const slot = optimizerTensors.has(`${moment}.${i}`) ? `${moment}.${i}` : `${variable.name}/${moment}`;
        weights.push({ name: `${variable.name}/${moment}`, tensor: await read(slot) });
      }
    }
    await trainer.optimizer.setWeights(weights);
    start = state.step;
    // The learning-rate schedule restarts with each phase.
    trainer.step = options.moreSteps !== undefined ? 0 : start - phaseStart;
    log(`tiny: resumed at step ${start}`);
  } else {
    await rm(metricsFile, { force: true });
  }

  const started = performance.now();
  const secondsBefore = saved?.seconds ?? 0;
  let tokensSeen = saved?.tokens ?? 0;
  let lastLoss = NaN;
  let lastEval = NaN;
  const progress = createProgress("train tiny reasoner", totalSteps, { unit: "steps", initial: start });
  for (let step = start; step < totalSteps; step++) {
    const batch = makeBatch(schedule[step]!.map((i) => encoded[i]!), padId);
    const { loss, gradNorm, learningRate } = await trainer.trainStep(batch);
    tokensSeen += batch.ids.length * batch.ids[0]!.length;
    lastLoss = loss;
    const record: Record<string, number> = { step: step + 1, loss, gradNorm, learningRate, seconds: (performance.now() - started) / 1000 };
    if ((step + 1) % config.evalEvery === 0 || step + 1 === totalSteps) {
      let total = 0;
      for (let i = 0; i < heldOut.length; i += 16) total += await trainer.evaluate(makeBatch(heldOut.slice(i, i + 16), padId));
      lastEval = total / Math.ceil(heldOut.length / 16);
      record.evalLoss = lastEval;
    }
    await appendFile(metricsFile, JSON.stringify(record) + "\n");
    progress.update(step + 1, { loss, eval: lastEval });
    const stop = options.shouldStop?.() ?? false;
    if ((step + 1) % config.checkpointEvery === 0 || step + 1 === totalSteps || stop) {
      await saveCheckpoint(checkpointDir, trainer, modelConfig, { step: step + 1, rng: rng.getState(), config, phases, seconds: secondsBefore + (performance.now() - started) / 1000, tokens: tokensSeen });
    }
    if (stop) {
      progress.stop();
      throw new Error(`interrupted after step ${step + 1}; checkpoint saved in ${checkpointDir} (rerun with --resume)`);
    }
  }
  progress.stop();
  return {
    config: modelConfig,
    tokenizer,
    data,
    trainer,
    seconds: secondsBefore + (performance.now() - started) / 1000,
    tokensSeen,
    finalTrainLoss: lastLoss,
    finalEvalLoss: lastEval,
    phases,
  };
}

/** Write the trained model as a Hugging Face folder (config, weights, tokenizer, generation config). */
export async function exportTinyModel(result: TinyTrainingResult, outDir: string, workDir: string, modelCard: string): Promise<void> {
  const tokenizerDir = join(workDir, "tokenizer");
  await saveQwenModel(outDir, result.config, result.trainer.params, {
    "tokenizer.json": await readFile(join(tokenizerDir, "tokenizer.json")),
    "tokenizer_config.json": await readFile(join(tokenizerDir, "tokenizer_config.json")),
    "generation_config.json": JSON.stringify({ eos_token_id: result.tokenizer.eosTokenIds, pad_token_id: result.tokenizer.padTokenId, do_sample: false, max_new_tokens: 128 }, null, 2) + "\n",
    "README.md": modelCard,
  });
}
