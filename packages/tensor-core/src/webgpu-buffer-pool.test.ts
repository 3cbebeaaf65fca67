import { describe, expect, it, vi } from "vitest";
import { defaultMaxPooledBytes, limitBufferPool, type BufferManagerLike, type PooledBuffer } from "./webgpu-buffer-pool.js";

interface FakeBuffer extends PooledBuffer {
  destroyed: boolean;
}

/** The pooling logic of tfjs-backend-webgpu 4.22.0's BufferManager, on fake buffers. */
class FakeBufferManager implements BufferManagerLike {
  freeBuffers = new Map<string, PooledBuffer[]>();
  usedBuffers = new Map<string, PooledBuffer[]>();
  numFreeBuffers = 0;
  numBytesAllocated = 0;
  created = 0;

  acquireBuffer(size: number, usage: number, _mapped = false, reuse = true): PooledBuffer {
    const key = `${size}_${usage}`;
    if (!this.freeBuffers.has(key)) this.freeBuffers.set(key, []);
    let buffer: PooledBuffer | undefined;
    if (reuse && this.freeBuffers.get(key)!.length > 0) {
      buffer = this.freeBuffers.get(key)!.pop()!;
      this.numFreeBuffers--;
    } else {
      const fake: FakeBuffer = { size, usage, destroyed: false, destroy: () => void (fake.destroyed = true) };
      buffer = fake;
      this.created++;
      this.numBytesAllocated += size;
    }
    if (!this.usedBuffers.has(key)) this.usedBuffers.set(key, []);
    this.usedBuffers.get(key)!.push(buffer);
    return buffer;
  }

  releaseBuffer(buffer: PooledBuffer, reuse = true): void {
    if (this.freeBuffers.size === 0) return;
    const key = `${buffer.size}_${buffer.usage}`;
    const used = this.usedBuffers.get(key)!;
    used.splice(used.indexOf(buffer), 1);
    if (reuse) {
      this.freeBuffers.get(key)!.push(buffer);
      this.numFreeBuffers++;
    } else {
      buffer.destroy();
      this.numBytesAllocated -= buffer.size;
    }
  }
}

const STORAGE = 0x80;

describe("limitBufferPool", () => {
  it("without a limit, a growing KV cache leaves one stale buffer per step (the problem)", () => {
    const manager = new FakeBufferManager();
    for (let step = 1; step <= 100; step++) manager.releaseBuffer(manager.acquireBuffer(1000 * step, STORAGE));
    expect(manager.numFreeBuffers).toBe(100);
    expect(manager.numBytesAllocated).toBe(1000 * (100 * 101) / 2);
  });

  it("keeps pooled bytes under the limit, evicting the least recently freed, and keeps allocated bytes honest", () => {
    const manager = new FakeBufferManager();
    const stats = limitBufferPool(manager, 10_000);
    const buffers: FakeBuffer[] = [];
    for (let step = 1; step <= 100; step++) {
      const buffer = manager.acquireBuffer(1000 * step, STORAGE) as FakeBuffer;
      buffers.push(buffer);
      manager.releaseBuffer(buffer);
      expect(stats().pooledBytes).toBeLessThanOrEqual(10_000);
    }
    // A growing size never comes back: the newest buffer that fits evicted all older ones.
    expect(buffers.filter((b) => !b.destroyed).map((b) => b.size)).toEqual([10_000]);
    expect(manager.numBytesAllocated).toBe(10_000);
    expect(manager.numFreeBuffers).toBe(1);
  });

  it("evicts the least recently freed buffers first, only as many as needed", () => {
    const manager = new FakeBufferManager();
    const stats = limitBufferPool(manager, 10_000);
    const [a, b, c] = [3000, 4000, 2000].map((size) => manager.acquireBuffer(size, STORAGE) as FakeBuffer);
    for (const buffer of [a!, b!, c!]) manager.releaseBuffer(buffer);
    expect(stats()).toEqual({ pooledBytes: 9000, evictedBuffers: 0, maxPooledBytes: 10_000 });
    const d = manager.acquireBuffer(5000, STORAGE) as FakeBuffer;
    manager.releaseBuffer(d); // 14,000 pooled: drop 3,000 (oldest), then 4,000
    expect([a!, b!, c!, d].map((buffer) => buffer.destroyed)).toEqual([true, true, false, false]);
    expect(stats()).toEqual({ pooledBytes: 7000, evictedBuffers: 2, maxPooledBytes: 10_000 });
    expect(manager.numBytesAllocated).toBe(7000);
    expect(manager.numFreeBuffers).toBe(2);
    // A buffer released with reuse = false is destroyed as before.
    const e = manager.acquireBuffer(100, STORAGE) as FakeBuffer;
    manager.releaseBuffer(e, false);
    expect(e.destroyed).toBe(true);
  });

  it("still reuses buffers of recurring sizes (no new allocations in a steady state)", () => {
    const manager = new FakeBufferManager();
    const stats = limitBufferPool(manager, 1 << 20);
    for (let step = 0; step < 50; step++) {
      const a = manager.acquireBuffer(4096, STORAGE);
      const b = manager.acquireBuffer(8192, STORAGE);
      manager.releaseBuffer(a);
      manager.releaseBuffer(b);
    }
    expect(manager.created).toBe(2);
    expect(stats().pooledBytes).toBe(4096 + 8192);
    // Taking a buffer out of the pool takes its bytes off the count.
    manager.acquireBuffer(4096, STORAGE);
    expect(stats().pooledBytes).toBe(8192);
  });

  it("is idempotent per manager and reads EECOT_WEBGPU_POOL_MB", () => {
    const manager = new FakeBufferManager();
    const stats = limitBufferPool(manager, 100);
    expect(limitBufferPool(manager, 5)).toBe(stats);
    expect(stats().maxPooledBytes).toBe(100);
    expect(defaultMaxPooledBytes()).toBe(512 * 2 ** 20);
    vi.stubEnv("EECOT_WEBGPU_POOL_MB", "64");
    expect(defaultMaxPooledBytes()).toBe(64 * 2 ** 20);
    vi.stubEnv("EECOT_WEBGPU_POOL_MB", "-1");
    expect(() => defaultMaxPooledBytes()).toThrow("EECOT_WEBGPU_POOL_MB=-1 is not a non-negative number of MiB");
    vi.unstubAllEnvs();
  });
});
