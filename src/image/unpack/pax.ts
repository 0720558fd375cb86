/**
 * pax.ts — PAX extended headers: long names, big numbers, and extended attributes.
 *
 * The 1988 ustar header has fixed fields (100-byte name, 8-byte octal uid…). POSIX.1-2001 added
 * the PAX header: a pseudo-entry (typeflag `x`) just before a real entry, whose body is records
 * `"<length> <key>=<value>\n"` that override the next entry's fields (`path`, `linkpath`, `uid`,
 * `mtime` with sub-second precision…). Extended attributes travel as `SCHILY.xattr.<name>` records
 * (the name comes from Jörg Schilling's star); Docker, Go's archive/tar and umoci all use them, for
 * file capabilities (`security.capability`) above all.
 *
 * xattr values are *bytes*, not text: `security.capability` for `cap_setuid` contains 0x80, which
 * is not valid UTF-8. tar-stream decodes PAX values as UTF-8 (lossy), so we keep our own copy of
 * the raw records by wrapping its (internal) long-header decoder; if a tar-stream update removes
 * that method we fall back to its decoded strings, which are exact for every value that is valid
 * UTF-8.
 *
 * Try: `touch f && setcap cap_net_raw+ep f && tar --xattrs --xattrs-include='*' -cf x.tar f && grep
 * -ac security.capability x.tar` → `1` (the capability travels as a PAX header).
 */
import type { Extract, Header } from 'tar-stream';
import { RefusedEntry } from './layer-path.js';

const XATTR_PREFIX = 'SCHILY.xattr.';

/** Parses a PAX body into key → raw value bytes. Malformed records end the parse (as tar-stream does). */
export function parsePaxRecords(body: Buffer): Map<string, Buffer> {
  const records = new Map<string, Buffer>();
  let offset = 0;
  while (offset < body.length) {
    const space = body.indexOf(0x20, offset);
    if (space < 0) break;
    const length = Number.parseInt(body.subarray(offset, space).toString('latin1'), 10);
    if (!Number.isSafeInteger(length) || length <= space - offset + 1 || offset + length > body.length) break;
    const record = body.subarray(space + 1, offset + length - 1); // drop the trailing "\n"
    const equals = record.indexOf(0x3d);
    if (equals < 0) break;
    records.set(record.subarray(0, equals).toString('utf8'), Buffer.from(record.subarray(equals + 1)));
    offset += length;
  }
  return records;
}

type ExtractInternals = Extract & {
  _decodeLongHeader?: (buffer: Buffer) => void;
  _header?: { type?: string } | null;
};

/**
 * Keeps the raw PAX records of each entry. Returns a function to call at the start of every
 * 'entry' event: it hands over (and forgets) the records that belong to that entry.
 */
export function captureRawPax(extractor: Extract): () => Map<string, Buffer> | undefined {
  const internals = extractor as ExtractInternals;
  const original = internals._decodeLongHeader;
  if (typeof original !== 'function') return () => undefined;
  let global: Map<string, Buffer> | undefined;
  let local: Map<string, Buffer> | undefined;
  internals._decodeLongHeader = function (this: ExtractInternals, buffer: Buffer): void {
    const type = this._header?.type;
    if (type === 'pax-header') local = parsePaxRecords(buffer);
    else if (type === 'pax-global-header') global = parsePaxRecords(buffer);
    original.call(this, buffer);
  };
  return () => {
    if (global === undefined && local === undefined) return undefined;
    const merged = new Map([...(global ?? []), ...(local ?? [])]);
    local = undefined;
    return merged;
  };
}

/** The PAX records of an entry: our raw copy if we have it, else tar-stream's decoded strings. */
export function paxRecordsOf(header: Header, raw: Map<string, Buffer> | undefined): Map<string, Buffer> {
  if (raw !== undefined) return raw;
  const decoded = (header as Header & { pax?: Record<string, string> | null }).pax ?? {};
  return new Map(Object.entries(decoded).map(([key, value]) => [key, Buffer.from(value, 'utf8')]));
}

/**
 * The extended attributes an entry asks for. `trusted.overlay.*` (and `user.overlay.*`, which
 * overlayfs reads with the `userxattr` mount option) are refused: a layer carrying them could
 * forge overlay metadata — an opaque flag, a redirect to another directory, a metacopy — and
 * change what the merged filesystem shows beyond its own files.
 */
export function xattrsOf(records: Map<string, Buffer>): Map<string, Buffer> {
  const xattrs = new Map<string, Buffer>();
  for (const [key, value] of records) {
    if (!key.startsWith(XATTR_PREFIX)) continue;
    const name = key.slice(XATTR_PREFIX.length);
    if (name.includes('\0') || name === '') throw new RefusedEntry(`malformed xattr name ${JSON.stringify(name)}`);
    if (name.startsWith('trusted.overlay.') || name.startsWith('user.overlay.')) {
      throw new RefusedEntry(`carries the overlayfs xattr ${name}, which could forge overlay metadata`);
    }
    xattrs.set(name, value);
  }
  return xattrs;
}

/** PAX numeric overrides for fields too big or too precise for the ustar header. */
export function paxNumber(records: Map<string, Buffer>, key: string): number | undefined {
  const value = records.get(key);
  if (value === undefined) return undefined;
  const number = Number(value.toString('latin1'));
  return Number.isFinite(number) ? number : undefined;
}
