#!/usr/bin/env node
/**
 * Extracts one entry of a zip archive with Node alone: scripts/helm.sh falls back to it on machines
 * with neither unzip nor python3 (a minimal Debian has neither; this project always has node).
 *
 *   node scripts/unzip-entry.mjs ARCHIVE.zip ENTRY OUTPUT
 *
 * Reads the central directory (not the local headers, whose sizes may be deferred to a data
 * descriptor), supports stored and deflated entries, and checks the CRC-32. No zip64: the archive
 * it exists for is far below 4 GiB.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { crc32, inflateRawSync } from 'node:zlib';

const END_OF_CENTRAL_DIRECTORY = 0x06054b50;
const CENTRAL_FILE_HEADER = 0x02014b50;
const LOCAL_FILE_HEADER = 0x04034b50;
// The end record is 22 bytes plus a comment of at most 65,535 bytes.
const END_RECORD_SEARCH_BYTES = 22 + 0xffff;

const [archivePath, entryName, outputPath] = process.argv.slice(2);
if (archivePath === undefined || entryName === undefined || outputPath === undefined) {
  process.stderr.write('usage: node scripts/unzip-entry.mjs ARCHIVE.zip ENTRY OUTPUT\n');
  process.exit(2);
}

const archive = readFileSync(archivePath);
let end = -1;
for (let at = archive.length - 22; at >= Math.max(0, archive.length - END_RECORD_SEARCH_BYTES); at -= 1) {
  if (archive.readUInt32LE(at) === END_OF_CENTRAL_DIRECTORY) {
    end = at;
    break;
  }
}
if (end < 0) throw new Error(`${archivePath}: not a zip archive (no end of central directory record)`);
const entries = archive.readUInt16LE(end + 10);
let at = archive.readUInt32LE(end + 16);
let found = null;
for (let index = 0; index < entries; index += 1) {
  if (archive.readUInt32LE(at) !== CENTRAL_FILE_HEADER) throw new Error(`${archivePath}: corrupt central directory at byte ${at}`);
  const nameLength = archive.readUInt16LE(at + 28);
  const name = archive.toString('utf8', at + 46, at + 46 + nameLength);
  if (name === entryName) {
    found = {
      method: archive.readUInt16LE(at + 10),
      crc: archive.readUInt32LE(at + 16),
      compressedBytes: archive.readUInt32LE(at + 20),
      bytes: archive.readUInt32LE(at + 24),
      localHeaderAt: archive.readUInt32LE(at + 42),
    };
    break;
  }
  at += 46 + nameLength + archive.readUInt16LE(at + 30) + archive.readUInt16LE(at + 32);
}
if (found === null) throw new Error(`${archivePath}: no entry ${entryName}`);

const local = found.localHeaderAt;
if (archive.readUInt32LE(local) !== LOCAL_FILE_HEADER) throw new Error(`${archivePath}: corrupt local header for ${entryName}`);
const dataAt = local + 30 + archive.readUInt16LE(local + 26) + archive.readUInt16LE(local + 28);
const compressed = archive.subarray(dataAt, dataAt + found.compressedBytes);
let data;
if (found.method === 0) data = compressed;
else if (found.method === 8) data = inflateRawSync(compressed);
else throw new Error(`${archivePath}: ${entryName} uses compression method ${found.method}; only stored (0) and deflate (8) are supported`);
if (data.length !== found.bytes || crc32(data) !== found.crc) throw new Error(`${archivePath}: ${entryName} is corrupt (size or CRC-32 mismatch)`);

mkdirSync(path.dirname(outputPath), { recursive: true });
writeFileSync(outputPath, data, { mode: 0o755 });
