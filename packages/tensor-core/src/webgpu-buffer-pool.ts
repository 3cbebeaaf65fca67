// A size limit for tfjs-webgpu's buffer pool. tfjs-backend-webgpu keeps every freed GPU buffer
// for reuse by exact size and never frees it. Decoding with a KV cache makes buffers of a new
// size at every step (keys [B*K, D, S] for S = 1, 2, ...), so the pool grows without bound:
// for Qwen3-0.6B, 1,000 decoded tokens would leave ~100 GB of stale buffers. Here the pool
// keeps at most `maxPooledBytes`, evicting (destroying) the least recently freed buffers first;
// buffers of recurring sizes (per-step activations) are still reused.

/** The parts of a GPUBuffer the pool needs. */
export interface PooledBuffer {
  readonly size: number;
  readonly usage: number;
  destroy(): void;
}

/** The parts of tfjs-webgpu's BufferManager (dist/buffer_manager.js, 4.22.0) the limit patches. */
export interface BufferManagerLike {
  freeBuffers: Map<string, PooledBuffer[]>;
  numFreeBuffers: number;
  numBytesAllocated: number;
  acquireBuffer(size: number, usage: number, mappedAtCreation?: boolean, reuse?: boolean): PooledBuffer;
  releaseBuffer(buffer: PooledBuffer, reuse?: boolean): void;
}

/** What the limit did so far. */
export interface BufferPoolStats {
  /** Bytes of freed buffers waiting for reuse. */
  readonly pooledBytes: number;
  /** Buffers destroyed to stay under the limit. */
  readonly evictedBuffers: number;
  readonly maxPooledBytes: number;
}

const limited = new WeakMap<BufferManagerLike, () => BufferPoolStats>();

/** Default pool limit: 512 MiB, or EECOT_WEBGPU_POOL_MB. */
export function defaultMaxPooledBytes(): number {
  const fromEnv = process.env.EECOT_WEBGPU_POOL_MB?.trim();
  if (fromEnv) {
    const megabytes = Number(fromEnv);
    if (!Number.isFinite(megabytes) || megabytes < 0) throw new Error(`EECOT_WEBGPU_POOL_MB=${fromEnv} is not a non-negative number of MiB`);
    return Math.round(megabytes * 2 ** 20);
  }
  return 512 * 2 ** 20;
}

/**
 * Patches a tfjs-webgpu BufferManager so its pool of freed buffers stays under
 * `maxPooledBytes` (least recently freed evicted first). Idempotent per manager; returns a
 * function reporting the pool's state.
 */
export function limitBufferPool(manager: BufferManagerLike, maxPooledBytes: number): () => BufferPoolStats {
  const existing = limited.get(manager);
  if (existing) return existing;
  if (!(maxPooledBytes >= 0)) throw new Error(`limitBufferPool: maxPooledBytes must be >= 0, got ${maxPooledBytes}`);
  const release = manager.releaseBuffer.bind(manager);
  const acquire = manager.acquireBuffer.bind(manager);
  const order = new Map<PooledBuffer, string>(); // pooled buffers, least recently freed first
  let pooledBytes = 0;
  let evictedBuffers = 0;
  const keyOf = (size: number, usage: number) => `${size}_${usage}`; // as tfjs's getBufferKey

  const evict = (buffer: PooledBuffer, key: string) => {
    const pool = manager.freeBuffers.get(key);
    const index = pool ? pool.indexOf(buffer) : -1;
    if (pool && index >= 0) pool.splice(index, 1);
    order.delete(buffer);
    pooledBytes -= buffer.size;
    manager.numFreeBuffers--;
    manager.numBytesAllocated -= buffer.size;
    evictedBuffers++;
    buffer.destroy();
  };

  manager.releaseBuffer = (buffer: PooledBuffer, reuse = true) => {
    if (!reuse || buffer.size > maxPooledBytes) {
      release(buffer, false); // destroyed now (tfjs defers the call until queued work is submitted)
      return;
    }
    const before = manager.numFreeBuffers;
    release(buffer, true);
    if (manager.numFreeBuffers === before) return; // tfjs ignored it (pool already disposed)
    order.set(buffer, keyOf(buffer.size, buffer.usage));
    pooledBytes += buffer.size;
    for (const [oldest, key] of order) {
      if (pooledBytes <= maxPooledBytes) break;
      evict(oldest, key);
    }
  };

  manager.acquireBuffer = (size: number, usage: number, mappedAtCreation = false, reuse = true) => {
    const pool = reuse ? manager.freeBuffers.get(keyOf(size, usage)) : undefined;
    const candidate = pool && pool.length > 0 ? pool[pool.length - 1] : undefined; // tfjs pops the last
    const buffer = acquire(size, usage, mappedAtCreation, reuse);
    if (candidate && buffer === candidate && order.delete(candidate)) pooledBytes -= candidate.size;
    return buffer;
  };

  const stats = () => ({ pooledBytes, evictedBuffers, maxPooledBytes });
  limited.set(manager, stats);
  return stats;
}
