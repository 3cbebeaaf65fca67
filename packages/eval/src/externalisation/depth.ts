// "Depth where it matters": the exit-depth distribution of the CoT tokens whose corruption
// changes the answer (load-bearing tokens), against all CoT tokens. If the exit penalty pushed
// reasoning into the text, the tokens the answer hangs on should still get deep compute.

import type { DepthHistogram } from "./types.js";

/** Share of `exitLayers` at each of `layers` and the mean compute x / L. */
export function depthHistogram(exitLayers: readonly number[], layers: readonly number[], numLayers: number): DepthHistogram {
  const counts = layers.map(() => 0);
  for (const x of exitLayers) {
    const i = layers.indexOf(x);
    if (i < 0) throw new Error(`depthHistogram: exit layer ${x} is not one of the layers ${layers.join(", ")}`);
    counts[i]!++;
  }
  const n = exitLayers.length;
  return {
    tokens: n,
    shares: counts.map((c) => (n === 0 ? 0 : c / n)),
    meanCompute: n === 0 ? Number.NaN : exitLayers.reduce((sum, x) => sum + x, 0) / (n * numLayers),
  };
}
