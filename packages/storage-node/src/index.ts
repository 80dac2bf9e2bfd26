export { Engine, type Durability, type KeyRef } from './engine/engine.js';
export { RequestDecoder } from './resp/request-decoder.js';
export { ReplyWriter, formatDouble } from './resp/reply-writer.js';
export { ProtocolError } from './resp/protocol-error.js';
export { splitInlineArguments } from './resp/inline-split.js';
export {
  StorageServer,
  BALLAST_VERSION,
  REDIS_COMPATIBLE_VERSION,
  type StorageServerOptions,
} from './server/storage-server.js';
export type { Access, ClusterView, Route } from './cluster/cluster-view.js';
export { routeByMap } from './cluster/routing.js';
export { parseConfig, ConfigError, type NodeConfig } from './server/config.js';
export { LIMITS_DEFAULT, type Limits } from './limits.js';
