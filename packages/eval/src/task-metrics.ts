// Task accuracy and format rate from task-reward results (METHOD.md §3 r_task, §4).
//
// The shape is structural: any reward function returning { reward, parts } fits; the
// datasets package's RewardResult (which names the answer `extractedAnswer`) is accepted as is.

/** One scored response, as returned by a task reward function. */
export interface TaskRewardResult {
  /** r_task: GSM8K 1 / 0.5 / 0 / −1; theory of mind in −1..1. */
  readonly reward: number;
  readonly parts: {
    /** The extracted answer is correct. */
    readonly correct: boolean;
    /** The response used the required answer format. */
    readonly formatOk: boolean;
    /** The extracted answer, or null when none could be found. */
    readonly extracted?: string | null;
    /** The same, under the datasets package's name (either field may be given). */
    readonly extractedAnswer?: string | null;
  };
}

/** Aggregate task metrics over responses. */
export interface TaskSummary {
  /** Number of responses. */
  readonly count: number;
  /** Fraction with parts.correct. */
  readonly accuracy: number;
  /** Fraction with parts.formatOk. */
  readonly formatRate: number;
  /** Fraction with an extracted answer (parts.extracted or parts.extractedAnswer not null). */
  readonly extractionRate: number;
  /** Mean of reward. */
  readonly meanReward: number;
}

/** Accuracy, format rate, extraction rate and mean reward of a set of scored responses. */
export function summarizeTask(results: readonly TaskRewardResult[]): TaskSummary {
  if (results.length === 0) throw new Error("summarizeTask: no results given");
  let correct = 0;
  let formatOk = 0;
  let extracted = 0;
  let rewardSum = 0;
  results.forEach((result, i) => {
    if (!Number.isFinite(result.reward)) throw new Error(`summarizeTask: result ${i} has a non-finite reward ${result.reward}`);
    if (result.parts.correct) correct++;
    if (result.parts.formatOk) formatOk++;
    if ((result.parts.extracted ?? result.parts.extractedAnswer ?? null) !== null) extracted++;
    rewardSum += result.reward;
  });
  const count = results.length;
  return {
    count,
    accuracy: correct / count,
    formatRate: formatOk / count,
    extractionRate: extracted / count,
    meanReward: rewardSum / count,
  };
}
