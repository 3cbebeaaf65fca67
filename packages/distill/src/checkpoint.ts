// Stage-1 checkpoints: everything needed to continue a calibration run exactly.
//
//   <outDir>/checkpoints/step-000025/adapter/                PEFT adapters + exit heads (saveEarlyExitAdapters)
//   <outDir>/checkpoints/step-000025/optimizer.safetensors   optimizer.{lora|heads}.{i}.{m|v}  (Adam moments)
//   <outDir>/checkpoints/step-000025/state.json              step, Adam step counts, config
//
// The folder is assembled under a temporary name and renamed into place, so a folder named
// step-NNNNNN is always complete. The data order and every step's exit prescriptions are
// functions of (seed, step), so the step counter is the whole RNG state.
import { mkdir, readFile, rename, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { checkpointName, checkpointSteps, findLatestCheckpoint, openSafetensors, removeOldCheckpoints, tensorsToRecords, tf, writeFailureHint, writeSafetensors } from "@eecot/tensor-core";
import { loadEarlyExitAdapters, saveEarlyExitAdapters, type EarlyExitModel } from "@eecot/early-exit";
import type { AdamGroup } from "./adam.js";
import type { DistillConfig } from "./config.js";

// Checkpoint folder naming, listing and retention are shared with the other stage (tensor-core).
export { checkpointName, checkpointSteps, findLatestCheckpoint };

const FORMAT = "eecot-distill-checkpoint";
const OPTIMIZER_FILE = "optimizer.safetensors";
const STATE_FILE = "state.json";
const ADAPTER_DIR = "adapter";
const GROUPS = ["lora", "heads"] as const;

/** The optimiser of each parameter group. */
export interface DistillOptimizers {
  readonly lora: AdamGroup;
  readonly heads: AdamGroup;
}

/** Contents of state.json. */
export interface DistillCheckpointState {
  readonly format: typeof FORMAT;
  readonly version: 1;
  /** Optimiser steps completed; training resumes at step + 1. */
  readonly step: number;
  /** Adam step count per group. */
  readonly optimizerSteps: { readonly lora: number; readonly heads: number };
  /** The run's configuration. */
  readonly config: DistillConfig;
  /** Exitable layers of the model trained. */
  readonly exitLayers: readonly number[];
  /** Trajectories trained on (a resumed run must see the same set). */
  readonly trajectoryCount: number;
}

/** Write a checkpoint into `directory`; returns its folder. Removes all but the newest `keep`. */
export async function saveDistillCheckpoint(
  directory: string,
  run: { readonly step: number; readonly config: DistillConfig; readonly model: EarlyExitModel; readonly optimizers: DistillOptimizers; readonly trajectoryCount: number; readonly keep?: number },
): Promise<string> {
  const { step, config, model, optimizers } = run;
  const tensors: Record<string, tf.Tensor> = {};
  for (const group of GROUPS) {
    optimizers[group].firstMoments.forEach((m, i) => (tensors[`optimizer.${group}.${i}.m`] = m));
    optimizers[group].secondMoments.forEach((v, i) => (tensors[`optimizer.${group}.${i}.v`] = v));
  }
  const state: DistillCheckpointState = {
    format: FORMAT,
    version: 1,
    step,
    optimizerSteps: { lora: optimizers.lora.stepCount, heads: optimizers.heads.stepCount },
    config,
    exitLayers: [...model.exitLayers],
    trajectoryCount: run.trajectoryCount,
  };
  await mkdir(directory, { recursive: true });
  const finalPath = join(directory, checkpointName(step));
  const temporaryPath = join(directory, `.${checkpointName(step)}.tmp-${process.pid}-${Math.random().toString(36).slice(2)}`);
  try {
    await mkdir(temporaryPath);
    await saveEarlyExitAdapters(join(temporaryPath, ADAPTER_DIR), model);
    await writeSafetensors(join(temporaryPath, OPTIMIZER_FILE), await tensorsToRecords(tensors), { format: "eecot-distill" });
    await writeFile(join(temporaryPath, STATE_FILE), JSON.stringify(state, null, 2) + "\n");
    await rm(finalPath, { recursive: true, force: true }); // a rerun of the same step replaces it
    await rename(temporaryPath, finalPath);
  } catch (error) {
    await rm(temporaryPath, { recursive: true, force: true });
    throw new Error(`distill: failed to write checkpoint ${finalPath}: ${(error as Error).message}${writeFailureHint(error)}`, { cause: error });
  }
  const keep = run.keep ?? Infinity;
  await removeOldCheckpoints(directory, keep);
  return finalPath;
}

/** Read and validate a checkpoint's state.json. */
export async function readCheckpointState(path: string): Promise<DistillCheckpointState> {
  const statePath = join(path, STATE_FILE);
  let state: DistillCheckpointState;
  try {
    state = JSON.parse(await readFile(statePath, "utf8")) as DistillCheckpointState;
  } catch (error) {
    throw new Error(`distill: cannot read checkpoint state ${statePath}: ${(error as Error).message}`);
  }
  if (state?.format !== FORMAT || state.version !== 1 || !Number.isInteger(state.step) || state.step < 0) {
    throw new Error(`distill: ${statePath} is not a stage-1 checkpoint (format ${JSON.stringify(state?.format)}, version ${JSON.stringify(state?.version)})`);
  }
  return state;
}

/** Restore the model's adapters and heads and the optimisers from a checkpoint folder. */
export async function loadDistillCheckpoint(path: string, run: { readonly model: EarlyExitModel; readonly optimizers: DistillOptimizers }): Promise<DistillCheckpointState> {
  const state = await readCheckpointState(path);
  const { model, optimizers } = run;
  if (state.exitLayers.join(",") !== model.exitLayers.join(",")) {
    throw new Error(`distill: checkpoint ${path} was trained with exit layers [${state.exitLayers.join(", ")}], the model has [${model.exitLayers.join(", ")}]`);
  }
  // Adapters and heads: load beside, then copy into the live variables (same order).
  const loaded = await loadEarlyExitAdapters(join(path, ADAPTER_DIR), model.base);
  try {
    const source = loaded.trainableVariables();
    const target = model.trainableVariables();
    for (const group of GROUPS) {
      if (source[group].length !== target[group].length) {
        throw new Error(`distill: checkpoint ${path} has ${source[group].length} ${group} variables, the model ${target[group].length} (different LoRA targets or rank?)`);
      }
      target[group].forEach((variable, i) => {
        const value = source[group][i]!;
        if (value.shape.join(",") !== variable.shape.join(",")) throw new Error(`distill: checkpoint ${path}: ${group} variable ${i} has shape [${value.shape.join(", ")}], the model's is [${variable.shape.join(", ")}]`);
        variable.assign(value);
      });
    }
  } finally {
    loaded.dispose();
  }
  // Adam moments.
  const file = await openSafetensors(join(path, OPTIMIZER_FILE));
  const assignments: [tf.Variable, string][] = [];
  for (const group of GROUPS) {
    optimizers[group].firstMoments.forEach((m, i) => assignments.push([m, `optimizer.${group}.${i}.m`]));
    optimizers[group].secondMoments.forEach((v, i) => assignments.push([v, `optimizer.${group}.${i}.v`]));
  }
  const expected = new Set(assignments.map(([, name]) => name));
  const unexpected = file.tensorNames.find((name) => !expected.has(name));
  if (unexpected !== undefined) throw new Error(`distill: unexpected tensor ${unexpected} in ${file.path}`);
  for (const [target, name] of assignments) {
    if (!file.has(name)) throw new Error(`distill: tensor ${name} missing from ${file.path}`);
    const { shape, dtype } = file.info(name);
    if (dtype !== "F32") throw new Error(`distill: tensor ${name} in ${file.path} is ${dtype}, expected F32`);
    if (shape.join(",") !== target.shape.join(",")) throw new Error(`distill: tensor ${name} in ${file.path} has shape [${shape.join(", ")}], expected [${target.shape.join(", ")}]`);
  }
  const values = await file.readMany(assignments.map(([, name]) => name));
  assignments.forEach(([target], i) => tf.tidy(() => target.assign(tf.tensor(values[i]!, target.shape, "float32"))));
  optimizers.lora.stepCount = state.optimizerSteps.lora;
  optimizers.heads.stepCount = state.optimizerSteps.heads;
  return state;
}
