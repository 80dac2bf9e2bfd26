/**
 * The campaign's clients: concurrent workers, each with its own ioredis Cluster client, doing reads
 * and writes of single-key registers (every written value unique) and APPENDs of unique tokens
 * ("<token>,") to list keys with whole reads, each operation recorded in a HistoryRecorder: invoke
 * before sending, then ok, fail (a refusal certain to come before execution) or info (unknown).
 *
 * The client must never send a command twice: a resent write that already applied would show up as
 * a duplicate (APPEND) or a write taking effect twice (SET), which is the client's doing, not the
 * store's. So ioredis does not resend commands after a lost connection
 * (`autoResendUnfulfilledCommands: false`) and does not retry on a closed connection
 * (`retryDelayOnFailover: 0`); it still retries MOVED, ASK, TRYAGAIN and CLUSTERDOWN, which the node
 * answers before running the command. Every operation is bounded by the client's command timeout and
 * by a deadline of our own; past it the outcome is unknown.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import Redis, { type ClusterOptions } from 'ioredis';
import type { HistoryRecorder, OpKind } from '../history/index.js';
import { seededRandom } from '../random.js';

type ClusterClient = InstanceType<typeof Redis.Cluster>;

export interface WorkloadOptions {
  /** Seed nodes (the members' addresses). */
  nodes: Array<{ host: string; port: number }>;
  clients: number;
  registerKeys: readonly string[];
  appendKeys: readonly string[];
  recorder: HistoryRecorder;
  /** Seeds the choice of operations and keys (timing is the machine's). */
  seed: number;
  /** An operation without an outcome after this long is recorded `info`. */
  operationTimeoutMs: number;
  /** Pause between a worker's operations: uniform in [0, thinkMs]. */
  thinkMs: number;
}

/** Definite refusals: the node answered before running the command (routing, lease, cluster state). */
const REFUSED_BEFORE_EXECUTION = /^(?:ReplyError: )?(?:CLUSTERDOWN|TRYAGAIN|MOVED|ASK|READONLY|CROSSSLOT)\b|^Too many Cluster redirections\. Last error: (?:ReplyError: )?(?:CLUSTERDOWN|TRYAGAIN|MOVED|ASK)\b/;

/** `fail` when the error proves the command did not run; otherwise (timeouts, lost connections...) `info`. */
export function classifyError(message: string): 'fail' | 'info' {
  return REFUSED_BEFORE_EXECUTION.test(message) ? 'fail' : 'info';
}

export function campaignClientOptions(operationTimeoutMs: number): ClusterOptions {
  return {
    // Never resend: see the module comment.
    retryDelayOnFailover: 0,
    retryDelayOnTryAgain: 100,
    retryDelayOnClusterDown: 100,
    retryDelayOnMoved: 0,
    maxRedirections: 16,
    slotsRefreshTimeout: 1000,
    slotsRefreshInterval: 1000,
    clusterRetryStrategy: (times) => Math.min(100 * times, 1000),
    redisOptions: {
      connectTimeout: 1000,
      commandTimeout: operationTimeoutMs,
      autoResendUnfulfilledCommands: false,
      maxRetriesPerRequest: 1,
    },
  };
}

export function createClusterClient(nodes: Array<{ host: string; port: number }>, operationTimeoutMs: number): ClusterClient {
  const client = new Redis.Cluster(nodes, campaignClientOptions(operationTimeoutMs));
  // Errors surface on the commands; an unhandled 'error' event would end the process.
  client.on('error', () => undefined);
  return client;
}

/** The elements of an APPEND list: "a,b,c," → ['a', 'b', 'c']. */
export function listElements(text: string | null): string[] {
  if (text === null || text === '') return [];
  const parts = text.split(',');
  if (parts[parts.length - 1] === '') parts.pop();
  return parts;
}

const FAILURE_BACKOFF_MS = 100;
const FRESH_CLIENT_AFTER_FAILURES = 5;

class OperationTimeout extends Error {}

/** Runs `operation` with a deadline; past it, rejects (the operation may still complete later). */
async function withDeadline<T>(operation: Promise<T>, timeoutMs: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new OperationTimeout(`no outcome within ${timeoutMs} ms`)), timeoutMs);
  });
  try {
    return await Promise.race([operation, deadline]);
  } finally {
    clearTimeout(timer);
    // A late rejection of the abandoned operation must not be unhandled.
    operation.catch(() => undefined);
  }
}

export class Workload {
  private readonly clients: ClusterClient[] = [];
  private readonly loops: Array<Promise<void>> = [];
  private stopping = false;
  /** Process ids: worker w starts as w; a worker whose op ended `info` continues as the next free id. */
  private nextProcess: number;
  private writeCounter = 0;

  constructor(private readonly options: WorkloadOptions) {
    this.nextProcess = options.clients;
  }

  start(): void {
    for (let worker = 0; worker < this.options.clients; worker++) {
      const client = createClusterClient(this.options.nodes, this.options.operationTimeoutMs);
      this.clients.push(client);
      this.loops.push(this.work(worker, client, seededRandom(this.options.seed * 1000 + worker)));
    }
  }

  /** Stops the workers (each finishes its current operation, bounded by the deadline). */
  async stop(): Promise<void> {
    this.stopping = true;
    await Promise.all(this.loops);
    for (const client of this.clients) client.disconnect();
    this.clients.length = 0;
  }

  private uniqueValue(process: number): string {
    this.writeCounter += 1;
    return `${process}.${this.writeCounter}`;
  }

  private async work(worker: number, first: ClusterClient, random: () => number): Promise<void> {
    let client = first;
    let process = worker;
    let failures = 0;
    const { registerKeys, appendKeys } = this.options;
    const keyCount = registerKeys.length + appendKeys.length;
    while (!this.stopping) {
      const index = Math.floor(random() * keyCount);
      const onRegister = index < registerKeys.length;
      const key = onRegister ? registerKeys[index]! : appendKeys[index - registerKeys.length]!;
      const roll = random();
      const kind: OpKind = onRegister ? (roll < 0.5 ? 'read' : 'write') : roll < 0.7 ? 'append' : 'readAll';
      const outcome = await this.operate(client, process, kind, key);
      if (outcome === 'info') process = this.nextProcess++;
      failures = outcome === 'ok' ? 0 : failures + 1;
      if (failures >= FRESH_CLIENT_AFTER_FAILURES) {
        // A client stuck on a closed connection or a stale slot map fails at once, again and again:
        // start over from the seed nodes.
        client.disconnect();
        client = createClusterClient(this.options.nodes, this.options.operationTimeoutMs);
        this.clients[worker] = client;
        failures = 0;
      }
      // After a failure, back off: a dead node refuses at once, and a flood of failed operations
      // tells nothing more than a few do.
      const pauseMs = (outcome === 'ok' ? 0 : FAILURE_BACKOFF_MS) + Math.floor(random() * this.options.thinkMs);
      if (pauseMs > 0) await sleep(pauseMs);
    }
  }

  /** One operation, recorded; returns how it ended. */
  async operate(client: ClusterClient, process: number, kind: OpKind, key: string): Promise<'ok' | 'fail' | 'info'> {
    const { recorder, operationTimeoutMs } = this.options;
    const value = kind === 'write' || kind === 'append' ? this.uniqueValue(process) : null;
    const id = recorder.invoke(process, kind, key, value);
    try {
      // A little slack over the client's own command timeout, so its error usually comes first.
      const deadlineMs = operationTimeoutMs + 500;
      switch (kind) {
        case 'write':
          await withDeadline(client.set(key, value!), deadlineMs);
          recorder.ok(id);
          break;
        case 'append':
          await withDeadline(client.append(key, `${value!},`), deadlineMs);
          recorder.ok(id);
          break;
        case 'read':
          recorder.ok(id, { value: await withDeadline(client.get(key), deadlineMs) });
          break;
        case 'readAll':
          recorder.ok(id, { values: listElements(await withDeadline(client.get(key), deadlineMs)) });
          break;
      }
      return 'ok';
    } catch (error) {
      const message = error instanceof Error ? `${error.name === 'ReplyError' ? 'ReplyError: ' : ''}${error.message}` : String(error);
      const result = error instanceof OperationTimeout ? 'info' : classifyError(message);
      if (result === 'fail') recorder.fail(id, message);
      else recorder.info(id, message);
      return result;
    }
  }

  /**
   * After the faults: reads every key once more with a fresh client, retrying (bounded) until a
   * read succeeds. Each attempt is recorded (as its own process after an `info`).
   */
  async finalReads(attempts: number, retryDelayMs: number): Promise<{ unread: string[] }> {
    const client = createClusterClient(this.options.nodes, this.options.operationTimeoutMs);
    const unread: string[] = [];
    try {
      const keys: Array<[string, OpKind]> = [
        ...this.options.registerKeys.map((key): [string, OpKind] => [key, 'read']),
        ...this.options.appendKeys.map((key): [string, OpKind] => [key, 'readAll']),
      ];
      let process = this.nextProcess++;
      for (const [key, kind] of keys) {
        let done = false;
        for (let attempt = 0; attempt < attempts && !done; attempt++) {
          const outcome = await this.operate(client, process, kind, key);
          if (outcome === 'info') process = this.nextProcess++;
          done = outcome === 'ok';
          if (!done) await sleep(retryDelayMs);
        }
        if (!done) unread.push(key);
      }
    } finally {
      client.disconnect();
    }
    return { unread };
  }
}
