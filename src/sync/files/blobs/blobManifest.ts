/**
 * Binary files as content-addressed blobs, cut into fixed-size chunks for transfer.
 *
 * A blob is named by the SHA-256 of its whole content (lowercase hex: the same hash the scan and
 * the orchestrator use for any file). Its manifest lists the SHA-256 of each chunk of
 * `chunkSize` bytes (the last one shorter), so a receiver can verify every chunk as it arrives,
 * fetch only the chunks it lacks, and resume after a disconnect; the whole hash is verified once
 * more after assembly, before the blob is used.
 *
 * The file's mode travels with the file's index entry, not in the manifest: two files with the
 * same content share one blob.
 */
import { createHash } from 'node:crypto';
import { promises as fs } from 'node:fs';
import { TwinspaceError } from '../../../core/errors';

/** 256 KiB: small enough to verify and retry cheaply, large enough to keep manifests short. */
export const DEFAULT_CHUNK_SIZE = 256 * 1024;
/** Bounds accepted in a peer's manifest. */
export const MIN_CHUNK_SIZE = 4 * 1024;
export const MAX_CHUNK_SIZE = 8 * 1024 * 1024;
/** Largest blob accepted in a peer's manifest by default (1 GiB). */
export const DEFAULT_MAX_BLOB_BYTES = 1024 * 1024 * 1024;

export interface BlobManifest {
  /** SHA-256 of the whole content, lowercase hex. */
  readonly hash: string;
  readonly size: number;
  readonly chunkSize: number;
  /** SHA-256 of each chunk, in order. Empty for an empty blob. */
  readonly chunks: readonly string[];
}

const SHA256_HEX = /^[0-9a-f]{64}$/;

/** Whether `value` is a lowercase hex SHA-256 (the only names the blob store accepts). */
export function isSha256Hex(value: unknown): value is string {
  return typeof value === 'string' && SHA256_HEX.test(value);
}

export function sha256Hex(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/** How many chunks a blob of `size` bytes has. */
export function chunkCount(size: number, chunkSize: number): number {
  return Math.ceil(size / chunkSize);
}

/** Byte range [start, end) of chunk `index`. */
export function chunkRange(
  manifest: Pick<BlobManifest, 'size' | 'chunkSize'>,
  index: number,
): { start: number; end: number } {
  const start = index * manifest.chunkSize;
  return { start, end: Math.min(manifest.size, start + manifest.chunkSize) };
}

/** The manifest of in-memory content. */
export function manifestOf(bytes: Uint8Array, chunkSize = DEFAULT_CHUNK_SIZE): BlobManifest {
  checkChunkSize(chunkSize);
  const chunks: string[] = [];
  for (let start = 0; start < bytes.length; start += chunkSize) {
    chunks.push(sha256Hex(bytes.subarray(start, start + chunkSize)));
  }
  return { hash: sha256Hex(bytes), size: bytes.length, chunkSize, chunks };
}

/** The manifest of a file, read in one pass (whole hash and chunk hashes together). */
export async function manifestOfFile(
  file: string,
  chunkSize = DEFAULT_CHUNK_SIZE,
): Promise<BlobManifest> {
  checkChunkSize(chunkSize);
  const handle = await fs.open(file, 'r');
  try {
    const whole = createHash('sha256');
    const chunks: string[] = [];
    const buffer = new Uint8Array(chunkSize);
    let size = 0;
    for (;;) {
      const filled = await readFull(handle, buffer, size);
      if (filled === 0) break;
      const chunk = buffer.subarray(0, filled);
      whole.update(chunk);
      chunks.push(sha256Hex(chunk));
      size += filled;
      if (filled < chunkSize) break;
    }
    return { hash: whole.digest('hex'), size, chunkSize, chunks };
  } finally {
    await handle.close();
  }
}

/** Whether `bytes` are chunk `index` of `manifest` (length and hash). */
export function verifyChunk(manifest: BlobManifest, index: number, bytes: Uint8Array): boolean {
  const expected = manifest.chunks[index];
  if (expected === undefined) return false;
  const { start, end } = chunkRange(manifest, index);
  return bytes.length === end - start && sha256Hex(bytes) === expected;
}

/**
 * Reads chunk `index` of `manifest` from a file on disk (to serve it to a peer). Throws
 * `version_conflict` when the file no longer holds that chunk (it changed since the manifest).
 */
export async function readChunkFromFile(
  file: string,
  manifest: BlobManifest,
  index: number,
): Promise<Uint8Array> {
  if (!Number.isInteger(index) || index < 0 || index >= manifest.chunks.length) {
    throw new TwinspaceError('validation', `no chunk ${index} in blob ${manifest.hash}`);
  }
  const { start, end } = chunkRange(manifest, index);
  const handle = await fs.open(file, 'r');
  try {
    const bytes = new Uint8Array(end - start);
    const filled = await readFull(handle, bytes, start);
    const chunk = bytes.subarray(0, filled);
    if (!verifyChunk(manifest, index, chunk)) {
      throw new TwinspaceError(
        'version_conflict',
        `${file} changed: chunk ${index} no longer matches blob ${manifest.hash}`,
      );
    }
    return chunk;
  } finally {
    await handle.close();
  }
}

export interface ManifestLimits {
  /** Largest blob accepted. Default {@link DEFAULT_MAX_BLOB_BYTES}. */
  readonly maxBytes?: number;
}

/**
 * Checks a manifest received from a peer: hashes are SHA-256 hex, the chunk size is within
 * bounds, the chunk count matches the size, the size within limits. Throws `validation`.
 */
export function validateManifest(value: unknown, limits: ManifestLimits = {}): BlobManifest {
  const bad = (why: string): never => {
    throw new TwinspaceError('validation', `invalid blob manifest: ${why}`);
  };
  if (typeof value !== 'object' || value === null) return bad('not an object');
  const m = value as Record<string, unknown>;
  const { hash, size, chunkSize, chunks } = m;
  if (!isSha256Hex(hash)) return bad('hash is not a SHA-256');
  if (typeof size !== 'number' || !Number.isSafeInteger(size) || size < 0) {
    return bad('size is not a non-negative integer');
  }
  const maxBytes = limits.maxBytes ?? DEFAULT_MAX_BLOB_BYTES;
  if (size > maxBytes) return bad(`${size} bytes is over the ${maxBytes}-byte limit`);
  if (
    typeof chunkSize !== 'number' ||
    !Number.isInteger(chunkSize) ||
    chunkSize < MIN_CHUNK_SIZE ||
    chunkSize > MAX_CHUNK_SIZE
  ) {
    return bad('chunk size out of bounds');
  }
  if (!Array.isArray(chunks) || chunks.length !== chunkCount(size, chunkSize)) {
    return bad('chunk count does not match the size');
  }
  if (!chunks.every(isSha256Hex)) return bad('a chunk hash is not a SHA-256');
  return { hash, size, chunkSize, chunks: [...chunks] };
}

function checkChunkSize(chunkSize: number): void {
  if (!Number.isInteger(chunkSize) || chunkSize < 1) {
    throw new TwinspaceError('validation', `invalid chunk size ${chunkSize}`);
  }
}

/** Fills `buffer` from `position` until it is full or the file ends; returns the bytes read. */
async function readFull(
  handle: fs.FileHandle,
  buffer: Uint8Array,
  position: number,
): Promise<number> {
  let filled = 0;
  while (filled < buffer.length) {
    const { bytesRead } = await handle.read(
      buffer,
      filled,
      buffer.length - filled,
      position + filled,
    );
    if (bytesRead === 0) break;
    filled += bytesRead;
  }
  return filled;
}
