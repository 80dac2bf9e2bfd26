/**
 * Carries out a fault schedule against a cluster of real processes whose members each run in a
 * network namespace of a NetworkLab: signals to the member's process (found in its namespace, so
 * it works while the operator is down), nftables drops and tc netem inside namespaces, the
 * operator's admin API for member stops, and the operator process itself. Every start and heal is
 * an event with a timestamp (the history's clock), for the report and the loss-window analysis.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { LabNamespace } from '../netns.js';
import { applyDrops, applyNetem, campaignRules, isNetemUnavailable, nodePidsIn, removeDrops, removeNetem, type NamespaceDrops } from './network.js';
import { describeFault, type Fault, type FaultKind, type Schedule, type ScheduledFault } from './schedule.js';

/** What the injector acts on. */
export interface FaultTarget {
  namespaceOf(member: string): LabNamespace;
  /** Where the ClusterMap store listens (a partition may cut members from it). */
  store: { address: string; port: number };
  /** Through the operator: stop the member's machine (no restart) / bring it back. */
  stopMember(member: string): Promise<void>;
  startMember(member: string): Promise<void>;
  /** SIGKILL of the operator process only (the members keep running). */
  killOperator(): Promise<void>;
  /** Starts the operator again on the same data directory and ports; resolves once it serves. */
  startOperator(): Promise<void>;
}

export interface FaultEvent {
  /** The campaign clock (microseconds, the history's). */
  atUs: number;
  faultId: number;
  kind: FaultKind;
  phase: 'start' | 'heal' | 'error';
  detail: string;
}

interface ActiveFault {
  scheduled: ScheduledFault;
  /** Processes a pause stopped (continued at heal). */
  pausedPids: number[];
  /** A netem fault carried out as random loss by nftables (the kernel has no netem). */
  lossInstead: number;
}

/**
 * Without sch_netem a netem fault drops this share of packets at least, each way: TCP then resends
 * after its retransmission timeout (200 ms and more), which delays the stream as a slow link does.
 */
const LOSS_INSTEAD_OF_NETEM_PERCENT = 10;

/** Heals and calls through the operator are retried this many times (it may be restarting). */
const HEAL_ATTEMPTS = 30;
const HEAL_RETRY_MS = 500;

function signalAll(pids: readonly number[], signal: NodeJS.Signals): void {
  for (const pid of pids) {
    try {
      process.kill(pid, signal);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ESRCH') throw error;
    }
  }
}

export class FaultInjector {
  readonly events: FaultEvent[] = [];
  private readonly active = new Map<number, ActiveFault>();
  /** The rules each namespace holds now (to touch only those that change). */
  private readonly rulesNow = new Map<string, string>();
  private operatorDown = false;
  private stopped = false;

  constructor(
    private readonly target: FaultTarget,
    private readonly members: readonly string[],
    private readonly clockUs: () => number,
    private readonly onEvent: (event: FaultEvent) => void = () => undefined,
  ) {}

  private record(scheduled: ScheduledFault, phase: FaultEvent['phase'], detail: string): void {
    const event: FaultEvent = { atUs: this.clockUs(), faultId: scheduled.id, kind: scheduled.fault.kind, phase, detail };
    this.events.push(event);
    this.onEvent(event);
  }

  /** Runs the schedule from now: each fault starts at its time and is healed after its duration. */
  async run(schedule: Schedule): Promise<void> {
    const startedMs = performance.now();
    const until = async (offsetMs: number): Promise<void> => {
      // Bounded: every offset is within the schedule's duration; healAll() cuts it short.
      while (!this.stopped && performance.now() - startedMs < offsetMs) await sleep(Math.min(50, offsetMs - (performance.now() - startedMs)));
    };
    await Promise.all(
      schedule.faults.map(async (scheduled) => {
        await until(scheduled.atMs);
        if (this.stopped) return;
        await this.start(scheduled);
        if (scheduled.durationMs === 0) return;
        // The duration counts from when the fault took effect (a start through a restarting
        // operator can be late; a stop-member must still outlast the grace).
        await until(performance.now() - startedMs + scheduled.durationMs);
        await this.heal(scheduled.id);
      }),
    );
  }

  async start(scheduled: ScheduledFault): Promise<void> {
    const active: ActiveFault = { scheduled, pausedPids: [], lossInstead: 0 };
    try {
      const detail = await this.inject(scheduled.fault, active);
      if (scheduled.durationMs > 0) this.active.set(scheduled.id, active);
      this.record(scheduled, 'start', detail);
    } catch (error) {
      this.record(scheduled, 'error', `start failed: ${(error as Error).message}`);
      // Whatever part of it took effect is undone by heal.
      if (scheduled.durationMs > 0) this.active.set(scheduled.id, active);
    }
  }

  async heal(id: number): Promise<void> {
    const active = this.active.get(id);
    if (active === undefined) return;
    this.active.delete(id);
    let lastError: unknown = null;
    for (let attempt = 0; attempt < HEAL_ATTEMPTS; attempt++) {
      try {
        await this.undo(active);
        this.record(active.scheduled, 'heal', attempt === 0 ? '' : `after ${attempt + 1} attempts`);
        return;
      } catch (error) {
        lastError = error;
        await sleep(HEAL_RETRY_MS);
      }
    }
    this.record(active.scheduled, 'error', `heal failed: ${(lastError as Error).message}`);
  }

  /**
   * Starts nothing more (run() returns soon), heals every active fault, then makes sure no rule,
   * netem or stopped process is left anywhere.
   */
  async healAll(): Promise<void> {
    this.stopped = true;
    // The operator first: stopping and starting members goes through it.
    const operatorFirst = (active: ActiveFault): number => (active.scheduled.fault.kind === 'restart-operator' ? 0 : 1);
    const ids = [...this.active.entries()].sort(([, a], [, b]) => operatorFirst(a) - operatorFirst(b)).map(([id]) => id);
    for (const id of ids) await this.heal(id);
    if (this.operatorDown) {
      await this.target.startOperator();
      this.operatorDown = false;
    }
    for (const member of this.members) {
      const namespace = this.target.namespaceOf(member);
      await removeDrops(namespace);
      await removeNetem(namespace);
      signalAll(await nodePidsIn(namespace), 'SIGCONT');
    }
    this.rulesNow.clear();
  }

  private async inject(fault: Fault, active: ActiveFault): Promise<string> {
    switch (fault.kind) {
      case 'kill':
      case 'restart-member':
      case 'pause': {
        const pids = await nodePidsIn(this.target.namespaceOf(fault.member));
        if (pids.length === 0) return `${describeFault(fault)}: not running`;
        const signal = fault.kind === 'kill' ? 'SIGKILL' : fault.kind === 'pause' ? 'SIGSTOP' : 'SIGTERM';
        if (fault.kind === 'pause') active.pausedPids = pids;
        signalAll(pids, signal);
        return `${describeFault(fault)}: ${signal} ${pids.join(',')}`;
      }
      case 'partition':
        this.active.set(active.scheduled.id, active);
        await this.applyNetwork();
        return describeFault(fault);
      case 'netem':
        try {
          await applyNetem(this.target.namespaceOf(fault.member), fault);
          return describeFault(fault);
        } catch (error) {
          if (!isNetemUnavailable(error)) throw error;
          active.lossInstead = Math.max(fault.lossPercent, LOSS_INSTEAD_OF_NETEM_PERCENT);
          this.active.set(active.scheduled.id, active);
          await this.applyNetwork();
          return `${describeFault(fault)}: no netem in this kernel, ${active.lossInstead}% random loss each way (nftables) instead`;
        }
      case 'restart-operator':
        this.operatorDown = true;
        await this.target.killOperator();
        return 'SIGKILL of ballast dev (members keep running)';
      case 'stop-member':
        await this.retried(() => this.target.stopMember(fault.member));
        return describeFault(fault);
    }
  }

  /** Calls through the operator are retried (bounded): it may be restarting after a restart-operator. */
  private async retried(call: () => Promise<void>): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      try {
        await call();
        return;
      } catch (error) {
        if (attempt >= HEAL_ATTEMPTS) throw error;
        await sleep(HEAL_RETRY_MS);
      }
    }
  }

  private async undo(active: ActiveFault): Promise<void> {
    const fault = active.scheduled.fault;
    switch (fault.kind) {
      case 'kill':
      case 'restart-member':
        return;
      case 'pause':
        signalAll(active.pausedPids, 'SIGCONT');
        return;
      case 'partition':
        await this.applyNetwork();
        return;
      case 'netem':
        if (active.lossInstead > 0) await this.applyNetwork();
        else await removeNetem(this.target.namespaceOf(fault.member));
        return;
      case 'restart-operator':
        await this.target.startOperator();
        this.operatorDown = false;
        return;
      case 'stop-member':
        await this.target.startMember(fault.member);
        return;
    }
  }

  /** Rebuilds every namespace's drops from the partitions (and netem stand-ins) active now. */
  private async applyNetwork(): Promise<void> {
    const actives = [...this.active.values()];
    for (const member of this.members) {
      const namespace = this.target.namespaceOf(member);
      const from = new Set<string>();
      let storeCut = false;
      let randomLossPercent = 0;
      for (const { scheduled, lossInstead } of actives) {
        const fault = scheduled.fault;
        if (fault.kind === 'netem' && fault.member === member) randomLossPercent = Math.max(randomLossPercent, lossInstead);
        if (fault.kind !== 'partition') continue;
        for (const cut of fault.cuts) if (cut.to === member) from.add(this.target.namespaceOf(cut.from).address);
        if (fault.storeCut.includes(member)) storeCut = true;
      }
      const drops: NamespaceDrops = { fromAddresses: [...from].sort(), store: storeCut ? this.target.store : null, randomLossPercent };
      const rules = campaignRules(drops);
      if (this.rulesNow.get(namespace.name) === rules) continue;
      await applyDrops(namespace, drops);
      this.rulesNow.set(namespace.name, rules);
    }
  }
}
