export * from '../faults/index.js';
export * from './dev-cluster.js';
export * from './workload.js';
export * from './map-monitor.js';
export * from './losses.js';
export * from './run.js';
export * from './totals.js';
export { main as campaignMain, CAMPAIGN_USAGE } from './cli.js';
