// Adam (Kingma & Ba 2015) over one parameter group, with its state in plain view so that a
// checkpoint can save and restore it exactly:
//
//   m ← β1·m + (1−β1)·g        v ← β2·v + (1−β2)·g²
//   θ ← θ − lr · (m / (1−β1^t)) / (sqrt(v / (1−β2^t)) + ε)
//
// The bias corrections are computed in float64 from the step count t, so a resumed run matches an
// uninterrupted one bit for bit (tfjs's own Adam accumulates β^t in a float32 variable instead).

import { tf } from "@eecot/tensor-core";

export interface AdamSettings {
  /** Learning rate, e.g. 1e-5. */
  readonly learningRate: number;
  /** First-moment decay β1, e.g. 0.9. */
  readonly beta1: number;
  /** Second-moment decay β2, e.g. 0.999. */
  readonly beta2: number;
  /** ε added to sqrt(v̂), e.g. 1e-8. */
  readonly epsilon: number;
}

export const DEFAULT_ADAM_SETTINGS: Omit<AdamSettings, "learningRate"> = { beta1: 0.9, beta2: 0.999, epsilon: 1e-8 };

export class AdamOptimizer {
  /** Updates applied so far (t after the last update). */
  stepCount = 0;
  /** m per variable, same shapes as `variables`. */
  readonly firstMoments: tf.Variable[];
  /** v per variable. */
  readonly secondMoments: tf.Variable[];

  constructor(
    readonly variables: readonly tf.Variable[],
    readonly settings: AdamSettings,
  ) {
    this.firstMoments = variables.map((v) => tf.tidy(() => tf.variable(tf.zerosLike(v), false)));
    this.secondMoments = variables.map((v) => tf.tidy(() => tf.variable(tf.zerosLike(v), false)));
  }

  /** One Adam update with `gradients[i]` for `variables[i]` (gradients are not disposed). */
  applyGradients(gradients: readonly tf.Tensor[]): void {
    if (gradients.length !== this.variables.length) {
      throw new Error(`rloo adam: ${gradients.length} gradients for ${this.variables.length} variables`);
    }
    const { learningRate, beta1, beta2, epsilon } = this.settings;
    this.stepCount += 1;
    const correction1 = 1 - beta1 ** this.stepCount;
    const correction2 = 1 - beta2 ** this.stepCount;
    tf.tidy(() => {
      this.variables.forEach((variable, i) => {
        const g = gradients[i]!;
        const m = this.firstMoments[i]!;
        const v = this.secondMoments[i]!;
        m.assign(tf.add(tf.mul(m, beta1), tf.mul(g, 1 - beta1)));
        v.assign(tf.add(tf.mul(v, beta2), tf.mul(tf.square(g), 1 - beta2)));
        const mHat = tf.div(m, correction1);
        const vHat = tf.div(v, correction2);
        variable.assign(tf.sub(variable, tf.mul(tf.div(mHat, tf.add(tf.sqrt(vHat), epsilon)), learningRate)));
      });
    });
  }

  dispose(): void {
    for (const moment of [...this.firstMoments, ...this.secondMoments]) moment.dispose();
  }
}
