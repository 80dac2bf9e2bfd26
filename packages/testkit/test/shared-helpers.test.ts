// Proves the helpers the campaign, the fault code and the multi-process tests share: the seeded
// shuffle is a permutation that a seed replays; waitFor returns the first value its probe gives and,
// past its bound, throws a WaitTimeoutError naming what it waited for and the last error seen;
// median is the middle value (the mean of the two middle ones for an even count); partitionOfKey
// routes as the nodes do; an address that is not IPv4 never reaches an nft rule.
import { describe, expect, it } from 'vitest';
import { keyHashSlot, partitionOfSlot } from '@ballast/cluster';
import { campaignRules } from '../src/faults/network.js';
import { checkIPv4Address } from '../src/netns.js';
import { partitionOfKey } from '../src/partitions.js';
import { seededRandom } from '../src/random.js';
import { shuffled } from '../src/shuffle.js';
import { median } from '../src/statistics.js';
import { waitFor, WaitTimeoutError } from '../src/wait.js';

describe('shuffled', () => {
  it('returns a permutation and leaves its input alone', () => {
    const items = Array.from({ length: 20 }, (_, index) => index);
    const order = shuffled(items, seededRandom(1));
    expect([...order].sort((a, b) => a - b)).toEqual(items);
    expect(items).toEqual(Array.from({ length: 20 }, (_, index) => index));
  });

  it('gives the same order for the same seed, another for another seed', () => {
    const items = ['kill', 'pause', 'restart-member', 'partition', 'netem', 'restart-operator', 'stop-member'];
    expect(shuffled(items, seededRandom(7))).toEqual(shuffled(items, seededRandom(7)));
    expect(shuffled(items, seededRandom(7))).not.toEqual(shuffled(items, seededRandom(8)));
  });
});

describe('waitFor', () => {
  it('returns the first value other than undefined', async () => {
    let calls = 0;
    const value = await waitFor('the third call', async () => (++calls === 3 ? 'ready' : undefined), 5000, 1);
    expect(value).toBe('ready');
    expect(calls).toBe(3);
  });

  it('throws a WaitTimeoutError with what it waited for and the last error after its bound', async () => {
    const waiting = waitFor('a reply', async () => Promise.reject(new Error('connection refused')), 50, 5);
    await expect(waiting).rejects.toBeInstanceOf(WaitTimeoutError);
    await expect(waiting).rejects.toThrow('a reply: not reached within 50 ms (last: connection refused)');
  });
});

describe('median', () => {
  it.each([
    [[5], 5],
    [[3, 1, 2], 2],
    [[4, 1, 3, 2], 2.5],
  ])('of %j is %d', (values, expected) => {
    expect(median(values)).toBe(expected);
  });
});

describe('partitionOfKey', () => {
  it('is the partition of the key hash slot, as the nodes route', () => {
    for (const key of ['reg:0', 'list:2', '{user}:1', '']) {
      expect(partitionOfKey(key, 16)).toBe(partitionOfSlot(keyHashSlot(Buffer.from(key)), 16));
    }
  });
});

describe('IPv4 addresses in nft rules', () => {
  it('accepts a dotted quad and rejects anything else, in both rule builders', () => {
    expect(checkIPv4Address('10.232.0.11')).toBe('10.232.0.11');
    expect(() => checkIPv4Address('10.232.0.11; flush ruleset')).toThrow('not an IPv4 address');
    expect(() => campaignRules({ fromAddresses: ['example.com'], store: null, randomLossPercent: 0 })).toThrow('not an IPv4 address');
  });
});
