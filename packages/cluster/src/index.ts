export * from './slots.js';
export * from './cluster-map.js';
export * from './assignment.js';
export * from './history.js';
export * from './transitions.js';
export * from './replication/types.js';
export * from './replication/core.js';
export * from './replication/proposals.js';
