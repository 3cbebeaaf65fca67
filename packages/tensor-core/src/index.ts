// @eecot/tensor-core: tensors, backends, safetensors, seeded RNG.
export { tf } from "./tf.js";
