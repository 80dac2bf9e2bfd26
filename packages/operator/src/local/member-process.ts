/**
 * A member's ballast-node process as the local runtime sees it: either a child it spawned, or a
 * process a previous `ballast dev` spawned and left running when it died (kill -9, crash), which
 * this one adopts — as a restarted Kubernetes operator finds the pods still running and adopts them
 * instead of starting a second copy on the same volume. Adoption is what keeps a restarted runtime
 * from spawning a duplicate ballast-node on a live member's data directory and ports.
 *
 * Also where members run: on loopback (default), or each in its own network namespace of a
 * NetworkLab (`--netns-lab NAME`, a testing option; the lab is made by
 * packages/testkit/src/netns.ts): namespace `ns-NAME-i`, reached on its address on bridge
 * `br-NAME`, with the runtime's ClusterMap store on the bridge address.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { readJsonFile, writeFileAtomically } from './state-files.js';

export interface MemberProcess {
  readonly pid: number;
  /** Whether this runtime spawned it (false: adopted from a previous runtime). */
  readonly spawned: boolean;
  kill(signal: NodeJS.Signals): void;
  /** Resolves when the process is gone, with how it ended when known (adopted: unknown). */
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

export function spawnedProcess(child: ChildProcess): MemberProcess {
  return {
    pid: child.pid ?? -1,
    spawned: true,
    kill: (signal) => {
      child.kill(signal);
    },
    exited: new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal }))),
  };
}

/** How often an adopted process (not our child: no exit event) is checked for. */
const ADOPTED_POLL_MS = 200;

function commandLineOf(pid: number): string | null {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').replaceAll('\0', ' ');
  } catch {
    return null;
  }
}

/** A recorded member process, if it still runs what was recorded (`marker` in its command line). */
export function adoptProcess(pid: number, marker: string): MemberProcess | null {
  if (!(commandLineOf(pid)?.includes(marker) ?? false)) return null;
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    const timer = setInterval(() => {
      // Gone, a zombie, or the pid reused by something else: the member process is over.
      const commandLine = commandLineOf(pid);
      if (commandLine === null || commandLine === '' || !commandLine.includes(marker)) {
        clearInterval(timer);
        resolve({ code: null, signal: null });
      }
    }, ADOPTED_POLL_MS);
    // Watching an adopted member must not keep `ballast dev` alive on its own.
    timer.unref();
  });
  return {
    pid,
    spawned: false,
    kill: (signal) => {
      try {
        process.kill(pid, signal);
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'ESRCH') throw error;
      }
    },
    exited,
  };
}

/** What `<data-dir>/member-processes.json` records per member, for the next runtime to adopt. */
export interface RecordedMemberProcess {
  pid: number;
  configHash: string;
  startedAtMs: number;
}

/**
 * The recorded member processes. Not rebuildable: without it a member left running would be started
 * a second time on its data directory and ports, so a file that does not parse is an error
 * (StateFileError) naming it; it cannot be left half-written by a crash (writeFileAtomically).
 */
export function readRecordedProcesses(file: string): Record<string, RecordedMemberProcess> {
  return readJsonFile<Record<string, RecordedMemberProcess>>(file, {});
}

export function writeRecordedProcesses(file: string, processes: Record<string, RecordedMemberProcess>): void {
  writeFileAtomically(file, `${JSON.stringify(processes)}\n`);
}

// --- Placement: loopback or a NetworkLab ----------------------------------------------------------

export interface MemberPlacement {
  /** The address the member binds and advertises, and the runtime reaches it on. */
  host: string;
  /** Command prefix that runs the member where it belongs (empty: right here). */
  launcher: string[];
}

export interface Placement {
  /** Where the embedded ClusterMap store listens (members must reach it). */
  storeHost: string;
  member(index: number): MemberPlacement;
}

export const LOOPBACK_PLACEMENT: Placement = {
  storeHost: '127.0.0.1',
  member: () => ({ host: '127.0.0.1', launcher: [] }),
};

function ipv4Of(args: string[], what: string): string {
  let output: string;
  try {
    output = execFileSync('ip', ['-j', '-4', ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (error) {
    throw new Error(`--netns-lab: cannot read the address of ${what} (is the lab created?): ${(error as Error).message.trim()}`, { cause: error });
  }
  const links = JSON.parse(output) as Array<{ addr_info?: Array<{ family: string; local: string }> }>;
  const address = links[0]?.addr_info?.find((info) => info.family === 'inet')?.local;
  if (address === undefined) throw new Error(`--netns-lab: ${what} has no IPv4 address`);
  return address;
}

/**
 * Members in a NetworkLab named `lab` (testkit's createNetworkLab): member i runs through
 * `ip netns exec ns-<lab>-i` on that namespace's eth0 address; the store listens on the address of
 * bridge `br-<lab>` in the root namespace, which every namespace reaches.
 */
export function netnsLabPlacement(lab: string): Placement {
  const storeHost = ipv4Of(['addr', 'show', 'dev', `br-${lab}`], `bridge br-${lab}`);
  const members = new Map<number, MemberPlacement>();
  return {
    storeHost,
    member(index) {
      let placement = members.get(index);
      if (placement === undefined) {
        const namespace = `ns-${lab}-${index}`;
        placement = { host: ipv4Of(['-n', namespace, 'addr', 'show', 'dev', 'eth0'], `namespace ${namespace}`), launcher: ['ip', 'netns', 'exec', namespace] };
        members.set(index, placement);
      }
      return placement;
    },
  };
}

/** Starts a member's program where its placement says, its output appended to `logFd`. */
export function spawnMember(placement: MemberPlacement, argv: string[], logFd: number): ChildProcess {
  const [command, ...args] = [...placement.launcher, ...argv];
  return spawn(command!, args, { stdio: ['ignore', logFd, logFd] });
}
