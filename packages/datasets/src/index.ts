// @eecot/datasets: GSM8K, theory-of-mind stories, synthetic reasoning data, task rewards, prompts.
export {};
