// @eecot/datasets: GSM8K, theory-of-mind stories, synthetic reasoning data, task rewards, prompts.
// Pure TypeScript, no model code: every other package may depend on it.

export { createRandom, deriveSeed, type Random } from "./random.js";
export { levenshteinDistance, levenshteinSimilarity } from "./levenshtein.js";
export { DatasetFormatError, type SkippedRecords } from "./errors.js";
export {
  CALCULATOR_ANNOTATION_PATTERN,
  OFFICIAL_ANSWER_PATTERN,
  extractCompletionAnswer,
  extractReferenceAnswer,
  normalizeNumber,
  stripCalculatorAnnotations,
  type AnswerSource,
  type ExtractedAnswer,
} from "./answer-extraction.js";
export { checkCalculatorAnnotations, evaluateArithmetic, type AnnotationCheck } from "./calculator.js";
export { GSM8K_DOWNLOAD_HINT, loadGsm8k, parseGsm8kJsonl, type Gsm8kExample, type Gsm8kLoadResult, type JsonlLoadOptions } from "./gsm8k.js";
export {
  DEFAULT_GSM_SYNTHETIC_CONFIG,
  generateGsmProblems,
  resolveGsmSyntheticConfig,
  verifyGsmSolution,
  type ArithmeticOperation,
  type GsmSolutionCheck,
  type GsmSyntheticConfig,
  type GsmSyntheticProblem,
} from "./gsm-synthetic.js";
export {
  TOM_ANSWER_PREFIX,
  extractAnswerLine,
  gsm8kReward,
  normalizeTomAnswer,
  rewardFor,
  tomReward,
  type RewardFunction,
  type RewardParts,
  type RewardResult,
  type TaskName,
} from "./rewards.js";
export { formatCsvRecord, parseCsv, type CsvRecord } from "./csv.js";
export {
  CONTAINER_LOCATION,
  KNOWLEDGE,
  Mind,
  NO_CONTAINER,
  OBJECT_STATE,
  ROOM_LOCATION,
  notInRoom,
  type BeliefEntry,
  type TomCast,
  type TomContainer,
  type TomProperty,
} from "./tom/world.js";
export { BeliefTracker, type AsymmetricEvent, type LoggedAction, type StoryAction, type TomFact } from "./tom/tracker.js";
export { askQuestions, type TomQuestion, type TomQuestionKind, type TomQuestionSet } from "./tom/questions.js";
export {
  DEFAULT_TOM_GENERATOR_CONFIG,
  TOM_STORY_TYPES,
  generateTomStories,
  resolveTomGeneratorConfig,
  storyFromTracker,
  type TomGeneratorConfig,
  type TomStory,
  type TomStoryType,
} from "./tom/generator.js";
export { loadExploreTomCsv, parseExploreTomCsv, type CsvLoadOptions, type ExploreTomLoadResult, type ExploreTomRecord } from "./tom/exploretom-csv.js";
export {
  exploreTomToTaskExample,
  gsm8kToTaskExample,
  gsmSyntheticToTaskExample,
  tomQuestionToTaskExample,
  tomStoriesToTaskExamples,
  type TaskExample,
  type TaskMeta,
  type TomSelection,
} from "./task.js";
export {
  GSM8K_ANSWER_INSTRUCTION,
  GSM8K_SYSTEM_PROMPT,
  IM_END,
  IM_START,
  TOM_ANSWER_INSTRUCTION,
  TOM_SYSTEM_PROMPT,
  buildAssistantAnswer,
  buildExamplePrompt,
  buildPrompt,
  buildTrainingText,
  gsm8kUserMessage,
  systemPromptFor,
  tomUserMessage,
  type PromptFormat,
  type PromptOptions,
  type TrainingText,
  type TrainingTextOptions,
} from "./prompts.js";
export { loadDataSpec, parseDataSpec, rewardForExample, type DataSource, type DataSourceKind, type DataSourceReport, type LoadedData } from "./spec.js";
