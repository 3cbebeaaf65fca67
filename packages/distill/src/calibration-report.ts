// Paper appendix A.2: after stage 1, the learned exit distribution per exitable layer against
// the target distribution, on held-out trajectories (METHOD.md §4 "Calibration").
//
// For every generated token of a held-out teacher trajectory:
//   target  Q_t  from the frozen teacher's divergences (targets.ts), f as in training;
//   learned P_t  the student's stick-breaking distribution from its heads, with LoRA on and
//               every position run to full depth (so each head sees h_e of its own token; a
//               prefix with exits would hand later heads a frozen residual instead).
// Both over E ∪ {L}; compared with eval's compareExitDistributions (histograms + total
// variation). `comparison` uses the gate and offset generation samples with (the model's
// minExitProb and exitOffset); `ungatedComparison` uses offset 0 and no gate, the distribution
// the loss trains.
//
// Legend: B sequences, S padded replay length, M generated tokens, m exitable layers.
import { tf } from "@eecot/tensor-core";
import { exitDistribution, type EarlyExitModel, type ExitGateOptions } from "@eecot/early-exit";
import { compareExitDistributions, type ExitDistributionComparison } from "@eecot/eval";
import { computeLayerDivergences, replayBatch, type TokenSequence } from "./divergence.js";
import { sequenceTargets, type SequenceDivergences } from "./targets.js";

export interface CalibrationReportOptions {
  /** KL factor f of the targets (as in training), e.g. 1. */
  readonly klFactor: number;
  /** Gate of the learned distribution; default the model's { offset: exitOffset, minExitProb }. */
  readonly gate?: ExitGateOptions;
  /** Precomputed divergences, one per trajectory. */
  readonly divergences?: readonly SequenceDivergences[];
  /** Sequences per student pass, default 4. */
  readonly batchSize?: number;
  /** Generated positions per KL chunk, default 64. */
  readonly chunkSize?: number;
  /** Id for left padding, default 0. */
  readonly padTokenId?: number;
  /** Description stored with the result (shown in the report). */
  readonly description?: string;
}

export interface CalibrationReport {
  /** Learned (gated, as sampled) vs target. */
  readonly comparison: ExitDistributionComparison;
  /** Learned without gate or offset (what the loss fits) vs target. */
  readonly ungatedComparison: ExitDistributionComparison;
  /** E ∪ {L}, the columns of every distribution. */
  readonly layers: readonly number[];
  /** Decoder depth L. */
  readonly numLayers: number;
  /** The gate used for `comparison`. */
  readonly gate: ExitGateOptions;
  readonly klFactor: number;
  /** Held-out trajectories with at least one generated token. */
  readonly sequenceCount: number;
  readonly description: string;
}

/** The student's per-token exit distributions (LoRA on, full depth) for each gate → [M][m + 1] each. */
export async function learnedExitDistributions(
  model: EarlyExitModel,
  sequences: readonly TokenSequence[],
  gates: readonly ExitGateOptions[],
  options: { batchSize?: number; padTokenId?: number } = {},
): Promise<number[][][]> {
  const batchSize = options.batchSize ?? 4;
  const L = model.numLayers;
  const m = model.exitLayers.length;
  const out: number[][][] = gates.map(() => []);
  for (let start = 0; start < sequences.length; start += batchSize) {
    const batch = sequences.slice(start, start + batchSize).filter((s) => s.tokens.length > 0);
    if (batch.length === 0) continue;
    const replay = replayBatch(batch, options.padTokenId ?? 0);
    const B = batch.length;
    const S = replay.width;
    const distributions = tf.tidy(() => {
      const result = model.forwardPrescribed(replay.ids, replay.ids.map((row) => row.map(() => L)), { attentionMask: replay.attentionMask, skipLogits: true });
      const logits = tf.gather(tf.reshape(result.exitLogits, [B * S, m]), tf.tensor1d(replay.rows, "int32")) as tf.Tensor2D; // [M, m]
      return gates.map((gate) => exitDistribution(logits, gate)); // [M, m + 1] each
    });
    for (let g = 0; g < gates.length; g++) {
      const values = (await distributions[g]!.array()) as number[][];
      out[g]!.push(...values);
    }
    tf.dispose(distributions);
  }
  return out;
}

/** Learned vs target exit distributions on held-out trajectories (appendix A.2). */
export async function calibrationReport(model: EarlyExitModel, trajectories: readonly TokenSequence[], options: CalibrationReportOptions): Promise<CalibrationReport> {
  const L = model.numLayers;
  const layers = [...model.exitLayers, L];
  const gate = options.gate ?? { offset: model.config.exitOffset, minExitProb: model.config.minExitProb };
  if (options.divergences && options.divergences.length !== trajectories.length) {
    throw new Error(`calibrationReport: ${options.divergences.length} divergences for ${trajectories.length} trajectories`);
  }
  const keep = trajectories.map((_, i) => i).filter((i) => trajectories[i]!.tokens.length > 0);
  const sequences = keep.map((i) => trajectories[i]!);
  if (sequences.length === 0) throw new Error("calibrationReport: no held-out trajectory has generated tokens");
  const divergences =
    options.divergences !== undefined
      ? keep.map((i) => options.divergences![i]!)
      : await computeLayerDivergences(model.base, model.exitLayers, sequences, { chunkSize: options.chunkSize, padTokenId: options.padTokenId, batchSize: options.batchSize });
  const target = divergences.flatMap((d) => sequenceTargets(d, options.klFactor));
  const [gated, ungated] = await learnedExitDistributions(model, sequences, [gate, { offset: 0, minExitProb: 0 }], options);
  return {
    comparison: compareExitDistributions(gated!, target, layers),
    ungatedComparison: compareExitDistributions(ungated!, target, layers),
    layers,
    numLayers: L,
    gate,
    klFactor: options.klFactor,
    sequenceCount: sequences.length,
    description:
      options.description ??
      `stage-1 student vs KL-heuristic target, f = ${options.klFactor}, ${sequences.length} held-out teacher trajectories (${target.length} tokens); learned exits gated at p ≥ ${gate.minExitProb}, offset ${gate.offset}`,
  };
}
