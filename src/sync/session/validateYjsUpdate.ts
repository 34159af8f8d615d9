/**
 * Checks that bytes decode as a Yjs update (encoding v1) without building it: a single pass over
 * the structs and the delete set that reads every field `Y.decodeUpdate` reads and fails wherever
 * it would fail (truncation, integer out of range, unknown struct, content or type ref, unknown
 * `any` tag, invalid UTF-8 in a string, JSON that does not parse), but allocates no Item, ID or
 * content object and does not materialise strings (UTF-8 is checked in place).
 *
 * It is never more lenient than Yjs: every read is bounded by the view itself, where lib0 may read
 * past a subarray's end into the rest of its buffer (and so accept a truncated update). A sub-
 * document (ContentDoc, which Yjs builds a Doc for) is rare; when one is found the verdict is left
 * to `Y.decodeUpdate` itself.
 *
 * Cost: linear in the size of the update; every loop iteration consumes at least one byte or
 * fails, so a hostile count cannot make it spin.
 */
import { isUtf8 } from 'node:buffer';
import * as Y from 'yjs';

export interface YjsUpdateSummary {
  /** True when the update holds at least one struct or one deletion. */
  readonly hasContent: boolean;
}

class Invalid extends Error {}

const BITS5 = 0x1f;
const BIT6 = 0x20;
const BIT7 = 0x40;
const BIT8 = 0x80;
const MAX_SAFE = Number.MAX_SAFE_INTEGER;
const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

class Cursor {
  pos = 0;
  constructor(readonly arr: Uint8Array) {}

  u8(): number {
    const v = this.arr[this.pos];
    if (v === undefined) throw new Invalid('unexpected end of update');
    this.pos += 1;
    return v;
  }

  /** lib0 readVarUint: 7 bits per byte, little end first; over 2^53 is out of range. */
  varUint(): number {
    const arr = this.arr;
    let num = 0;
    let mult = 1;
    while (this.pos < arr.length) {
      const r = arr[this.pos++] ?? 0;
      num += (r & 0x7f) * mult;
      mult *= 128;
      if (r < BIT8) return num;
      if (num > MAX_SAFE) throw new Invalid('integer out of range');
    }
    throw new Invalid('unexpected end of update');
  }

  /** lib0 readVarInt: sign in bit 6 of the first byte. */
  varInt(): void {
    const first = this.u8();
    if ((first & BIT8) === 0) return;
    let num = first & 0x3f;
    let mult = 64;
    while (this.pos < this.arr.length) {
      const r = this.arr[this.pos++] ?? 0;
      num += (r & 0x7f) * mult;
      mult *= 128;
      if (r < BIT8) return;
      if (num > MAX_SAFE) throw new Invalid('integer out of range');
    }
    throw new Invalid('unexpected end of update');
  }

  skip(n: number): void {
    if (n > this.arr.length - this.pos) throw new Invalid('unexpected end of update');
    this.pos += n;
  }

  bytes(): Uint8Array {
    const n = this.varUint();
    const start = this.pos;
    this.skip(n);
    return this.arr.subarray(start, start + n);
  }

  /** A varString: its bytes must be valid UTF-8 (lib0 decodes with a fatal TextDecoder). */
  string(): void {
    const n = this.varUint();
    const start = this.pos;
    this.skip(n);
    // Short ASCII strings (keys, ids) are checked here; anything else by the native validator.
    if (n <= 32) {
      const arr = this.arr;
      let i = start;
      const end = start + n;
      while (i < end && (arr[i] ?? 0) < 0x80) i++;
      if (i === end) return;
    }
    if (!isUtf8(this.arr.subarray(start, start + n))) throw new Invalid('string is not UTF-8');
  }

  decodedString(): string {
    try {
      return utf8.decode(this.bytes());
    } catch {
      throw new Invalid('string is not UTF-8');
    }
  }

  json(): void {
    JSON.parse(this.decodedString());
  }

  /** lib0 readAny, iteratively (a deep nesting cannot exhaust the stack). */
  any(): void {
    // Values still to read at each open array/object level; objects read a key before each.
    const pending: number[] = [1];
    const isObject: boolean[] = [false];
    while (pending.length > 0) {
      const top = pending.length - 1;
      const left = pending[top] ?? 0;
      if (left === 0) {
        pending.pop();
        isObject.pop();
        continue;
      }
      pending[top] = left - 1;
      if (isObject[top] === true) this.string();
      const tag = this.u8();
      switch (tag) {
        case 127: // undefined
        case 126: // null
        case 121: // false
        case 120: // true
          break;
        case 125: // integer
          this.varInt();
          break;
        case 124: // float32
          this.skip(4);
          break;
        case 123: // float64
        case 122: // bigint64
          this.skip(8);
          break;
        case 119: // string
          this.string();
          break;
        case 118: // object
          pending.push(this.varUint());
          isObject.push(true);
          break;
        case 117: // array
          pending.push(this.varUint());
          isObject.push(false);
          break;
        case 116: // Uint8Array
          this.bytes();
          break;
        default:
          throw new Invalid(`unknown any tag ${tag}`);
      }
    }
  }
}

/** What a walk found: a verdict, or 'subdoc' when Yjs itself must decide. */
type Walk = YjsUpdateSummary | 'subdoc';

function walk(c: Cursor): Walk {
  let structs = 0;
  const clients = c.varUint();
  for (let i = 0; i < clients; i++) {
    const count = c.varUint();
    c.varUint(); // client
    c.varUint(); // clock
    for (let j = 0; j < count; j++) {
      const info = c.u8();
      structs += 1;
      if (info === 10) {
        c.varUint(); // Skip length
        continue;
      }
      const ref = info & BITS5;
      if (ref === 0) {
        c.varUint(); // GC length
        continue;
      }
      if ((info & BIT8) !== 0) {
        c.varUint(); // origin
        c.varUint();
      }
      if ((info & BIT7) !== 0) {
        c.varUint(); // right origin
        c.varUint();
      }
      if ((info & (BIT7 | BIT8)) === 0) {
        if (c.varUint() === 1)
          c.string(); // parent: a root type's key…
        else {
          c.varUint(); // …or the id of its item
          c.varUint();
        }
        if ((info & BIT6) !== 0) c.string(); // parentSub
      }
      switch (ref) {
        case 1: // ContentDeleted
          c.varUint();
          break;
        case 2: {
          // ContentJSON
          const n = c.varUint();
          for (let k = 0; k < n; k++) {
            const s = c.decodedString();
            if (s !== 'undefined') JSON.parse(s);
          }
          break;
        }
        case 3: // ContentBinary
          c.bytes();
          break;
        case 4: // ContentString
          c.string();
          break;
        case 5: // ContentEmbed
          c.json();
          break;
        case 6: // ContentFormat
          c.string();
          c.json();
          break;
        case 7: {
          // ContentType: Array, Map, Text, XmlElement (key), XmlFragment, XmlHook (key), XmlText
          const typeRef = c.varUint();
          if (typeRef > 6) throw new Invalid(`unknown type ref ${typeRef}`);
          if (typeRef === 3 || typeRef === 5) c.string();
          break;
        }
        case 8: {
          // ContentAny
          const n = c.varUint();
          for (let k = 0; k < n; k++) c.any();
          break;
        }
        case 9: // ContentDoc: Yjs builds a Doc from its options
          return 'subdoc';
        default:
          throw new Invalid(`unknown content ref ${ref}`);
      }
    }
  }
  let deletes = false;
  const dsClients = c.varUint();
  for (let i = 0; i < dsClients; i++) {
    c.varUint(); // client
    const n = c.varUint();
    if (n > 0) deletes = true;
    for (let k = 0; k < n; k++) {
      c.varUint(); // clock
      c.varUint(); // length
    }
  }
  return { hasContent: structs > 0 || deletes };
}

/** Undefined when `update` is not a Yjs update (v1); else whether it changes anything. */
export function validateYjsUpdate(update: Uint8Array): YjsUpdateSummary | undefined {
  let result: Walk;
  try {
    result = walk(new Cursor(update));
  } catch {
    return undefined;
  }
  if (result !== 'subdoc') return result;
  try {
    // A copy: lib0 must not read past the view into the bytes around it.
    const decoded = Y.decodeUpdate(update.slice());
    return { hasContent: decoded.structs.length > 0 || decoded.ds.clients.size > 0 };
  } catch {
    return undefined;
  }
}
