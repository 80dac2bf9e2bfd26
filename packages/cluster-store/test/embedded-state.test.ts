// Proves the embedded store's in-memory state without I/O or clocks (time is an argument):
// - MapHistory keeps consecutive versions, returns every version after N in order (bounded per
//   call), forgets the oldest beyond its bound but always keeps the current one, and refuses
//   (assertion) a version that is not current + 1;
// - PresenceTable counts a change when the set or a registration changes but not on a plain
//   renewal, expires exactly at nowMs >= registration time + TTL, removes only the named
//   incarnation when one is given, and refuses registrations beyond REGISTRATIONS_MAX.
import { describe, expect, it } from 'vitest';
import { MAP_HISTORY_VERSIONS_MAX, MapHistory, PresenceTable, REGISTRATIONS_MAX } from '../src/index.js';
import { firstMap, nextMap, registration } from './support/maps.js';

const stored = (map: ReturnType<typeof firstMap>) => ({ map, document: JSON.stringify(map) });

describe('MapHistory', () => {
  it('returns the versions after N in order, bounded per call, and keeps the newest ones', () => {
    const history = new MapHistory(null);
    expect(history.current).toBeNull();
    expect(history.currentVersion).toBe(0);
    let map = firstMap();
    history.append(stored(map));
    for (let version = 2; version <= MAP_HISTORY_VERSIONS_MAX + 10; version++) {
      map = nextMap(map);
      history.append(stored(map));
    }
    expect(history.currentVersion).toBe(MAP_HISTORY_VERSIONS_MAX + 10);
    const last = MAP_HISTORY_VERSIONS_MAX + 10;
    expect(history.after(last - 3, 10).map((entry) => entry.map.version)).toEqual([last - 2, last - 1, last]);
    expect(history.after(last - 5, 2).map((entry) => entry.map.version)).toEqual([last - 4, last - 3]);
    expect(history.after(last, 10)).toEqual([]);
    // Version 1 is forgotten: a watcher that far behind gets the oldest kept versions.
    expect(history.after(0, 1)[0]!.map.version).toBe(11);
    expect(() => history.append(stored({ ...nextMap(map), version: last + 2 }))).toThrow(/assertion/);
  });

  it('starts from a loaded map', () => {
    const history = new MapHistory(stored(firstMap()));
    expect(history.currentVersion).toBe(1);
    expect(history.after(0, 5).map((entry) => entry.map.version)).toEqual([1]);
  });
});

describe('PresenceTable', () => {
  it('counts changes, not renewals, and expires at the TTL', () => {
    const table = new PresenceTable();
    table.heartbeat(registration('node-b', 2), 1_000, 0);
    table.heartbeat(registration('node-a', 1), 3_000, 0);
    expect(table.changeCounter).toBe(2);
    expect(table.nodes().map((node) => node.nodeId)).toEqual(['node-a', 'node-b']);
    table.heartbeat(registration('node-b', 2), 1_000, 500);
    expect(table.changeCounter).toBe(2);
    expect(table.expire(1_499)).toBe(false);
    expect(table.expire(1_500)).toBe(true);
    expect(table.changeCounter).toBe(3);
    expect(table.nodes().map((node) => node.nodeId)).toEqual(['node-a']);
    // A new run of node-a (another incarnation) is a change.
    table.heartbeat({ ...registration('node-a', 1), incarnation: 'run-2' }, 3_000, 1_600);
    expect(table.changeCounter).toBe(4);
    expect(table.remove('node-a', 'run-1')).toBe(false);
    expect(table.remove('node-a', 'run-2')).toBe(true);
    expect(table.remove('node-a', undefined)).toBe(false);
    expect(table.changeCounter).toBe(5);
    expect(table.size).toBe(0);
  });

  it(`refuses more than ${REGISTRATIONS_MAX} registrations but still renews existing ones`, () => {
    const table = new PresenceTable();
    for (let index = 0; index < REGISTRATIONS_MAX; index++) table.heartbeat(registration(`node-${index}`), 1_000, 0);
    expect(() => table.heartbeat(registration('one-too-many'), 1_000, 0)).toThrow(expect.objectContaining({ code: 'STORE_LIMIT' }));
    table.heartbeat(registration('node-0'), 5_000, 10);
    table.expire(1_000);
    expect(table.nodes().map((node) => node.nodeId)).toEqual(['node-0']);
  });
});
