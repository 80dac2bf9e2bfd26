// Deterministic simulation of replication and failover (seeded network, clocks, store and faults;
// real ReplicationCore instances). Faults: node crashes (losing what was not fsynced), isolation
// from peers and store, cut links, store loss, process pauses, message loss and delay spikes.
// Invariants after every step: at most one node serves a partition at any instant (leases); one
// leader per partition and term; every acknowledged FULL_SYNC write is durable on every ISR member;
// reads never go back in time; after healing, every partition serves and no acknowledged write is
// lost. A failing seed reproduces: BALLAST_SIM_SEED=<seed> npx vitest run --project sim
import { describe, expect, it } from 'vitest';
import { Simulation, type SimulationOptions, type SimulationReport } from './support/simulation.js';

const SEEDS = Number(process.env.BALLAST_SIM_SEEDS ?? 1000);
const FIRST_SEED = Number(process.env.BALLAST_SIM_SEED ?? 1);
const ONLY_ONE = process.env.BALLAST_SIM_SEED !== undefined;

/** How many seeds a case with this share runs (SEEDS / share, or 1 for BALLAST_SIM_SEED). */
function countFor(share: number): number {
  return ONLY_ONE ? 1 : Math.ceil(SEEDS / share);
}

function seeds(count: number): number[] {
  return Array.from({ length: count }, (_, i) => FIRST_SEED + i);
}

/**
 * Runs one case over its share of the seeds, each seed shifted by `offset` so the cases draw
 * different schedules; every seed must acknowledge writes (FULL_SYNC) and holds every invariant
 * (the simulation throws otherwise).
 */
function runSeeds(share: number, offset: number, options: Omit<Partial<SimulationOptions>, 'seed'>, requireProgress = true): SimulationReport[] {
  return seeds(countFor(share)).map((seed) => {
    const report = new Simulation({ ...options, seed: seed + offset }).run();
    if (requireProgress) expect(report.acknowledgedWrites, `seed ${seed + offset} made progress`).toBeGreaterThan(0);
    return report;
  });
}

function total(reports: readonly SimulationReport[], field: 'acknowledgedWrites' | 'failovers' | 'snapshots' | 'baselineChanges' | 'movesCompleted' | 'handoffs' | 'gracefulStops' | 'lostWrites'): number {
  return reports.reduce((sum, report) => sum + report[field], 0);
}

describe('replication simulation, FULL_SYNC', () => {
  it(`holds every invariant over ${countFor(1)} seeds (3 nodes, backups=1)`, () => {
    const reports = runSeeds(1, 0, {});
    console.log(`FULL_SYNC 3 nodes: ${total(reports, 'acknowledgedWrites')} acknowledged writes, ${total(reports, 'failovers')} failovers`);
  }, 600_000);

  it(`holds every invariant over ${countFor(4)} seeds (5 nodes, backups=2, snapshots forced)`, () => {
    const reports = runSeeds(4, 100_000, { nodes: 5, backups: 2, partitions: 8, logWindow: 20, clients: 4 });
    expect(total(reports, 'snapshots')).toBeGreaterThan(0);
  }, 600_000);
});

describe('replication simulation with baseline changes (moves, handoffs), FULL_SYNC', () => {
  it(`holds every invariant and finishes every move over ${countFor(4)} seeds (4 nodes, one spare at first, backups=1)`, () => {
    const reports = runSeeds(4, 300_000, { nodes: 4, initialBaseline: 3, partitions: 8, baselineChanges: 3, logWindow: 40 });
    const [changes, moves, handoffs, snapshots] = (['baselineChanges', 'movesCompleted', 'handoffs', 'snapshots'] as const).map((field) => total(reports, field));
    console.log(`moves: ${changes} baseline changes, ${moves} moves completed, ${handoffs} handoffs, ${snapshots} snapshots`);
    expect(moves).toBeGreaterThan(0);
    expect(handoffs).toBeGreaterThan(0);
  }, 600_000);

  it(`holds every invariant over ${countFor(8)} seeds (5 nodes, backups=2, baseline changes without faults between them)`, () => {
    const reports = runSeeds(8, 400_000, { nodes: 5, initialBaseline: 3, backups: 2, partitions: 8, baselineChanges: 4, faultsPerSecond: 0.3, logWindow: 30 });
    expect(total(reports, 'movesCompleted')).toBeGreaterThan(0);
  }, 600_000);
});

describe('replication simulation with graceful stops (step down, then stop), FULL_SYNC', () => {
  it(`a rolling restart hands every partition off before each stop: no failover, no lost write, over ${countFor(16)} seeds (3 and 5 nodes)`, () => {
    const rolling = { faultsPerSecond: 0, messageLossRate: 0, rollingRestart: true, faultPhaseMs: 25_000 };
    const shapes = [
      { offset: 500_000, nodes: 3, backups: 1 },
      { offset: 600_000, nodes: 5, backups: 2, partitions: 8 },
    ];
    const reports: SimulationReport[] = [];
    for (const { offset, ...shape } of shapes) {
      for (const report of runSeeds(16, offset, { ...shape, ...rolling })) {
        const label = `seed ${report.seed}`;
        expect(report.gracefulStops, `${label}: every node restarted`).toBe(shape.nodes);
        expect(report.gracefulStopsLeading, `${label}: no node stopped while leading a partition`).toBe(0);
        expect(report.failovers, `${label}: every primary change was a handoff`).toBe(report.handoffs);
        reports.push(report);
      }
    }
    console.log(`rolling restarts: ${total(reports, 'gracefulStops')} graceful stops, ${total(reports, 'handoffs')} handoffs, ${total(reports, 'acknowledgedWrites')} acknowledged writes`);
  }, 600_000);

  it(`holds every invariant with graceful stops among the faults over ${countFor(8)} seeds`, () => {
    const reports = runSeeds(8, 700_000, { nodes: 4, initialBaseline: 3, partitions: 8, baselineChanges: 2, gracefulRestartShare: 0.6 });
    expect(total(reports, 'gracefulStops')).toBeGreaterThan(0);
  }, 600_000);
});

describe('replication simulation, PRIMARY_SYNC', () => {
  it(`keeps leases exclusive and serves every partition after healing over ${countFor(4)} seeds; counts lost writes`, () => {
    // A PRIMARY_SYNC seed may lose what it acknowledged, so progress is judged over all seeds.
    const reports = runSeeds(4, 200_000, { writeSynchronization: 'PRIMARY_SYNC' }, false);
    console.log(`PRIMARY_SYNC: ${total(reports, 'lostWrites')} of ${total(reports, 'acknowledgedWrites')} acknowledged writes lost to failovers`);
    expect(total(reports, 'acknowledgedWrites')).toBeGreaterThan(0);
  }, 600_000);
});

describe('replication simulation of moves with no writes, FULL_SYNC', () => {
  it(`finishes every move of an idle partition over ${countFor(8)} seeds (clients stop before the baseline changes)`, () => {
    const reports = runSeeds(8, 800_000, { nodes: 4, initialBaseline: 3, partitions: 8, baselineChanges: 3, faultsPerSecond: 0.3, clientsStopAtMs: 1500, logWindow: 40 });
    expect(total(reports, 'movesCompleted')).toBeGreaterThan(0);
  }, 600_000);
});
