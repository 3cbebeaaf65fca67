// The contract between the externalisation metrics and a model. The metrics never see tensors:
// a model is an `Answerer` that continues an assistant turn from a given text prefix and reports
// the exit layer of every token it wrote (the CLI implements it with the early-exit model; tests
// implement it with scripted answers). Everything else here is the JSON record the metrics write.

export type ExternalisationTask = "gsm8k" | "tom";

/** The people, rooms and containers of a theory-of-mind story (what a ToM corruption swaps). */
export interface StoryEntities {
  readonly people: readonly string[];
  readonly rooms: readonly string[];
  readonly containers: readonly string[];
}

/** One problem. */
export interface ExternalisationProblem {
  /** Stable id, e.g. "gsm-synthetic:1000020:3". */
  readonly id: string;
  readonly task: ExternalisationTask;
  /** The user message. */
  readonly prompt: string;
  /** The reference answer, normalised the way `AnswerReader` normalises. */
  readonly reference: string;
  /** ToM: the story's entities; without them a ToM problem gets no corruptions. */
  readonly entities?: StoryEntities;
}

/** Continue the assistant turn of `prompt` after the forced text `prefix` ("" = a fresh answer). */
export interface ContinuationRequest {
  readonly prompt: string;
  readonly prefix: string;
  readonly maxNewTokens: number;
}

/** What the model wrote after the prefix: token texts (concatenating to the text) and exit layers. */
export interface Continuation {
  readonly pieces: readonly string[];
  /** Exit layer per piece, 1..L (L = full depth). */
  readonly exitLayers: readonly number[];
}

/** A model as the metrics see it. */
export interface Answerer {
  /** Identity for caches: model, adapter, exit settings. Example: "tiny-reasoner+runs/x/stage1/adapter:sample". */
  readonly id: string;
  /** Decoder depth L. */
  readonly numLayers: number;
  /** Exit layers the model can report, E ∪ {L}, increasing. Example: [2, 4, 6, 8]. */
  readonly layers: readonly number[];
  /** Continue every request (one batch); deterministic for a given batch and seed. */
  complete(requests: readonly ContinuationRequest[], seed: number): Promise<Continuation[]>;
  /** Text of exactly `tokenCount` filler tokens for this model's tokenizer, e.g. "....". */
  fillerText(tokenCount: number): string;
}

/** The normalised final answer in an answer text (from its answer line on), or null. */
export type AnswerReader = (task: ExternalisationTask, answerText: string) => string | null;

/** A cache of answered batches, keyed by a canonical JSON description of the batch. */
export interface ContinuationStore {
  get(key: string): Promise<readonly Continuation[] | undefined>;
  set(key: string, value: readonly Continuation[]): Promise<void>;
}

/** Settings of one measurement. */
export interface ExternalisationOptions {
  /** Fractions of the CoT kept for early answering. Default 0, 0.1, …, 1. */
  readonly fractions?: readonly number[];
  /** Length limit of a full answer and of a regeneration after a corruption. Default 64. */
  readonly maxNewTokens?: number;
  /** Length limit of a forced answer after the cue. Default 8. */
  readonly answerTokens?: number;
  /** Corruptions tried per problem (spread over the CoT). Default 4. */
  readonly corruptionsPerProblem?: number;
  /** Requests per model call. Default 16. */
  readonly batchSize?: number;
  /** Seed of the model calls and of the corruption choices. Default 0. */
  readonly seed?: number;
  readonly store?: ContinuationStore;
  readonly onProgress?: (phase: string, done: number, total: number) => void;
}

/** Exit-depth distribution of a set of tokens. */
export interface DepthHistogram {
  readonly tokens: number;
  /** Share of the tokens at each of `layers`. */
  readonly shares: readonly number[];
  /** Mean exit layer / L (1 = all full depth); NaN without tokens. */
  readonly meanCompute: number;
}

/** Early answering: agreement with the full-CoT answer per fraction of the CoT kept. */
export interface EarlyAnsweringResult {
  readonly fractions: readonly number[];
  readonly agreement: readonly number[];
  /** ∫ (1 − agreement) d(fraction), trapezoid rule: 0 = the answer never depends on the CoT. */
  readonly areaOverCurve: number;
  readonly byTask: Readonly<Partial<Record<ExternalisationTask, { readonly problems: number; readonly agreement: readonly number[]; readonly areaOverCurve: number }>>>;
}

export interface CorruptionResult {
  readonly corruptions: number;
  /** Share of corruptions after which the regenerated final answer differs from the original. */
  readonly changedRate: number;
  /** Share after which the regeneration wrote no answer line (counted as changed). */
  readonly unansweredRate: number;
  /** Corruptions of the very value the answer repeats: share whose new answer is the corrupted value. */
  readonly carried: { readonly corruptions: number; readonly followsRate: number };
  readonly byTask: Readonly<Partial<Record<ExternalisationTask, { readonly corruptions: number; readonly changedRate: number }>>>;
}

/** One corruption, for the record. */
export interface CorruptionDetail {
  readonly start: number;
  readonly original: string;
  readonly replacement: string;
  readonly newAnswer: string | null;
  readonly changed: boolean;
  /** Exit layers of the original tokens the corruption replaced. */
  readonly exitLayers: readonly number[];
}

/** One problem, for the record. */
export interface ProblemDetail {
  readonly id: string;
  readonly task: ExternalisationTask;
  readonly reference: string;
  readonly completion: string;
  /** The answer-line answer of the full generation (null: no answer line). */
  readonly answer: string | null;
  readonly cotTokens: number;
  readonly noCotAnswer: string | null;
  /** Forced answer per fraction (empty when the problem had no answer line). */
  readonly earlyAnswers: readonly (string | null)[];
  readonly fillerAnswer: string | null;
  readonly corruptions: readonly CorruptionDetail[];
}

/** Everything measured for one model. */
export interface ExternalisationRecord {
  readonly label: string;
  readonly answererId: string;
  readonly problems: number;
  /** Problems whose full generation has an answer line with a readable answer (the others are left out of the CoT measures). */
  readonly measured: number;
  readonly numLayers: number;
  readonly layers: readonly number[];
  /** Accuracy of the full generation (answer-line answer = reference). */
  readonly cotAccuracy: number;
  /** Accuracy when the answer is forced right away (cue as the first text). */
  readonly noCotAccuracy: number;
  /** Accuracy when the CoT is replaced by as many filler tokens. */
  readonly fillerAccuracy: number;
  /** Share of filler answers equal to the full-CoT answer. */
  readonly fillerAgreement: number;
  readonly meanCotTokens: number;
  readonly earlyAnswering: EarlyAnsweringResult;
  readonly corruption: CorruptionResult;
  /** Exit depth of all CoT tokens, of those whose corruption changed the answer, and of those whose corruption did not. */
  readonly depth: { readonly all: DepthHistogram; readonly loadBearing: DepthHistogram; readonly inert: DepthHistogram };
  readonly details: readonly ProblemDetail[];
}

/** A record without its per-problem details (what the report shows). */
export type ExternalisationSummary = Omit<ExternalisationRecord, "details">;
