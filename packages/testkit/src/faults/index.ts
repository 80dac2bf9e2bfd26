export * from './schedule.js';
export * from './network.js';
export * from './injector.js';
