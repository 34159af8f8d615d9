/**
 * Text detection and the byte-exact text codec of synced files.
 *
 * A file is text when its content says so (never by extension):
 *  - it is at most `maxTextBytes` long (default {@link DEFAULT_MAX_TEXT_BYTES});
 *  - it starts with a UTF-16 byte order mark (FF FE little endian, FE FF big endian), has an even
 *    length, holds only well-formed UTF-16 (no lone surrogate) and no U+0000 in its first 8 KB;
 *  - or it has no NUL byte in its first 8 KB and is well-formed UTF-8 (with or without the
 *    EF BB BF mark).
 * Anything else is binary and syncs as a blob.
 *
 * `decodeText` returns the text without its byte order mark and with its line endings exactly as
 * they are in the file (a CRLF file keeps its CRLFs inside the text, so edits and merges keep
 * them); `eol` only reports what the text holds. `encodeText(decodeText(bytes))` gives back the
 * very same bytes: valid UTF-8 and well-formed UTF-16 each have a single encoding of a string.
 *
 * Pure: uses only the TextDecoder/TextEncoder globals, no Node modules.
 */

export type TextEncodingName = 'utf8' | 'utf16le' | 'utf16be';

/** The line endings a text holds: only LF, only CRLF, or both (a lone CR counts as mixed). */
export type EolStyle = 'lf' | 'crlf' | 'mixed';

/** How many leading bytes are searched for NUL (the same window git uses). */
export const SNIFF_BYTES = 8 * 1024;

/** Files larger than this are binary whatever they hold (4 MiB). */
export const DEFAULT_MAX_TEXT_BYTES = 4 * 1024 * 1024;

export interface TextFormat {
  readonly encoding: TextEncodingName;
  /** Whether the file starts with a byte order mark (kept on encode). */
  readonly bom: boolean;
}

export interface DecodedText extends TextFormat {
  /** The content without the byte order mark, line endings untouched. */
  readonly text: string;
  readonly eol: EolStyle;
}

export interface DetectOptions {
  /** Larger content is binary. Default {@link DEFAULT_MAX_TEXT_BYTES}. */
  readonly maxTextBytes?: number;
}

const UTF8_BOM = [0xef, 0xbb, 0xbf] as const;

const utf8Decoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });
const utf8Encoder = new TextEncoder();

/**
 * Decodes `bytes` when they are text (see the module comment), `undefined` when they are binary.
 */
export function decodeText(
  bytes: Uint8Array,
  options: DetectOptions = {},
): DecodedText | undefined {
  const maxTextBytes = options.maxTextBytes ?? DEFAULT_MAX_TEXT_BYTES;
  if (bytes.length > maxTextBytes) return undefined;
  if (bytes.length >= 2 && bytes[0] === 0xff && bytes[1] === 0xfe) {
    return decodeUtf16(bytes, 'utf16le');
  }
  if (bytes.length >= 2 && bytes[0] === 0xfe && bytes[1] === 0xff) {
    return decodeUtf16(bytes, 'utf16be');
  }
  if (hasNulByte(bytes, SNIFF_BYTES)) return undefined;
  const bom = startsWith(bytes, UTF8_BOM);
  let text: string;
  try {
    text = utf8Decoder.decode(bom ? bytes.subarray(UTF8_BOM.length) : bytes);
  } catch {
    return undefined;
  }
  return { text, eol: detectEol(text), bom, encoding: 'utf8' };
}

/** Whether `bytes` are text by the rules of {@link decodeText}. */
export function isTextContent(bytes: Uint8Array, options: DetectOptions = {}): boolean {
  return decodeText(bytes, options) !== undefined;
}

/**
 * A cheap first look at a file's leading bytes, before reading all of it: 'binary' when they
 * already rule text out (a NUL byte without a UTF-16 mark), 'maybe-text' otherwise.
 */
export function sniffContent(head: Uint8Array): 'binary' | 'maybe-text' {
  if (head.length >= 2 && head[0] === 0xff && head[1] === 0xfe) return 'maybe-text';
  if (head.length >= 2 && head[0] === 0xfe && head[1] === 0xff) return 'maybe-text';
  return hasNulByte(head, SNIFF_BYTES) ? 'binary' : 'maybe-text';
}

/**
 * Encodes a text back to bytes in its format. For `decodeText`'s output this is the original
 * content byte for byte. Throws a RangeError when a UTF-16 text holds a lone surrogate (no
 * decoded text does).
 */
export function encodeText(decoded: TextFormat & { readonly text: string }): Uint8Array {
  const { text, bom, encoding } = decoded;
  if (encoding === 'utf8') {
    const body = utf8Encoder.encode(text);
    if (!bom) return body;
    const out = new Uint8Array(body.length + UTF8_BOM.length);
    out.set(UTF8_BOM, 0);
    out.set(body, UTF8_BOM.length);
    return out;
  }
  if (!isWellFormedUtf16(text)) throw new RangeError('text holds a lone surrogate');
  const offset = bom ? 2 : 0;
  const out = new Uint8Array(offset + text.length * 2);
  const littleEndian = encoding === 'utf16le';
  const view = new DataView(out.buffer, out.byteOffset, out.byteLength);
  if (bom) view.setUint16(0, 0xfeff, littleEndian);
  for (let i = 0; i < text.length; i += 1) {
    view.setUint16(offset + i * 2, text.charCodeAt(i), littleEndian);
  }
  return out;
}

/** The line endings `text` holds. A text without any line break counts as 'lf'. */
export function detectEol(text: string): EolStyle {
  let lf = false;
  let crlf = false;
  for (let i = 0; i < text.length; i += 1) {
    const c = text.charCodeAt(i);
    if (c === 0x0d) {
      if (text.charCodeAt(i + 1) === 0x0a) {
        crlf = true;
        i += 1;
      } else {
        return 'mixed';
      }
    } else if (c === 0x0a) {
      lf = true;
    }
    if (lf && crlf) return 'mixed';
  }
  return crlf ? 'crlf' : 'lf';
}

/** Whether `text` has no lone (unpaired) surrogate. */
export function isWellFormedUtf16(text: string): boolean {
  for (let i = 0; i < text.length; i += 1) {
    const c = text.charCodeAt(i);
    if (c >= 0xd800 && c <= 0xdbff) {
      const next = text.charCodeAt(i + 1);
      if (!(next >= 0xdc00 && next <= 0xdfff)) return false;
      i += 1;
    } else if (c >= 0xdc00 && c <= 0xdfff) {
      return false;
    }
  }
  return true;
}

function decodeUtf16(bytes: Uint8Array, encoding: 'utf16le' | 'utf16be'): DecodedText | undefined {
  if (bytes.length % 2 !== 0) return undefined;
  const littleEndian = encoding === 'utf16le';
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const units = (bytes.length - 2) / 2;
  const sniffUnits = SNIFF_BYTES / 2;
  const parts: string[] = [];
  const block = 4096;
  for (let start = 0; start < units; start += block) {
    const end = Math.min(units, start + block);
    const codes = new Array<number>(end - start);
    for (let i = start; i < end; i += 1) {
      const code = view.getUint16(2 + i * 2, littleEndian);
      if (code === 0 && i < sniffUnits) return undefined;
      codes[i - start] = code;
    }
    parts.push(String.fromCharCode(...codes));
  }
  const text = parts.join('');
  if (!isWellFormedUtf16(text)) return undefined;
  return { text, eol: detectEol(text), bom: true, encoding };
}

function hasNulByte(bytes: Uint8Array, limit: number): boolean {
  const end = Math.min(bytes.length, limit);
  for (let i = 0; i < end; i += 1) if (bytes[i] === 0) return true;
  return false;
}

function startsWith(bytes: Uint8Array, prefix: readonly number[]): boolean {
  if (bytes.length < prefix.length) return false;
  return prefix.every((b, i) => bytes[i] === b);
}
