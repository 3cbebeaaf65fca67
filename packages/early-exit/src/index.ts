// @eecot/early-exit: Stochastic early-exit heads, LoRA adapters and the augmented-vocabulary policy.
export {};
