import assert from 'node:assert/strict';
import { test } from 'node:test';
import { contentDisposition } from '../../src/http/content-disposition.js';

test('ASCII names: a quoted filename only', () => {
  assert.equal(contentDisposition('book.zip'), 'attachment; filename="book.zip"');
  assert.equal(contentDisposition('a "b".mp3'), 'attachment; filename="a \\"b\\".mp3"');
  // a backslash is a path separator on Windows: only the last segment is kept
  assert.equal(contentDisposition('dir\\c.mp3'), 'attachment; filename="c.mp3"');
  assert.equal(contentDisposition('x.txt', 'inline'), 'inline; filename="x.txt"');
});

test('non-ASCII names: an ASCII fallback and an RFC 8187 filename*', () => {
  assert.equal(
    contentDisposition('Les Misérables.zip'),
    `attachment; filename="Les Miserables.zip"; filename*=UTF-8''Les%20Mis%C3%A9rables.zip`,
  );
  const russian = contentDisposition('Война и мир.zip');
  assert.match(russian, /filename="_____ _ ___\.zip"/);
  assert.match(
    russian,
    /filename\*=UTF-8''%D0%92%D0%BE%D0%B9%D0%BD%D0%B0%20%D0%B8%20%D0%BC%D0%B8%D1%80\.zip$/,
  );
  // the encoded form decodes back to the name
  const encoded = russian.split("UTF-8''")[1]!;
  assert.equal(decodeURIComponent(encoded), 'Война и мир.zip');
});

test('path separators, control characters and empty names are neutralised', () => {
  assert.equal(contentDisposition('../../etc/passwd'), 'attachment; filename="passwd"');
  assert.equal(contentDisposition('a\r\nSet-Cookie: x.mp3'), 'attachment; filename="aSet-Cookie: x.mp3"');
  assert.equal(contentDisposition('..'), 'attachment; filename="download"');
  assert.equal(contentDisposition(''), 'attachment; filename="download"');
});
