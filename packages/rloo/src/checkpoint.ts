// RLOO checkpoints: everything needed to continue a run exactly.
//
//   <dir>/step-000120/trainable.safetensors   lora.{i}, heads.{i}             (policy variables)
//                                             optimizer.{group}.{i}.m / .v    (Adam moments)
//   <dir>/step-000120/state.json              step, Adam step counts, seed, config, shapes
//
// A checkpoint folder is written under a temporary name and renamed into place, so a folder named
// step-NNNNNN is always complete. The data order and every step's sampling seed are functions of
// (config.seed, step), so the step counter is the whole RNG state.

import { mkdir, readFile, rename, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { checkpointName, checkpointSteps, findLatestCheckpoint, openSafetensors, removeOldCheckpoints, tensorsToRecords, tf, writeFailureHint, writeSafetensors } from "@eecot/tensor-core";
import type { AugmentedVocabularyPolicy } from "@eecot/policy";
import type { RlooConfig } from "./config.js";
import type { RlooOptimizers } from "./step.js";

// Checkpoint folder naming, listing and retention are shared with the other stage (tensor-core).
export { checkpointName, checkpointSteps, findLatestCheckpoint };

const TENSORS_FILE = "trainable.safetensors";
const STATE_FILE = "state.json";
const GROUPS = ["lora", "heads"] as const;

/** Contents of state.json. */
export interface RlooCheckpointState {
  readonly format: "eecot-rloo-checkpoint";
  readonly version: 1;
  /** Optimiser steps completed; training resumes at step + 1. */
  readonly step: number;
  /** Adam step count per group (equals `step` unless a run changed groups). */
  readonly optimizerSteps: { readonly lora: number; readonly heads: number };
  /** The run's configuration, for the record. */
  readonly config: RlooConfig;
  /** Shape of every trainable variable, by group, in `trainableVariables()` order. */
  readonly shapes: { readonly lora: readonly number[][]; readonly heads: readonly number[][] };
}

/**
 * Write a checkpoint of `policy`'s trainable variables and the optimisers into `directory`;
 * returns its folder. Afterwards all but the newest `config.keepCheckpoints` are removed.
 */
export async function saveRlooCheckpoint(
  directory: string,
  run: { readonly step: number; readonly config: RlooConfig; readonly policy: AugmentedVocabularyPolicy; readonly optimizers: RlooOptimizers },
): Promise<string> {
  const { step, config, policy, optimizers } = run;
  const variables = policy.trainableVariables();
  const tensors: Record<string, tf.Tensor> = {};
  for (const group of GROUPS) {
    variables[group].forEach((variable, i) => {
      tensors[`${group}.${i}`] = variable;
      tensors[`optimizer.${group}.${i}.m`] = optimizers[group].firstMoments[i]!;
      tensors[`optimizer.${group}.${i}.v`] = optimizers[group].secondMoments[i]!;
    });
  }
  const state: RlooCheckpointState = {
    format: "eecot-rloo-checkpoint",
    version: 1,
    step,
    optimizerSteps: { lora: optimizers.lora.stepCount, heads: optimizers.heads.stepCount },
    config,
    shapes: { lora: variables.lora.map((v) => [...v.shape]), heads: variables.heads.map((v) => [...v.shape]) },
  };

  await mkdir(directory, { recursive: true });
  const finalPath = join(directory, checkpointName(step));
  const temporaryPath = join(directory, `.${checkpointName(step)}.tmp-${process.pid}-${Math.random().toString(36).slice(2)}`);
  try {
    await mkdir(temporaryPath);
    await writeSafetensors(join(temporaryPath, TENSORS_FILE), await tensorsToRecords(tensors), { format: "eecot-rloo" });
    await writeFile(join(temporaryPath, STATE_FILE), JSON.stringify(state, null, 2) + "\n");
    await rm(finalPath, { recursive: true, force: true }); // a rerun of the same step replaces it
    await rename(temporaryPath, finalPath);
  } catch (error) {
    await rm(temporaryPath, { recursive: true, force: true });
    throw new Error(`rloo: failed to write checkpoint ${finalPath}: ${(error as Error).message}${writeFailureHint(error)}`, { cause: error });
  }
  await removeOldCheckpoints(directory, config.keepCheckpoints);
  return finalPath;
}


/** Restore `policy`'s trainable variables and the optimisers from a checkpoint folder; returns its state. */
export async function loadRlooCheckpoint(
  path: string,
  run: { readonly policy: AugmentedVocabularyPolicy; readonly optimizers: RlooOptimizers },
): Promise<RlooCheckpointState> {
  const statePath = join(path, STATE_FILE);
  let state: RlooCheckpointState;
  try {
    state = JSON.parse(await readFile(statePath, "utf8")) as RlooCheckpointState;
  } catch (error) {
    throw new Error(`rloo: cannot read checkpoint state ${statePath}: ${(error as Error).message}`);
  }
  if (state.format !== "eecot-rloo-checkpoint" || state.version !== 1 || !Number.isInteger(state.step)) {
    throw new Error(`rloo: ${statePath} is not an eecot RLOO checkpoint (format ${state.format}, version ${state.version})`);
  }
  const file = await openSafetensors(join(path, TENSORS_FILE));
  const variables = run.policy.trainableVariables();
  const assignments: [tf.Variable, string][] = [];
  for (const group of GROUPS) {
    variables[group].forEach((variable, i) => {
      assignments.push([variable, `${group}.${i}`]);
      assignments.push([run.optimizers[group].firstMoments[i]!, `optimizer.${group}.${i}.m`]);
      assignments.push([run.optimizers[group].secondMoments[i]!, `optimizer.${group}.${i}.v`]);
    });
  }
  const expected = new Set(assignments.map(([, name]) => name));
  const unexpected = file.tensorNames.find((name) => !expected.has(name));
  if (unexpected !== undefined) throw new Error(`rloo: unexpected tensor ${unexpected} in ${file.path} (the policy has different trainable variables)`);
  for (const [target, name] of assignments) {
    if (!file.has(name)) throw new Error(`rloo: tensor ${name} missing from ${file.path}`);
    const { shape, dtype } = file.info(name);
    if (dtype !== "F32") throw new Error(`rloo: tensor ${name} in ${file.path} is ${dtype}, expected F32`);
    if (shape.length !== target.shape.length || shape.some((d, i) => d !== target.shape[i])) {
      throw new Error(`rloo: tensor ${name} in ${file.path} has shape [${shape.join(", ")}], the policy's is [${target.shape.join(", ")}]`);
    }
  }
  const values = await file.readMany(assignments.map(([, name]) => name));
  assignments.forEach(([target], i) => tf.tidy(() => target.assign(tf.tensor(values[i]!, target.shape, "float32"))));
  run.optimizers.lora.stepCount = state.optimizerSteps.lora;
  run.optimizers.heads.stepCount = state.optimizerSteps.heads;
  return state;
}
