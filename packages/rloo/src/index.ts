// @eecot/rloo: Stage 2: RLOO with an exit-depth penalty, against the policy contract only.
export {};
