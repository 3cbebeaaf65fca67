// One stage-1 optimiser step: for each pass, teacher log-probs (no gradient), the student loss
// and its gradients; gradients summed over passes (accumulation), checked, clipped by global
// norm, then one Adam update per parameter group (LoRA and heads, separate learning rates).
import { tf } from "@eecot/tensor-core";
import type { EarlyExitModel } from "@eecot/early-exit";
import { clipScale, globalGradientNorm } from "./adam.js";
import type { DistillOptimizers } from "./checkpoint.js";
import type { DistillConfig } from "./config.js";
import { defaultDistillChunkColumns, disposeTeacher, distillationLoss, teacherForPass, type PrescribedPass } from "./loss.js";

/** The loss became NaN or infinite: nothing was updated and no checkpoint is written. */
export class NonFiniteLossError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "NonFiniteLossError";
  }
}

/** What one step measured (means over the step's generated tokens, all copies). */
export interface StepResult {
  /** Mean ℓ_t = KL + exit NLL. */
  readonly loss: number;
  /** Mean token KL term. */
  readonly kl: number;
  /** Mean −log P_student(exit = x_t). */
  readonly exitNll: number;
  /** Generated tokens in the step over all copies. */
  readonly tokens: number;
  /** Global gradient norm before clipping. */
  readonly gradientNorm: number;
}

/** Run the passes of one step and update the model (throws NonFiniteLossError before any update). */
export async function distillStep(
  model: EarlyExitModel,
  optimizers: DistillOptimizers,
  passes: readonly PrescribedPass[],
  config: Pick<DistillConfig, "klDirection" | "maxGradientNorm"> & { readonly exitLoss?: DistillConfig["exitLoss"] },
  options: {
    readonly padTokenId?: number;
    readonly step?: number;
    /** Teacher and student unembedded in chunks of this many vocabulary columns; 0 = full width. Default: chunks of 64 MiB above 32,768 tokens. */
    readonly vocabularyChunkColumns?: number;
  } = {},
): Promise<StepResult> {
  const groups = model.trainableVariables();
  const variables = [...groups.lora, ...groups.heads];
  const normalizer = passes.reduce((sum, pass) => sum + pass.sequences.reduce((s, seq, b) => s + seq.tokens.length * pass.exitLayers[b]!.length, 0), 0);
  if (normalizer === 0) throw new Error("distillStep: the step has no generated tokens");

  let accumulated: tf.Tensor[] | null = null;
  let klSum = 0;
  let exitNllSum = 0;
  try {
    for (const pass of passes) {
      const { hiddenSize, vocabSize } = model.base.config;
      const teacher = teacherForPass(model, pass.sequences, options.vocabularyChunkColumns ?? defaultDistillChunkColumns(hiddenSize, vocabSize), options.padTokenId);
      let kept: tf.Tensor[] = [];
      let result: { value: tf.Scalar; grads: tf.NamedTensorMap };
      try {
        result = tf.variableGrads(() => {
          const parts = distillationLoss(model, pass, teacher, { klDirection: config.klDirection, exitLoss: config.exitLoss, normalizer, padTokenId: options.padTokenId });
          kept = [tf.keep(parts.klSum), tf.keep(parts.exitNllSum)];
          return parts.loss;
        }, variables);
      } finally {
        disposeTeacher(teacher);
      }
      const [klValue, exitValue] = await Promise.all(kept.map(async (t) => (await t.data())[0]!));
      tf.dispose([...kept, result.value]);
      klSum += klValue!;
      exitNllSum += exitValue!;
      const grads = variables.map((v) => result.grads[v.name] ?? tf.zerosLike(v));
      if (accumulated === null) accumulated = grads;
      else {
        const previous: tf.Tensor[] = accumulated;
        accumulated = previous.map((g, i) => tf.add(g, grads[i]!));
        tf.dispose([...previous, ...grads]);
      }
    }
    const loss = (klSum + exitNllSum) / normalizer;
    const gradientNorm = await globalGradientNorm(accumulated!);
    if (!Number.isFinite(loss) || !Number.isFinite(gradientNorm)) {
      throw new NonFiniteLossError(
        `stage 1: ${Number.isFinite(loss) ? "gradient norm" : "loss"} is ${Number.isFinite(loss) ? gradientNorm : loss} at step ${options.step ?? "?"} (KL sum ${klSum}, exit NLL sum ${exitNllSum} over ${normalizer} tokens); nothing was updated and no checkpoint is written. Lower the learning rates or check the model weights.`,
      );
    }
    const scale = clipScale(gradientNorm, config.maxGradientNorm);
    optimizers.lora.apply(accumulated!.slice(0, groups.lora.length), scale);
    optimizers.heads.apply(accumulated!.slice(groups.lora.length), scale);
    return { loss, kl: klSum / normalizer, exitNll: exitNllSum / normalizer, tokens: normalizer, gradientNorm };
  } finally {
    if (accumulated) tf.dispose(accumulated);
  }
}
