// Head warm-up (optional; an addition to METHOD.md §2, off by default): before the joint steps,
// fit the exit heads alone to the target exit distributions on the frozen model's residuals.
//
// At the start of stage 1 the LoRA adapters are zero, so the residual h_e a head reads for a
// token that has not exited is the base model's. Those residuals are computed once (no
// gradient), kept on the host, and the heads are trained on shuffled token mini-batches with the
// exact cross-entropy of the stick-breaking distributions,
//
//   CE(Q_t, P_t) = −Σ_i Q_t(i) log P_t(i) = Σ_j Q_t(reach e_j) · BCE(s_j, sigmoid(z_j)),
//
// (s_j the target's conditional exit probability, loss.ts). A head step costs a few small
// matMuls instead of a teacher-forced pass through the whole model, so the heads see every
// training token many times for the price of a few joint steps; the joint steps then adapt them
// (and LoRA) to prescribed exits and frozen residuals. Measured on the bundled model: the
// per-token total variation to the targets needs tens of epochs over ~60k tokens, which the
// joint steps alone (one teacher-forced pass per few sequences) cannot afford on a CPU.
//
// Deterministic given the seed: the token subset from Rng(seed).fork("head-warmup"), epoch k's
// order from Rng(seed).fork("head-warmup-epoch-k").
import { Rng, tf, type AdamConstants } from "@eecot/tensor-core";
import { exitHeadLogits, exitHeadVariables, type EarlyExitModel } from "@eecot/early-exit";
import { AdamGroup } from "./adam.js";
import { scheduledLearningRate } from "./config.js";
import { replayBatch, residualRows, type TokenSequence } from "./divergence.js";
import { conditionalExitProbabilities, reachProbabilities, weightedExitBce } from "./loss.js";

export interface HeadWarmupOptions {
  /** Passes over the warm-up tokens, e.g. 20. */
  readonly epochs: number;
  /** Tokens per head update, e.g. 512. */
  readonly batchTokens: number;
  /** Adam rate at the first update, cosine-decayed to a tenth by the last, e.g. 1e-3. */
  readonly learningRate: number;
  /** At most this many tokens (whole sequences in a seeded order; residuals are held on the host: tokens × C × exits × 4 bytes), e.g. 65536. */
  readonly maxTokens: number;
  readonly seed: number;
  readonly adam?: AdamConstants;
  /** Sequences per residual pass, e.g. 8. */
  readonly sequencesPerPass?: number;
  readonly padTokenId?: number;
  /** Residual passes done (sequences, total). */
  readonly onResidualProgress?: (done: number, total: number) => void;
  /** After every epoch. */
  readonly onEpoch?: (record: HeadWarmupEpoch) => void;
}

/** One warm-up epoch. */
export interface HeadWarmupEpoch {
  /** 1-based. */
  readonly epoch: number;
  readonly epochs: number;
  /** Mean CE(Q_t, P_t) over the epoch's tokens (nats). */
  readonly crossEntropy: number;
  /** Mean total variation ½ Σ |P_t − Q_t| over the epoch's tokens, with the heads as they were at each batch. */
  readonly totalVariation: number;
  readonly tokens: number;
  readonly seconds: number;
}

/** Warm-up inputs on the host: residuals per exit [N·C], labels s and weights Q(reach) [N·m], targets [N·(m+1)]. */
interface WarmupData {
  readonly count: number;
  readonly residuals: Float32Array[];
  readonly labels: Float32Array;
  readonly weights: Float32Array;
  readonly targets: Float32Array;
}

function validate(options: HeadWarmupOptions): void {
  const positiveInteger = (name: keyof HeadWarmupOptions) => {
    const value = options[name] as number;
    if (!Number.isInteger(value) || value < 1) throw new Error(`head warm-up: ${name} must be an integer ≥ 1, got ${value}`);
  };
  positiveInteger("epochs");
  positiveInteger("batchTokens");
  positiveInteger("maxTokens");
  if (!(options.learningRate > 0) || !Number.isFinite(options.learningRate)) throw new Error(`head warm-up: learningRate must be a finite number > 0, got ${options.learningRate}`);
}

async function collect(model: EarlyExitModel, sequences: readonly TokenSequence[], targets: readonly (readonly number[][])[], options: HeadWarmupOptions): Promise<WarmupData> {
  const m = model.exitLayers.length;
  const C = model.base.config.hiddenSize;
  // Whole sequences in a seeded order until maxTokens (the last one cut).
  const order = new Rng(options.seed).fork("head-warmup").shuffle(sequences.map((_, i) => i));
  const chosen: { index: number; take: number }[] = [];
  let count = 0;
  for (const index of order) {
    if (count >= options.maxTokens) break;
    const take = Math.min(sequences[index]!.tokens.length, options.maxTokens - count);
    if (take === 0) continue;
    chosen.push({ index, take });
    count += take;
  }
  const residuals = Array.from({ length: m }, () => new Float32Array(count * C));
  const labels = new Float32Array(count * m);
  const weights = new Float32Array(count * m);
  const flatTargets = new Float32Array(count * (m + 1));
  const perPass = options.sequencesPerPass ?? 8;
  let row = 0;
  options.onResidualProgress?.(0, chosen.length);
  for (let start = 0; start < chosen.length; start += perPass) {
    const part = chosen.slice(start, start + perPass);
    const replay = replayBatch(part.map((c) => sequences[c.index]!), options.padTokenId ?? 0);
    // replay.rows lists every generated token of each sequence in order; keep the first `take`.
    const keepRows: number[] = [];
    let offset = 0;
    part.forEach((c) => {
      const T = sequences[c.index]!.tokens.length;
      for (let t = 0; t < c.take; t++) keepRows.push(replay.rows[offset + t]!);
      offset += T;
    });
    const states = residualRows(model.base, replay.ids, replay.attentionMask, model.exitLayers, keepRows); // m × [n, C]
    try {
      for (let j = 0; j < m; j++) residuals[j]!.set((await states[j]!.data()) as Float32Array, row * C);
    } finally {
      tf.dispose(states);
    }
    for (const c of part) {
      for (let t = 0; t < c.take; t++, row++) {
        const q = targets[c.index]![t]!;
        if (q.length !== m + 1) throw new Error(`head warm-up: target of sequence ${c.index}, token ${t} has ${q.length} entries, expected ${m + 1}`);
        const s = conditionalExitProbabilities(q);
        const reach = reachProbabilities(q);
        labels.set(s, row * m);
        weights.set(reach, row * m);
        flatTargets.set(q, row * (m + 1));
      }
    }
    options.onResidualProgress?.(Math.min(start + perPass, chosen.length), chosen.length);
  }
  return { count, residuals, labels, weights, targets: flatTargets };
}

/** Rows `indices` of a row-major [N, width] host array as a [n, width] tensor. */
function rowsTensor(source: Float32Array, width: number, indices: readonly number[]): tf.Tensor2D {
  const out = new Float32Array(indices.length * width);
  indices.forEach((r, i) => out.set(source.subarray(r * width, (r + 1) * width), i * width));
  return tf.tensor2d(out, [indices.length, width]);
}

/** Stick-breaking distributions [n, m+1] from head logits [n, m] (offset 0, no gate). */
function stickBreaking(logits: tf.Tensor2D): tf.Tensor2D {
  return tf.tidy(() => {
    const p = tf.sigmoid(logits);
    const m = logits.shape[1];
    const columns: tf.Tensor[] = [];
    let survive: tf.Tensor = tf.onesLike(tf.slice(p, [0, 0], [-1, 1]));
    for (let j = 0; j < m; j++) {
      const pj = tf.slice(p, [0, j], [-1, 1]);
      columns.push(tf.mul(survive, pj));
      survive = tf.mul(survive, tf.sub(1, pj));
    }
    columns.push(survive);
    return tf.concat(columns, 1) as tf.Tensor2D;
  });
}

/**
 * Fit `model`'s exit heads (in place) to `targets` (per sequence, per token, over E ∪ {L}) on the
 * base model's residuals. LoRA is untouched. Returns one record per epoch.
 */
export async function warmUpExitHeads(
  model: EarlyExitModel,
  sequences: readonly TokenSequence[],
  targets: readonly (readonly number[][])[],
  options: HeadWarmupOptions,
): Promise<HeadWarmupEpoch[]> {
  validate(options);
  if (targets.length !== sequences.length) throw new Error(`head warm-up: ${targets.length} targets for ${sequences.length} sequences`);
  const m = model.exitLayers.length;
  if (m === 0) return [];
  const C = model.base.config.hiddenSize;
  const data = await collect(model, sequences, targets, options);
  if (data.count === 0) throw new Error("head warm-up: no generated tokens");
  const variables = exitHeadVariables(model.heads);
  const optimizer = new AdamGroup(variables, options.learningRate, options.adam);
  const batchesPerEpoch = Math.ceil(data.count / options.batchTokens);
  const totalUpdates = options.epochs * batchesPerEpoch;
  const records: HeadWarmupEpoch[] = [];
  try {
    for (let epoch = 1; epoch <= options.epochs; epoch++) {
      const started = performance.now();
      const order = new Rng(options.seed).fork(`head-warmup-epoch-${epoch}`).shuffle(Array.from({ length: data.count }, (_, i) => i));
      let ceSum = 0;
      let tvSum = 0;
      for (let b = 0; b < batchesPerEpoch; b++) {
        const indices = order.slice(b * options.batchTokens, (b + 1) * options.batchTokens);
        const n = indices.length;
        const inputs = data.residuals.map((r) => rowsTensor(r, C, indices));
        const labels = rowsTensor(data.labels, m, indices);
        const weights = rowsTensor(data.weights, m, indices);
        const target = rowsTensor(data.targets, m + 1, indices);
        try {
          let parts: tf.Tensor[] = [];
          const { value, grads } = tf.variableGrads(() => {
            const logits = tf.stack(model.heads.map((head, j) => exitHeadLogits(head, inputs[j]!)), 1) as tf.Tensor2D; // [n, m]
            const ceRows = weightedExitBce(logits, labels, weights); // [n]
            const tv = tf.mul(0.5, tf.sum(tf.abs(tf.sub(stickBreaking(logits), target)))); // Σ over rows
            parts = [tf.keep(tf.sum(ceRows)), tf.keep(tv)];
            return tf.div(tf.sum(ceRows), n) as tf.Scalar;
          }, variables);
          const [ce, tv] = await Promise.all(parts.map(async (t) => (await t.data())[0]!));
          tf.dispose([...parts, value]);
          if (!Number.isFinite(ce!)) {
            tf.dispose(Object.values(grads));
            throw new Error(`head warm-up: the cross-entropy is ${ce} at epoch ${epoch}, batch ${b + 1}; nothing was updated. Lower the learning rate or check the model weights.`);
          }
          ceSum += ce!;
          tvSum += tv!;
          optimizer.learningRate = scheduledLearningRate(options.learningRate, (epoch - 1) * batchesPerEpoch + b + 1, totalUpdates, "cosine");
          const gradients = variables.map((v) => grads[v.name] ?? tf.zerosLike(v));
          optimizer.apply(gradients);
          tf.dispose(gradients);
        } finally {
          tf.dispose([...inputs, labels, weights, target]);
        }
      }
      const record: HeadWarmupEpoch = {
        epoch,
        epochs: options.epochs,
        crossEntropy: ceSum / data.count,
        totalVariation: tvSum / data.count,
        tokens: data.count,
        seconds: (performance.now() - started) / 1000,
      };
      records.push(record);
      options.onEpoch?.(record);
    }
  } finally {
    optimizer.dispose();
  }
  return records;
}
