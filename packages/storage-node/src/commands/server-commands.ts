/** Server commands: COMMAND, INFO, CONFIG, TIME, LASTSAVE. */
import { CommandError, errors } from '../errors.js';
import { isKeyword } from './arguments.js';
import { globMatches } from './glob.js';
import { arityMatches } from './run.js';
import { COMMAND_INFO, type CommandInfoMetadata, type KeySpecification } from './command-info.js';
import { command, keyPositions, type CommandContext, type CommandSpec } from './types.js';

/** Redis's order of ACL categories (ACLCommandCategories): COMMAND INFO lists them in this order. */
const CATEGORY_ORDER = [
  '@keyspace', '@read', '@write', '@set', '@sortedset', '@list', '@hash', '@string', '@bitmap', '@hyperloglog', '@geo',
  '@stream', '@pubsub', '@admin', '@fast', '@slow', '@blocking', '@dangerous', '@connection', '@transaction', '@scripting',
];

/**
 * A command's COMMAND INFO metadata: Redis's own (command-info.ts), or for a command Redis 7.0 does
 * not have, values derived from its declaration the way Redis derives them from its flags.
 */
function commandInfoOf(spec: CommandSpec): CommandInfoMetadata {
  const known = COMMAND_INFO[spec.name];
  if (known !== undefined) return known;
  const categories = new Set<string>();
  if (spec.group === 'generic') categories.add('@keyspace');
  if (spec.group === 'string') categories.add('@string');
  if (spec.group === 'hash') categories.add('@hash');
  if (spec.group === 'transactions') categories.add('@transaction');
  if (spec.group === 'connection') categories.add('@connection');
  if (spec.flags.includes('write')) categories.add('@write');
  if (spec.flags.includes('readonly')) categories.add('@read');
  categories.add(spec.flags.includes('fast') ? '@fast' : '@slow');
  if (spec.flags.includes('admin')) categories.add('@admin').add('@dangerous');
  const keySpecs: KeySpecification[] =
    spec.firstKey === 0
      ? []
      : [
          {
            flags: spec.flags.includes('write') ? ['RW', 'update'] : ['RO', 'access'],
            index: spec.firstKey,
            lastKey: spec.lastKey < 0 ? spec.lastKey : spec.lastKey - spec.firstKey,
            keyStep: spec.keyStep,
            limit: 0,
          },
        ];
  return {
    categories: CATEGORY_ORDER.filter((category) => categories.has(category)),
    tips: [],
    keySpecs,
  };
}

/** The ACL categories of a command (COMMAND INFO, COMMAND LIST FILTERBY ACLCAT). */
function aclCategories(spec: CommandSpec): readonly string[] {
  return commandInfoOf(spec).categories;
}

function replyCommandInfo(ctx: CommandContext, spec: CommandSpec): void {
  const reply = ctx.reply;
  const info = commandInfoOf(spec);
  reply.arrayHeader(10);
  reply.bulkString(spec.name);
  reply.integer(spec.arity);
  reply.setHeader(spec.flags.length);
  for (const flag of spec.flags) reply.simple(flag);
  reply.integer(spec.firstKey);
  reply.integer(spec.lastKey);
  reply.integer(spec.keyStep);
  reply.setHeader(info.categories.length);
  for (const category of info.categories) reply.simple(category);
  // Reply types as Redis 7.0 writes them: tips are bulk strings, key specifications a set of maps.
  reply.setHeader(info.tips.length);
  for (const tip of info.tips) reply.bulkString(tip);
  // Key specifications in Redis 7's form: begin_search index, find_keys range.
  reply.setHeader(info.keySpecs.length);
  for (const keySpec of info.keySpecs) {
    reply.mapHeader(keySpec.notes === undefined ? 3 : 4);
    if (keySpec.notes !== undefined) {
      reply.bulkString('notes');
      reply.bulkString(keySpec.notes);
    }
    reply.bulkString('flags');
    reply.setHeader(keySpec.flags.length);
    for (const flag of keySpec.flags) reply.simple(flag);
    reply.bulkString('begin_search');
    reply.mapHeader(2);
    reply.bulkString('type');
    reply.bulkString('index');
    reply.bulkString('spec');
    reply.mapHeader(1);
    reply.bulkString('index');
    reply.integer(keySpec.index);
    reply.bulkString('find_keys');
    reply.mapHeader(2);
    reply.bulkString('type');
    reply.bulkString('range');
    reply.bulkString('spec');
    reply.mapHeader(3);
    reply.bulkString('lastkey');
    reply.integer(keySpec.lastKey);
    reply.bulkString('keystep');
    reply.integer(keySpec.keyStep);
    reply.bulkString('limit');
    reply.integer(keySpec.limit);
  }
  // Redis answers an empty set for a command without subcommands, an array of them otherwise.
  const subcommands = spec.subcommands === undefined ? [] : [...spec.subcommands.values()];
  if (subcommands.length === 0) reply.setHeader(0);
  else reply.arrayHeader(subcommands.length);
  for (const sub of subcommands) replyCommandInfo(ctx, sub);
}

function replyCommandDocs(ctx: CommandContext, spec: CommandSpec): void {
  const reply = ctx.reply;
  const subcommands = spec.subcommands === undefined ? [] : [...spec.subcommands.values()];
  const fields = 3 + (spec.complexity === undefined ? 0 : 1) + (subcommands.length > 0 ? 1 : 0);
  reply.mapHeader(fields);
  reply.bulkString('summary');
  reply.bulkString(spec.summary);
  reply.bulkString('since');
  reply.bulkString(spec.since);
  reply.bulkString('group');
  reply.bulkString(spec.group);
  if (spec.complexity !== undefined) {
    reply.bulkString('complexity');
    reply.bulkString(spec.complexity);
  }
  if (subcommands.length > 0) {
    reply.bulkString('subcommands');
    reply.mapHeader(subcommands.length);
    for (const sub of subcommands) {
      reply.bulkString(sub.name);
      replyCommandDocs(ctx, sub);
    }
  }
}

function findSpec(ctx: CommandContext, name: Buffer): CommandSpec | undefined {
  const text = name.toString('latin1').toLowerCase();
  const [top, sub] = text.split('|');
  const spec = ctx.server.findCommand(top ?? '');
  if (sub === undefined) return spec;
  return spec?.subcommands?.get(sub);
}

function commandSubcommand(name: string, arity: number, summary: string, handler: CommandSpec['handler']): CommandSpec {
  return command({ name: `command|${name}`, arity, flags: ['loading', 'stale'], group: 'server', summary, since: '2.8.13', handler });
}

const commandCommand = command({
  name: 'command',
  arity: -1,
  flags: ['loading', 'stale'],
  group: 'server',
  summary: 'Returns detailed information about all commands.',
  since: '2.8.13',
  complexity: 'O(N) where N is the total number of Redis commands',
  handler(ctx) {
    const all = [...ctx.server.commands()];
    ctx.reply.arrayHeader(all.length);
    for (const spec of all) replyCommandInfo(ctx, spec);
  },
  subcommands: [
    commandSubcommand('count', 2, 'Returns a count of commands.', (ctx) => {
      ctx.reply.integer([...ctx.server.commands()].length);
    }),
    commandSubcommand('list', -2, 'Returns a list of command names.', (ctx, args) => {
      let names = [...ctx.server.commands()].map((spec) => spec.name);
      if (args.length > 2) {
        if (args.length !== 5 || !isKeyword(args[2]!, 'FILTERBY')) throw errors.syntax();
        const value = args[4]!;
        if (isKeyword(args[3]!, 'PATTERN')) names = names.filter((name) => globMatches(value, Buffer.from(name)));
        else if (isKeyword(args[3]!, 'ACLCAT')) {
          const category = `@${value.toString('latin1').toLowerCase()}`;
          names = [...ctx.server.commands()].filter((spec) => aclCategories(spec).includes(category)).map((spec) => spec.name);
        } else if (isKeyword(args[3]!, 'MODULE')) names = [];
        else throw errors.syntax();
      }
      ctx.reply.arrayHeader(names.length);
      for (const name of names) ctx.reply.bulkString(name);
    }),
    commandSubcommand('info', -2, 'Returns information about one, multiple or all commands.', (ctx, args) => {
      const specs = args.length === 2 ? [...ctx.server.commands()] : args.slice(2).map((name) => findSpec(ctx, name));
      ctx.reply.arrayHeader(specs.length);
      for (const spec of specs) {
        // Redis answers a null (RESP2 null bulk string) for an unknown name.
        if (spec === undefined) ctx.reply.null();
        else replyCommandInfo(ctx, spec);
      }
    }),
    commandSubcommand('docs', -2, 'Returns documentary information about one, multiple or all commands.', (ctx, args) => {
      const specs = (args.length === 2 ? [...ctx.server.commands()] : args.slice(2).map((name) => findSpec(ctx, name))).filter(
        (spec): spec is CommandSpec => spec !== undefined,
      );
      ctx.reply.mapHeader(specs.length);
      for (const spec of specs) {
        ctx.reply.bulkString(spec.name);
        replyCommandDocs(ctx, spec);
      }
    }),
    commandSubcommand('getkeys', -4, 'Extracts the key names from an arbitrary command.', (ctx, args) => {
      const spec = findSpec(ctx, args[2]!);
      if (spec === undefined) throw new CommandError('INVALID_COMMAND', 'ERR Invalid command specified');
      const commandArgs = args.slice(2);
      if (!arityMatches(spec.arity, commandArgs.length)) {
        throw new CommandError('INVALID_ARGUMENTS', 'ERR Invalid number of arguments specified for command');
      }
      const positions = keyPositions(spec, commandArgs.length);
      if (positions.length === 0) {
        throw new CommandError('NO_KEYS', 'ERR The command has no key arguments');
      }
      ctx.reply.arrayHeader(positions.length);
      for (const position of positions) ctx.reply.bulk(commandArgs[position]!);
    }),
  ],
});

const info = command({
  name: 'info',
  arity: -1,
  flags: ['loading', 'stale'],
  group: 'server',
  summary: 'Returns information and statistics about the server.',
  since: '1.0.0',
  complexity: 'O(1)',
  handler(ctx, args) {
    const section = args.length >= 2 ? args.slice(1).map((arg) => arg.toString('latin1').toLowerCase()).join(' ') : null;
    ctx.reply.verbatim(ctx.server.info(section, ctx.nowMs));
  },
});

function configSubcommand(name: string, arity: number, summary: string, handler: CommandSpec['handler']): CommandSpec {
  return command({ name: `config|${name}`, arity, flags: ['admin', 'noscript', 'loading', 'stale'], group: 'server', summary, since: '2.0.0', handler });
}

const config = command({
  name: 'config',
  arity: -2,
  flags: [],
  group: 'server',
  summary: 'A container for server configuration commands.',
  since: '2.0.0',
  handler() {
    throw new Error('CONFIG is dispatched to its subcommands');
  },
  subcommands: [
    configSubcommand('get', -3, 'Returns the effective values of configuration parameters.', (ctx, args) => {
      const seen = new Map<string, string>();
      for (const pattern of args.slice(2)) for (const [name, value] of ctx.server.configGet(pattern)) seen.set(name, value);
      ctx.reply.mapHeader(seen.size);
      for (const [name, value] of seen) {
        ctx.reply.bulkString(name);
        ctx.reply.bulkString(value);
      }
    }),
    configSubcommand('set', -4, 'Sets configuration parameters in-flight.', (ctx, args) => {
      if (args.length % 2 !== 0) throw errors.wrongArity('config|set');
      for (let i = 2; i < args.length; i += 2) {
        ctx.server.configSet(args[i]!.toString('utf8').toLowerCase(), args[i + 1]!.toString('utf8'));
      }
      ctx.reply.simple('OK');
    }),
    configSubcommand('resetstat', 2, 'Resets the server\'s statistics.', (ctx) => {
      ctx.server.resetStats();
      ctx.reply.simple('OK');
    }),
    configSubcommand('rewrite', 2, 'Persists the effective configuration to file.', () => {
      throw new CommandError('NO_CONFIG_FILE', 'ERR The server is running without a config file');
    }),
  ],
});

const time = command({
  name: 'time',
  arity: 1,
  flags: ['loading', 'stale', 'fast'],
  group: 'server',
  summary: 'Returns the server time.',
  since: '2.6.0',
  complexity: 'O(1)',
  handler(ctx) {
    const microseconds = Math.floor(ctx.nowMs * 1000);
    ctx.reply.arrayHeader(2);
    ctx.reply.bulkString(String(Math.floor(microseconds / 1_000_000)));
    ctx.reply.bulkString(String(microseconds % 1_000_000));
  },
});

const lastsave = command({
  name: 'lastsave',
  arity: 1,
  flags: ['loading', 'stale', 'fast'],
  group: 'server',
  summary: 'Returns the Unix timestamp of the last successful save to disk.',
  since: '1.0.0',
  complexity: 'O(1)',
  handler(ctx) {
    // Every acknowledged write is already on disk; the last commit is the last save.
    const lastCommitMs = ctx.server.stats.lastCommitUnixMs || ctx.server.startedMs;
    ctx.reply.integer(Math.floor(lastCommitMs / 1000));
  },
});

export const serverCommands: CommandSpec[] = [commandCommand, info, config, time, lastsave];
