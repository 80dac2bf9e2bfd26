#!/usr/bin/env node
/** ballast-node: the storage node binary. Flags and BALLAST_* variables are described by --help. */
import { readFileSync } from 'node:fs';
import { pino } from 'pino';
import { ConfigError, parseConfig, usage } from './server/config.js';
import { StorageServer } from './server/storage-server.js';

async function main(): Promise<void> {
  let config;
  try {
    config = parseConfig(process.argv.slice(2), process.env, (path) => readFileSync(path, 'utf8'));
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`ballast-node: ${error.message}\n\n${usage()}\n`);
      process.exit(64);
    }
    throw error;
  }
  if (config === 'help') {
    process.stdout.write(`${usage()}\n`);
    return;
  }
  const log = pino({ level: config.logLevel, base: { service: 'ballast-node' } });
  const server = await StorageServer.start(config, log);
  let stopping = false;
  const stop = (signal: string): void => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, 'signal received');
    server.shutdown().then(
      () => process.exit(0),
      (error: unknown) => {
        log.fatal({ err: error }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
}

main().catch((error: unknown) => {
  process.stderr.write(`ballast-node: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exit(1);
});
