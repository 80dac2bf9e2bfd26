/**
 * `ballast dev`'s own state files in its data directory (status.json, stopped-members.json,
 * member-processes.json). A `ballast dev` can be killed at any instant (kill -9, a crash): each file
 * is replaced whole, by a temporary file renamed over it, so it is the old content or the new one,
 * never a truncated one (campaign seed 539: a kill during a plain write left an empty status.json,
 * and the next `ballast dev` failed to start with "Unexpected end of JSON input").
 */
import { existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';

/** Replaces `file` with `text` atomically with respect to this process dying. */
export function writeFileAtomically(file: string, text: string, mode?: number): void {
  const temporary = `${file}.${process.pid}.tmp`;
  writeFileSync(temporary, text, mode === undefined ? undefined : { mode });
  renameSync(temporary, file);
}

/** A state file that cannot be parsed. */
export class StateFileError extends Error {
  constructor(
    readonly file: string,
    cause: unknown,
  ) {
    super(`cannot read ${file}: ${(cause as Error).message}`);
    this.name = 'StateFileError';
  }
}

/** The parsed JSON of `file`, or `missing` when it does not exist; a file that does not parse throws a StateFileError naming it. */
export function readJsonFile<T>(file: string, missing: T): T {
  if (!existsSync(file)) return missing;
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as T;
  } catch (error) {
    throw new StateFileError(file, error);
  }
}

/**
 * For state `ballast dev` can do without (it rebuilds it): the parsed file, or `fallback` when it is
 * missing or does not parse; the latter is reported through `log`, with what is lost.
 */
export function readRebuildableJsonFile<T>(file: string, fallback: T, lost: string, log: (line: string) => void): T {
  try {
    return readJsonFile(file, fallback);
  } catch (error) {
    log(`${(error as Error).message}; starting without it (${lost})`);
    return fallback;
  }
}
