// Exit-depth metrics (METHOD.md §4): early-exit rate, Average Layer Savings, compute.
//
// Input is one array of exit layers per generated sequence: exitLayers[i][t] = x_t ∈ E ∪ {L}
// (layers numbered 1..L, L = full depth, E = exitable layers). Only generated positions count;
// prompt positions always run at full depth and are not passed in.
//
//   early-exit rate  = (1/N) Σ_t [x_t < L]                       (pooled over all N tokens)
//   ALS              = (1/N) Σ_t (L − x_t) / L                    (pooled over all N tokens)
//   average compute  = 1 − ALS = (1/N) Σ_t x_t / L
//   total compute    = mean over sequences of T_i × average compute_i = mean_i Σ_t x_t / L
//
// Pooling over tokens (not averaging per-sequence means) matches the paper's "averaged across
// all generated tokens"; total compute is per sequence by definition, then averaged.

/** Depth layout shared by the exit metrics. */
export interface ExitLayout {
  /** Decoder depth L (the final layer, the catch-all). Example: 28. */
  readonly numLayers: number;
  /** Exitable layers E, strictly increasing, each in 1..L−1. Example: [5, 10, 15, 20, 25]. */
  readonly exitableLayers: readonly number[];
}

/** One bar of the exit histogram. */
export interface ExitHistogramBin {
  /** Layer (an exitable layer, or L for "ran to full depth"). */
  readonly layer: number;
  /** Number of generated tokens that exited at this layer. */
  readonly count: number;
  /** count / total tokens. */
  readonly fraction: number;
}

/** Exit-depth summary of a set of generated sequences. */
export interface ExitSummary {
  /** Number of sequences. */
  readonly sequenceCount: number;
  /** Number of generated tokens over all sequences (N). */
  readonly tokenCount: number;
  /** Mean generated length (tokens per sequence). */
  readonly meanGeneratedLength: number;
  /** Fraction of tokens with x_t < L. */
  readonly earlyExitRate: number;
  /** ALS = mean (L − x_t) / L over tokens, in 0..1. */
  readonly averageLayerSavings: number;
  /** 1 − ALS: fraction of the depth used per token. */
  readonly averageCompute: number;
  /** Mean over sequences of Σ_t x_t / L (generated length × average compute, in full-depth tokens). */
  readonly totalCompute: number;
  /** One bin per layer of E ∪ {L}, in increasing layer order. */
  readonly histogram: readonly ExitHistogramBin[];
}

/** Validate a layout; returns E ∪ {L} (the possible exit layers, increasing). */
export function exitLayersOf(layout: ExitLayout): number[] {
  const { numLayers, exitableLayers } = layout;
  if (!Number.isInteger(numLayers) || numLayers < 1) {
    throw new Error(`exit layout: numLayers must be a positive integer, got ${numLayers}`);
  }
  let previous = 0;
  for (const layer of exitableLayers) {
    if (!Number.isInteger(layer) || layer <= previous || layer >= numLayers) {
      throw new Error(
        `exit layout: exitableLayers must be increasing integers in 1..${numLayers - 1}, got [${exitableLayers.join(", ")}]`,
      );
    }
    previous = layer;
  }
  return [...exitableLayers, numLayers];
}

/** Throw a clear error unless every x_t is one of E ∪ {L}. */
function checkExitLayers(exitLayers: readonly (readonly number[])[], allowed: ReadonlySet<number>, where: string): void {
  exitLayers.forEach((sequence, i) => {
    sequence.forEach((layer, t) => {
      if (!allowed.has(layer)) {
        throw new Error(`${where}: exit layer ${layer} at sequence ${i}, token ${t} is not one of [${[...allowed].join(", ")}]`);
      }
    });
  });
}

/** Per-layer exit histogram over E ∪ {L} (counts and fractions of all tokens). */
export function exitHistogram(exitLayers: readonly (readonly number[])[], layout: ExitLayout): ExitHistogramBin[] {
  const layers = exitLayersOf(layout);
  checkExitLayers(exitLayers, new Set(layers), "exitHistogram");
  const counts = new Map<number, number>(layers.map((layer) => [layer, 0]));
  let total = 0;
  for (const sequence of exitLayers) {
    for (const layer of sequence) {
      counts.set(layer, (counts.get(layer) ?? 0) + 1);
      total++;
    }
  }
  return layers.map((layer) => {
    const count = counts.get(layer) ?? 0;
    return { layer, count, fraction: total === 0 ? 0 : count / total };
  });
}

/** Early-exit rate, ALS, average/total compute and histogram of generated sequences' exits. */
export function summarizeExits(exitLayers: readonly (readonly number[])[], layout: ExitLayout): ExitSummary {
  const L = layout.numLayers;
  const histogram = exitHistogram(exitLayers, layout); // validates layout and layers
  const sequenceCount = exitLayers.length;
  if (sequenceCount === 0) throw new Error("summarizeExits: no sequences given");
  let tokenCount = 0;
  let earlyExits = 0;
  let depthSum = 0; // Σ_t x_t / L over all tokens
  let savingsSum = 0; // Σ_t (L − x_t) / L over all tokens
  for (const sequence of exitLayers) {
    for (const layer of sequence) {
      tokenCount++;
      if (layer < L) earlyExits++;
      depthSum += layer / L;
      savingsSum += (L - layer) / L;
    }
  }
  if (tokenCount === 0) throw new Error("summarizeExits: the sequences contain no generated tokens");
  return {
    sequenceCount,
    tokenCount,
    meanGeneratedLength: tokenCount / sequenceCount,
    earlyExitRate: earlyExits / tokenCount,
    averageLayerSavings: savingsSum / tokenCount,
    averageCompute: depthSum / tokenCount,
    totalCompute: depthSum / sequenceCount,
    histogram,
  };
}
