export * from './api.js';
export * from './duration.js';
export * from './decide.js';
