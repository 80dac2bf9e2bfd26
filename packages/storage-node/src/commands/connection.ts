/** Connection commands: PING ECHO HELLO AUTH SELECT QUIT RESET CLIENT. */
import { timingSafeEqual, createHash } from 'node:crypto';
import { CommandError, errors } from '../errors.js';
import { clampedIntegerArgument, integerArgument, isKeyword, keywordOf, parseInteger } from './arguments.js';
import { command, type ClientSession, type CommandContext, type CommandSpec } from './types.js';

const PONG = Buffer.from('+PONG\r\n');

const ping = command({
  name: 'ping',
  arity: -1,
  flags: ['fast'],
  group: 'connection',
  summary: 'Returns the server\'s liveliness response.',
  since: '1.0.0',
  complexity: 'O(1)',
  handler(ctx, args) {
    if (args.length > 2) throw errors.wrongArity('ping');
    if (args.length === 2) ctx.reply.bulk(args[1]!);
    else ctx.reply.raw(PONG);
  },
});

const echo = command({
  name: 'echo',
  arity: 2,
  flags: ['loading', 'stale', 'fast'],
  group: 'connection',
  summary: 'Returns the given string.',
  since: '1.0.0',
  complexity: 'O(1)',
  handler(ctx, args) {
    ctx.reply.bulk(args[1]!);
  },
});

function passwordMatches(expected: string, given: Buffer): boolean {
  // Compare digests so the comparison time does not depend on where the inputs differ.
  const a = createHash('sha256').update(expected).digest();
  const b = createHash('sha256').update(given).digest();
  return timingSafeEqual(a, b);
}

const WRONGPASS = 'WRONGPASS invalid username-password pair or user is disabled.';

/** Checks AUTH credentials for the single `default` user; throws the Redis error on failure. */
function authenticate(ctx: CommandContext, username: Buffer | null, password: Buffer): void {
  const required = ctx.server.requirePassword;
  if (username !== null && username.toString('utf8') !== 'default') {
    throw new CommandError('WRONGPASS', WRONGPASS);
  }
  if (required === null) {
    if (username === null) {
      throw new CommandError(
        'AUTH_NOT_CONFIGURED',
        'ERR AUTH <password> called without any password configured for the default user. Are you sure your configuration is correct?',
      );
    }
    ctx.client.authenticated = true;
    return;
  }
  if (!passwordMatches(required, password)) throw new CommandError('WRONGPASS', WRONGPASS);
  ctx.client.authenticated = true;
}

const auth = command({
  name: 'auth',
  arity: -2,
  flags: ['noscript', 'loading', 'stale', 'fast', 'no_auth', 'allow_busy'],
  group: 'connection',
  summary: 'Authenticates the connection.',
  since: '1.0.0',
  complexity: 'O(N) where N is the number of passwords defined for the user',
  handler(ctx, args) {
    if (args.length > 3) throw errors.syntax();
    if (args.length === 3) authenticate(ctx, args[1]!, args[2]!);
    else authenticate(ctx, null, args[1]!);
    ctx.reply.simple('OK');
  },
});

function validateClientName(name: Buffer, what: string): void {
  for (const byte of name) {
    if (byte < 0x21 || byte > 0x7e) {
      throw new CommandError('INVALID_NAME', `ERR ${what} cannot contain spaces, newlines or special characters.`);
    }
  }
}

const hello = command({
  name: 'hello',
  arity: -1,
  flags: ['noscript', 'loading', 'stale', 'fast', 'no_auth', 'allow_busy'],
  group: 'connection',
  summary: 'Handshakes with the Redis server.',
  since: '6.0.0',
  complexity: 'O(1)',
  handler(ctx, args) {
    let protocol = ctx.client.protocol;
    if (args.length >= 2) {
      const requested = parseInteger(args[1]!);
      if (requested === null) {
        throw new CommandError('NOT_INTEGER', 'ERR Protocol version is not an integer or out of range');
      }
      if (requested !== 2 && requested !== 3) {
        throw new CommandError('NOPROTO', 'NOPROTO unsupported protocol version');
      }
      protocol = requested;
    }
    // Redis 7.2's order: parse every option (validating the name), then authenticate, then require
    // authentication, then apply the name and the protocol.
    let name: Buffer | null = null;
    let credentials: [Buffer, Buffer] | null = null;
    for (let i = 2; i < args.length; i++) {
      const remaining = args.length - i - 1;
      if (isKeyword(args[i]!, 'AUTH') && remaining >= 2) {
        credentials = [args[i + 1]!, args[i + 2]!];
        i += 2;
      } else if (isKeyword(args[i]!, 'SETNAME') && remaining >= 1) {
        name = args[i + 1]!;
        validateClientName(name, 'Client names');
        i += 1;
      } else {
        throw new CommandError('SYNTAX', `ERR Syntax error in HELLO option '${args[i]!.toString('utf8').slice(0, 64)}'`);
      }
    }
    if (credentials !== null) authenticate(ctx, credentials[0], credentials[1]);
    if (!ctx.client.authenticated) {
      throw new CommandError(
        'NOAUTH',
        'NOAUTH HELLO must be called with the client already authenticated, otherwise the HELLO <proto> AUTH <user> <pass> option can be used to authenticate the client and select the RESP protocol version at the same time',
      );
    }
    if (name !== null) ctx.client.name = name.toString('utf8');
    ctx.client.protocol = protocol;
    ctx.reply.protocol = protocol;
    const reply = ctx.reply;
    reply.mapHeader(7);
    reply.bulkString('server');
    reply.bulkString('redis');
    reply.bulkString('version');
    reply.bulkString(ctx.server.version);
    reply.bulkString('proto');
    reply.integer(protocol);
    reply.bulkString('id');
    reply.integer(ctx.client.id);
    reply.bulkString('mode');
    reply.bulkString(ctx.server.cluster === null ? 'standalone' : 'cluster');
    reply.bulkString('role');
    reply.bulkString('master');
    reply.bulkString('modules');
    reply.arrayHeader(0);
  },
});

const select = command({
  name: 'select',
  arity: 2,
  flags: ['loading', 'stale', 'fast'],
  group: 'connection',
  summary: 'Changes the selected database.',
  since: '1.0.0',
  complexity: 'O(1)',
  handler(ctx, args) {
    const index = clampedIntegerArgument(args[1]!);
    if (index < -2147483648 || index > 2147483647) {
      throw new CommandError('OUT_OF_RANGE', 'ERR value is out of range, value must between -2147483648 and 2147483647');
    }
    // Only database 0 exists (docs/commands.md, intended difference).
    if (index !== 0) throw new CommandError('DB_INDEX', 'ERR DB index is out of range');
    ctx.reply.simple('OK');
  },
});

const quit = command({
  name: 'quit',
  arity: -1,
  flags: ['noscript', 'loading', 'stale', 'fast', 'no_auth', 'allow_busy'],
  group: 'connection',
  summary: 'Closes the connection.',
  since: '1.0.0',
  complexity: 'O(1)',
  handler(ctx) {
    ctx.client.closeAfterReply = true;
    ctx.reply.simple('OK');
  },
});

/** Returns a connection to its initial state (RESET). */
export function resetSession(ctx: CommandContext): void {
  const client = ctx.client;
  client.multiQueue = null;
  client.multiFailed = false;
  ctx.server.unwatchAll(client);
  client.name = '';
  client.noEvict = false;
  client.noTouch = false;
  // Redis's clearClientConnectionState drops READONLY and ASKING too.
  client.readonlyMode = false;
  client.asking = false;
  client.protocol = 2;
  ctx.reply.protocol = 2;
  client.authenticated = ctx.server.requirePassword === null;
}

const reset = command({
  name: 'reset',
  arity: 1,
  flags: ['noscript', 'loading', 'stale', 'fast', 'no_auth', 'allow_busy'],
  group: 'connection',
  summary: 'Resets the connection.',
  since: '6.2.0',
  complexity: 'O(1)',
  handler(ctx) {
    resetSession(ctx);
    ctx.reply.simple('RESET');
  },
});

/** One line of CLIENT LIST / CLIENT INFO, in Redis's field order. */
export function describeClient(client: ClientSession, nowMs: number): string {
  const ageSeconds = Math.floor((nowMs - client.createdMs) / 1000);
  const idleSeconds = Math.floor((nowMs - client.lastActivityMs) / 1000);
  // Redis's flag letters, in its order: x in MULTI, d a watched key changed, r READONLY (cluster),
  // e no-evict, T no-touch.
  let flags = '';
  if (client.multiQueue !== null) flags += 'x';
  if (client.watchDirty) flags += 'd';
  if (client.readonlyMode) flags += 'r';
  if (client.noEvict) flags += 'e';
  if (client.noTouch) flags += 'T';
  if (flags === '') flags = 'N';
  return (
    `id=${client.id} addr=${client.remoteAddress} laddr=${client.localAddress} fd=-1 name=${client.name} ` +
    `age=${ageSeconds} idle=${idleSeconds} flags=${flags} db=0 sub=0 psub=0 ssub=0 ` +
    `multi=${client.multiQueue === null ? -1 : client.multiQueue.length} qbuf=${client.queryBufferBytes()} ` +
    `qbuf-free=0 argv-mem=0 multi-mem=0 rbs=0 rbp=0 obl=0 oll=0 omem=${client.outputBytes()} tot-mem=0 ` +
    `events=r cmd=${client.lastCommandName} user=default redir=-1 resp=${client.protocol} ` +
    `lib-name=${client.libraryName} lib-ver=${client.libraryVersion}`
  );
}

function clientSubcommand(
  name: string,
  arity: number,
  summary: string,
  handler: CommandSpec['handler'],
  flags: CommandSpec['flags'] = ['noscript', 'loading', 'stale'],
): CommandSpec {
  return command({ name: `client|${name}`, arity, flags, group: 'connection', summary, since: '2.4.0', handler });
}

/** Applies CLIENT KILL's filters (Redis 2.8.12+ form) and returns the clients that match. */
function clientsToKill(ctx: CommandContext, args: Buffer[]): ClientSession[] | null {
  if (args.length === 3) {
    const address = args[2]!.toString('utf8');
    const match = [...ctx.server.clients()].find((client) => client.remoteAddress === address);
    return match === undefined ? null : [match];
  }
  if ((args.length - 2) % 2 !== 0) throw errors.syntax();
  let skipMe = true;
  const filters: Array<(client: ClientSession) => boolean> = [];
  for (let i = 2; i < args.length; i += 2) {
    const option = keywordOf(args[i]!);
    const value = args[i + 1]!.toString('utf8');
    switch (option) {
      case 'ID': {
        const id = parseInteger(args[i + 1]!);
        if (id === null || typeof id === 'bigint' || id <= 0) {
          throw new CommandError('SYNTAX', 'ERR client-id should be greater than 0');
        }
        filters.push((client) => client.id === id);
        break;
      }
      case 'ADDR':
        filters.push((client) => client.remoteAddress === value);
        break;
      case 'LADDR':
        filters.push((client) => client.localAddress === value);
        break;
      case 'USER':
        filters.push(() => value === 'default');
        break;
      case 'TYPE':
        if (!['normal', 'master', 'replica', 'slave', 'pubsub'].includes(value.toLowerCase())) {
          throw new CommandError('SYNTAX', `ERR Unknown client type '${value}'`);
        }
        filters.push(() => value.toLowerCase() === 'normal');
        break;
      case 'SKIPME':
        if (value.toLowerCase() !== 'yes' && value.toLowerCase() !== 'no') throw errors.syntax();
        skipMe = value.toLowerCase() === 'yes';
        break;
      case 'MAXAGE': {
        const maxAgeSeconds = integerArgument(args[i + 1]!);
        filters.push((client) => (ctx.nowMs - client.createdMs) / 1000 >= maxAgeSeconds);
        break;
      }
      default:
        throw errors.syntax();
    }
  }
  return [...ctx.server.clients()].filter(
    (client) => !(skipMe && client === ctx.client) && filters.every((filter) => filter(client)),
  );
}

const clientCommand = command({
  name: 'client',
  arity: -2,
  flags: [],
  group: 'connection',
  summary: 'A container for client connection commands.',
  since: '2.4.0',
  handler() {
    throw new Error('CLIENT is dispatched to its subcommands');
  },
  subcommands: [
    clientSubcommand('id', 2, 'Returns the unique client ID of the connection.', (ctx) => {
      ctx.reply.integer(ctx.client.id);
    }),
    clientSubcommand('getname', 2, 'Returns the name of the connection.', (ctx) => {
      if (ctx.client.name === '') ctx.reply.null();
      else ctx.reply.bulkString(ctx.client.name);
    }),
    clientSubcommand('setname', 3, 'Sets the connection name.', (ctx, args) => {
      validateClientName(args[2]!, 'Client names');
      ctx.client.name = args[2]!.toString('utf8').slice(0, ctx.server.limits.clientNameBytesMax);
      ctx.reply.simple('OK');
    }),
    clientSubcommand('setinfo', 4, 'Sets information specific to the client or connection.', (ctx, args) => {
      const attribute = keywordOf(args[2]!);
      validateClientName(args[3]!, `${attribute.toLowerCase()}`);
      const value = args[3]!.toString('utf8').slice(0, ctx.server.limits.clientNameBytesMax);
      if (attribute === 'LIB-NAME') ctx.client.libraryName = value;
      else if (attribute === 'LIB-VER') ctx.client.libraryVersion = value;
      else throw new CommandError('SYNTAX', `ERR Unrecognized option '${args[2]!.toString('utf8').slice(0, 64)}'`);
      ctx.reply.simple('OK');
    }),
    clientSubcommand('info', 2, 'Returns information about the connection.', (ctx) => {
      ctx.reply.verbatim(`${describeClient(ctx.client, ctx.nowMs)}\n`);
    }),
    clientSubcommand('list', -2, 'Lists open connections.', (ctx, args) => {
      let selected = [...ctx.server.clients()];
      if (args.length > 2) {
        if (isKeyword(args[2]!, 'ID') && args.length > 3) {
          const ids = new Set(
            args.slice(3).map((arg) => {
              const id = parseInteger(arg);
              if (id === null) throw new CommandError('INVALID_CLIENT_ID', 'ERR Invalid client ID');
              return Number(id);
            }),
          );
          selected = selected.filter((client) => ids.has(client.id));
        } else if (isKeyword(args[2]!, 'TYPE') && args.length === 4) {
          const wanted = args[3]!.toString('latin1').toLowerCase();
          if (!['normal', 'master', 'replica', 'slave', 'pubsub'].includes(wanted)) {
            throw new CommandError('SYNTAX', `ERR Unknown client type '${args[3]!.toString('utf8')}'`);
          }
          if (wanted !== 'normal') selected = [];
        } else {
          throw errors.syntax();
        }
      }
      ctx.reply.verbatim(selected.map((client) => `${describeClient(client, ctx.nowMs)}\n`).join(''));
    }, ['admin', 'noscript', 'loading', 'stale']),
    clientSubcommand('kill', -3, 'Terminates open connections.', (ctx, args) => {
      const victims = clientsToKill(ctx, args);
      if (args.length === 3) {
        if (victims === null) throw new CommandError('NO_SUCH_CLIENT', 'ERR No such client');
        ctx.server.killClient(victims[0]!);
        ctx.reply.simple('OK');
        return;
      }
      for (const victim of victims ?? []) ctx.server.killClient(victim);
      ctx.reply.integer(victims?.length ?? 0);
    }, ['admin', 'noscript', 'loading', 'stale']),
    clientSubcommand('no-evict', 3, 'Sets the client eviction mode of the connection.', (ctx, args) => {
      if (!isKeyword(args[2]!, 'ON') && !isKeyword(args[2]!, 'OFF')) throw errors.syntax();
      ctx.client.noEvict = isKeyword(args[2]!, 'ON');
      ctx.reply.simple('OK');
    }, ['admin', 'noscript', 'loading', 'stale']),
    clientSubcommand('no-touch', 3, 'Controls whether commands sent by the client affect the LRU/LFU of accessed keys.', (ctx, args) => {
      if (!isKeyword(args[2]!, 'ON') && !isKeyword(args[2]!, 'OFF')) throw errors.syntax();
      ctx.client.noTouch = isKeyword(args[2]!, 'ON');
      ctx.reply.simple('OK');
    }),
    clientSubcommand('getredir', 2, 'Returns the client ID to which the connection\'s tracking notifications are redirected.', (ctx) => {
      ctx.reply.integer(-1);
    }),
    clientSubcommand('help', 2, 'Returns helpful text about the different subcommands.', (ctx) => {
      const lines = [
        'CLIENT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:',
        'ID', 'GETNAME', 'SETNAME <name>', 'SETINFO <LIB-NAME|LIB-VER> <value>', 'INFO',
        'LIST [TYPE <normal|master|replica|pubsub>] [ID <id> [<id> ...]]',
        'KILL <ip:port> | KILL <option> <value> [<option> <value> ...]', 'NO-EVICT <ON|OFF>',
        'NO-TOUCH <ON|OFF>', 'GETREDIR', 'HELP',
      ];
      ctx.reply.arrayHeader(lines.length);
      for (const line of lines) ctx.reply.simple(line);
    }, ['loading', 'stale']),
  ],
});

export const connectionCommands: CommandSpec[] = [ping, echo, auth, hello, select, quit, reset, clientCommand];
