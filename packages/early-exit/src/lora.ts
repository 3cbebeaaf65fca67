// LoRA adapters (Hu et al. 2021) on the frozen decoder, as a transformer `ProjectionAdapter`:
//
//   y = x · Wᵀ + (α / r) · x · Aᵀ · Bᵀ,   A: [r, in] ~ U(±1/√in), B: [out, r] = 0
//
// A's init is PEFT's `kaiming_uniform_(a=√5)`, whose bound is 1/√in. With B = 0 the adapted
// model equals the base model exactly. Weights are stored transposed (aT [in, r], bT [r, out])
// so both products are plain 2-D matMuls (ENGINE-NOTES); `adapter-io.ts` converts to PEFT's
// [r, in] / [out, r] layout. Dropout (PEFT's lora_dropout) acts on the adapter's input and only
// while `training` is set.
//
// Legend: N rows, r rank, in / out projection widths.
import { tf, linear } from "@eecot/tensor-core";
import type { ProjectionAdapter, ProjectionName, QwenConfig } from "@eecot/transformer";
import type { LoraConfig } from "./config.js";

/** One adapted projection of one layer. */
export interface LoraWeights {
  /** 0-based decoder layer index, as in `model.layers.N`. */
  readonly layerIndex: number;
  readonly projection: ProjectionName;
  readonly aT: tf.Variable<tf.Rank.R2>; // [in, r]  (lora_A.weight transposed)
  readonly bT: tf.Variable<tf.Rank.R2>; // [r, out] (lora_B.weight transposed)
}

/** [in, out] of a projection for a model config. */
export function projectionShape(config: QwenConfig, projection: ProjectionName): [number, number] {
  const { hiddenSize: C, numHeads: H, numKvHeads: K, headDim: D, intermediateSize: F } = config;
  switch (projection) {
    case "q_proj":
      return [C, H * D];
    case "k_proj":
    case "v_proj":
      return [C, K * D];
    case "o_proj":
      return [H * D, C];
    case "gate_proj":
    case "up_proj":
      return [C, F];
    case "down_proj":
      return [F, C];
  }
}

const key = (layerIndex: number, projection: ProjectionName) => `${layerIndex}.${projection}`;

/** The LoRA adapters of a whole model. */
export class LoraAdapters implements ProjectionAdapter {
  /** Apply dropout to the adapter input (training passes only). */
  training = false;
  private readonly byKey: Map<string, LoraWeights>;
  private dropoutCalls = 0;

  constructor(
    readonly config: LoraConfig,
    readonly weights: readonly LoraWeights[],
    private readonly seed = 0,
  ) {
    this.byKey = new Map(weights.map((w) => [key(w.layerIndex, w.projection), w]));
  }

  /** α / r. */
  get scale(): number {
    return this.config.alpha / this.config.rank;
  }

  /** (α / r) · x · Aᵀ · Bᵀ for an adapted projection, else null. */
  delta(layerIndex: number, projection: ProjectionName, input: tf.Tensor2D): tf.Tensor2D | null {
    const w = this.byKey.get(key(layerIndex, projection));
    if (!w) return null;
    return tf.tidy(() => {
      let x = input; // [N, in]
      if (this.training && this.config.dropout > 0) x = tf.dropout(x, this.config.dropout, undefined, this.seed * 1_000_003 + this.dropoutCalls++) as tf.Tensor2D;
      const low = linear(x, w.aT) as tf.Tensor2D; // [N, r]
      return tf.mul(linear(low, w.bT), this.scale) as tf.Tensor2D; // [N, out]
    });
  }

  /** Adapter of one projection, if present. */
  get(layerIndex: number, projection: ProjectionName): LoraWeights | undefined {
    return this.byKey.get(key(layerIndex, projection));
  }

  /** All variables in a fixed order (per layer, per target module: aT then bT). */
  variables(): tf.Variable[] {
    return this.weights.flatMap((w) => [w.aT, w.bT]);
  }

  /** A copy with new variables (e.g. a frozen reference). */
  clone(trainable: boolean): LoraAdapters {
    const weights = this.weights.map((w) => ({
      layerIndex: w.layerIndex,
      projection: w.projection,
      aT: tf.variable(w.aT, trainable) as tf.Variable<tf.Rank.R2>,
      bT: tf.variable(w.bT, trainable) as tf.Variable<tf.Rank.R2>,
    }));
    return new LoraAdapters(this.config, weights, this.seed);
  }

  dispose(): void {
    tf.dispose(this.variables());
  }
}

/** Fresh adapters for every layer and target module: A random (seeded), B zero. */
export function createLoraAdapters(model: QwenConfig, lora: LoraConfig, options: { seed: number; trainable?: boolean }): LoraAdapters {
  const trainable = options.trainable ?? true;
  const weights: LoraWeights[] = [];
  let index = 0;
  for (let l = 0; l < model.numLayers; l++) {
    for (const projection of lora.targetModules) {
      const [inputs, outputs] = projectionShape(model, projection);
      const bound = 1 / Math.sqrt(inputs);
      const seed = options.seed * 104_729 + index++;
      weights.push({
        layerIndex: l,
        projection,
        aT: tf.tidy(() => tf.variable(tf.randomUniform([inputs, lora.rank], -bound, bound, "float32", seed), trainable)) as tf.Variable<tf.Rank.R2>,
        bT: tf.tidy(() => tf.variable(tf.zeros([lora.rank, outputs]), trainable)) as tf.Variable<tf.Rank.R2>,
      });
    }
  }
  return new LoraAdapters(lora, weights, options.seed);
}
