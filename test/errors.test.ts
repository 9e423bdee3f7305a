import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import * as errors from '../src/errors.js';

// dist/test/errors.test.js -> repository root
const root = new URL('../../', import.meta.url);
const source = readFileSync(new URL('src/errors.ts', root), 'utf8');
const documentation = readFileSync(new URL('docs/errors.md', root), 'utf8');

const codesIn = (text: string): Set<string> => new Set(text.match(/SLUICE_ERR_[A-Z0-9_]+/g) ?? []);

test('every code in src/errors.ts is documented in docs/errors.md', () => {
  const documented = codesIn(documentation);
  const missing = [...codesIn(source)].filter((code) => !documented.has(code));
  assert.deepEqual(missing, [], `add these codes to docs/errors.md: ${missing.join(', ')}`);
});

test('every code documented in docs/errors.md exists in src/errors.ts', () => {
  const defined = codesIn(source);
  const gone = [...codesIn(documentation)].filter((code) => !defined.has(code));
  assert.deepEqual(gone, [], `documented but not defined: ${gone.join(', ')}`);
});

test('each code is defined by exactly one class', () => {
  const definitions = source.match(/super\(\s*'SLUICE_ERR_[A-Z0-9_]+'/g) ?? [];
  const codes = definitions.map((definition) => definition.replace(/^super\(\s*'/, '').replace(/'$/, ''));
  assert.equal(new Set(codes).size, codes.length, `a code is used twice: ${codes.join(', ')}`);
});

test('each documented row names the class that carries the code', () => {
  for (const match of documentation.matchAll(/\| `(SLUICE_ERR_[A-Z0-9_]+)` \| `(\w+)` \|/g)) {
    const [, code, className] = match;
    const exported = (errors as Record<string, unknown>)[className!];
    assert.equal(typeof exported, 'function', `${className} (for ${code}) is not exported by src/errors.ts`);
    const start = source.indexOf(`class ${className} extends SluiceError`);
    assert.notEqual(start, -1, `${className} is not declared in src/errors.ts`);
    const next = source.indexOf('\nexport ', start);
    const body = source.slice(start, next === -1 ? undefined : next);
    assert.ok(body.includes(`'${code}'`), `${className} does not carry ${code}`);
  }
});

test('SluiceError keeps the cause and its OS code', () => {
  const cause = Object.assign(new Error('open failed'), { code: 'ENOENT' });
  const error = new errors.FileNotFoundError('/nope', cause);
  assert.ok(error instanceof errors.SluiceError);
  assert.equal(error.code, 'SLUICE_ERR_FILE_NOT_FOUND');
  assert.equal(error.syscallCode, 'ENOENT');
  assert.equal(error.cause, cause);
  assert.equal(error.name, 'FileNotFoundError');
  assert.match(error.message, /\/nope/);
});
