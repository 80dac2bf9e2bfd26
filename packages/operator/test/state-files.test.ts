// Proves `ballast dev`'s state files survive a kill mid-write and a damaged file: a write replaces
// the file whole (no temporary left behind); an empty or truncated status file (what a kill during
// a plain write left, campaign seed 539) is reported and started without, instead of stopping
// `ballast dev` from starting; the member-process record, which cannot be rebuilt, fails with an
// error naming the file.
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { readRecordedProcesses } from '../src/local/member-process.js';
import { readJsonFile, readRebuildableJsonFile, StateFileError, writeFileAtomically } from '../src/local/state-files.js';

describe('ballast dev state files', () => {
  let dir: string | undefined;
  const scratch = (): string => (dir = mkdtempSync(path.join(tmpdir(), 'ballast-state-')));
  afterEach(() => {
    if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
  });

  it('replaces a file whole, leaving no temporary file', () => {
    const file = path.join(scratch(), 'status.json');
    writeFileAtomically(file, '{"a":1}\n');
    writeFileAtomically(file, '{"a":2}\n');
    expect(readJsonFile(file, null)).toEqual({ a: 2 });
    expect(readdirSync(dir!)).toEqual(['status.json']);
  });

  it('starts without a rebuildable file that is missing, empty or truncated, and says so', () => {
    const file = path.join(scratch(), 'status.json');
    const lines: string[] = [];
    expect(readRebuildableJsonFile(file, 'none', 'the grace starts again', (line) => lines.push(line))).toBe('none');
    expect(lines).toEqual([]);
    for (const damaged of ['', '{"baseline": {"nodes": ["c-0",']) {
      writeFileSync(file, damaged);
      expect(readRebuildableJsonFile(file, 'none', 'the grace starts again', (line) => lines.push(line))).toBe('none');
    }
    expect(lines).toHaveLength(2);
    expect(lines[0]).toContain(`cannot read ${file}`);
    expect(lines[0]).toContain('starting without it (the grace starts again)');
  });

  it('refuses a damaged member-process record with an error naming the file', () => {
    const file = path.join(scratch(), 'member-processes.json');
    expect(readRecordedProcesses(file)).toEqual({});
    writeFileSync(file, '');
    expect(() => readRecordedProcesses(file)).toThrow(StateFileError);
    expect(() => readRecordedProcesses(file)).toThrow(`cannot read ${file}`);
    writeFileAtomically(file, `${JSON.stringify({ 'c-0': { pid: 1, configHash: 'h', startedAtMs: 2 } })}\n`);
    expect(readRecordedProcesses(file)).toEqual({ 'c-0': { pid: 1, configHash: 'h', startedAtMs: 2 } });
    expect(readFileSync(file, 'utf8').endsWith('\n')).toBe(true);
  });
});
