// @eecot/eval: Metrics, coherence judge, reports.
export {};
