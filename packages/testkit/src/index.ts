export * from './processes.js';
export * from './resp-client.js';
