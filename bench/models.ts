// The models `pnpm bench` measures: the tiny Qwen3 fixture and the ~1.64M-parameter config of
// ENGINE-NOTES / the performance issue (d 128, 8 layers, 4/2 heads, ffn 384, vocab 512).
import { fileURLToPath } from "node:url";
import { tf } from "@eecot/tensor-core";
import { disposeModel, initQwenParams, loadQwenModel, parseQwenConfig, paramTensors, type QwenConfig, type QwenParams } from "@eecot/transformer";

export interface BenchModel {
  readonly name: string;
  readonly config: QwenConfig;
  readonly params: QwenParams;
  /** The same config in Hugging Face form (for the PyTorch reference). */
  readonly hfConfig: Record<string, unknown>;
  readonly train: { readonly batch: number; readonly seqLen: number };
  readonly parameterCount: number;
  dispose(): void;
}

export const TWO_M_CONFIG = {
  model_type: "qwen3",
  vocab_size: 512,
  hidden_size: 128,
  intermediate_size: 384,
  num_hidden_layers: 8,
  num_attention_heads: 4,
  num_key_value_heads: 2,
  head_dim: 32,
  rope_theta: 10000,
  rms_norm_eps: 1e-6,
  tie_word_embeddings: true,
  max_position_embeddings: 2048,
  early_exit_layers: [2, 4, 6],
};

function count(params: QwenParams, tied: boolean): number {
  return paramTensors(params)
    .filter((t) => !(tied && t === params.lmHeadT))
    .reduce((sum, t) => sum + t.size, 0);
}

export async function benchModelConfigs(names: readonly string[]): Promise<BenchModel[]> {
  const models: BenchModel[] = [];
  for (const name of names) {
    if (name === "fixture") {
      const dir = fileURLToPath(new URL("../packages/transformer/test/fixtures/qwen3-tiny-f32", import.meta.url));
      const model = await loadQwenModel(dir);
      const { readFileSync } = await import("node:fs");
      models.push({
        name: "qwen3-tiny fixture",
        config: model.config,
        params: model.params,
        hfConfig: JSON.parse(readFileSync(`${dir}/config.json`, "utf8")) as Record<string, unknown>,
        train: { batch: 4, seqLen: 64 },
        parameterCount: count(model.params, model.config.tieWordEmbeddings),
        dispose: () => disposeModel(model),
      });
    } else if (name === "2m") {
      const config = parseQwenConfig(TWO_M_CONFIG, "bench 2m config");
      const params = initQwenParams(config, 3);
      models.push({
        name: "2M config",
        config,
        params,
        hfConfig: TWO_M_CONFIG,
        train: { batch: 16, seqLen: 128 },
        parameterCount: count(params, true),
        dispose: () => tf.dispose(paramTensors(params)),
      });
    } else {
      throw new Error(`bench: unknown model "${name}" (use fixture, 2m)`);
    }
  }
  return models;
}
