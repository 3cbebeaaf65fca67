// A tiny categorical policy implementing the augmented-vocabulary contract, for RL tests.
//
// For prompt p and generated position t (row s = min(t, S−1)) the action is (exit, token):
//   exit:  stick-breaking over E ∪ {L} from head logits z[p, :]   ("heads" group)
//          P(e_i) = σ(z_i) Π_{j<i} (1 − σ(z_j)),   P(L) = Π_j (1 − σ(z_j))
//   token: softmax((x / L) · w[p, s, :] / τ)                       ("lora" group)
// so an early exit reads a softer "logit lens" than full depth: exiting early costs accuracy,
// which gives the exit-depth penalty λ something to trade against. Token 0 is a stop token when
// `stopToken` is on. There is no gate (minExitProb = 0) and nothing depends on earlier tokens, so
// every completion's probability is a product of table entries and can be enumerated exactly.
// Legend: P prompts, S position rows, J = |E| + 1 exit choices, V vocabulary, N rollouts, T time.

import { Rng, tf } from "@eecot/tensor-core";
import type { AugmentedVocabularyPolicy, PolicyRollout, RolloutRequest, TrainableGroups } from "@eecot/policy";
import type { TaskReward } from "../rewards.js";

export interface ToyPolicyConfig {
  /** Prompt texts the toy knows (row p of every table), e.g. ["p0", "p1"]. */
  readonly prompts: readonly string[];
  /** Vocabulary size V (token v's text is `t${v}`), e.g. 3. */
  readonly vocabularySize: number;
  /** Full depth L, e.g. 4. */
  readonly numLayers: number;
  /** Exitable layers e_1 < … < e_m < L, e.g. [1, 2]. */
  readonly exitLayers: readonly number[];
  /** Distinct per-position token rows S (later positions reuse the last), e.g. 2. */
  readonly positions: number;
  /** Token 0 ends a completion (and is not part of its text), e.g. true. */
  readonly stopToken: boolean;
  /** Initial head logit z (σ(z) = exit probability at every exit), e.g. 0. */
  readonly initialExitLogit: number;
  /** Initial token logits w[p, s, v], filled with this value at v = 1 ("a weak prior"), e.g. 0. */
  readonly initialTokenBias: number;
}

export const DEFAULT_TOY_POLICY_CONFIG: ToyPolicyConfig = {
  prompts: ["p0", "p1"],
  vocabularySize: 3,
  numLayers: 4,
  exitLayers: [1, 2],
  positions: 2,
  stopToken: true,
  initialExitLogit: 0,
  initialTokenBias: 0,
};

/** A toy completion's text: non-stop tokens as `t${v}` joined by spaces, e.g. "t2 t1". */
export function toyText(tokens: readonly number[], stopToken: boolean): string {
  return tokens.filter((v) => !(stopToken && v === 0)).map((v) => `t${v}`).join(" ");
}

/**
 * The toy task reward, shaped like GSM8K's: 1 when the completion is exactly the reference token,
 * 0.5 when it starts with it but goes on, 0 when it starts with another token, −1 when empty.
 */
export function toyTaskReward(_prompt: string, completion: string, reference: string): TaskReward {
  const words = completion.split(" ").filter((w) => w.length > 0);
  const correct = words[0] === reference;
  const formatOk = words.length === 1;
  const reward = words.length === 0 ? -1 : correct ? (formatOk ? 1 : 0.5) : 0;
  return { reward, parts: { correct, formatOk } };
}

export class ToyPolicy implements AugmentedVocabularyPolicy {
  readonly numLayers: number;
  readonly exitLayers: readonly number[];
  /** Head logits z [P, m]. */
  readonly headLogits: tf.Variable<tf.Rank.R2>;
  /** Token logits w [P, S, V]. */
  readonly tokenLogits: tf.Variable<tf.Rank.R3>;
  private referenceHeadLogits: tf.Tensor2D;
  private referenceTokenLogits: tf.Tensor3D;

  constructor(readonly config: ToyPolicyConfig) {
    const { prompts, vocabularySize: V, numLayers: L, exitLayers, positions: S } = config;
    const P = prompts.length;
    if (P < 1 || new Set(prompts).size !== P) throw new Error("ToyPolicy: prompts must be non-empty and distinct");
    if (exitLayers.some((e, i) => !Number.isInteger(e) || e < 1 || e >= L || (i > 0 && e <= exitLayers[i - 1]!))) {
      throw new Error(`ToyPolicy: exitLayers must increase within 1..${L - 1}`);
    }
    this.numLayers = L;
    this.exitLayers = [...exitLayers];
    this.headLogits = tf.tidy(() => tf.variable(tf.fill([P, exitLayers.length], config.initialExitLogit) as tf.Tensor2D));
    this.tokenLogits = tf.tidy(() =>
      tf.variable(tf.mul(tf.oneHot(tf.fill([P, S], 1, "int32"), V, 1, 0, "float32"), config.initialTokenBias) as tf.Tensor3D),
    );
    this.referenceHeadLogits = tf.clone(this.headLogits);
    this.referenceTokenLogits = tf.clone(this.tokenLogits);
  }

  /** Exit choices x_j: the exitable layers, then L. */
  get exitChoices(): number[] {
    return [...this.exitLayers, this.numLayers];
  }

  /** Freeze the current parameters as π_ref. */
  setReference(): void {
    tf.dispose([this.referenceHeadLogits, this.referenceTokenLogits]);
    this.referenceHeadLogits = tf.clone(this.headLogits);
    this.referenceTokenLogits = tf.clone(this.tokenLogits);
  }

  /** log π(exit j, token v | p, s) for every table entry: [P, S, J, V]. */
  logPolicyTable(headLogits: tf.Tensor2D, tokenLogits: tf.Tensor3D, temperature = 1): tf.Tensor4D {
    return tf.tidy(() => {
      const [P, S, V] = tokenLogits.shape;
      const J = this.exitLayers.length + 1;
      // log σ(z) = −softplus(−z), log(1 − σ(z)) = −softplus(z) (tf.logSigmoid's gradient fails on intermediates in tfjs 4.22)
      const logStay = tf.neg(tf.softplus(headLogits)); // log(1 − σ(z)) [P, m]
      const stayedBefore = tf.cumsum(logStay, 1, true); // Σ_{j<i} log(1 − σ(z_j)) [P, m]
      const logGo = tf.neg(tf.softplus(tf.neg(headLogits))); // log σ(z) [P, m]
      const logExit = tf.concat([tf.add(logGo, stayedBefore), tf.sum(logStay, 1, true)], 1); // [P, J]
      const depth = tf.tensor4d(this.exitChoices.map((x) => x / this.numLayers / temperature), [1, 1, J, 1]); // [1, 1, J, 1]
      const logits = tf.mul(tf.reshape(tokenLogits, [P, S, 1, V]), depth); // [P, S, J, V]
      return tf.add(tf.logSoftmax(logits, -1), tf.reshape(logExit, [P, 1, J, 1])) as tf.Tensor4D; // [P, S, J, V]
    });
  }

  async sampleRollouts(request: RolloutRequest): Promise<PolicyRollout[]> {
    const { V, S, J } = this.dims();
    const table = this.logPolicyTable(this.headLogits, this.tokenLogits, request.temperature);
    const logTable = (await table.data()) as Float32Array; // [P·S·J·V]
    table.dispose();
    const entropies = await this.exitEntropies();
    const rng = new Rng(request.seed);
    const rollouts: PolicyRollout[] = [];
    request.prompts.forEach((prompt, promptIndex) => {
      const p = this.promptRow(prompt);
      for (let sample = 0; sample < request.samplesPerPrompt; sample++) {
        const tokens: number[] = [], exitLayers: number[] = [], logProbs: number[] = [];
        let finished = false;
        for (let t = 0; t < request.maxNewTokens && !finished; t++) {
          const offset = (p * S + Math.min(t, S - 1)) * J * V;
          const entry = sampleCategorical(logTable, offset, J * V, rng.uniform()); // j·V + v
          tokens.push(entry % V);
          exitLayers.push(this.exitChoices[Math.floor(entry / V)]!);
          logProbs.push(logTable[offset + entry]!);
          finished = this.config.stopToken && entry % V === 0;
        }
        rollouts.push({
          promptIndex,
          promptTokens: [p],
          tokens,
          exitLayers,
          logProbs,
          exitEntropies: tokens.map(() => entropies[p]!),
          text: toyText(tokens, this.config.stopToken),
          finished,
        });
      }
    });
    return rollouts;
  }

  sequenceLogProbs(rollouts: readonly PolicyRollout[]): tf.Tensor2D {
    return this.scoreRollouts(rollouts, this.headLogits, this.tokenLogits);
  }

  async referenceLogProbs(rollouts: readonly PolicyRollout[]): Promise<number[][]> {
    const scores = this.scoreRollouts(rollouts, this.referenceHeadLogits, this.referenceTokenLogits);
    const rows = (await scores.array()) as number[][];
    scores.dispose();
    return rows.map((row, i) => row.slice(0, rollouts[i]!.tokens.length));
  }

  trainableVariables(): TrainableGroups {
    return { lora: [this.tokenLogits], heads: [this.headLogits] };
  }

  /** Exit distribution over `exitChoices` for a prompt under the current parameters. */
  async exitDistribution(prompt: string): Promise<number[]> {
    const { S, J, V } = this.dims();
    const table = this.logPolicyTable(this.headLogits, this.tokenLogits);
    const logTable = await table.data();
    table.dispose();
    const offset = this.promptRow(prompt) * S * J * V;
    return Array.from({ length: J }, (_, j) => {
      let total = 0;
      for (let v = 0; v < V; v++) total += Math.exp(logTable[offset + j * V + v]!);
      return total;
    });
  }

  /**
   * Every possible completion of `prompt` (up to `maxNewTokens`) as a rollout, with its exact
   * probability under the current parameters at temperature 1. Sizes grow as (J·V)^maxNewTokens.
   */
  async enumerateRollouts(
    prompt: string,
    promptIndex: number,
    maxNewTokens: number,
  ): Promise<{ rollout: PolicyRollout; probability: number }[]> {
    const { V, S, J } = this.dims();
    const p = this.promptRow(prompt);
    const table = this.logPolicyTable(this.headLogits, this.tokenLogits);
    const logTable = await table.data();
    table.dispose();
    const results: { rollout: PolicyRollout; probability: number }[] = [];
    const extend = (tokens: number[], exitLayers: number[], logProbs: number[]) => {
      const t = tokens.length;
      const finished = this.config.stopToken && t > 0 && tokens[t - 1] === 0;
      if (finished || t === maxNewTokens) {
        const rollout: PolicyRollout = {
          promptIndex,
          promptTokens: [p],
          tokens,
          exitLayers,
          logProbs,
          text: toyText(tokens, this.config.stopToken),
          finished,
        };
        results.push({ rollout, probability: Math.exp(logProbs.reduce((a, b) => a + b, 0)) });
        return;
      }
      const offset = (p * S + Math.min(t, S - 1)) * J * V;
      for (let entry = 0; entry < J * V; entry++) {
        extend(
          [...tokens, entry % V],
          [...exitLayers, this.exitChoices[Math.floor(entry / V)]!],
          [...logProbs, logTable[offset + entry]!],
        );
      }
    };
    extend([], [], []);
    return results;
  }

  dispose(): void {
    tf.dispose([this.headLogits, this.tokenLogits, this.referenceHeadLogits, this.referenceTokenLogits]);
  }

  private dims() {
    const [P, S, V] = this.tokenLogits.shape;
    return { P, S, V, J: this.exitLayers.length + 1 };
  }

  private promptRow(prompt: string): number {
    const p = this.config.prompts.indexOf(prompt);
    if (p < 0) throw new Error(`ToyPolicy: unknown prompt ${JSON.stringify(prompt)}`);
    return p;
  }

  private async exitEntropies(): Promise<number[]> {
    return Promise.all(
      this.config.prompts.map(async (prompt) => {
        const probabilities = await this.exitDistribution(prompt);
        return -probabilities.reduce((sum, q) => sum + (q > 0 ? q * Math.log(q) : 0), 0);
      }),
    );
  }

  /** log π of each rollout's actions under (z, w) via a one-hot selection matmul: [N, Tmax]. */
  private scoreRollouts(rollouts: readonly PolicyRollout[], headLogits: tf.Tensor2D, tokenLogits: tf.Tensor3D): tf.Tensor2D {
    const { P, S, J, V } = this.dims();
    const N = rollouts.length;
    const T = Math.max(1, ...rollouts.map((r) => r.tokens.length));
    const selection = new Float32Array(N * T * P * S * J * V); // one-hot rows [N·T, P·S·J·V]
    rollouts.forEach((rollout, i) => {
      const p = rollout.promptTokens[0]!;
      rollout.tokens.forEach((v, t) => {
        const j = this.exitChoices.indexOf(rollout.exitLayers[t]!);
        if (j < 0) throw new Error(`ToyPolicy: exit layer ${rollout.exitLayers[t]} is not one of ${this.exitChoices.join(", ")}`);
        const entry = ((p * S + Math.min(t, S - 1)) * J + j) * V + v;
        selection[(i * T + t) * P * S * J * V + entry] = 1;
      });
    });
    return tf.tidy(() => {
      const table = tf.reshape(this.logPolicyTable(headLogits, tokenLogits), [P * S * J * V, 1]); // [P·S·J·V, 1]
      const picked = tf.matMul(tf.tensor2d(selection, [N * T, P * S * J * V]), table); // [N·T, 1]
      return tf.reshape(picked, [N, T]) as tf.Tensor2D; // [N, T]
    });
  }
}

/** A toy policy with `DEFAULT_TOY_POLICY_CONFIG` overridden by `overrides`. */
export function createToyPolicy(overrides: Partial<ToyPolicyConfig> = {}): ToyPolicy {
  return new ToyPolicy({ ...DEFAULT_TOY_POLICY_CONFIG, ...overrides });
}

/** Index of the entry drawn from exp(logTable[offset .. offset+count)) with uniform u ∈ [0, 1). */
function sampleCategorical(logTable: Float32Array, offset: number, count: number, u: number): number {
  let total = 0;
  for (let i = 0; i < count; i++) total += Math.exp(logTable[offset + i]!);
  let threshold = u * total;
  for (let i = 0; i < count; i++) {
    threshold -= Math.exp(logTable[offset + i]!);
    if (threshold < 0) return i;
  }
  return count - 1;
}
