// Deterministic simulation of replication and failover (seeded network, clocks, store and faults;
// real ReplicationCore instances). Faults: node crashes (losing what was not fsynced), isolation
// from peers and store, cut links, store loss, process pauses, message loss and delay spikes.
// Invariants after every step: at most one node serves a partition at any instant (leases); one
// leader per partition and term; every acknowledged FULL_SYNC write is durable on every ISR member;
// reads never go back in time; after healing, every partition serves and no acknowledged write is
// lost. A failing seed reproduces: BALLAST_SIM_SEED=<seed> npx vitest run --project sim
import { describe, expect, it } from 'vitest';
import { Simulation } from './support/simulation.js';

const SEEDS = Number(process.env.BALLAST_SIM_SEEDS ?? 1000);
const FIRST_SEED = Number(process.env.BALLAST_SIM_SEED ?? 1);
const ONLY_ONE = process.env.BALLAST_SIM_SEED !== undefined;

function seeds(count: number): number[] {
  return Array.from({ length: ONLY_ONE ? 1 : count }, (_, i) => FIRST_SEED + i);
}

describe('replication simulation, FULL_SYNC', () => {
  it(`holds every invariant over ${ONLY_ONE ? 1 : SEEDS} seeds (3 nodes, backups=1)`, () => {
    let acknowledged = 0;
    let failovers = 0;
    for (const seed of seeds(SEEDS)) {
      const report = new Simulation({ seed }).run();
      acknowledged += report.acknowledgedWrites;
      failovers += report.failovers;
      expect(report.acknowledgedWrites, `seed ${seed} made progress`).toBeGreaterThan(0);
    }
    console.log(`FULL_SYNC 3 nodes: ${acknowledged} acknowledged writes, ${failovers} failovers`);
  }, 600_000);

  it(`holds every invariant over ${ONLY_ONE ? 1 : Math.ceil(SEEDS / 4)} seeds (5 nodes, backups=2, snapshots forced)`, () => {
    let snapshots = 0;
    for (const seed of seeds(Math.ceil(SEEDS / 4))) {
      const report = new Simulation({ seed: seed + 100_000, nodes: 5, backups: 2, partitions: 8, logWindow: 20, clients: 4 }).run();
      snapshots += report.snapshots;
      expect(report.acknowledgedWrites, `seed ${seed + 100_000} made progress`).toBeGreaterThan(0);
    }
    expect(snapshots).toBeGreaterThan(0);
  }, 600_000);
});

describe('replication simulation with baseline changes (moves, handoffs), FULL_SYNC', () => {
  it(`holds every invariant and finishes every move over ${ONLY_ONE ? 1 : Math.ceil(SEEDS / 4)} seeds (4 nodes, one spare at first, backups=1)`, () => {
    const totals = { baselineChanges: 0, movesCompleted: 0, handoffs: 0, snapshots: 0 };
    for (const seed of seeds(Math.ceil(SEEDS / 4))) {
      const report = new Simulation({ seed: seed + 300_000, nodes: 4, initialBaseline: 3, partitions: 8, baselineChanges: 3, logWindow: 40 }).run();
      for (const key of Object.keys(totals) as Array<keyof typeof totals>) totals[key] += report[key];
      expect(report.acknowledgedWrites, `seed ${seed + 300_000} made progress`).toBeGreaterThan(0);
    }
    console.log(`moves: ${totals.baselineChanges} baseline changes, ${totals.movesCompleted} moves completed, ${totals.handoffs} handoffs, ${totals.snapshots} snapshots`);
    expect(totals.movesCompleted).toBeGreaterThan(0);
    expect(totals.handoffs).toBeGreaterThan(0);
  }, 600_000);

  it(`holds every invariant over ${ONLY_ONE ? 1 : Math.ceil(SEEDS / 8)} seeds (5 nodes, backups=2, baseline changes without faults between them)`, () => {
    let moves = 0;
    for (const seed of seeds(Math.ceil(SEEDS / 8))) {
      const report = new Simulation({ seed: seed + 400_000, nodes: 5, initialBaseline: 3, backups: 2, partitions: 8, baselineChanges: 4, faultsPerSecond: 0.3, logWindow: 30 }).run();
      moves += report.movesCompleted;
      expect(report.acknowledgedWrites, `seed ${seed + 400_000} made progress`).toBeGreaterThan(0);
    }
    expect(moves).toBeGreaterThan(0);
  }, 600_000);
});

describe('replication simulation with graceful stops (step down, then stop), FULL_SYNC', () => {
  it(`a rolling restart hands every partition off before each stop: no failover, no lost write, over ${ONLY_ONE ? 1 : Math.ceil(SEEDS / 16)} seeds (3 and 5 nodes)`, () => {
    const totals = { stops: 0, handoffs: 0, acknowledged: 0 };
    for (const seed of seeds(Math.ceil(SEEDS / 16))) {
      for (const shape of [
        { seed: seed + 500_000, nodes: 3, backups: 1 },
        { seed: seed + 600_000, nodes: 5, backups: 2, partitions: 8 },
      ]) {
        const report = new Simulation({ ...shape, faultsPerSecond: 0, messageLossRate: 0, rollingRestart: true, faultPhaseMs: 25_000 }).run();
        const label = `seed ${shape.seed}`;
        expect(report.gracefulStops, `${label}: every node restarted`).toBe(shape.nodes);
        expect(report.gracefulStopsLeading, `${label}: no node stopped while leading a partition`).toBe(0);
        expect(report.failovers, `${label}: every primary change was a handoff`).toBe(report.handoffs);
        expect(report.acknowledgedWrites, `${label} made progress`).toBeGreaterThan(0);
        totals.stops += report.gracefulStops;
        totals.handoffs += report.handoffs;
        totals.acknowledged += report.acknowledgedWrites;
      }
    }
    console.log(`rolling restarts: ${totals.stops} graceful stops, ${totals.handoffs} handoffs, ${totals.acknowledged} acknowledged writes`);
  }, 600_000);

  it(`holds every invariant with graceful stops among the faults over ${ONLY_ONE ? 1 : Math.ceil(SEEDS / 8)} seeds`, () => {
    let stops = 0;
    for (const seed of seeds(Math.ceil(SEEDS / 8))) {
      const report = new Simulation({ seed: seed + 700_000, nodes: 4, initialBaseline: 3, partitions: 8, baselineChanges: 2, gracefulRestartShare: 0.6 }).run();
      stops += report.gracefulStops;
      expect(report.acknowledgedWrites, `seed ${seed + 700_000} made progress`).toBeGreaterThan(0);
    }
    expect(stops).toBeGreaterThan(0);
  }, 600_000);
});

describe('replication simulation, PRIMARY_SYNC', () => {
  it('keeps leases exclusive and serves every partition after healing; counts lost writes', () => {
    let lost = 0;
    let acknowledged = 0;
    for (const seed of seeds(Math.ceil(SEEDS / 4))) {
      const report = new Simulation({ seed: seed + 200_000, writeSynchronization: 'PRIMARY_SYNC' }).run();
      lost += report.lostWrites;
      acknowledged += report.acknowledgedWrites;
    }
    console.log(`PRIMARY_SYNC: ${lost} of ${acknowledged} acknowledged writes lost to failovers`);
    expect(acknowledged).toBeGreaterThan(0);
  }, 600_000);
});

describe('replication simulation of moves with no writes, FULL_SYNC', () => {
  it(`finishes every move of an idle partition over ${ONLY_ONE ? 1 : Math.ceil(SEEDS / 8)} seeds (clients stop before the baseline changes)`, () => {
    let moves = 0;
    for (const seed of seeds(Math.ceil(SEEDS / 8))) {
      const report = new Simulation({ seed: seed + 800_000, nodes: 4, initialBaseline: 3, partitions: 8, baselineChanges: 3, faultsPerSecond: 0.3, clientsStopAtMs: 1500, logWindow: 40 }).run();
      moves += report.movesCompleted;
      expect(report.acknowledgedWrites, `seed ${seed + 800_000} made progress`).toBeGreaterThan(0);
    }
    expect(moves).toBeGreaterThan(0);
  }, 600_000);
});
