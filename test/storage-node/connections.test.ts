// Proves how ballast-node treats connections, each against a real process on loopback:
// (a) 1,000 connections open at once are all served (each answers PING).
// (b) Fault: one connection more than --maxclients. Invariant: it gets exactly
//     "-ERR max number of clients reached\r\n" and is closed; the admitted clients keep working.
// (c) Fault: a client pipelines thousands of 1 MB GETs and never reads. Invariants: the server
//     disconnects it (reason output-buffer in metrics), other clients keep working, server memory stays
//     bounded far below the replies requested; a single reply burst above --output-buffer-limit is
//     disconnected at once; a slow reader that does read gets every reply (back-pressure, no cut).
// (d) Fault: a client goes idle with --timeout 1. Invariant: it is closed after about a second while
//     an active client is not; CONFIG SET timeout applies to connections already open.
// (e) CLIENT KILL ID closes exactly the named client (another one at once; itself after the reply).
// (f) Fault: SIGTERM during a pipelined write storm. Invariants: exit code 0; every write whose reply
//     arrived before its connection closed is present after restart; the node answers every write it
//     ran before closing the connection.
import { Socket } from 'node:net';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import {
  encodeCommand,
  RawClient,
  removeDirectory,
  startNode,
  temporaryDirectory,
  type NodeProcess,
  type RespValue,
} from '@ballast/testkit';
import { metric, nodeState, sleep, waitFor } from './support/node-admin.js';

const MAXCLIENTS_ERROR = '-ERR max number of clients reached\r\n';
const MB = 1024 * 1024;

const nodes: NodeProcess[] = [];
const clients: RawClient[] = [];
const sockets: Socket[] = [];

async function startTestNode(args: string[] = [], dataDir?: string): Promise<NodeProcess> {
  const node = await startNode({ args, durability: 'sync', ...(dataDir === undefined ? {} : { dataDir }) });
  nodes.push(node);
  return node;
}

async function connect(port: number): Promise<RawClient> {
  const client = await RawClient.connect(port);
  clients.push(client);
  return client;
}

/** A plain socket; resolves once connected. */
function rawSocket(port: number, options: { allowHalfOpen?: boolean } = {}): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = new Socket(options);
    sockets.push(socket);
    socket.once('error', reject);
    socket.connect(port, '127.0.0.1', () => {
      socket.removeListener('error', reject);
      socket.on('error', () => undefined);
      resolve(socket);
    });
  });
}

/** Everything the peer sends until it closes the connection (or the timeout passes). */
function readUntilClosed(socket: Socket, timeoutMs: number): Promise<{ bytes: Buffer; closed: boolean }> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    const timer = setTimeout(() => resolve({ bytes: Buffer.concat(chunks), closed: false }), timeoutMs);
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    socket.once('close', () => {
      clearTimeout(timer);
      resolve({ bytes: Buffer.concat(chunks), closed: true });
    });
    socket.resume();
  });
}

function isClosed(client: RawClient): Promise<boolean> {
  return Promise.race([client.closed.then(() => true), sleep(0).then(() => false)]);
}

afterEach(() => {
  for (const client of clients.splice(0)) client.close();
  for (const socket of sockets.splice(0)) socket.destroy();
});

afterAll(async () => {
  for (const node of nodes.splice(0)) {
    await node.kill();
    removeDirectory(node.dataDir);
  }
});

describe('(a) many connections', () => {
  it('serves 1,000 connections open at the same time', async () => {
    const node = await startTestNode();
    const open: RawClient[] = [];
    // Connect in waves so the listen backlog is never the bottleneck on a slow machine.
    for (let wave = 0; wave < 10; wave++) {
      open.push(...(await Promise.all(Array.from({ length: 100 }, () => connect(node.port)))));
    }
    const replies = await Promise.all(open.map((client) => client.call('PING')));
    expect(replies.filter((reply) => reply === 'PONG')).toHaveLength(1000);
    const state = await nodeState(node.adminPort);
    expect(state.clients.connected).toBe(1000);
    // Every connection is still usable after all were answered once.
    const again = await Promise.all(open.map((client, i) => client.call('ECHO', `c${i}`)));
    expect(again.every((reply, i) => Buffer.isBuffer(reply) && reply.toString() === `c${i}`)).toBe(true);
    for (const client of open) client.close();
    expect(await waitFor(async () => (await nodeState(node.adminPort)).clients.connected === 0, 20_000)).toBe(true);
  });
});

describe('(b) --maxclients', () => {
  it('refuses the 11th connection with the Redis error and keeps serving the first 10', async () => {
    const node = await startTestNode(['--maxclients', '10']);
    const admitted = await Promise.all(Array.from({ length: 10 }, () => connect(node.port)));
    // PING each, so the server has certainly registered all ten before the 11th arrives.
    for (const client of admitted) expect(await client.call('PING')).toBe('PONG');

    const eleventh = await rawSocket(node.port);
    const { bytes, closed } = await readUntilClosed(eleventh, 10_000);
    expect(closed).toBe(true);
    expect(bytes.toString('latin1')).toBe(MAXCLIENTS_ERROR);

    for (const [i, client] of admitted.entries()) expect(await client.call('SET', `k${i}`, 'v')).toBe('OK');
    expect(await metric(node.adminPort, 'ballast_rejected_connections_total')).toBe(1);
    expect((await nodeState(node.adminPort)).clients.connected).toBe(10);

    // A refused client that sends a request anyway and never closes its side does not keep a
    // socket on the server: once the server has let go, the client's next write meets a reset.
    const pushy = await rawSocket(node.port, { allowHalfOpen: true });
    const refusal: Buffer[] = [];
    pushy.on('data', (chunk: Buffer) => refusal.push(chunk));
    const pushyClosed = new Promise<void>((resolve) => pushy.once('close', () => resolve()));
    const pushyEnded = new Promise<void>((resolve) => pushy.once('end', () => resolve()));
    pushy.write(encodeCommand(['PING']));
    await pushyEnded;
    expect(Buffer.concat(refusal).toString('latin1')).toBe(MAXCLIENTS_ERROR);
    const cut = await waitFor(
      async () => {
        if (!pushy.destroyed) pushy.write(encodeCommand(['PING']));
        return Promise.race([pushyClosed.then(() => true), sleep(100).then(() => false)]);
      },
      20_000,
      200,
    );
    expect(cut, 'the refused socket was still open on the server').toBe(true);

    // A freed slot admits a new client.
    admitted[0]!.close();
    expect(await waitFor(async () => (await nodeState(node.adminPort)).clients.connected === 9, 10_000)).toBe(true);
    const replacement = await connect(node.port);
    expect(await replacement.call('PING')).toBe('PONG');
  });
});

describe('(c) output buffer limit', () => {
  const VALUE_BYTES = MB;

  it('disconnects a client that pipelines thousands of 1 MB GETs and never reads; memory stays bounded', async () => {
    const node = await startTestNode(['--output-buffer-limit', String(8 * MB), '--output-buffer-stall-timeout', '2']);
    const writer = await connect(node.port);
    expect(await writer.call('SET', 'big', Buffer.alloc(VALUE_BYTES, 'b'))).toBe('OK');
    expect(await writer.call('SET', 'small', 'still here')).toBe('OK');
    const rssBeforeBytes = (await nodeState(node.adminPort)).memory.rss;

    const greedy = await rawSocket(node.port);
    greedy.pause(); // never reads
    const requests = 3000;
    const request = encodeCommand(['GET', 'big']);
    greedy.write(Buffer.concat(Array.from({ length: requests }, () => request)));
    const requestedBytes = requests * VALUE_BYTES;

    let rssPeakBytes = rssBeforeBytes;
    let otherClientRounds = 0;
    const disconnected = await waitFor(async () => {
      // Meanwhile another client keeps working, including a full-size read.
      expect((await writer.call('GET', 'small'))?.toString()).toBe('still here');
      expect(((await writer.call('GET', 'big')) as Buffer).length).toBe(VALUE_BYTES);
      otherClientRounds++;
      const state = await nodeState(node.adminPort);
      rssPeakBytes = Math.max(rssPeakBytes, state.memory.rss);
      return (await metric(node.adminPort, 'ballast_client_disconnects_total', { reason: 'output-buffer' })) === 1;
    }, 60_000, 100);
    expect(disconnected).toBe(true);
    expect(otherClientRounds).toBeGreaterThan(0);

    // The greedy client sees its connection closed once it looks, after far fewer bytes than asked.
    const { bytes, closed } = await readUntilClosed(greedy, 20_000);
    expect(closed).toBe(true);
    expect(bytes.length).toBeLessThan(64 * MB);

    const rssAfterBytes = (await nodeState(node.adminPort)).memory.rss;
    rssPeakBytes = Math.max(rssPeakBytes, rssAfterBytes);
    const growthMb = (rssPeakBytes - rssBeforeBytes) / MB;
    console.log(
      `output buffer: client requested ${(requestedBytes / MB).toFixed(0)} MB of replies, received ` +
        `${(bytes.length / MB).toFixed(1)} MB before the cut; server rss ${(rssBeforeBytes / MB).toFixed(0)} MB → peak ` +
        `${(rssPeakBytes / MB).toFixed(0)} MB (growth ${growthMb.toFixed(1)} MB)`,
    );
    expect(requestedBytes).toBeGreaterThan(2 * 1024 * MB);
    expect(growthMb).toBeLessThan(200);
    const info = ((await writer.call('INFO', 'stats')) as Buffer).toString();
    expect(info).toContain('client_output_buffer_limit_disconnections:1');
    expect(await writer.call('PING')).toBe('PONG');
  });

  it('disconnects at once when one burst of replies passes --output-buffer-limit', async () => {
    const node = await startTestNode(['--output-buffer-limit', String(8 * MB)]);
    const writer = await connect(node.port);
    expect(await writer.call('SET', 'big', Buffer.alloc(VALUE_BYTES, 'b'))).toBe('OK');
    const greedy = await rawSocket(node.port);
    greedy.write(encodeCommand(['MGET', ...Array.from({ length: 12 }, () => 'big')]));
    const { bytes, closed } = await readUntilClosed(greedy, 20_000);
    expect(closed).toBe(true);
    expect(bytes.length).toBeLessThan(12 * VALUE_BYTES);
    expect(await metric(node.adminPort, 'ballast_client_disconnects_total', { reason: 'output-buffer' })).toBe(1);
    expect(await writer.call('PING')).toBe('PONG');
  });

  it('keeps a slow reader connected and gives it every reply (back-pressure, not a cut)', async () => {
    // The stall timeout is far above the reader's pauses, so only the hard limit could cut it.
    const node = await startTestNode(['--output-buffer-limit', String(8 * MB), '--output-buffer-stall-timeout', '10']);
    const writer = await connect(node.port);
    const value = Buffer.alloc(VALUE_BYTES);
    for (let i = 0; i < value.length; i++) value[i] = 97 + (i % 26);
    expect(await writer.call('SET', 'big', value)).toBe('OK');

    const slow = await connect(node.port);
    const count = 48; // 48 MB of replies: six times the hard limit, so only back-pressure can save it
    slow.socket.pause();
    slow.write(Buffer.concat(Array.from({ length: count }, () => encodeCommand(['GET', 'big']))));
    // Read in short bursts with pauses between them.
    let readingSlowly = true;
    const reader = setInterval(() => {
      slow.socket.resume();
      setTimeout(() => {
        if (readingSlowly) slow.socket.pause();
      }, 5);
    }, 50);
    try {
      for (let i = 0; i < count; i++) {
        const reply = (await slow.reply(60_000)) as Buffer;
        expect(reply.equals(value), `reply ${i}`).toBe(true);
      }
    } finally {
      readingSlowly = false;
      clearInterval(reader);
      slow.socket.resume();
    }
    expect(await slow.call('PING')).toBe('PONG');
    expect(await metric(node.adminPort, 'ballast_client_disconnects_total', { reason: 'output-buffer' })).toBe(0);
  });
});

describe('(d) --timeout (idle clients)', () => {
  it('closes an idle client after about a second and keeps an active one', async () => {
    const node = await startTestNode(['--timeout', '1']);
    const idle = await connect(node.port);
    const active = await connect(node.port);
    expect(await idle.call('PING')).toBe('PONG');
    const idleSinceMs = Date.now();
    // Well inside the timeout the idle client is still connected.
    await sleep(200);
    expect(await isClosed(idle)).toBe(false);

    let activeRounds = 0;
    const idleClosed = await waitFor(async () => {
      expect(await active.call('PING')).toBe('PONG');
      activeRounds++;
      return isClosed(idle);
    }, 15_000, 100);
    const closedAfterMs = Date.now() - idleSinceMs;
    expect(idleClosed).toBe(true);
    expect(closedAfterMs).toBeGreaterThanOrEqual(900);
    // Keep the active client busy for longer than the timeout once more.
    for (let i = 0; i < 20; i++) {
      await sleep(100);
      expect(await active.call('PING')).toBe('PONG');
    }
    expect(activeRounds).toBeGreaterThan(0);
    expect(await isClosed(active)).toBe(false);
    expect(await metric(node.adminPort, 'ballast_client_disconnects_total', { reason: 'idle' })).toBe(1);
  });

  it('CONFIG SET timeout applies to connections that are already open', async () => {
    const node = await startTestNode();
    const idle = await connect(node.port);
    const admin = await connect(node.port);
    expect(await idle.call('PING')).toBe('PONG');
    expect(await admin.call('CONFIG', 'SET', 'timeout', '1')).toBe('OK');
    // The admin client stays active (it is subject to the new timeout too).
    const closed = await waitFor(async () => {
      expect(await admin.call('PING')).toBe('PONG');
      return isClosed(idle);
    }, 15_000, 200);
    expect(closed).toBe(true);
    expect(await admin.call('CONFIG', 'SET', 'timeout', '0')).toBe('OK');
    expect(await admin.call('PING')).toBe('PONG');
  });
});

describe('(e) CLIENT KILL', () => {
  it('CLIENT KILL ID closes exactly that client', async () => {
    const node = await startTestNode();
    const victim = await connect(node.port);
    const bystander = await connect(node.port);
    const killer = await connect(node.port);
    const victimId = (await victim.call('CLIENT', 'ID')) as number;
    expect(typeof victimId).toBe('number');

    expect(await killer.call('CLIENT', 'KILL', 'ID', victimId)).toBe(1);
    expect(await waitFor(() => isClosed(victim), 10_000)).toBe(true);
    await expect(victim.call('PING')).rejects.toThrow('connection closed');
    expect(await bystander.call('PING')).toBe('PONG');
    expect(await killer.call('PING')).toBe('PONG');
    // Killing it again finds nobody.
    expect(await killer.call('CLIENT', 'KILL', 'ID', victimId)).toBe(0);
    expect(await metric(node.adminPort, 'ballast_client_disconnects_total', { reason: 'killed' })).toBe(1);
    expect((await nodeState(node.adminPort)).clients.connected).toBe(2);

    // A client killing itself gets its reply, then the connection closes.
    const killerId = (await killer.call('CLIENT', 'ID')) as number;
    expect(await killer.call('CLIENT', 'KILL', 'ID', killerId, 'SKIPME', 'no')).toBe(1);
    expect(await waitFor(() => isClosed(killer), 10_000)).toBe(true);
    expect(await bystander.call('PING')).toBe('PONG');
    expect(await metric(node.adminPort, 'ballast_client_disconnects_total', { reason: 'killed' })).toBe(2);
  });
});

describe('(f) graceful shutdown (SIGTERM)', () => {
  it('exits 0 mid-storm and keeps every write acknowledged before the connection closed', async () => {
    const dataDir = temporaryDirectory('ballast-shutdown-');
    const node = await startTestNode([], dataDir);
    const connectionCount = 3;
    const writers = await Promise.all(Array.from({ length: connectionCount }, () => connect(node.port)));
    const sent = new Array<number>(connectionCount).fill(0);
    const acknowledged = new Array<number>(connectionCount).fill(0);
    let totalAcknowledged = 0;
    let stopping = false;

    const storm = async (client: RawClient, c: number): Promise<void> => {
      const sendChunk = (): void => {
        const chunk: Buffer[] = [];
        for (let n = 0; n < 100; n++) chunk.push(encodeCommand(['SET', `sd:{${c}}:${sent[c]!++}`, `value-${c}-${sent[c]}`]));
        client.write(Buffer.concat(chunk));
      };
      sendChunk();
      sendChunk();
      for (;;) {
        let reply: RespValue;
        try {
          reply = await client.reply(30_000);
        } catch {
          return; // the server closed the connection
        }
        expect(reply).toBe('OK');
        acknowledged[c]!++;
        totalAcknowledged++;
        if (!stopping && sent[c]! - acknowledged[c]! < 500) sendChunk();
      }
    };
    const storms = writers.map((client, c) => storm(client, c));
    expect(await waitFor(() => totalAcknowledged >= 3000, 60_000, 5)).toBe(true);
    const exitCode = await node.stop();
    stopping = true;
    await Promise.all(storms);
    expect(exitCode).toBe(0);
    expect(node.output()).toContain('shutdown complete');

    const restarted = await startTestNode([], dataDir);
    const reader = await connect(restarted.port);
    let present = 0;
    for (let c = 0; c < connectionCount; c++) {
      // Read every key this connection sent, in pipelined rounds.
      const values: Array<RespValue> = [];
      for (let start = 0; start < sent[c]!; start += 1000) {
        const end = Math.min(sent[c]!, start + 1000);
        const round: Buffer[] = [];
        for (let i = start; i < end; i++) round.push(encodeCommand(['GET', `sd:{${c}}:${i}`]));
        reader.write(Buffer.concat(round));
        for (let i = start; i < end; i++) values.push(await reader.reply());
      }
      for (let i = 0; i < acknowledged[c]!; i++) {
        expect(values[i]?.toString(), `connection ${c}, acknowledged write ${i}`).toBe(`value-${c}-${i + 1}`);
      }
      // The node answers every write it ran: nothing past the acknowledged ones was applied.
      const applied = values.filter((value) => value !== null).length;
      present += applied;
      expect(applied, `connection ${c}: writes applied but never answered`).toBe(acknowledged[c]);
    }
    console.log(
      `graceful shutdown: ${totalAcknowledged} writes acknowledged, ${sent.reduce((a, b) => a + b, 0)} sent, ` +
        `${present} present after restart`,
    );
  });
});

