// The one error type the trainer raises on purpose: a non-finite number (NaN, ±Infinity) in a
// reward, a log-prob, the loss or the gradient norm. It is raised before any update is applied,
// so the policy and the optimiser state are still those of the last good step.
export class RlooNonFiniteError extends Error {
  override name = "RlooNonFiniteError";
}
