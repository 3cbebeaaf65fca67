// Adam (Kingma & Ba 2015) for one parameter group, with its state in plain view so a checkpoint
// saves and restores it exactly, plus global-norm gradient clipping across groups. Shared by
// stage 1 (@eecot/distill) and stage 2 (@eecot/rloo).
//
//   m ← β1·m + (1−β1)·g        v ← β2·v + (1−β2)·g²
//   θ ← θ − lr · (m / (1−β1^t)) / (sqrt(v / (1−β2^t)) + ε)
//
// The bias corrections are float64 functions of the step count t, so a resumed run takes the
// same steps as an uninterrupted one, bit for bit (tfjs's own Adam keeps β^t in a float32
// variable).
import { tf } from "./tf.js";

/** Adam's constants. */
export interface AdamConstants {
  /** First-moment decay β1, e.g. 0.9. */
  readonly beta1: number;
  /** Second-moment decay β2, e.g. 0.999. */
  readonly beta2: number;
  /** ε added to sqrt(v̂), e.g. 1e-8. */
  readonly epsilon: number;
}

export const DEFAULT_ADAM_CONSTANTS: AdamConstants = { beta1: 0.9, beta2: 0.999, epsilon: 1e-8 };

export class Adam {
  /** Updates applied so far (t after the last update). */
  stepCount = 0;
  /** m per variable, same shapes as `variables`. */
  readonly firstMoments: tf.Variable[];
  /** v per variable. */
  readonly secondMoments: tf.Variable[];

  constructor(
    readonly variables: readonly tf.Variable[],
    /** Step size; a schedule may change it between updates. */
    public learningRate: number,
    readonly constants: AdamConstants = DEFAULT_ADAM_CONSTANTS,
  ) {
    this.firstMoments = variables.map((v) => tf.tidy(() => tf.variable(tf.zerosLike(v), false)));
    this.secondMoments = variables.map((v) => tf.tidy(() => tf.variable(tf.zerosLike(v), false)));
  }

  /** One update with `gradients[i]` for `variables[i]`, scaled by `scale` (clipping); gradients are not disposed. */
  apply(gradients: readonly tf.Tensor[], scale = 1): void {
    if (gradients.length !== this.variables.length) throw new Error(`adam: ${gradients.length} gradients for ${this.variables.length} variables`);
    const { beta1, beta2, epsilon } = this.constants;
    this.stepCount += 1;
    const correction1 = 1 - beta1 ** this.stepCount;
    const correction2 = 1 - beta2 ** this.stepCount;
    tf.tidy(() => {
      this.variables.forEach((variable, i) => {
        const g = scale === 1 ? gradients[i]! : tf.mul(gradients[i]!, scale);
        const m = this.firstMoments[i]!;
        const v = this.secondMoments[i]!;
        m.assign(tf.add(tf.mul(m, beta1), tf.mul(g, 1 - beta1)));
        v.assign(tf.add(tf.mul(v, beta2), tf.mul(tf.square(g), 1 - beta2)));
        const update = tf.div(tf.div(m, correction1), tf.add(tf.sqrt(tf.div(v, correction2)), epsilon));
        variable.assign(tf.sub(variable, tf.mul(update, this.learningRate)));
      });
    });
  }

  dispose(): void {
    tf.dispose([...this.firstMoments, ...this.secondMoments]);
  }
}

/** sqrt(Σ ‖g‖²) over every gradient (float64 sum of float32 squares). */
export async function globalGradientNorm(gradients: readonly tf.Tensor[]): Promise<number> {
  if (gradients.length === 0) return 0;
  const squares = tf.tidy(() => tf.stack(gradients.map((g) => tf.sum(tf.square(g))))); // [n]
  const values = await squares.data();
  squares.dispose();
  let total = 0;
  for (const x of values) total += x;
  return Math.sqrt(total);
}

/** Scale factor min(1, maxNorm / norm) (1 when clipping is off or the norm is 0). */
export function clipScale(norm: number, maxNorm: number | null): number {
  if (maxNorm === null || !(norm > maxNorm)) return 1;
  return maxNorm / norm;
}
