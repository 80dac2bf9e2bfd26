// Proves key expiry on a real ballast-node:
// - active expiry: keys nobody reads are removed once their time passes (DBSIZE drops to 0 with no
//   GET at all), counted in INFO expired_keys and ballast_expired_keys_total; keys without a TTL stay;
// - lazy expiry: no read ever returns a key after its expiry time, whether or not the active cycle has
//   reached it yet;
// - expiry times are absolute and persisted. Fault: SIGTERM, or kill -9, and restart before the key
//   expires. Invariant: the key is still there with a PTTL that keeps decreasing, and is gone once its
//   time passes. Fault: the node is down while the key's time passes. Invariant: after restart the
//   key is never returned and the active cycle removes it.
import { afterAll, describe, expect, it } from 'vitest';
import { encodeCommand, RawClient, removeDirectory, startNode, temporaryDirectory, type NodeProcess } from '@ballast/testkit';
import { metric, nodeState, sleep, waitFor } from './support/node-admin.js';

const nodes: NodeProcess[] = [];
const clients: RawClient[] = [];
const directories: string[] = [];

async function start(dataDir?: string): Promise<{ node: NodeProcess; client: RawClient }> {
  const node = await startNode({ durability: 'sync', ...(dataDir === undefined ? {} : { dataDir }) });
  nodes.push(node);
  const client = await RawClient.connect(node.port);
  clients.push(client);
  return { node, client };
}

async function infoField(client: RawClient, section: string, field: string): Promise<number> {
  const text = ((await client.call('INFO', section)) as Buffer).toString('utf8');
  const match = new RegExp(`^${field}:(\\d+)`, 'm').exec(text);
  if (match === null) throw new Error(`INFO ${section} has no ${field}:\n${text}`);
  return Number(match[1]);
}

afterAll(async () => {
  for (const client of clients) client.close();
  for (const node of nodes) {
    await node.kill();
    removeDirectory(node.dataDir);
  }
  for (const directory of directories) removeDirectory(directory);
});

describe('active expiry', () => {
  it('removes 2,000 keys with PX 200 that nobody reads', async () => {
    const { node, client } = await start();
    const keyCount = 2000;
    client.write(Buffer.concat(Array.from({ length: keyCount }, (_, i) => encodeCommand(['SET', `ttl:${i}`, 'v', 'PX', 200]))));
    for (let i = 0; i < keyCount; i++) expect(await client.reply()).toBe('OK');
    for (let i = 0; i < 10; i++) expect(await client.call('SET', `keep:${i}`, 'v')).toBe('OK');
    const hitsBefore = await infoField(client, 'stats', 'keyspace_hits');
    const missesBefore = await infoField(client, 'stats', 'keyspace_misses');

    // Only DBSIZE (which never expires anything itself) until every TTL key is gone.
    let dbsize = -1;
    const drained = await waitFor(async () => {
      dbsize = (await client.call('DBSIZE')) as number;
      return dbsize === 10;
    }, 30_000, 50);
    expect(drained, `DBSIZE stuck at ${dbsize}`).toBe(true);

    expect(await infoField(client, 'stats', 'expired_keys')).toBe(keyCount);
    expect(await metric(node.adminPort, 'ballast_expired_keys_total')).toBe(keyCount);
    expect(await metric(node.adminPort, 'ballast_keys')).toBe(10);
    expect(await metric(node.adminPort, 'ballast_keys_with_expiry')).toBe(0);
    // Nothing read the keys: the removals were the active cycle's.
    expect(await infoField(client, 'stats', 'keyspace_hits')).toBe(hitsBefore);
    expect(await infoField(client, 'stats', 'keyspace_misses')).toBe(missesBefore);
    expect((await client.call('GET', 'keep:3'))?.toString()).toBe('v');
    expect(await client.call('EXISTS', 'ttl:7')).toBe(0);
  });
});

describe('lazy expiry', () => {
  it('never returns a key once its expiry time has passed', async () => {
    const { client } = await start();
    const keyCount = 300;
    const expireAtMs = Date.now() + 1500;
    client.write(
      Buffer.concat(Array.from({ length: keyCount }, (_, i) => encodeCommand(['SET', `lazy:${i}`, `v${i}`, 'PXAT', expireAtMs]))),
    );
    for (let i = 0; i < keyCount; i++) expect(await client.reply()).toBe('OK');

    // Read every key in rounds straddling the expiry time. Any GET sent after expireAtMs (same
    // machine, same clock) must miss; GETs before it see the value.
    let readsAfterExpiry = 0;
    let readsBeforeExpiry = 0;
    for (let round = 0; round < 400; round++) {
      const sentAtMs = Date.now();
      client.write(Buffer.concat(Array.from({ length: keyCount }, (_, i) => encodeCommand(['GET', `lazy:${i}`]))));
      for (let i = 0; i < keyCount; i++) {
        const reply = await client.reply();
        if (sentAtMs > expireAtMs) {
          expect(reply, `lazy:${i} read ${sentAtMs - expireAtMs} ms after it expired`).toBeNull();
          readsAfterExpiry++;
        } else if (reply !== null) {
          expect(reply.toString()).toBe(`v${i}`);
          readsBeforeExpiry++;
        }
      }
      if (sentAtMs > expireAtMs + 300) break;
      await sleep(20);
    }
    expect(readsBeforeExpiry).toBeGreaterThan(0);
    expect(readsAfterExpiry).toBeGreaterThan(0);
    expect(await client.call('PTTL', 'lazy:0')).toBe(-2);
    expect(await client.call('EXISTS', 'lazy:0', 'lazy:1')).toBe(0);
    expect(await waitFor(async () => (await client.call('DBSIZE')) === 0, 20_000)).toBe(true);
  });
});

describe('expiry times are absolute and persisted', () => {
  it.each(['SIGTERM', 'kill -9'] as const)(
    'a key restarted before its time (%s) keeps a decreasing PTTL, then expires',
    async (stopKind) => {
      const dataDir = temporaryDirectory('ballast-expiry-');
      directories.push(dataDir);
      const first = await start(dataDir);
      const expireAtMs = Date.now() + 4000;
      expect(await first.client.call('SET', 'session', 'alive', 'PXAT', expireAtMs)).toBe('OK');
      expect(await first.client.call('HSET', 'profile', 'name', 'ada')).toBe(1);
      expect(await first.client.call('PEXPIREAT', 'profile', expireAtMs)).toBe(1);
      const pttlBefore = (await first.client.call('PTTL', 'session')) as number;
      expect(pttlBefore).toBeGreaterThan(0);
      if (stopKind === 'SIGTERM') expect(await first.node.stop()).toBe(0);
      else await first.node.kill();

      const second = await start(dataDir);
      if (Date.now() < expireAtMs - 500) {
        // Restarted before the key's time: it is there, and its PTTL counts down across the restart.
        expect((await second.client.call('GET', 'session'))?.toString()).toBe('alive');
        expect((await second.client.call('HGET', 'profile', 'name'))?.toString()).toBe('ada');
        const askedAtMs = Date.now();
        const pttlAfterRestart = (await second.client.call('PTTL', 'session')) as number;
        expect(pttlAfterRestart).toBeGreaterThan(0);
        expect(pttlAfterRestart).toBeLessThanOrEqual(pttlBefore);
        // Absolute: the remaining time is measured from the original deadline, not reset by restart.
        expect(pttlAfterRestart).toBeLessThanOrEqual(expireAtMs - askedAtMs);
        await sleep(150);
        const pttlLater = (await second.client.call('PTTL', 'session')) as number;
        expect(pttlLater).toBeLessThan(pttlAfterRestart);
        expect(await second.client.call('PEXPIRETIME', 'session')).toBe(expireAtMs);
        expect((await nodeState(second.node.adminPort)).keysWithExpiry).toBe(2);
      } else {
        console.log(`expiry: restart took until ${Date.now() - expireAtMs} ms before expiry; present-check skipped`);
      }

      // After its time the key is gone, without anyone reading it (active expiry)...
      await sleep(Math.max(0, expireAtMs - Date.now()));
      expect(await waitFor(async () => (await second.client.call('DBSIZE')) === 0, 20_000)).toBe(true);
      // ...and stays gone after another restart.
      expect(await second.node.stop()).toBe(0);
      const third = await start(dataDir);
      expect(await third.client.call('DBSIZE')).toBe(0);
      expect(await third.client.call('GET', 'session')).toBeNull();
      expect(await third.node.stop()).toBe(0);
    },
  );

  it('a key whose time passes while the node is down is never returned and is removed', async () => {
    const dataDir = temporaryDirectory('ballast-expiry-');
    directories.push(dataDir);
    const first = await start(dataDir);
    const expireAtMs = Date.now() + 1000;
    const keyCount = 50;
    first.client.write(
      Buffer.concat(Array.from({ length: keyCount }, (_, i) => encodeCommand(['SET', `down:${i}`, 'v', 'PXAT', expireAtMs]))),
    );
    for (let i = 0; i < keyCount; i++) expect(await first.client.reply()).toBe('OK');
    expect(await first.client.call('SET', 'durable', 'v')).toBe('OK');
    expect(await first.node.stop()).toBe(0);

    // Down until well past the expiry time.
    await sleep(Math.max(0, expireAtMs - Date.now()) + 300);
    const second = await start(dataDir);
    // Lazy: an expired key is never returned, even before the active cycle gets to it.
    expect(await second.client.call('GET', 'down:0')).toBeNull();
    expect(await second.client.call('PTTL', 'down:1')).toBe(-2);
    // Active: the rest go without being read.
    expect(await waitFor(async () => (await second.client.call('DBSIZE')) === 1, 20_000)).toBe(true);
    expect(await infoField(second.client, 'stats', 'expired_keys')).toBe(keyCount);
    expect((await second.client.call('GET', 'durable'))?.toString()).toBe('v');
    expect(await second.node.stop()).toBe(0);
  });
});
