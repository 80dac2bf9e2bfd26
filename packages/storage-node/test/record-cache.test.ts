// Proves the hot-record cache stays within its byte budget, keeps recently used records through a
// generation swap, never keeps a record larger than its per-record bound, and stores small pooled
// buffers as copies of their own (so a cached 100-byte record cannot pin an 8 KB pool slab).
import { describe, expect, it } from 'vitest';
import { RecordCache } from '../src/engine/record-cache.js';

const record = (size: number, fill = 1): Buffer => Buffer.alloc(size, fill);

describe('RecordCache', () => {
  it('returns what was set and forgets deleted keys', () => {
    const cache = new RecordCache(1024 * 1024);
    cache.set('a', record(10, 7));
    expect(cache.get('a')?.[0]).toBe(7);
    cache.delete('a');
    expect(cache.get('a')).toBeUndefined();
    expect(cache.hits).toBe(1);
    expect(cache.misses).toBe(1);
  });

  it('is disabled with a zero budget', () => {
    const cache = new RecordCache(0);
    cache.set('a', record(10));
    expect(cache.get('a')).toBeUndefined();
    expect(cache.entries).toBe(0);
  });

  it('bounds its entries by the byte budget and keeps a key read in every generation', () => {
    const budget = 64 * 1024;
    const cache = new RecordCache(budget);
    cache.set('hot', record(100));
    for (let i = 0; i < 10_000; i++) {
      cache.set(`cold-${i}`, record(100));
      if (i % 50 === 0) expect(cache.get('hot')).toBeDefined();
    }
    // Each entry costs at least its record bytes: the two generations hold at most the budget.
    expect(cache.entries * 100).toBeLessThanOrEqual(budget);
    expect(cache.get('hot')).toBeDefined();
    expect(cache.get('cold-0')).toBeUndefined();
  });

  it('does not cache records above its per-record bound and drops an older cached version', () => {
    const cache = new RecordCache(64 * 1024);
    cache.set('k', record(10));
    cache.set('k', record(2048));
    expect(cache.get('k')).toBeUndefined();
  });

  it('stores a view into a larger buffer as a compact copy', () => {
    const cache = new RecordCache(1024 * 1024);
    const slab = Buffer.alloc(8192, 3);
    const view = slab.subarray(100, 200);
    cache.set('k', view);
    const stored = cache.get('k')!;
    expect(stored.equals(view)).toBe(true);
    expect(stored.buffer.byteLength).toBe(100);
    expect(stored.buffer).not.toBe(slab.buffer);
  });
});
