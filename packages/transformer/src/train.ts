// Full-parameter language-model training for the decoder (pretraining / SFT of the bundled
// tiny model): random init, next-token cross-entropy, AdamW with warm-up + cosine decay,
// global gradient-norm clipping. Pure step functions; the loop lives with the caller.
//
// Legend: B batch, T time, C hidden, V vocab.
import { tf, Rng } from "@eecot/tensor-core";
import type { QwenConfig } from "./config.js";
import { attentionContext, decoderLayer, embed, unembed, type LinearParams, type QwenLayerParams, type QwenParams } from "./qwen.js";

/** Optimisation settings for full-parameter training. */
export interface LmTrainingConfig {
  /** Peak learning rate after warm-up, e.g. 3e-3 for a 1–3M-parameter model. */
  readonly learningRate: number;
  /** Floor of the cosine decay, e.g. 3e-4. */
  readonly minLearningRate: number;
  /** Linear warm-up steps, e.g. 50. */
  readonly warmupSteps: number;
  /** Total steps (the cosine reaches its floor here), e.g. 1200. */
  readonly totalSteps: number;
  /** Decoupled weight decay on matrices (not norms or biases), e.g. 0.01. */
  readonly weightDecay: number;
  /** Adam β₁, e.g. 0.9. */
  readonly beta1: number;
  /** Adam β₂, e.g. 0.95. */
  readonly beta2: number;
  /** Clip the global gradient norm to this, e.g. 1.0; 0 = off. */
  readonly maxGradNorm: number;
}

export const DEFAULT_LM_TRAINING_CONFIG: LmTrainingConfig = {
  learningRate: 3e-3,
  minLearningRate: 3e-4,
  warmupSteps: 50,
  totalSteps: 1000,
  weightDecay: 0.01,
  beta1: 0.9,
  beta2: 0.95,
  maxGradNorm: 1.0,
};

export function resolveLmTrainingConfig(overrides: Partial<LmTrainingConfig> = {}): LmTrainingConfig {
  const config = { ...DEFAULT_LM_TRAINING_CONFIG, ...overrides };
  const check = (ok: boolean, message: string) => {
    if (!ok) throw new Error(`LmTrainingConfig: ${message}`);
  };
  check(config.learningRate > 0, `learningRate must be > 0, got ${config.learningRate}`);
  check(config.minLearningRate >= 0 && config.minLearningRate <= config.learningRate, "minLearningRate must be in [0, learningRate]");
  check(Number.isInteger(config.warmupSteps) && config.warmupSteps >= 0, "warmupSteps must be a non-negative integer");
  check(Number.isInteger(config.totalSteps) && config.totalSteps > 0, "totalSteps must be a positive integer");
  check(config.weightDecay >= 0, "weightDecay must be ≥ 0");
  check(config.beta1 >= 0 && config.beta1 < 1 && config.beta2 >= 0 && config.beta2 < 1, "beta1/beta2 must be in [0, 1)");
  check(config.maxGradNorm >= 0, "maxGradNorm must be ≥ 0");
  return config;
}

/** Learning rate at `step` (0-based): linear warm-up, then cosine decay to the floor. */
export function learningRateAt(config: LmTrainingConfig, step: number): number {
  if (step < config.warmupSteps) return (config.learningRate * (step + 1)) / config.warmupSteps;
  const progress = Math.min(1, (step - config.warmupSteps) / Math.max(1, config.totalSteps - config.warmupSteps));
  return config.minLearningRate + 0.5 * (config.learningRate - config.minLearningRate) * (1 + Math.cos(Math.PI * progress));
}

let nextInstance = 0;

/** Randomly initialised trainable parameters (normal(0, 0.02) matrices, unit norms, zero biases). */
export function initQwenParams(config: QwenConfig, seed: number): QwenParams {
  const rng = new Rng(seed);
  const { hiddenSize: C, numHeads: H, numKvHeads: K, headDim: D, intermediateSize: F, vocabSize: V } = config;
  // tf.Variable names are global and must be unique: suffix this model's instance number.
  const instance = nextInstance++;
  const name = (n: string) => (instance === 0 ? n : `${n}#${instance}`);
  const matrix = (rows: number, cols: number, label: string, std = 0.02): tf.Variable<tf.Rank.R2> => {
    const values = new Float32Array(rows * cols);
    for (let i = 0; i < values.length; i++) values[i] = rng.normal() * std;
    return tf.variable(tf.tensor2d(values, [rows, cols]), true, name(label)) as tf.Variable<tf.Rank.R2>;
  };
  const ones = (n: number, label: string) => tf.variable(tf.ones([n]), true, name(label)) as tf.Variable<tf.Rank.R1>;
  const zeros = (n: number, label: string) => tf.variable(tf.zeros([n]), true, name(label)) as tf.Variable<tf.Rank.R1>;
  // Residual-branch outputs get a depth-scaled init (GPT-2 style) so the stream starts near identity.
  const outStd = 0.02 / Math.sqrt(2 * config.numLayers);
  const linearParams = (inDim: number, outDim: number, label: string, bias: boolean, std = 0.02): LinearParams => ({
    weightT: matrix(inDim, outDim, `${label}.weightT`, std),
    bias: bias ? zeros(outDim, `${label}.bias`) : null,
  });
  const layers: QwenLayerParams[] = [];
  for (let l = 0; l < config.numLayers; l++) {
    const p = `model.layers.${l}`;
    layers.push({
      inputLayernorm: ones(C, `${p}.input_layernorm`),
      qProj: linearParams(C, H * D, `${p}.q_proj`, config.attentionBias),
      kProj: linearParams(C, K * D, `${p}.k_proj`, config.attentionBias),
      vProj: linearParams(C, K * D, `${p}.v_proj`, config.attentionBias),
      oProj: linearParams(H * D, C, `${p}.o_proj`, config.outputProjectionBias, outStd),
      qNorm: config.qkNorm ? ones(D, `${p}.q_norm`) : null,
      kNorm: config.qkNorm ? ones(D, `${p}.k_norm`) : null,
      postAttentionLayernorm: ones(C, `${p}.post_attention_layernorm`),
      gateProj: linearParams(C, F, `${p}.gate_proj`, false),
      upProj: linearParams(C, F, `${p}.up_proj`, false),
      downProj: linearParams(F, C, `${p}.down_proj`, false, outStd),
    });
  }
  const embedTokens = matrix(V, C, "model.embed_tokens");
  const lmHeadT = config.tieWordEmbeddings ? (tf.transpose(embedTokens) as tf.Tensor2D) : matrix(C, V, "lm_head.weightT");
  return { embedTokens, layers, norm: ones(C, "model.norm"), lmHeadT };
}

/** The variables to optimise (the tied head is derived from the embedding, not a variable). */
export function trainableVariables(config: QwenConfig, params: QwenParams): tf.Variable[] {
  const all: tf.Tensor[] = [params.embedTokens, params.norm];
  if (!config.tieWordEmbeddings) all.push(params.lmHeadT);
  for (const l of params.layers) {
    all.push(l.inputLayernorm, l.postAttentionLayernorm);
    if (l.qNorm) all.push(l.qNorm);
    if (l.kNorm) all.push(l.kNorm);
    for (const p of [l.qProj, l.kProj, l.vProj, l.oProj, l.gateProj, l.upProj, l.downProj]) {
      all.push(p.weightT);
      if (p.bias) all.push(p.bias);
    }
  }
  for (const t of all) if (!(t instanceof tf.Variable)) throw new Error("trainableVariables: parameters must be tf.Variables (use initQwenParams or toVariables)");
  return all as tf.Variable[];
}

/** A batch of token rows (right-padded) with a per-position loss weight (0 on padding). */
export interface LmBatch {
  readonly ids: readonly (readonly number[])[]; // [B][T]
  /** 1 where the token is real (attended to), 0 for padding. [B][T] */
  readonly attentionMask: readonly (readonly number[])[];
  /** Weight of predicting token t+1 from position t, e.g. 1 on the assistant's answer. [B][T] */
  readonly lossMask: readonly (readonly number[])[];
}

/**
 * Mean next-token cross-entropy over positions with loss weight > 0. For tied embeddings the
 * unembedding is recomputed from the embedding inside the tape so both uses get gradients.
 */
export function languageModelLoss(params: QwenParams, config: QwenConfig, batch: LmBatch): tf.Scalar {
  return tf.tidy(() => {
    const B = batch.ids.length;
    const T = batch.ids[0]!.length;
    const C = config.hiddenSize;
    const live: QwenParams = config.tieWordEmbeddings ? { ...params, lmHeadT: tf.transpose(params.embedTokens) as tf.Tensor2D } : params;
    const context = attentionContext(config, batch.attentionMask, null);
    let hidden = embed(live, tf.tensor2d(batch.ids.map((r) => [...r]), [B, T], "int32")); // [B, T, C]
    live.layers.forEach((layer, l) => {
      hidden = decoderLayer(layer, l, config, hidden, context, null).hidden;
    });
    // Predict token t+1 from position t: positions 0..T-2.
    const inputs = tf.reshape(tf.slice(hidden, [0, 0, 0], [B, T - 1, C]), [B * (T - 1), C]) as tf.Tensor2D;
    const logits = unembed(live, config, inputs); // [B*(T-1), V]
    const targets: number[] = [];
    const weights: number[] = [];
    for (let b = 0; b < B; b++) {
      for (let t = 0; t < T - 1; t++) {
        targets.push(batch.ids[b]![t + 1]!);
        weights.push(batch.lossMask[b]![t]! * batch.attentionMask[b]![t + 1]!);
      }
    }
    const logProbs = tf.logSoftmax(logits); // [N, V]
    const picked = tf.sum(tf.mul(logProbs, tf.oneHot(tf.tensor1d(targets, "int32"), config.vocabSize)), -1); // [N]
    const weight = tf.tensor1d(weights);
    const total = Math.max(1e-9, weights.reduce((a, b) => a + b, 0));
    return tf.div(tf.neg(tf.sum(tf.mul(picked, weight))), total) as tf.Scalar;
  });
}

/** AdamW on a parameter set: one `step(batch)` = forward, backward, clip, update. */
export class LanguageModelTrainer {
  readonly optimizer: tf.AdamOptimizer;
  readonly variables: tf.Variable[];
  step = 0;

  constructor(
    readonly params: QwenParams,
    readonly modelConfig: QwenConfig,
    readonly config: LmTrainingConfig,
  ) {
    this.variables = trainableVariables(modelConfig, params);
    this.optimizer = tf.train.adam(config.learningRate, config.beta1, config.beta2, 1e-8);
  }

  /** One optimisation step; returns the loss before the update, the gradient norm and the rate used. */
  async trainStep(batch: LmBatch): Promise<{ loss: number; gradNorm: number; learningRate: number }> {
    const learningRate = learningRateAt(this.config, this.step);
    const { value, grads } = tf.variableGrads(() => languageModelLoss(this.params, this.modelConfig, batch), this.variables);
    const loss = (await value.data())[0]!;
    if (!Number.isFinite(loss)) {
      tf.dispose([value, ...Object.values(grads)]);
      throw new Error(`training step ${this.step}: loss is ${loss} (not finite); no update was applied`);
    }
    const normTensor = tf.tidy(() => tf.sqrt(tf.addN(Object.values(grads).map((g) => tf.sum(tf.square(g))))));
    const gradNorm = (await normTensor.data())[0]!; // async read: dataSync is unavailable on webgpu in Node
    normTensor.dispose();
    const scale = this.config.maxGradNorm > 0 && gradNorm > this.config.maxGradNorm ? this.config.maxGradNorm / gradNorm : 1;
    const scaled: Record<string, tf.Tensor> = {};
    for (const [name, g] of Object.entries(grads)) scaled[name] = scale === 1 ? g : tf.mul(g, scale);
    (this.optimizer as unknown as { learningRate: number }).learningRate = learningRate;
    this.optimizer.applyGradients(Object.entries(scaled).map(([name, tensor]) => ({ name, tensor })));
    // Decoupled weight decay on matrices: w ← w − lr · λ · w.
    if (this.config.weightDecay > 0) {
      tf.tidy(() => {
        for (const v of this.variables) if (v.rank === 2) v.assign(tf.mul(v, 1 - learningRate * this.config.weightDecay));
      });
    }
    tf.dispose([value, ...Object.values(grads), ...Object.values(scaled)]);
    this.step++;
    return { loss, gradNorm, learningRate };
  }

  /** Loss without an update (evaluation). */
  async evaluate(batch: LmBatch): Promise<number> {
    const loss = languageModelLoss(this.params, this.modelConfig, batch);
    const value = (await loss.data())[0]!;
    loss.dispose();
    return value;
  }
}
