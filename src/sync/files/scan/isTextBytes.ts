import { isUtf8 } from 'node:buffer';
import {
  DEFAULT_MAX_TEXT_BYTES,
  SNIFF_BYTES,
  decodeText,
  sniffContent,
} from '../../../core/files/textCodec';

/**
 * `decodeText`'s verdict (text or binary) without building the text: the scan classifies every
 * file, and for UTF-8 (nearly all text) Node checks the bytes natively instead of decoding them
 * into a string that is thrown away. UTF-16 (marked by its byte order mark) is decoded as before.
 */
export function isTextBytes(bytes: Uint8Array, maxTextBytes = DEFAULT_MAX_TEXT_BYTES): boolean {
  if (bytes.length > maxTextBytes) return false;
  if (sniffContent(bytes.subarray(0, SNIFF_BYTES)) === 'binary') return false;
  const utf16 =
    bytes.length >= 2 &&
    ((bytes[0] === 0xff && bytes[1] === 0xfe) || (bytes[0] === 0xfe && bytes[1] === 0xff));
  return utf16 ? decodeText(bytes, { maxTextBytes }) !== undefined : isUtf8(bytes);
}
