// @eecot/rloo: stage 2, RLOO with an exit-depth penalty, against the policy contract only.
export {
  DEFAULT_RLOO_CONFIG,
  resolveRlooConfig,
  type RlooBaseline,
  type RlooConfig,
  type RlooConfigOverrides,
  type RlooLearningRates,
} from "./config.js";
export {
  computeRolloutReward,
  type RolloutReward,
  type RolloutRewardInput,
  type TaskReward,
  type TaskRewardFunction,
  type TaskRewardParts,
} from "./rewards.js";
export { computeAdvantages, groupAdvantages } from "./advantages.js";
export { rlooLoss } from "./loss.js";
export { RlooNonFiniteError } from "./errors.js";
export { AdamOptimizer, DEFAULT_ADAM_SETTINGS, type AdamSettings } from "./adam.js";
export {
  createRlooOptimizers,
  rlooGradients,
  rlooStep,
  sampleAndScore,
  type RlooExample,
  type RlooOptimizers,
  type RlooStepContext,
  type RlooStepMetrics,
  type ScoredRollouts,
} from "./step.js";
export {
  createToyPolicy,
  DEFAULT_TOY_POLICY_CONFIG,
  toyTaskReward,
  toyText,
  ToyPolicy,
  type ToyPolicyConfig,
} from "./testing/toy-policy.js";
export {
  batchForStep,
  stepSeed,
  stopOnSignal,
  trainRloo,
  type RlooTrainOptions,
  type RlooTrainResult,
} from "./train.js";
export {
  checkpointName,
  checkpointSteps,
  findLatestCheckpoint,
  loadRlooCheckpoint,
  saveRlooCheckpoint,
  type RlooCheckpointState,
} from "./checkpoint.js";
