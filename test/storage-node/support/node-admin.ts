/**
 * Helpers for process tests that read a node's admin HTTP port (/v1/node, /metrics) and wait for
 * conditions with a bound on time, never on speed.
 */
import { readFileSync } from 'node:fs';

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

/** The storage node's version (its package.json), as ballast_build_info and /v1/node report it. */
export function ballastNodeVersion(): string {
  return (JSON.parse(readFileSync(new URL('../../../packages/storage-node/package.json', import.meta.url), 'utf8')) as { version: string }).version;
}

export async function metricsText(adminPort: number): Promise<string> {
  const response = await fetch(`http://127.0.0.1:${adminPort}/metrics`);
  if (response.status !== 200) throw new Error(`/metrics answered ${response.status}`);
  return response.text();
}

/** One sample of Prometheus text format: metric name (with _bucket/_sum/... suffix), labels, value. */
export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

export function parseSamples(text: string): Sample[] {
  const samples: Sample[] = [];
  for (const line of text.split('\n')) {
    if (line.startsWith('#')) continue;
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)/.exec(line);
    if (match === null) continue;
    const labels: Record<string, string> = {};
    for (const [, label, value] of (match[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) labels[label!] = value!;
    samples.push({ name: match[1]!, labels, value: Number(match[3]) });
  }
  return samples;
}

/** The value of the sample `name` with exactly the given labels (in any order), or undefined when absent. */
export function findSample(text: string | readonly Sample[], name: string, labels: Record<string, string> = {}): number | undefined {
  const wanted = Object.entries(labels);
  const sample = (typeof text === 'string' ? parseSamples(text) : text).find(
    (candidate) =>
      candidate.name === name &&
      Object.keys(candidate.labels).length === wanted.length &&
      wanted.every(([label, value]) => candidate.labels[label] === value),
  );
  return sample?.value;
}

/**
 * The value of one sample in Prometheus text format: `name` with exactly the given labels (in any
 * order), or 0 when the series is absent (counters that never moved are not exported).
 */
export function sampleValue(text: string, name: string, labels: Record<string, string> = {}): number {
  return findSample(text, name, labels) ?? 0;
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
