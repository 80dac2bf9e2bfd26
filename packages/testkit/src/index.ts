export * from './processes.js';
export * from './resp-client.js';
export * from './random.js';
