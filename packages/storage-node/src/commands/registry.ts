/** The command table: every family's commands by name. */
import { clusterCommands } from '../cluster/cluster-commands.js';
import { waitCommands } from '../cluster/wait-commands.js';
import { connectionCommands } from './connection.js';
import { hashCommands } from './hashes.js';
import { keyCommands } from './keys.js';
import { serverCommands } from './server-commands.js';
import { stringCommands } from './strings.js';
import { transactionCommands } from './transactions.js';
import type { CommandSpec } from './types.js';

export function buildCommandTable(extra: CommandSpec[] = []): Map<string, CommandSpec> {
  const table = new Map<string, CommandSpec>();
  for (const spec of [
    ...stringCommands,
    ...hashCommands,
    ...keyCommands,
    ...connectionCommands,
    ...serverCommands,
    ...transactionCommands,
    ...clusterCommands,
    ...waitCommands,
    ...extra,
  ]) {
    if (table.has(spec.name)) throw new Error(`command ${spec.name} is defined twice`);
    table.set(spec.name, spec);
  }
  return table;
}
