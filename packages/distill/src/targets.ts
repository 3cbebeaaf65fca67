// Target exit distribution of stage 1 (METHOD.md §2.3) from per-layer divergences:
//
//   s_{e,t}   = 2 − 2·sigmoid(f · KL_{e,t})            (= 1 at KL 0, → 0 as KL grows)
//   Q_t(e_i)  = s_{e_i,t} · Π_{j<i} (1 − s_{e_j,t})      stick-breaking over E ∪ {L}, as in §1
//   Q_t(L)    = Π_j (1 − s_{e_j,t})
//
// 2 − 2·sigmoid(x) is computed as 2·sigmoid(−x), which keeps its precision for large x. KL = 0 at
// the first exitable layer puts all mass there; huge KL everywhere puts all mass on L. Targets
// carry no gradient.
//
// Legend: N tokens, m exitable layers.
import { tf, Rng } from "@eecot/tensor-core";
import { validateKlFactor } from "./config.js";

/** s = 2 − 2·sigmoid(f·KL) for one divergence (float64). */
export function exitScore(kl: number, klFactor: number): number {
  return 2 / (1 + Math.exp(klFactor * kl));
}

/** Q over E ∪ {L} (m + 1 probabilities) from one token's m per-layer divergences (float64). */
export function targetExitDistribution(kl: ArrayLike<number>, klFactor: number): number[] {
  validateKlFactor(klFactor);
  const out: number[] = [];
  let survive = 1;
  for (let i = 0; i < kl.length; i++) {
    const value = kl[i]!;
    if (!(value >= 0) && !(value > -1e-6)) throw new Error(`targetExitDistribution: divergence ${value} at exit ${i} is not a non-negative number`);
    const s = exitScore(Math.max(0, value), klFactor);
    out.push(survive * s);
    survive *= 1 - s;
  }
  out.push(survive);
  return out;
}

/** Tensor twin of `targetExitDistribution`: divergences [N, m] → targets [N, m + 1]. */
export function targetExitDistributions(kl: tf.Tensor2D, klFactor: number): tf.Tensor2D {
  validateKlFactor(klFactor);
  return tf.tidy(() => {
    const [N, m] = kl.shape;
    const s = tf.mul(2, tf.sigmoid(tf.mul(tf.relu(kl), -klFactor))); // [N, m]
    const columns: tf.Tensor[] = [];
    let survive: tf.Tensor = tf.ones([N, 1]);
    for (let i = 0; i < m; i++) {
      const si = tf.slice(s, [0, i], [N, 1]); // [N, 1]
      columns.push(tf.mul(survive, si));
      survive = tf.mul(survive, tf.sub(1, si));
    }
    columns.push(survive);
    return tf.concat(columns, 1) as tf.Tensor2D; // [N, m + 1]
  });
}

/** Per-layer divergences of one sequence's generated tokens, row-major [T·m]. */
export interface SequenceDivergences {
  /** KL_{e,t} at index t·m + i (float32). */
  readonly kl: Float32Array;
  /** Generated tokens T. */
  readonly tokenCount: number;
  /** Exitable layers m. */
  readonly exitCount: number;
}

/** Targets of every generated token of a sequence: T rows of m + 1 probabilities. */
export function sequenceTargets(divergences: SequenceDivergences, klFactor: number): number[][] {
  const { kl, tokenCount: T, exitCount: m } = divergences;
  if (kl.length !== T * m) throw new Error(`sequenceTargets: ${kl.length} divergences for ${T} tokens × ${m} exit layers`);
  const rows: number[][] = [];
  for (let t = 0; t < T; t++) rows.push(targetExitDistribution(kl.subarray(t * m, (t + 1) * m), klFactor));
  return rows;
}

/** One exit layer per token drawn from its target (layers are E ∪ {L}, in column order). */
export function sampleExitLayers(targets: readonly (readonly number[])[], layers: readonly number[], rng: Rng): number[] {
  return targets.map((q, t) => {
    if (q.length !== layers.length) throw new Error(`sampleExitLayers: token ${t} has ${q.length} probabilities for ${layers.length} layers`);
    return layers[rng.categorical(q)]!;
  });
}

/** Expected early-exit rate 1 − mean Q(L) and expected ALS mean Σ_l Q(l)(L − l)/L of targets. */
export function targetExitStatistics(targets: readonly (readonly number[])[], layers: readonly number[]): { earlyExitRate: number; averageLayerSavings: number; tokenCount: number } {
  const L = layers[layers.length - 1]!;
  let early = 0;
  let savings = 0;
  for (const q of targets) {
    early += 1 - q[q.length - 1]!;
    q.forEach((p, i) => (savings += (p * (L - layers[i]!)) / L));
  }
  const N = Math.max(1, targets.length);
  return { earlyExitRate: early / N, averageLayerSavings: savings / N, tokenCount: targets.length };
}

/**
 * Per exitable layer, the targets' conditional exit rate Σ_t Q_t(e_i) / Σ_t Σ_{l ≥ e_i} Q_t(l):
 * of the target mass that reaches e_i, the fraction that stops there (m values; 0 where no mass
 * arrives). logit of it is the bias an untrained head starts from (calibrate.ts).
 */
export function conditionalExitRates(targets: readonly (readonly number[])[], exitCount: number): number[] {
  const stops = new Array<number>(exitCount).fill(0);
  const reaches = new Array<number>(exitCount).fill(0);
  for (const q of targets) {
    let remaining = 1;
    for (let i = 0; i < exitCount; i++) {
      reaches[i]! += remaining;
      stops[i]! += q[i]!;
      remaining -= q[i]!;
    }
  }
  return stops.map((s, i) => (reaches[i]! > 0 ? Math.min(1, Math.max(0, s / reaches[i]!)) : 0));
}
