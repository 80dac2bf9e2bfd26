/**
 * A bounded cache of records read from LMDB, so hot keys skip the native LMDB call and the copy.
 *
 * Two generations approximate LRU in O(1): lookups hit `young`, or hit `old` and move to `young`;
 * when `young` holds half the byte budget it becomes `old` and the previous `old` is dropped. The
 * engine keeps it exact: every write replaces or removes the key's entry, FLUSHALL clears it.
 * Records are immutable buffers, so sharing them with callers is safe.
 */

/** Rough per-entry overhead of a Map entry, its string key and the Buffer object, in bytes. */
const ENTRY_OVERHEAD_BYTES = 96;

export class RecordCache {
  private young = new Map<string, Buffer>();
  private old = new Map<string, Buffer>();
  private youngBytes = 0;
  private readonly generationBytesMax: number;
  /** Records larger than this are not cached (they would evict many small hot ones). */
  private readonly recordBytesMax: number;
  hits = 0;
  misses = 0;

  constructor(bytesMax: number) {
    this.generationBytesMax = Math.floor(bytesMax / 2);
    this.recordBytesMax = Math.min(64 * 1024, Math.floor(bytesMax / 64));
  }

  get enabled(): boolean {
    return this.generationBytesMax > 0;
  }

  get(key: string): Buffer | undefined {
    const young = this.young.get(key);
    if (young !== undefined) {
      this.hits++;
      return young;
    }
    const old = this.old.get(key);
    if (old !== undefined) {
      this.hits++;
      this.old.delete(key);
      this.insert(key, old);
      return old;
    }
    this.misses++;
    return undefined;
  }

  /** Stores the current record of a key (after a read from LMDB or an acknowledged write). */
  set(key: string, record: Buffer): void {
    if (!this.enabled) return;
    this.old.delete(key);
    if (record.length > this.recordBytesMax) {
      this.young.delete(key);
      return;
    }
    this.insert(key, compact(record));
  }

  delete(key: string): void {
    this.young.delete(key);
    this.old.delete(key);
  }

  clear(): void {
    this.young.clear();
    this.old.clear();
    this.youngBytes = 0;
  }

  get entries(): number {
    return this.young.size + this.old.size;
  }

  private insert(key: string, record: Buffer): void {
    this.young.set(key, record);
    this.youngBytes += record.length + key.length + ENTRY_OVERHEAD_BYTES;
    if (this.youngBytes >= this.generationBytesMax) {
      this.old = this.young;
      this.young = new Map();
      this.youngBytes = 0;
    }
  }
}

/**
 * Small Buffers are usually views into Node's shared 8 KB allocation pool (or a socket chunk); a
 * cached view would keep the whole slab alive. Copy such records into memory of their own.
 */
function compact(record: Buffer): Buffer {
  if (record.buffer.byteLength <= record.length + 64) return record;
  const own = Buffer.allocUnsafeSlow(record.length);
  record.copy(own);
  return own;
}
