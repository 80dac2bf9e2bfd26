/**
 * What COMMAND INFO says about each command beyond its arity, flags and key positions (which the
 * command declarations hold): ACL categories, command tips and key specifications, exactly as
 * redis-server 7.0 reports them for the same commands, so cluster-aware clients that read tips and
 * key-spec flags see Redis's answers. Commands missing here (Redis 7.2 additions such as CLIENT
 * SETINFO) fall back to values derived from their declaration (server-commands.ts).
 */

/** A key specification of the begin_search "index" / find_keys "range" kind (all ours are). */
export interface KeySpecification {
  /** Redis prints notes only where a spec has them. */
  readonly notes?: string;
  /** Access flags (RO, RW, OW, RM) then logical-operation flags (access, update, insert, delete...). */
  readonly flags: readonly string[];
  /** begin_search index: the argument position of the first key. */
  readonly index: number;
  /** find_keys range: last key relative to the first (-1: up to the last argument), step, limit. */
  readonly lastKey: number;
  readonly keyStep: number;
  readonly limit: number;
}

export interface CommandInfoMetadata {
  readonly categories: readonly string[];
  readonly tips: readonly string[];
  readonly keySpecs: readonly KeySpecification[];
}

export const COMMAND_INFO: Readonly<Record<string, CommandInfoMetadata>> = {
  // Cluster commands (cluster/cluster-commands.ts).
  asking: {
    categories: ['@fast', '@connection'],
    tips: [],
    keySpecs: [],
  },
  cluster: {
    categories: ['@slow'],
    tips: [],
    keySpecs: [],
  },
  'cluster|countkeysinslot': {
    categories: ['@slow'],
    tips: [],
    keySpecs: [],
  },
  'cluster|getkeysinslot': {
    categories: ['@slow'],
    tips: ['nondeterministic_output'],
    keySpecs: [],
  },
  'cluster|help': {
    categories: ['@slow'],
    tips: [],
    keySpecs: [],
  },
  'cluster|info': {
    categories: ['@slow'],
    tips: ['nondeterministic_output'],
    keySpecs: [],
  },
  'cluster|keyslot': {
    categories: ['@slow'],
    tips: [],
    keySpecs: [],
  },
  'cluster|myid': {
    categories: ['@slow'],
    tips: [],
    keySpecs: [],
  },
  'cluster|nodes': {
    categories: ['@slow'],
    tips: ['nondeterministic_output'],
    keySpecs: [],
  },
  'cluster|shards': {
    categories: ['@slow'],
    tips: ['nondeterministic_output'],
    keySpecs: [],
  },
  'cluster|slots': {
    categories: ['@slow'],
    tips: ['nondeterministic_output'],
    keySpecs: [],
  },
  readonly: {
    categories: ['@fast', '@connection'],
    tips: [],
    keySpecs: [],
  },
  readwrite: {
    categories: ['@fast', '@connection'],
    tips: [],
    keySpecs: [],
  },
  append: {
    categories: ['@write', '@string', '@fast'],
    tips: [],
    keySpecs: [{ flags: ['RW', 'insert'], index: 1, lastKey: 0, keyStep: 1, limit: 0 }],
  },
  auth: {
    categories: ['@fast', '@connection'],
    tips: [],
    keySpecs: [],
  },
  client: {
    categories: ['@slow'],
    tips: [],
    keySpecs: [],
  },
  'client|id': {
    categories: ['@slow', '@connection'],
    tips: [],
    keySpecs: [],
  },
  'client|getname': {
    categories: ['@slow', '@connection'],
    tips: [],
    keySpecs: [],
  },
  'client|setname': {
    categories: ['@slow', '@connection'],
    tips: [],
    keySpecs: [],
  },
  'client|info': {
    categories: ['@slow', '@connection'],
    tips: ['nondeterministic_output'],
    keySpecs: [],
  },
  'client|list': {
    categories: ['@admin', '@slow', '@dangerous', '@connection'],
    tips: ['nondeterministic_output'],
    keySpecs: [],
  },
  'client|kill': {
    categories: ['@admin', '@slow', '@dangerous', '@connection'],
    tips: [],
    keySpecs: [],
  },
  'client|no-evict': {
    categories: ['@admin', '@slow', '@dangerous', '@connection'],
    tips: [],
    keySpecs: [],
  },
  'client|getredir': {
    categories: ['@slow', '@connection'],
    tips: [],
    keySpecs: [],
  },
  'client|help': {
    categories: ['@slow', '@connection'],
    tips: [],
    keySpecs: [],
  },
  command: {
    categories: ['@slow', '@connection'],
    tips: ['nondeterministic_output_order'],
    keySpecs: [],
  },
  'command|count': {
    categories: ['@slow', '@connection'],
    tips: [],
    keySpecs: [],
  },
  'command|list': {
    categories: ['@slow', '@connection'],
    tips: ['nondeterministic_output_order'],
    keySpecs: [],
  },
  'command|info': {
    categories: ['@slow', '@connection'],
    tips: ['nondeterministic_output_order'],
    keySpecs: [],
  },
  'command|docs': {
    categories: ['@slow', '@connection'],
    tips: ['nondeterministic_output_order'],
    keySpecs: [],
  },
  'command|getkeys': {
    categories: ['@slow', '@connection'],
    tips: [],
    keySpecs: [],
  },
  config: {
    categories: ['@slow'],
    tips: [],
    keySpecs: [],
  },
  'config|get': {
    categories: ['@admin', '@slow', '@dangerous'],
    tips: [],
    keySpecs: [],
  },
  'config|set': {
    categories: ['@admin', '@slow', '@dangerous'],
    tips: ['request_policy:all_nodes', 'response_policy:all_succeeded'],
    keySpecs: [],
  },
  'config|resetstat': {
    categories: ['@admin', '@slow', '@dangerous'],
    tips: [],
    keySpecs: [],
  },
  'config|rewrite': {
    categories: ['@admin', '@slow', '@dangerous'],
    tips: [],
    keySpecs: [],
  },
  dbsize: {
    categories: ['@keyspace', '@read', '@fast'],
    tips: ['request_policy:all_shards', 'response_policy:agg_sum'],
    keySpecs: [],
  },
  decr: {
    categories: ['@write', '@string', '@fast'],
    tips: [],
    keySpecs: [{ flags: ['RW', 'access', 'update'], index: 1, lastKey: 0, keyStep: 1, limit: 0 }],
  },
  decrby: {
    categories: ['@write', '@string', '@fast'],
    tips: [],
    keySpecs: [{ flags: ['RW', 'access', 'update'], index: 1, lastKey: 0, keyStep: 1, limit: 0 }],
  },
  del: {
    categories: ['@keyspace', '@write', '@slow'],
    tips: ['request_policy:multi_shard', 'response_policy:agg_sum'],
    keySpecs: [{ flags: ['RM', 'delete'], index: 1, lastKey: -1, keyStep: 1, limit: 0 }],
  },
  discard: {
    categories: ['@fast', '@transaction'],
    tips: [],
    keySpecs: [],
  },
  echo: {
    categories: ['@fast', '@connection'],
    tips: [],
    keySpecs: [],
  },
  exec: {
    categories: ['@slow', '@transaction'],
    tips: [],
    keySpecs: [],
  },
  exists: {
    categories: ['@keyspace', '@read', '@fast'],
    tips: ['request_policy:multi_shard', 'response_policy:agg_sum'],
    keySpecs: [{ flags: ['RO'], index: 1, lastKey: -1, keyStep: 1, limit: 0 }],
  },
  expire: {
    categories: ['@keyspace', '@write', '@fast'],
    tips: [],
    keySpecs: [{ flags: ['RW', 'update'], index: 1, lastKey: 0, keyStep: 1, limit: 0 }],
  },
  expireat: {
    categories: ['@keyspace', '@write', '@fast'],
    tips: [],
    keySpecs: [{ flags: ['RW', 'update'], index: 1, lastKey: 0, keyStep: 1, limit: 0 }],
  },
  expiretime: {
    categories: ['@keyspace', '@read', '@fast'],
    tips: [],
    keySpecs: [{ flags: ['RO', 'access'], index: 1, lastKey: 0, keyStep: 1, limit: 0 }],
  },
  flushall: {
    categories: ['@keyspace', '@write', '@slow', '@dangerous'],
    tips: ['request_policy:all_shards', 'response_policy:all_succeeded'],
    keySpecs: [],
  },
  flushdb: {
    categories: ['@keyspace', '@write', '@slow', '@dangerous'],
    tips: ['request_policy:all_shards', 'response_policy:all_succeeded'],
    keySpecs: [],
  },
  get: {
    categories: ['@read', '@string', '@fast'],
    tips: [],
    keySpecs: [{ flags: ['RO', 'access'], index: 1, lastKey: 0, keyStep: 1, limit: 0 }],
  },
  getdel: {
    categories: ['@write', '@string', '@fast'],
    tips: [],
    keySpecs: [{ flags: ['RW', 'access', 'delete'], index: 1, lastKey: 0, keyStep: 1, limit: 0 }],
  },
  getex: {
    categories: ['@write', '@string', '@fast'],
    tips: [],
    keySpecs: [
      { notes: 'RW and UPDATE because it changes the TTL', flags: ['RW', 'access', 'update'], index: 1, lastKey: 0, keyStep: 1, limit: 0 },
    ],
  },
  getrange: {
    categories: ['@read', '@string', '@slow'],
    tips: [],
    keySpecs: [{ flags: ['RO', 'access'], index: 1, lastKey: 0, keyStep: 1, limit: 0 }],
  },
  getset: {
    categories: ['@write', '@string', '@fast'],
    tips: [],
    keySpecs: [{ flags: ['RW', 'access', 'update'], index: 1, lastKey: 0, keyStep: 1, limit: 0 }],
  },
  hdel: {
    categories: ['@write', '@hash', '@fast'],
    tips: [],
    keySpecs: [{ flags: ['RW', 'delete'], index: 1, lastKey: 0, keyStep: 1, limit: 0 }],
  },
  hello: {
    categories: ['@fast', '@connection'],
    tips: [],
    keySpecs: [],
  },
  hexists: {
    categories: ['@read', '@hash', '@fast'],
    tips: [],
    keySpecs: [{ flags: ['RO'], index: 1, lastKey: 0, keyStep: 1, limit: 0 }],
  },
  hget: {
    categories: ['@read', '@hash', '@fast'],
    tips: [],
    keySpecs: [{ flags: ['RO', 'access'], index: 1, lastKey: 0, keyStep: 1, limit: 0 }],
  },
  hgetall: {
    categories: ['@read', '@hash', '@slow'],
    tips: ['nondeterministic_output_order'],
    keySpecs: [{ flags: ['RO', 'access'], index: 1, lastKey: 0, keyStep: 1, limit: 0 }],
  },
  hincrby: {
    categories: ['@write', '@hash', '@fast'],
    tips: [],
    keySpecs: [{ flags: ['RW', 'access', 'update'], index: 1, lastKey: 0, keyStep: 1, limit: 0 }],
  },
  hincrbyfloat: {
    categories: ['@write', '@hash', '@fast'],
    tips: [],
    keySpecs: [{ flags: ['RW', 'access', 'update'], index: 1, lastKey: 0, keyStep: 1, limit: 0 }],
  },
  hkeys: {
    categories: ['@read', '@hash', '@slow'],
    tips: ['nondeterministic_output_order'],
    keySpecs: [{ flags: ['RO', 'access'], index: 1, lastKey: 0, keyStep: 1, limit: 0 }],
  },
  hlen: {
    categories: ['@read', '@hash', '@fast'],
    tips: [],
    keySpecs: [{ flags: ['RO'], index: 1, lastKey: 0, keyStep: 1, limit: 0 }],
  },
  hmget: {
    categories: ['@read', '@hash', '@fast'],
    tips: [],
    keySpecs: [{ flags: ['RO', 'access'], index: 1, lastKey: 0, keyStep: 1, limit: 0 }],
  },
  hmset: {
    categories: ['@write', '@hash', '@fast'],
    tips: [],
    keySpecs: [{ flags: ['RW', 'update'], index: 1, lastKey: 0, keyStep: 1, limit: 0 }],
  },
  hscan: {
    categories: ['@read', '@hash', '@slow'],
    tips: ['nondeterministic_output'],
    keySpecs: [{ flags: ['RO', 'access'], index: 1, lastKey: 0, keyStep: 1, limit: 0 }],
  },
  hset: {
    categories: ['@write', '@hash', '@fast'],
    tips: [],
    keySpecs: [{ flags: ['RW', 'update'], index: 1, lastKey: 0, keyStep: 1, limit: 0 }],
  },
  hsetnx: {
    categories: ['@write', '@hash', '@fast'],
    tips: [],
    keySpecs: [{ flags: ['RW', 'insert'], index: 1, lastKey: 0, keyStep: 1, limit: 0 }],
  },
  hstrlen: {
    categories: ['@read', '@hash', '@fast'],
    tips: [],
    keySpecs: [{ flags: ['RO'], index: 1, lastKey: 0, keyStep: 1, limit: 0 }],
  },
  hvals: {
    categories: ['@read', '@hash', '@slow'],
    tips: ['nondeterministic_output_order'],
    keySpecs: [{ flags: ['RO', 'access'], index: 1, lastKey: 0, keyStep: 1, limit: 0 }],
  },
  incr: {
    categories: ['@write', '@string', '@fast'],
    tips: [],
    keySpecs: [{ flags: ['RW', 'access', 'update'], index: 1, lastKey: 0, keyStep: 1, limit: 0 }],
  },
  incrby: {
    categories: ['@write', '@string', '@fast'],
    tips: [],
    keySpecs: [{ flags: ['RW', 'access', 'update'], index: 1, lastKey: 0, keyStep: 1, limit: 0 }],
  },
  incrbyfloat: {
    categories: ['@write', '@string', '@fast'],
    tips: [],
    keySpecs: [{ flags: ['RW', 'access', 'update'], index: 1, lastKey: 0, keyStep: 1, limit: 0 }],
  },
  info: {
    categories: ['@slow', '@dangerous'],
    tips: ['nondeterministic_output', 'request_policy:all_shards', 'response_policy:special'],
    keySpecs: [],
  },
  keys: {
    categories: ['@keyspace', '@read', '@slow', '@dangerous'],
    tips: ['request_policy:all_shards', 'nondeterministic_output_order'],
    keySpecs: [],
  },
  lastsave: {
    categories: ['@admin', '@fast', '@dangerous'],
    tips: ['nondeterministic_output'],
    keySpecs: [],
  },
  mget: {
    categories: ['@read', '@string', '@fast'],
    tips: ['request_policy:multi_shard'],
    keySpecs: [{ flags: ['RO', 'access'], index: 1, lastKey: -1, keyStep: 1, limit: 0 }],
  },
  mset: {
    categories: ['@write', '@string', '@slow'],
    tips: ['request_policy:multi_shard', 'response_policy:all_succeeded'],
    keySpecs: [{ flags: ['OW', 'update'], index: 1, lastKey: -1, keyStep: 2, limit: 0 }],
  },
  msetnx: {
    categories: ['@write', '@string', '@slow'],
    tips: ['request_policy:multi_shard', 'response_policy:agg_min'],
    keySpecs: [{ flags: ['OW', 'insert'], index: 1, lastKey: -1, keyStep: 2, limit: 0 }],
  },
  multi: {
    categories: ['@fast', '@transaction'],
    tips: [],
    keySpecs: [],
  },
  persist: {
    categories: ['@keyspace', '@write', '@fast'],
    tips: [],
    keySpecs: [{ flags: ['RW', 'update'], index: 1, lastKey: 0, keyStep: 1, limit: 0 }],
  },
  pexpire: {
    categories: ['@keyspace', '@write', '@fast'],
    tips: [],
    keySpecs: [{ flags: ['RW', 'update'], index: 1, lastKey: 0, keyStep: 1, limit: 0 }],
  },
  pexpireat: {
    categories: ['@keyspace', '@write', '@fast'],
    tips: [],
    keySpecs: [{ flags: ['RW', 'update'], index: 1, lastKey: 0, keyStep: 1, limit: 0 }],
  },
  pexpiretime: {
    categories: ['@keyspace', '@read', '@fast'],
    tips: [],
    keySpecs: [{ flags: ['RO', 'access'], index: 1, lastKey: 0, keyStep: 1, limit: 0 }],
  },
  ping: {
    categories: ['@fast', '@connection'],
    tips: ['request_policy:all_shards', 'response_policy:all_succeeded'],
    keySpecs: [],
  },
  psetex: {
    categories: ['@write', '@string', '@slow'],
    tips: [],
    keySpecs: [{ flags: ['OW', 'update'], index: 1, lastKey: 0, keyStep: 1, limit: 0 }],
  },
  pttl: {
    categories: ['@keyspace', '@read', '@fast'],
    tips: ['nondeterministic_output'],
    keySpecs: [{ flags: ['RO', 'access'], index: 1, lastKey: 0, keyStep: 1, limit: 0 }],
  },
  quit: {
    categories: ['@fast', '@connection'],
    tips: [],
    keySpecs: [],
  },
  randomkey: {
    categories: ['@keyspace', '@read', '@slow'],
    tips: ['request_policy:all_shards', 'nondeterministic_output'],
    keySpecs: [],
  },
  rename: {
    categories: ['@keyspace', '@write', '@slow'],
    tips: [],
    keySpecs: [
      { flags: ['RW', 'access', 'delete'], index: 1, lastKey: 0, keyStep: 1, limit: 0 },
      { flags: ['OW', 'update'], index: 2, lastKey: 0, keyStep: 1, limit: 0 },
    ],
  },
  renamenx: {
    categories: ['@keyspace', '@write', '@fast'],
    tips: [],
    keySpecs: [
      { flags: ['RW', 'access', 'delete'], index: 1, lastKey: 0, keyStep: 1, limit: 0 },
      { flags: ['OW', 'insert'], index: 2, lastKey: 0, keyStep: 1, limit: 0 },
    ],
  },
  reset: {
    categories: ['@fast', '@connection'],
    tips: [],
    keySpecs: [],
  },
  scan: {
    categories: ['@keyspace', '@read', '@slow'],
    tips: ['nondeterministic_output', 'request_policy:special'],
    keySpecs: [],
  },
  select: {
    categories: ['@fast', '@connection'],
    tips: [],
    keySpecs: [],
  },
  set: {
    categories: ['@write', '@string', '@slow'],
    tips: [],
    keySpecs: [
      { notes: 'RW and ACCESS due to the optional `GET` argument', flags: ['RW', 'access', 'update', 'variable_flags'], index: 1, lastKey: 0, keyStep: 1, limit: 0 },
    ],
  },
  setex: {
    categories: ['@write', '@string', '@slow'],
    tips: [],
    keySpecs: [{ flags: ['OW', 'update'], index: 1, lastKey: 0, keyStep: 1, limit: 0 }],
  },
  setnx: {
    categories: ['@write', '@string', '@fast'],
    tips: [],
    keySpecs: [{ flags: ['OW', 'insert'], index: 1, lastKey: 0, keyStep: 1, limit: 0 }],
  },
  setrange: {
    categories: ['@write', '@string', '@slow'],
    tips: [],
    keySpecs: [{ flags: ['RW', 'update'], index: 1, lastKey: 0, keyStep: 1, limit: 0 }],
  },
  strlen: {
    categories: ['@read', '@string', '@fast'],
    tips: [],
    keySpecs: [{ flags: ['RO'], index: 1, lastKey: 0, keyStep: 1, limit: 0 }],
  },
  time: {
    categories: ['@fast'],
    tips: ['nondeterministic_output'],
    keySpecs: [],
  },
  touch: {
    categories: ['@keyspace', '@read', '@fast'],
    tips: ['request_policy:multi_shard', 'response_policy:agg_sum'],
    keySpecs: [{ flags: ['RO'], index: 1, lastKey: -1, keyStep: 1, limit: 0 }],
  },
  wait: {
    categories: ['@slow', '@connection'],
    tips: ['request_policy:all_shards', 'response_policy:agg_min'],
    keySpecs: [],
  },
  waitall: {
    categories: ['@slow', '@connection'],
    tips: [],
    keySpecs: [],
  },
  ttl: {
    categories: ['@keyspace', '@read', '@fast'],
    tips: ['nondeterministic_output'],
    keySpecs: [{ flags: ['RO', 'access'], index: 1, lastKey: 0, keyStep: 1, limit: 0 }],
  },
  type: {
    categories: ['@keyspace', '@read', '@fast'],
    tips: [],
    keySpecs: [{ flags: ['RO'], index: 1, lastKey: 0, keyStep: 1, limit: 0 }],
  },
  unlink: {
    categories: ['@keyspace', '@write', '@fast'],
    tips: ['request_policy:multi_shard', 'response_policy:agg_sum'],
    keySpecs: [{ flags: ['RM', 'delete'], index: 1, lastKey: -1, keyStep: 1, limit: 0 }],
  },
  unwatch: {
    categories: ['@fast', '@transaction'],
    tips: [],
    keySpecs: [],
  },
  watch: {
    categories: ['@fast', '@transaction'],
    tips: [],
    keySpecs: [{ flags: ['RO'], index: 1, lastKey: -1, keyStep: 1, limit: 0 }],
  },
};
