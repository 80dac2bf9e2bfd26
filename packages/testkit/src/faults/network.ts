/**
 * Network faults inside a NetworkLab's namespaces, for the campaign: directed packet drops between
 * members, cuts from the ClusterMap store and random loss (one nftables table per namespace,
 * rebuilt whole from the faults active now, so overlapping faults add up and healing one leaves the
 * others), and `tc netem` delay and loss on a namespace's interface. The lab's own `block()` drops
 * both ways; a one-way partition needs drops on input only, hence this separate table. Random loss
 * by nftables (`numgen random`) stands in for netem on kernels built without sch_netem.
 */
import { checkIPv4Address, commandLineOf, mustRunCommand, namespacePids, runCommand, type LabNamespace } from '../netns.js';

const CAMPAIGN_TABLE = 'ballast_campaign';
/** Part of a ballast-node process's command line: tells the member from other processes in its namespace. */
const NODE_MAIN = 'storage-node/dist/main.js';

/** What one namespace drops: packets from these addresses, TCP to and from the store, a random share. */
export interface NamespaceDrops {
  fromAddresses: string[];
  store: { address: string; port: number } | null;
  /** Drop this percentage of all packets, each way (0: none). */
  randomLossPercent: number;
}

/** The nft script that replaces the campaign table with `drops` (an empty table when none). */
export function campaignRules(drops: NamespaceDrops): string {
  const input = drops.fromAddresses.map((address) => `ip saddr ${checkIPv4Address(address)} drop`);
  const output: string[] = [];
  if (drops.randomLossPercent > 0) {
    const loss = `numgen random mod 100 < ${Math.min(100, Math.round(drops.randomLossPercent))} drop`;
    input.push(loss);
    output.push(loss);
  }
  if (drops.store !== null) {
    const { address, port } = drops.store;
    input.push(`ip saddr ${checkIPv4Address(address)} tcp sport ${port} drop`);
    output.push(`ip daddr ${address} tcp dport ${port} drop`);
  }
  const chain = (name: string, rules: string[]): string =>
    `  chain ${name} { type filter hook ${name} priority filter; policy accept;${rules.map((rule) => ` ${rule};`).join('')} }`;
  // Declaring the table first makes the delete succeed whether or not it existed: one atomic swap.
  return `table inet ${CAMPAIGN_TABLE}\ndelete table inet ${CAMPAIGN_TABLE}\ntable inet ${CAMPAIGN_TABLE} {\n${chain('input', input)}\n${chain('output', output)}\n}\n`;
}

export async function applyDrops(namespace: LabNamespace, drops: NamespaceDrops): Promise<void> {
  await mustRunCommand('ip', ['netns', 'exec', namespace.name, 'nft', '-f', '-'], campaignRules(drops));
}

export async function removeDrops(namespace: LabNamespace): Promise<void> {
  await mustRunCommand('ip', ['netns', 'exec', namespace.name, 'nft', '-f', '-'], `table inet ${CAMPAIGN_TABLE}\ndelete table inet ${CAMPAIGN_TABLE}\n`);
}

export interface Netem {
  delayMs: number;
  jitterMs: number;
  lossPercent: number;
}

/** Delays (and drops some of) every packet the namespace sends. */
export async function applyNetem(namespace: LabNamespace, netem: Netem): Promise<void> {
  const args = ['netns', 'exec', namespace.name, 'tc', 'qdisc', 'replace', 'dev', 'eth0', 'root', 'netem', 'delay', `${netem.delayMs}ms`];
  if (netem.jitterMs > 0) args.push(`${netem.jitterMs}ms`);
  if (netem.lossPercent > 0) args.push('loss', `${netem.lossPercent}%`);
  await mustRunCommand('ip', args);
}

/** tc's answer when the kernel has no netem qdisc (CONFIG_NET_SCH_NETEM not set). */
export function isNetemUnavailable(error: unknown): boolean {
  return /Specified qdisc kind is unknown/.test((error as Error).message);
}

export async function removeNetem(namespace: LabNamespace): Promise<void> {
  const outcome = await runCommand('ip', ['netns', 'exec', namespace.name, 'tc', 'qdisc', 'del', 'dev', 'eth0', 'root']);
  // Deleting the default qdisc (no netem installed) fails harmlessly.
  if (outcome.code !== 0 && !/No such file|Cannot delete qdisc with handle of zero/i.test(outcome.stderr)) {
    throw new Error(`tc qdisc del in ${namespace.name} failed: ${outcome.stderr.trim()}`);
  }
}

/** Pids of the ballast-node processes running in `namespace` (the member there, if it runs). */
export async function nodePidsIn(namespace: LabNamespace): Promise<number[]> {
  return (await namespacePids(namespace.name)).filter((pid) => commandLineOf(pid)?.includes(NODE_MAIN) ?? false);
}
