// Side-effect module (see tfjs-core-extras.js): registers gradients and chained ops, exports nothing.
export {};
