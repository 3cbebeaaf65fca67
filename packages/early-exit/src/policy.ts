// The early-exit model as an augmented-vocabulary policy (the `@eecot/policy` contract that
// `@eecot/rloo` trains): each generated position is the joint action (x_t, y_t) with
//   log π(x_t, y_t) = log P_exit(x_t) + log softmax(W_U · norm(h_{x_t}))[y_t].
// Sampling and scoring both use the config's exitOffset and gate, and temperature 1 log-probs
// (a request at another temperature samples off-policy; its recorded log-probs are still π's).
import type { AugmentedVocabularyPolicy, PolicyRollout, RolloutRequest, TrainableGroups } from "@eecot/policy";
import { tf } from "@eecot/tensor-core";
import { sequenceLogProbs } from "./log-probs.js";
import type { EarlyExitModel } from "./model.js";

/** What the policy needs from a tokenizer (the transformer package's `Tokenizer` satisfies it). */
export interface TextCodec {
  encode(text: string): number[];
  decode(ids: readonly number[]): string;
  /** Render a conversation into the model's prompt format (Hugging Face chat template). */
  applyChatTemplate?(
    messages: readonly { readonly role: string; readonly content: string }[],
    options: { readonly addGenerationPrompt: boolean; readonly enableThinking?: boolean },
  ): string;
}

export interface EarlyExitPolicyOptions {
  /** Tokenizer-like codec for prompts and completions. */
  readonly codec: TextCodec;
  /** Tokens that end a rollout; default the model's eos_token_id(s). */
  readonly stopTokenIds?: readonly number[];
  /** Left-padding id; default the first stop token, else 0. */
  readonly padTokenId?: number;
  /** Nucleus cut for sampling, default 1 (off; keeps sampling on-policy). */
  readonly topP?: number;
  /** Wrap prompts in the codec's chat template when it has one (default true). */
  readonly useChatTemplate?: boolean;
  /** Optional system turn for the chat template, e.g. "Answer briefly.". */
  readonly systemPrompt?: string;
  /** Qwen3's thinking switch for the chat template (undefined = the template's default). */
  readonly enableThinking?: boolean;
  /** Rollouts generated per batch (default: all of a request in one batch). */
  readonly generationBatchSize?: number;
}

/**
 * Per-token estimate of the entropy (nats) of the gated exit distribution: the binary entropies
 * of the exit decisions the token actually faced, Σ_{e_j reached} H(p̃_j), with p̃_j = p_j when
 * p_j ≥ minExitProb and 0 otherwise. Stick-breaking gives H(X) = Σ_j P(reach e_j)·H(p̃_j) (chain
 * rule), so with x_t sampled from that distribution this is an unbiased estimate of H(X) that needs
 * no head above the exit (a frozen residual). `headProbabilities`: p_j per exitable layer, NaN
 * where the token never reached e_j.
 */
export function exitDecisionEntropy(headProbabilities: readonly number[], minExitProb: number): number {
  let entropy = 0;
  for (const p of headProbabilities) {
    if (Number.isNaN(p)) continue;
    const q = p >= minExitProb ? p : 0;
    if (q > 0 && q < 1) entropy -= q * Math.log(q) + (1 - q) * Math.log(1 - q);
  }
  return entropy;
}

/** The seed of rollout `index` of a request seeded `seed` (distinct for every pair while index < 2^16). */
export function rolloutSeed(seed: number, index: number): number {
  const value = seed * 65536 + index;
  if (!Number.isSafeInteger(value)) throw new Error(`rollout seed ${seed} is too large (|seed| must stay below 2^37)`);
  return value;
}

/** `AugmentedVocabularyPolicy` over an `EarlyExitModel`, with a frozen reference snapshot. */
export class EarlyExitPolicy implements AugmentedVocabularyPolicy {
  readonly numLayers: number;
  readonly exitLayers: readonly number[];
  private reference: EarlyExitModel;
  private readonly stopTokenIds: readonly number[];
  private readonly padTokenId: number;

  constructor(
    readonly model: EarlyExitModel,
    readonly options: EarlyExitPolicyOptions,
  ) {
    this.numLayers = model.numLayers;
    this.exitLayers = model.exitLayers;
    this.stopTokenIds = options.stopTokenIds ?? model.base.config.eosTokenIds;
    this.padTokenId = options.padTokenId ?? this.stopTokenIds[0] ?? 0;
    if (options.generationBatchSize !== undefined && !(Number.isInteger(options.generationBatchSize) && options.generationBatchSize > 0)) {
      throw new Error(`generationBatchSize must be a positive integer, got ${options.generationBatchSize}`);
    }
    this.reference = model.clone(false);
  }

  /** Snapshot the current adapters and heads as the frozen reference π_ref (done once at construction; call again after stage 1). */
  cloneReference(): void {
    this.reference.dispose();
    this.reference = this.model.clone(false);
  }

  /** Prompt text → token ids (through the chat template when configured). */
  encodePrompt(prompt: string): number[] {
    const { codec } = this.options;
    if (codec.applyChatTemplate && this.options.useChatTemplate !== false) {
      const messages = [...(this.options.systemPrompt ? [{ role: "system", content: this.options.systemPrompt }] : []), { role: "user", content: prompt }];
      const templateOptions = this.options.enableThinking === undefined ? { addGenerationPrompt: true } : { addGenerationPrompt: true, enableThinking: this.options.enableThinking };
      return codec.encode(codec.applyChatTemplate(messages, templateOptions));
    }
    return codec.encode(prompt);
  }

  async sampleRollouts(request: RolloutRequest): Promise<PolicyRollout[]> {
    if (!Number.isInteger(request.samplesPerPrompt) || request.samplesPerPrompt < 1) throw new Error(`samplesPerPrompt must be a positive integer, got ${request.samplesPerPrompt}`);
    const encoded = request.prompts.map((p) => this.encodePrompt(p));
    const jobs = encoded.flatMap((tokens, promptIndex) => Array.from({ length: request.samplesPerPrompt }, () => ({ promptIndex, tokens })));
    const batchSize = this.options.generationBatchSize ?? Math.max(1, jobs.length);
    const rollouts: PolicyRollout[] = [];
    for (let start = 0; start < jobs.length; start += batchSize) {
      const chunk = jobs.slice(start, start + batchSize);
      const result = await this.model.generate(
        chunk.map((j) => j.tokens),
        {
          maxNewTokens: request.maxNewTokens,
          temperature: request.temperature,
          topP: this.options.topP ?? 1,
          stopTokenIds: this.stopTokenIds,
          padTokenId: this.padTokenId,
          // Rollout j's own stream: the same rollouts whatever generationBatchSize is.
          rowSeeds: chunk.map((_, i) => rolloutSeed(request.seed, start + i)),
          mode: "sample",
        },
      );
      result.sequences.forEach((s, i) => {
        const job = chunk[i]!;
        const body = s.finished ? s.tokens.slice(0, -1) : s.tokens;
        rollouts.push({
          promptIndex: job.promptIndex,
          promptTokens: job.tokens,
          tokens: s.tokens,
          exitLayers: s.exitLayers,
          logProbs: s.logProbs,
          exitEntropies: s.headProbabilities.map((p) => exitDecisionEntropy(p, this.model.config.minExitProb)),
          text: this.options.codec.decode(body),
          finished: s.finished,
        });
      });
    }
    return rollouts;
  }

  sequenceLogProbs(rollouts: readonly PolicyRollout[]): tf.Tensor2D {
    return sequenceLogProbs(this.model, rollouts, { padTokenId: this.padTokenId, training: true });
  }

  async referenceLogProbs(rollouts: readonly PolicyRollout[]): Promise<number[][]> {
    const values = sequenceLogProbs(this.reference, rollouts, { padTokenId: this.padTokenId });
    const rows = (await values.array()) as number[][];
    values.dispose();
    return rows.map((row, i) => row.slice(0, rollouts[i]!.tokens.length));
  }

  trainableVariables(): TrainableGroups {
    return this.model.trainableVariables();
  }

  /** Free the reference snapshot (the model stays with its owner). */
  dispose(): void {
    this.reference.dispose();
  }
}
