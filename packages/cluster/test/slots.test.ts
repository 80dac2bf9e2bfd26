// Proves key → slot → partition hashing matches Redis Cluster (DESIGN.md test vectors and
// redis-server's own CLUSTER KEYSLOT answers) and that partitions tile the slot space.
import { describe, expect, it } from 'vitest';
import {
  crc16,
  isValidPartitionCount,
  keyHashSlot,
  partitionOfSlot,
  SLOT_COUNT,
  slotRangeOfPartition,
} from '../src/index.js';

const bytes = (text: string): Buffer => Buffer.from(text, 'utf8');

describe('crc16 and keyHashSlot', () => {
  it('matches the XMODEM check value', () => {
    expect(crc16(bytes('123456789'))).toBe(0x31c3);
  });

  it.each([
    ['somekey', 11058],
    ['{user1}.following', 8106],
    ['{user1}.followers', 8106],
    ['foo', 12182],
    ['bar', 5061],
    ['', 0],
  ])('slot of %j is %i', (key, slot) => {
    expect(keyHashSlot(bytes(key))).toBe(slot);
  });

  it('hashes the whole key when the first tag is empty', () => {
    expect(keyHashSlot(bytes('foo{}{bar}'))).toBe(crc16(bytes('foo{}{bar}')) % SLOT_COUNT);
    expect(keyHashSlot(bytes('foo{}{bar}'))).not.toBe(keyHashSlot(bytes('bar')));
  });

  it('uses only the first tag', () => {
    expect(keyHashSlot(bytes('foo{{bar}}zap'))).toBe(keyHashSlot(bytes('{bar')));
    expect(keyHashSlot(bytes('foo{bar}{zap}'))).toBe(keyHashSlot(bytes('bar')));
  });

  it('hashes the whole key when a brace is never closed', () => {
    expect(keyHashSlot(bytes('foo{bar'))).toBe(crc16(bytes('foo{bar')) % SLOT_COUNT);
  });
});

describe('partitions', () => {
  it('accepts only powers of two up to the slot count', () => {
    expect([1, 2, 256, 16384].every(isValidPartitionCount)).toBe(true);
    expect([0, 3, 255, 32768, 1.5, -2].some(isValidPartitionCount)).toBe(false);
  });

  it.each([1, 16, 256, 16384])('%i partitions tile the slot space contiguously', (count) => {
    let expectedFirst = 0;
    for (let partition = 0; partition < count; partition++) {
      const { first, last } = slotRangeOfPartition(partition, count);
      expect(first).toBe(expectedFirst);
      expect(partitionOfSlot(first, count)).toBe(partition);
      expect(partitionOfSlot(last, count)).toBe(partition);
      expectedFirst = last + 1;
    }
    expect(expectedFirst).toBe(SLOT_COUNT);
  });
});
