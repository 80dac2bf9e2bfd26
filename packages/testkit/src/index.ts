export * from './processes.js';
export * from './resp-client.js';
export * from './random.js';
export * from './etcd.js';
export * from './tcp-proxy.js';
export * from './cluster.js';
export * from './netns.js';
export * from './crd-schema.js';
