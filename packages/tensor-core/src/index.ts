// @eecot/tensor-core: Tensors, backends (wasm/cpu/tensorflow/webgpu), safetensors, seeded RNG.
export {};
