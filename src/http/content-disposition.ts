/**
 * `Content-Disposition: attachment` with a file name every browser shows correctly:
 * an ASCII `filename` fallback and, for other names, `filename*=UTF-8''...` (RFC 6266 §4.3,
 * RFC 8187 (formerly 5987) §3.2).
 */

/** RFC 8187 §3.2.1 attr-char: ALPHA / DIGIT / "!" / "#" / "$" / "&" / "+" / "-" / "." / "^" / "_" / "`" / "|" / "~" */
const ATTR_CHAR = /[A-Za-z0-9!#$&+\-.^_`|~]/;

export function contentDisposition(filename: string, type: 'attachment' | 'inline' = 'attachment'): string {
  const name = cleanName(filename);
  const fallback = asciiFallback(name);
  const quoted = `"${fallback.replace(/["\\]/g, '\\$&')}"`;
  if (fallback === name) return `${type}; filename=${quoted}`;
  return `${type}; filename=${quoted}; filename*=UTF-8''${encodeExtValue(name)}`;
}

/** The last path segment, without control characters; "download" when nothing is left. */
function cleanName(filename: string): string {
  const base = filename.split(/[/\\]/).pop() ?? '';
  // biome-ignore lint/suspicious/noControlCharactersInRegex: removing control characters is the point
  const cleaned = base.replace(/[\u0000-\u001f\u007f]/g, '').trim();
  return cleaned === '' || cleaned === '.' || cleaned === '..' ? 'download' : cleaned;
}

/** Printable ASCII only; each other character becomes `_` (after stripping accents where possible). */
function asciiFallback(name: string): string {
  return name
    .normalize('NFKD')
    .replace(/[\u0300-\u036f]/g, '')
    .replace(/[^\x20-\x7e]/g, '_');
}

function encodeExtValue(value: string): string {
  let encoded = '';
  for (const byte of Buffer.from(value, 'utf8')) {
    const char = String.fromCharCode(byte);
    encoded +=
      byte < 0x80 && ATTR_CHAR.test(char) ? char : `%${byte.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return encoded;
}
