// The folder of this package is the model: config.json, model.safetensors, tokenizer.json, ...
import { dirname } from "node:path";
import { fileURLToPath } from "node:url";

export const modelDir = dirname(fileURLToPath(import.meta.url));
