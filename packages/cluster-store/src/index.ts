export * from './store.js';
export * from './errors.js';
export * from './limits.js';
export { startEmbeddedStore, type EmbeddedStoreOptions, type EmbeddedStoreServer } from './embedded-server.js';
export { MapHistory, PresenceTable, type StoredVersion } from './embedded-state.js';
export { EmbeddedClusterMapStore } from './embedded-store.js';
// The etcd and Kubernetes backends are reached through openStore, which loads them on first use.
export { liveRegistrations, parseKubernetesUrl, type KubernetesLocation } from './kubernetes-documents.js';
