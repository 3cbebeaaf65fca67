// Does depth matter? Over generated tokens (teacher-forced on the model's own greedy answers):
// the logit-lens KL(final ‖ layer l) per layer, and the share of tokens whose layer-l argmax
// already equals the final prediction.
import { tf } from "@eecot/tensor-core";
import { qwenForward, unembed, type QwenModel } from "@eecot/transformer";

export interface DepthProfile {
  /** Layer numbers 1..L. */
  readonly layers: number[];
  /** Mean KL(final ‖ lens at layer l) over generated tokens. */
  readonly meanKl: number[];
  /** Share of generated tokens whose lens argmax at layer l equals the final argmax. */
  readonly agreement: number[];
  readonly tokens: number;
}

/** Per-layer depth profile over (prompt + completion) rows, scoring completion positions only. */
export async function depthProfile(model: QwenModel, rows: readonly { ids: number[]; promptLength: number }[]): Promise<DepthProfile> {
  const { config, params } = model;
  const L = config.numLayers;
  const klSum = new Array<number>(L).fill(0);
  const agreeSum = new Array<number>(L).fill(0);
  let tokens = 0;
  for (const row of rows) {
    const T = row.ids.length;
    const positions = T - row.promptLength; // predictions made from positions promptLength-1 .. T-2
    if (positions <= 0) continue;
    const out = qwenForward(params, config, [row.ids], { outputHiddenStates: true, skipLogits: true });
    // Per layer: [Σ KL, Σ agreement] over this row's answer positions, read back once.
    const sums = tf.tidy(() => {
      const pick = (h: tf.Tensor3D) => tf.reshape(tf.slice(h, [0, row.promptLength - 1, 0], [1, positions, config.hiddenSize]), [positions, config.hiddenSize]) as tf.Tensor2D;
      const finalLog = tf.logSoftmax(unembed(params, config, pick(out.hiddenStates[L]!)));
      const finalArgmax = tf.argMax(finalLog, -1);
      const perLayer: tf.Tensor[] = [];
      for (let l = 1; l <= L; l++) {
        const lensLog = tf.logSoftmax(unembed(params, config, pick(out.hiddenStates[l]!)));
        perLayer.push(tf.sum(tf.mul(tf.exp(finalLog), tf.sub(finalLog, lensLog))));
        perLayer.push(tf.sum(tf.cast(tf.equal(tf.argMax(lensLog, -1), finalArgmax), "float32")));
      }
      return tf.stack(perLayer);
    });
    const values = await sums.data();
    sums.dispose();
    for (let l = 1; l <= L; l++) {
      klSum[l - 1]! += values[2 * (l - 1)]!;
      agreeSum[l - 1]! += values[2 * (l - 1) + 1]!;
    }
    tf.dispose(out.hiddenStates);
    tokens += positions;
  }
  return {
    layers: Array.from({ length: L }, (_, i) => i + 1),
    meanKl: klSum.map((s) => s / Math.max(1, tokens)),
    agreement: agreeSum.map((s) => s / Math.max(1, tokens)),
    tokens,
  };
}
