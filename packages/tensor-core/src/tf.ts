// The one TensorFlow.js instance every @eecot package uses. In Node, tfjs-core's main entry is a
// CJS bundle without gradients (ENGINE-NOTES pitfall 1) or chained ops (x.add(y)); the vendored
// bundle registers both on the same engine (see scripts/vendor-tfjs-extras.mjs). This works the
// same under plain Node, tsx, vitest and the tsup build.
import * as tf from "@tensorflow/tfjs-core";
import "@tensorflow/tfjs-backend-cpu";
import "@tensorflow/tfjs-backend-wasm";
import "./vendor/tfjs-core-extras.js";

export { tf };
