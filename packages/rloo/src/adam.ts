// Stage 2's optimiser: tensor-core's Adam (float64 bias corrections, state in plain view so a
// checkpoint restores it bit for bit), with rloo's settings object (learning rate + constants).
import { Adam, DEFAULT_ADAM_CONSTANTS, type AdamConstants, type tf } from "@eecot/tensor-core";

export interface AdamSettings extends AdamConstants {
  /** Learning rate, e.g. 1e-5. */
  readonly learningRate: number;
}

export const DEFAULT_ADAM_SETTINGS: Omit<AdamSettings, "learningRate"> = DEFAULT_ADAM_CONSTANTS;

export class AdamOptimizer extends Adam {
  constructor(
    variables: readonly tf.Variable[],
    readonly settings: AdamSettings,
  ) {
    super(variables, settings.learningRate, { beta1: settings.beta1, beta2: settings.beta2, epsilon: settings.epsilon });
  }

  /** One Adam update with `gradients[i]` for `variables[i]` (gradients are not disposed). */
  applyGradients(gradients: readonly tf.Tensor[]): void {
    this.apply(gradients);
  }
}
