// Calibration of learned exits against stage-1 targets (METHOD.md §4, paper appendix A.2).
//
// Each token t has two distributions over the exit layers E ∪ {L}: the learned one P_t (the
// student's stick-breaking distribution) and the target Q_t (from the KL heuristic, §2.3).
//
//   TV(P, Q)                = ½ Σ_l |P(l) − Q(l)|                      (in 0..1)
//   mean token TV           = (1/N) Σ_t TV(P_t, Q_t)
//   histogram (mass)        = P̄(l) = (1/N) Σ_t P_t(l), likewise Q̄
//   per-layer contribution  = ½ |P̄(l) − Q̄(l)|   (sums over l to TV(P̄, Q̄), the histogram TV)
//
// Histogram TV compares the aggregate shapes (what the paper's Figure 4 shows); mean token TV
// also penalises a model that matches the aggregate but puts the mass on the wrong tokens
// (TV(P̄, Q̄) ≤ mean token TV by convexity). To compare sampled exits, pass one-hot rows.

/** Tolerance on distributions summing to 1. */
const SUM_TOLERANCE = 1e-4;

function checkDistribution(p: readonly number[], where: string): void {
  let sum = 0;
  for (const value of p) {
    if (!Number.isFinite(value) || value < -1e-12) throw new Error(`${where}: probability ${value} is not a finite non-negative number`);
    sum += value;
  }
  if (Math.abs(sum - 1) > SUM_TOLERANCE) throw new Error(`${where}: probabilities sum to ${sum}, not 1`);
}

/** Total-variation distance ½ Σ |p − q| between two distributions over the same support. */
export function totalVariation(p: readonly number[], q: readonly number[]): number {
  if (p.length !== q.length) throw new Error(`totalVariation: distributions have ${p.length} and ${q.length} entries`);
  checkDistribution(p, "totalVariation (first)");
  checkDistribution(q, "totalVariation (second)");
  let sum = 0;
  for (let i = 0; i < p.length; i++) sum += Math.abs((p[i] ?? 0) - (q[i] ?? 0));
  return sum / 2;
}

/** Per-token TV distances between paired distributions, and their mean. */
export function tokenTotalVariation(
  learned: readonly (readonly number[])[],
  target: readonly (readonly number[])[],
): { perToken: number[]; mean: number } {
  if (learned.length !== target.length) throw new Error(`tokenTotalVariation: ${learned.length} learned but ${target.length} target tokens`);
  if (learned.length === 0) throw new Error("tokenTotalVariation: no tokens given");
  const perToken = learned.map((p, t) => {
    const q = target[t] ?? [];
    try {
      return totalVariation(p, q);
    } catch (error) {
      throw new Error(`tokenTotalVariation: token ${t}: ${(error as Error).message}`);
    }
  });
  return { perToken, mean: perToken.reduce((a, b) => a + b, 0) / perToken.length };
}

/** One layer of the learned-vs-target comparison. */
export interface ExitLayerComparison {
  /** Layer (an exitable layer, or L). */
  readonly layer: number;
  /** Mean learned probability of exiting here, P̄(l). */
  readonly learnedMass: number;
  /** Mean target probability of exiting here, Q̄(l). */
  readonly targetMass: number;
  /** ½ |P̄(l) − Q̄(l)|; the contributions sum to histogramTotalVariation. */
  readonly totalVariationContribution: number;
}

/** Learned vs target exit distributions, per layer and overall (paper appendix A.2). */
export interface ExitDistributionComparison {
  /** One entry per layer of E ∪ {L}, increasing. */
  readonly layers: readonly ExitLayerComparison[];
  /** TV(P̄, Q̄) between the two histograms. */
  readonly histogramTotalVariation: number;
  /** Mean over tokens of TV(P_t, Q_t). */
  readonly meanTokenTotalVariation: number;
  /** Number of tokens compared. */
  readonly tokenCount: number;
  /** Learned early-exit rate: 1 − P̄(L). */
  readonly learnedEarlyExitRate: number;
  /** Target early-exit rate: 1 − Q̄(L). */
  readonly targetEarlyExitRate: number;
}

/**
 * Compare per-token learned and target exit distributions. `layers` labels the columns
 * (E ∪ {L}, increasing, the last one is L); every row has one probability per layer.
 */
export function compareExitDistributions(
  learned: readonly (readonly number[])[],
  target: readonly (readonly number[])[],
  layers: readonly number[],
): ExitDistributionComparison {
  const width = layers.length;
  if (width === 0) throw new Error("compareExitDistributions: no layers given");
  for (const [name, rows] of [["learned", learned], ["target", target]] as const) {
    rows.forEach((row, t) => {
      if (row.length !== width) throw new Error(`compareExitDistributions: ${name} token ${t} has ${row.length} probabilities for ${width} layers`);
    });
  }
  const { mean } = tokenTotalVariation(learned, target);
  const learnedMass = new Array<number>(width).fill(0);
  const targetMass = new Array<number>(width).fill(0);
  const N = learned.length;
  for (let t = 0; t < N; t++) {
    for (let l = 0; l < width; l++) {
      learnedMass[l]! += (learned[t]?.[l] ?? 0) / N;
      targetMass[l]! += (target[t]?.[l] ?? 0) / N;
    }
  }
  const comparisons = layers.map((layer, l) => {
    const p = learnedMass[l] ?? 0;
    const q = targetMass[l] ?? 0;
    return { layer, learnedMass: p, targetMass: q, totalVariationContribution: Math.abs(p - q) / 2 };
  });
  return {
    layers: comparisons,
    histogramTotalVariation: comparisons.reduce((sum, c) => sum + c.totalVariationContribution, 0),
    meanTokenTotalVariation: mean,
    tokenCount: N,
    learnedEarlyExitRate: 1 - (learnedMass[width - 1] ?? 0),
    targetEarlyExitRate: 1 - (targetMass[width - 1] ?? 0),
  };
}
