/** Which partition a key falls in, as the nodes route it (hash slot, then slot → partition). */
import { keyHashSlot, partitionOfSlot } from '@ballast/cluster';

export function partitionOfKey(key: string, partitionCount: number): number {
  return partitionOfSlot(keyHashSlot(Buffer.from(key)), partitionCount);
}
