// The one TensorFlow.js instance every @eecot package uses. Importing tfjs-core alone does not
// register gradients in Node (ENGINE-NOTES pitfall 1), so this module does it once.
import * as tf from "@tensorflow/tfjs-core";
import "@tensorflow/tfjs-core/dist/register_all_gradients";
import "@tensorflow/tfjs-backend-cpu";
import "@tensorflow/tfjs-backend-wasm";

export { tf };
