// @eecot/distill: Stage 1: calibration of exit heads and LoRA by self-distillation.
export {};
