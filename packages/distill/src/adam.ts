// Stage 1's optimiser is tensor-core's Adam (exact-resume state, one instance per parameter
// group) with global-norm clipping; re-exported here under the names distill has always used.
export { Adam as AdamGroup, clipScale, globalGradientNorm } from "@eecot/tensor-core";
