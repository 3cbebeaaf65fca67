import { beforeAll, describe, expect, it } from "vitest";
import { initBackend } from "./backend.js";
import { embeddingLookup, linear, matMul2d } from "./linear.js";
import { SIMD_FORWARD_MAX_WEIGHTS } from "./kernels/mat-mul-2d.js";
import { Rng } from "./rng.js";
import { assertClose, expectNoLeaks, finiteDifferenceGradients } from "./testing.js";
import { tf } from "./tf.js";

/** Deterministic normal(0, 1) values. */
function randomTensor(shape: number[], seed: number): tf.Tensor {
  const rng = new Rng(seed);
  const size = shape.reduce((a, b) => a * b, 1);
  return tf.tensor(Float32Array.from({ length: size }, () => rng.normal()), shape);
}

/** Scalar loss sum(y * weights): its gradient with respect to y is `weights`, probing every output. */
const weightedSum = (y: tf.Tensor, weights: tf.Tensor) => tf.sum(tf.mul(y, weights)) as tf.Scalar;

/** Checks analytic gradients of `loss` against central finite differences for the listed inputs. */
async function checkGradients(loss: (...inputs: tf.Tensor[]) => tf.Scalar, inputs: tf.Tensor[], wrt: number[], name: string) {
  const analytic = tf.grads(loss)(inputs);
  const numeric = await finiteDifferenceGradients(loss, inputs, { wrt, step: 1e-2 });
  for (const index of wrt) {
    expect(analytic[index]!.shape).toEqual(inputs[index]!.shape);
    assertClose(await analytic[index]!.data(), numeric[index]!, `${name}: gradient of input ${index}`, { absolute: 2e-3, relative: 2e-3 });
  }
  tf.dispose(analytic);
}

describe.each(["wasm", "cpu"] as const)("linear algebra on %s", (backend) => {
  beforeAll(async () => {
    await initBackend({ backend, quiet: true });
    expect(tf.getBackend()).toBe(backend);
  });

  it("matMul2d matches a hand-computed product", async () => {
    const a = tf.tensor2d([[1, 2, 3], [4, 5, 6]]); // [2, 3]
    const b = tf.tensor2d([[1, 0], [0, 1], [2, -1]]); // [3, 2]
    const y = matMul2d(a, b);
    expect(y.shape).toEqual([2, 2]);
    expect(Array.from(await y.data())).toEqual([7, -1, 16, -1]);
    tf.dispose([a, b, y]);
  });

  it("matMul2d gradients match finite differences and plain tf.matMul autodiff", async () => {
    const a = randomTensor([3, 4], 1);
    const b = randomTensor([4, 5], 2);
    const weights = randomTensor([3, 5], 3);
    await checkGradients((x, w) => weightedSum(matMul2d(x as tf.Tensor2D, w as tf.Tensor2D), weights), [a, b], [0, 1], "matMul2d");
    // Same gradients as autodiff of tf.matMul (which uses transposed matmuls).
    const ours = tf.grads((x, w) => weightedSum(matMul2d(x as tf.Tensor2D, w as tf.Tensor2D), weights))([a, b]);
    const reference = tf.grads((x, w) => weightedSum(tf.matMul(x as tf.Tensor2D, w as tf.Tensor2D), weights))([a, b]);
    for (let i = 0; i < 2; i++) assertClose(await ours[i]!.data(), await reference[i]!.data(), `matMul2d vs tf.matMul, input ${i}`);
    tf.dispose([a, b, weights, ...ours, ...reference]);
  });

  it("matMul2d runs one plain matMul without a tape and, on wasm, one kernel (no input copies) with one", async () => {
    const a = randomTensor([3, 4], 50) as tf.Tensor2D;
    const b = randomTensor([4, 5], 51) as tf.Tensor2D;
    const inference = [...(await tf.profile(() => matMul2d(a, b))).kernelNames];
    expect(inference).toEqual([backend === "wasm" ? "EecotMatMul2d" : "BatchMatMul"]);
    const kernelsOf = async (product: (x: tf.Tensor2D, y: tf.Tensor2D) => tf.Tensor) =>
      (await tf.profile(() => tf.grads((x: tf.Tensor, y: tf.Tensor) => tf.sum(product(x as tf.Tensor2D, y as tf.Tensor2D)) as tf.Scalar)([a, b]))).kernels.map((k) => k.name);
    const training = await kernelsOf(matMul2d);
    const plain = await kernelsOf((x, y) => tf.matMul(x, y));
    if (backend === "wasm") {
      expect(training).toContain("EecotMatMul2d");
      // No copies of the saved inputs beyond what tf.grads itself makes for a plain matMul.
      expect(training.filter((name) => name === "Identity").length).toBe(plain.filter((name) => name === "Identity").length);
    }
    tf.dispose([a, b]);
  });

  it("matMul2d is correct on every wasm forward path (SIMD packed, SIMD streamed, XNNPACK above the weight limit)", async () => {
    for (const rows of [40, 3]) {
      const small = { a: randomTensor([rows, 6], 60) as tf.Tensor2D, b: randomTensor([6, 9], 61) as tf.Tensor2D };
      assertClose(await matMul2d(small.a, small.b).data(), await tf.matMul(small.a, small.b).data(), `${rows} rows, no tape`, { absolute: 1e-5, relative: 1e-5 });
      tf.dispose([small.a, small.b]);
    }
    if (backend !== "wasm") return;
    // Over the weight limit: 1 row streams the weight, 8 rows go to XNNPACK; with and without a tape.
    const N = SIMD_FORWARD_MAX_WEIGHTS / 16 + 8;
    const b = tf.fill([16, N], 1.5) as tf.Tensor2D;
    for (const rows of [1, 8]) {
      const a = tf.fill([rows, 16], 2) as tf.Tensor2D;
      let y: tf.Tensor | undefined; // made under a tape: the gradient's inputs are saved
      tf.grad((x: tf.Tensor) => {
        y = tf.keep(matMul2d(x as tf.Tensor2D, b));
        return tf.sum(y) as tf.Scalar;
      })(a).dispose();
      const untaped = matMul2d(a, b);
      for (const values of [await y!.data(), await untaped.data()]) {
        expect(values.length).toBe(rows * N);
        expect(values[0]).toBe(48);
        expect(values[values.length - 1]).toBe(48);
      }
      tf.dispose([a, y!, untaped]);
    }
    b.dispose();
  });

  it("matMul2d rejects mismatched shapes", () => {
    const a = tf.zeros([2, 3]) as tf.Tensor2D;
    const b = tf.zeros([2, 3]) as tf.Tensor2D;
    expect(() => matMul2d(a, b)).toThrow("matMul2d: expected [M, K] @ [K, N], got [2, 3] @ [2, 3]");
    tf.dispose([a, b]);
  });

  it("linear reshapes [..., K] to 2-D, adds the bias and restores the shape", async () => {
    const x = tf.tensor3d([[[1, 2]], [[3, 4]]]); // [2, 1, 2]
    const weightT = tf.tensor2d([[1, 10, 100], [2, 20, 200]]); // [2, 3]
    const bias = tf.tensor1d([0.5, -1, 0]);
    const y = linear(x, weightT, bias);
    expect(y.shape).toEqual([2, 1, 3]);
    expect(Array.from(await y.data())).toEqual([5.5, 49, 500, 11.5, 109, 1100]);
    tf.dispose([x, weightT, bias, y]);
  });

  it("linear gradients (input, weight, bias) match finite differences", async () => {
    const x = randomTensor([2, 3, 4], 4);
    const weightT = randomTensor([4, 5], 5);
    const bias = randomTensor([5], 6);
    const weights = randomTensor([2, 3, 5], 7);
    await checkGradients(
      (input, w, b) => weightedSum(linear(input!, w as tf.Tensor2D, b as tf.Tensor1D), weights),
      [x, weightT, bias], [0, 1, 2], "linear");
    // Without bias and through a nonlinearity.
    await checkGradients((input, w) => tf.sum(tf.tanh(linear(input!, w as tf.Tensor2D))) as tf.Scalar, [x, weightT], [0, 1], "tanh(linear)");
    tf.dispose([x, weightT, bias, weights]);
  });

  it("linear names mismatched shapes", () => {
    const x = tf.zeros([2, 3]);
    const weightT = tf.zeros([4, 5]) as tf.Tensor2D;
    const bias = tf.zeros([4]) as tf.Tensor1D;
    expect(() => linear(x, weightT)).toThrow("linear: input's last axis must be 4 to match weightT [4, 5], got input [2, 3]");
    expect(() => linear(tf.zeros([2, 4]), weightT, bias)).toThrow("linear: bias must be [5] to match weightT [4, 5], got [4]");
    tf.dispose([x, weightT, bias]);
  });

  it("embeddingLookup picks rows, and its gradient sums repeated ids", async () => {
    const table = tf.tensor2d([[1, 2], [3, 4], [5, 6], [7, 8]]); // [V=4, C=2]
    const ids = tf.tensor1d([2, 0, 2, 2], "int32");
    const rows = embeddingLookup(table, ids);
    expect(Array.from(await rows.data())).toEqual([5, 6, 1, 2, 5, 6, 5, 6]);
    const dy = tf.tensor2d([[1, 10], [2, 20], [3, 30], [4, 40]]);
    const [dTable] = tf.grads((t) => weightedSum(embeddingLookup(t as tf.Tensor2D, ids), dy))([table]);
    // Row 0 receives dy[1]; row 2 receives dy[0] + dy[2] + dy[3]; rows 1 and 3 nothing.
    expect(Array.from(await dTable!.data())).toEqual([2, 20, 0, 0, 8, 80, 0, 0]);
    tf.dispose([table, ids, rows, dy, dTable!]);
  });

  it("embeddingLookup gradient matches finite differences", async () => {
    const table = randomTensor([6, 3], 8);
    const ids = tf.tensor1d([5, 1, 1, 0, 5, 3, 1], "int32");
    const weights = randomTensor([7, 3], 9);
    await checkGradients((t) => weightedSum(embeddingLookup(t as tf.Tensor2D, ids), weights), [table], [0], "embeddingLookup");
    await checkGradients((t) => tf.sum(tf.square(embeddingLookup(t as tf.Tensor2D, ids))) as tf.Scalar, [table], [0], "embeddingLookup squared");
    tf.dispose([table, ids, weights]);
  });

  it("embeddingLookup differentiates when ids are made inside the differentiated function", async () => {
    const table = tf.variable(tf.tensor2d([[1, 2], [3, 4], [5, 6]]), true, `table-${backend}`); // [V=3, C=2]
    const tokens = tf.tensor2d([[2, 0], [2, 1]], [2, 2], "int32"); // [B, T]
    const { value, grads } = tf.variableGrads(() => {
      // An intermediate that owns its data (a reshape alone would share the tokens' buffer):
      // disposed after the forward pass, so the gradient must not rely on a closure over it.
      const ids = tf.add(tf.reshape(tokens, [4]), tf.scalar(0, "int32")) as tf.Tensor1D;
      return tf.sum(embeddingLookup(table, ids)) as tf.Scalar;
    }, [table]);
    expect(await value.data()).toEqual(new Float32Array([5 + 6 + 1 + 2 + 5 + 6 + 3 + 4]));
    expect(Array.from(await grads[table.name]!.data())).toEqual([1, 1, 1, 1, 2, 2]);
    tf.dispose([value, grads[table.name]!, tokens, table]);
  });

  it("embeddingLookup validates its inputs", () => {
    const table = tf.zeros([4, 2]) as tf.Tensor2D;
    const floatIds = tf.tensor1d([0, 1]);
    expect(() => embeddingLookup(table, floatIds)).toThrow("embeddingLookup: ids must be a 1-D int32 tensor, got float32 [2]");
    tf.dispose([table, floatIds]);
  });

  it("forward and backward leak no tensors", async () => {
    const x = randomTensor([4, 3], 10);
    const weightT = randomTensor([3, 2], 11);
    const bias = randomTensor([2], 12);
    const table = randomTensor([5, 3], 13);
    const ids = tf.tensor1d([0, 4, 4, 1], "int32");
    const step = () => tf.tidy(() => {
      const loss = (t: tf.Tensor, w: tf.Tensor, b: tf.Tensor) =>
        tf.sum(linear(tf.add(embeddingLookup(t as tf.Tensor2D, ids), x), w as tf.Tensor2D, b as tf.Tensor1D)) as tf.Scalar;
      tf.grads(loss)([table, weightT, bias]);
    });
    await expectNoLeaks(step, { iterations: 3 });
    tf.dispose([x, weightT, bias, table, ids]);
  });
});
