export * from './store.js';
export * from './errors.js';
export * from './limits.js';
export { startEmbeddedStore, type EmbeddedStoreOptions, type EmbeddedStoreServer } from './embedded-server.js';
export { MapHistory, PresenceTable, type StoredVersion } from './embedded-state.js';
export { EmbeddedClusterMapStore } from './embedded-store.js';
export { EtcdClusterMapStore } from './etcd-store.js';
export { KubernetesClusterMapStore, liveRegistrations, parseKubernetesUrl, type KubernetesLocation } from './kubernetes-store.js';
