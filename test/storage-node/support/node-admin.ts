/**
 * Helpers for process tests that read a node's admin HTTP port (/v1/node, /metrics) and wait for
 * conditions with a bound on time, never on speed.
 */

export interface NodeState {
  keys: number;
  durability: string;
  partitions: number;
  state: string;
  clients: { connected: number; max: number; waitingForDurability: number };
  memory: { rss: number; heapUsed: number };
  [field: string]: unknown;
}

export async function nodeState(adminPort: number): Promise<NodeState> {
  const response = await fetch(`http://127.0.0.1:${adminPort}/v1/node`);
  if (response.status !== 200) throw new Error(`/v1/node answered ${response.status}`);
  return (await response.json()) as NodeState;
}

export async function metricsText(adminPort: number): Promise<string> {
  const response = await fetch(`http://127.0.0.1:${adminPort}/metrics`);
  if (response.status !== 200) throw new Error(`/metrics answered ${response.status}`);
  return response.text();
}

/**
 * The value of one sample in Prometheus text format: `name` with exactly the given labels (in any
 * order), or 0 when the series is absent (counters that never moved are not exported).
 */
export function sampleValue(text: string, name: string, labels: Record<string, string> = {}): number {
  const wanted = Object.entries(labels)
    .map(([label, value]) => `${label}="${value}"`)
    .sort()
    .join(',');
  for (const line of text.split('\n')) {
    if (line.startsWith('#') || !line.startsWith(name)) continue;
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)/.exec(line);
    if (match === null || match[1] !== name) continue;
    const found = (match[2] ?? '')
      .split(/,(?=[a-zA-Z_][a-zA-Z0-9_]*=")/)
      .filter((part) => part !== '')
      .sort()
      .join(',');
    if (found === wanted) return Number(match[3]);
  }
  return 0;
}

export async function metric(adminPort: number, name: string, labels: Record<string, string> = {}): Promise<number> {
  return sampleValue(await metricsText(adminPort), name, labels);
}

/** Polls `condition` until it returns true or `timeoutMs` passes; returns whether it became true. */
export async function waitFor(condition: () => boolean | Promise<boolean>, timeoutMs: number, intervalMs = 25): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await condition()) return true;
    if (Date.now() >= deadline) return false;
    await sleep(intervalMs);
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
