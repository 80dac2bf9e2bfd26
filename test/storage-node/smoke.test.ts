// Proves the harness works end to end: a real ballast-node starts on free ports, answers a raw RESP
// client, and stops cleanly on SIGTERM with exit code 0.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RawClient, removeDirectory, startNode, type NodeProcess } from '@ballast/testkit';

describe('ballast-node process', () => {
  let node: NodeProcess;
  beforeAll(async () => {
    node = await startNode();
  });
  afterAll(async () => {
    await node.kill();
    removeDirectory(node.dataDir);
  });

  it('answers PING and SET/GET over RESP', async () => {
    const client = await RawClient.connect(node.port);
    expect(await client.call('PING')).toBe('PONG');
    expect(await client.call('SET', 'greeting', 'hello')).toBe('OK');
    expect((await client.call('GET', 'greeting'))?.toString()).toBe('hello');
    client.close();
  });

  it('exits 0 on SIGTERM', async () => {
    expect(await node.stop()).toBe(0);
  });
});
