/**
 * The replicated form of one text file: a Y.Doc of its own (one per file, not a Y.Text inside the
 * workspace document).
 *
 * Why one document per file: the workspace document then stays small (an index of paths), and a
 * file's history and content are loaded only while that file is synced or open, and can be
 * unloaded (`doc.destroy()`) after, so memory grows with the files in use, not with the size of
 * the tree. Each file document syncs on its own (state vector + update, like the workspace
 * document), under a guid that does not depend on the path, so a rename keeps the history.
 *
 * Layout of a file document (guid {@link fileDocGuid}(fileId)):
 *  - `text`:  Y.Text, the content exactly as decoded (line endings kept; no byte order mark)
 *  - `meta`:  Y.Map { encoding: 'utf8' | 'utf16le' | 'utf16be', bom: boolean }
 *  - `seeds`: Y.Map seedId → true, one key per initial content (see below)
 *
 * Seeding. The first content of a file is written by a deterministic client: its Yjs client id is
 * a hash of the guid and the content, so two devices that start from the same file produce the
 * very same operations and Yjs merges them into one copy instead of two. Devices that seeded
 * different contents (the same path created on both while apart) end up with two seeds; the
 * merged text then holds both contents, and `concurrentSeeds` reports it so the caller can treat
 * it as a create/create conflict (the brief's conflict copy). Later changes are ordinary edits by
 * the device's own client, applied as minimal diffs ({@link applyTextChange}).
 *
 * Pure: imports yjs and the codec/diff modules only.
 */
import * as Y from 'yjs';
import { applyTextChange, type ApplyTextChangeResult, type DiffOptions } from './textDiff';
import { encodeText, type TextEncodingName, type TextFormat } from './textCodec';

export const FILE_TEXT = 'text';
export const FILE_META = 'meta';
export const FILE_SEEDS = 'seeds';

/** Prefix of every file document guid. */
export const FILE_DOC_GUID_PREFIX = 'twinspace.file:';

const ENCODINGS: ReadonlySet<string> = new Set<TextEncodingName>(['utf8', 'utf16le', 'utf16be']);

/** The content of a text file as the document holds it. */
export interface TextFileContent extends TextFormat {
  readonly text: string;
}

/** The guid of the document of the file with id `fileId` (ids do not change on rename). */
export function fileDocGuid(fileId: string): string {
  return `${FILE_DOC_GUID_PREFIX}${fileId}`;
}

/** A new, empty file document for `fileId` (callers that need a fixed client id set it after). */
export function createFileDoc(fileId: string): Y.Doc {
  return new Y.Doc({ guid: fileDocGuid(fileId), gc: true });
}

export function fileText(doc: Y.Doc): Y.Text {
  return doc.getText(FILE_TEXT);
}

function fileMeta(doc: Y.Doc): Y.Map<unknown> {
  return doc.getMap<unknown>(FILE_META);
}

function fileSeeds(doc: Y.Doc): Y.Map<boolean> {
  return doc.getMap<boolean>(FILE_SEEDS);
}

/** The file's encoding and byte order mark, `undefined` before it is seeded. */
export function readFileFormat(doc: Y.Doc): TextFormat | undefined {
  const meta = fileMeta(doc);
  const encoding = meta.get('encoding');
  const bom = meta.get('bom');
  if (typeof encoding !== 'string' || !ENCODINGS.has(encoding) || typeof bom !== 'boolean') {
    return undefined;
  }
  return { encoding: encoding as TextEncodingName, bom };
}

/** The file's content, `undefined` before it is seeded. */
export function readTextFile(doc: Y.Doc): TextFileContent | undefined {
  const format = readFileFormat(doc);
  if (format === undefined) return undefined;
  return { text: fileText(doc).toJSON(), ...format };
}

/** The file's bytes as they go to disk, `undefined` before it is seeded. */
export function textFileBytes(doc: Y.Doc): Uint8Array | undefined {
  const content = readTextFile(doc);
  return content === undefined ? undefined : encodeText(content);
}

/** Whether the document has been seeded (by this device or a peer). */
export function isSeeded(doc: Y.Doc): boolean {
  return fileSeeds(doc).size > 0;
}

/**
 * The seeds the document holds: more than one means that devices created the file with
 * different contents independently (a create/create conflict: the text holds both).
 */
export function concurrentSeeds(doc: Y.Doc): string[] {
  return [...fileSeeds(doc).keys()].sort();
}

/**
 * The deterministic Yjs client id that seeds `content` into the document `guid`: FNV-1a (32 bit)
 * over the guid, the format and the text. Equal on every device for equal content.
 */
export function seedClientId(guid: string, content: TextFileContent): number {
  let h = 0x811c9dc5;
  const mix = (s: string): void => {
    for (let i = 0; i < s.length; i += 1) {
      const c = s.charCodeAt(i);
      h = Math.imul(h ^ (c & 0xff), 0x01000193);
      h = Math.imul(h ^ (c >>> 8), 0x01000193);
    }
    h = Math.imul(h ^ 0xff, 0x01000193); // separator
  };
  mix(guid);
  mix(content.encoding);
  mix(content.bom ? '1' : '0');
  mix(content.text);
  return h >>> 0;
}

/**
 * Writes the initial content into `doc` with the deterministic seed client (see the module
 * comment), as one update applied with `origin`. Returns false (and changes nothing) when the
 * document is already seeded: then the caller applies its content as a change instead
 * ({@link applyLocalFileChange}) or reports a conflict.
 */
export function seedTextFileDoc(doc: Y.Doc, content: TextFileContent, origin?: unknown): boolean {
  if (isSeeded(doc)) return false;
  Y.applyUpdate(doc, seedUpdate(doc.guid, content), origin);
  return true;
}

/**
 * The seed of `content` as an update: what {@link seedTextFileDoc} applies to the document with
 * that guid, and the whole state of a new document seeded with it (a device publishing a file it
 * never had a document for saves this as is, without building the document).
 */
export function seedUpdate(guid: string, content: TextFileContent): Uint8Array {
  const seedId = seedClientId(guid, content);
  const seed = new Y.Doc({ guid, gc: true });
  seed.clientID = seedId;
  seed.transact(() => {
    const meta = fileMeta(seed);
    meta.set('encoding', content.encoding);
    meta.set('bom', content.bom);
    fileSeeds(seed).set(String(seedId), true);
    if (content.text.length > 0) fileText(seed).insert(0, content.text);
  });
  const update = Y.encodeStateAsUpdate(seed);
  seed.destroy();
  return update;
}

/**
 * Records a local change of the file (read from disk or from an editor buffer): the text as a
 * minimal diff from `oldText` (what this device last saw of the file, rebased when the document
 * has moved on since), and the encoding or byte order mark when they changed, in one transaction
 * with `origin`. The document must be seeded.
 */
export function applyLocalFileChange(
  doc: Y.Doc,
  oldText: string,
  next: TextFileContent,
  origin?: unknown,
  options: DiffOptions = {},
): ApplyTextChangeResult {
  let result: ApplyTextChangeResult = { edits: [], rebased: false };
  doc.transact(() => {
    const format = readFileFormat(doc);
    const meta = fileMeta(doc);
    if (format?.encoding !== next.encoding) meta.set('encoding', next.encoding);
    if (format?.bom !== next.bom) meta.set('bom', next.bom);
    result = applyTextChange(fileText(doc), oldText, next.text, origin, options);
  }, origin);
  return result;
}
