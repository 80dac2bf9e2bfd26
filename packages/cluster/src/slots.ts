/**
 * Key → slot → partition, exactly as Redis Cluster maps keys to slots.
 *
 * slot = CRC16-XMODEM(tag) mod 16384, where tag is the text between the first `{` and the next `}`
 * when that text is non-empty, else the whole key. Partitions group contiguous slot ranges: with P
 * partitions (a power of two), partition p owns slots [p * 16384/P, (p+1) * 16384/P).
 */

export const SLOT_COUNT = 16384;
export const PARTITION_COUNT_DEFAULT = 256;
export const PARTITION_COUNT_MAX = SLOT_COUNT;

const CRC16_TABLE: Uint16Array = (() => {
  const table = new Uint16Array(256);
  for (let byte = 0; byte < 256; byte++) {
    let crc = byte << 8;
    for (let bit = 0; bit < 8; bit++) {
      crc = crc & 0x8000 ? ((crc << 1) ^ 0x1021) & 0xffff : (crc << 1) & 0xffff;
    }
    table[byte] = crc;
  }
  return table;
})();

/** CRC16-XMODEM (polynomial 0x1021, initial 0) over bytes [start, end). */
export function crc16(bytes: Uint8Array, start = 0, end = bytes.length): number {
  let crc = 0;
  for (let i = start; i < end; i++) {
    crc = ((crc << 8) & 0xffff) ^ CRC16_TABLE[((crc >>> 8) ^ bytes[i]!) & 0xff]!;
  }
  return crc;
}

const OPEN_BRACE = 0x7b;
const CLOSE_BRACE = 0x7d;

/** The Redis Cluster hash slot of a key given as bytes. */
export function keyHashSlot(key: Uint8Array): number {
  const length = key.length;
  let open = -1;
  for (let i = 0; i < length; i++) {
    if (key[i] === OPEN_BRACE) {
      open = i;
      break;
    }
  }
  if (open >= 0) {
    for (let i = open + 1; i < length; i++) {
      if (key[i] === CLOSE_BRACE) {
        // An empty tag ("{}") hashes the whole key.
        if (i > open + 1) return crc16(key, open + 1, i) & (SLOT_COUNT - 1);
        break;
      }
    }
  }
  return crc16(key, 0, length) & (SLOT_COUNT - 1);
}

export function isValidPartitionCount(partitionCount: number): boolean {
  return (
    Number.isInteger(partitionCount) &&
    partitionCount >= 1 &&
    partitionCount <= PARTITION_COUNT_MAX &&
    (partitionCount & (partitionCount - 1)) === 0
  );
}

/** The partition that owns a slot when the slot space is split into `partitionCount` ranges. */
export function partitionOfSlot(slot: number, partitionCount: number): number {
  return Math.floor((slot * partitionCount) / SLOT_COUNT);
}

/** The inclusive slot range [first, last] of a partition. */
export function slotRangeOfPartition(
  partition: number,
  partitionCount: number,
): { first: number; last: number } {
  const slotsPerPartition = SLOT_COUNT / partitionCount;
  const first = partition * slotsPerPartition;
  return { first, last: first + slotsPerPartition - 1 };
}
