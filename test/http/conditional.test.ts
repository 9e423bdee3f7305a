import assert from 'node:assert/strict';
import { test } from 'node:test';
import { evaluatePreconditions, ifRangeAllows, matchesAny } from '../../src/http/conditional.js';

const validators = { etag: '"abc-1"', lastModified: new Date('2024-05-01T12:00:00Z') };
const after = 'Wed, 01 May 2024 12:00:01 GMT';
const same = 'Wed, 01 May 2024 12:00:00 GMT';
const before = 'Wed, 01 May 2024 11:59:59 GMT';

test('entity tag lists: strong and weak comparison, *', () => {
  assert.ok(matchesAny('"x", "abc-1"', '"abc-1"', 'strong'));
  assert.ok(matchesAny('W/"abc-1"', '"abc-1"', 'weak'));
  assert.ok(!matchesAny('W/"abc-1"', '"abc-1"', 'strong'));
  assert.ok(matchesAny('*', '"abc-1"', 'strong'));
  assert.ok(!matchesAny('"abc-2"', '"abc-1"', 'weak'));
  assert.ok(!matchesAny('abc-1', '"abc-1"', 'weak'));
});

test('If-None-Match gives 304 for GET and HEAD and wins over If-Modified-Since', () => {
  assert.equal(evaluatePreconditions('GET', { 'if-none-match': '"abc-1"' }, validators), 'not-modified');
  assert.equal(evaluatePreconditions('HEAD', { 'if-none-match': 'W/"abc-1"' }, validators), 'not-modified');
  assert.equal(
    evaluatePreconditions('GET', { 'if-none-match': '"old"', 'if-modified-since': after }, validators),
    'proceed',
  );
});

test('If-Modified-Since compares whole seconds', () => {
  assert.equal(evaluatePreconditions('GET', { 'if-modified-since': same }, validators), 'not-modified');
  assert.equal(evaluatePreconditions('GET', { 'if-modified-since': before }, validators), 'proceed');
  assert.equal(evaluatePreconditions('GET', { 'if-modified-since': 'not a date' }, validators), 'proceed');
});

test('If-Match and If-Unmodified-Since fail with 412', () => {
  assert.equal(evaluatePreconditions('GET', { 'if-match': '"other"' }, validators), 'failed');
  assert.equal(evaluatePreconditions('GET', { 'if-match': '"abc-1"' }, validators), 'proceed');
  assert.equal(evaluatePreconditions('GET', { 'if-match': 'W/"abc-1"' }, validators), 'failed');
  assert.equal(evaluatePreconditions('GET', { 'if-unmodified-since': before }, validators), 'failed');
  assert.equal(evaluatePreconditions('GET', { 'if-unmodified-since': same }, validators), 'proceed');
});

test('If-Range: strong tag equal or exact date', () => {
  assert.ok(ifRangeAllows({}, validators));
  assert.ok(ifRangeAllows({ 'if-range': '"abc-1"' }, validators));
  assert.ok(!ifRangeAllows({ 'if-range': 'W/"abc-1"' }, validators));
  assert.ok(!ifRangeAllows({ 'if-range': '"abc-2"' }, validators));
  assert.ok(ifRangeAllows({ 'if-range': same }, validators));
  assert.ok(!ifRangeAllows({ 'if-range': after }, validators));
});
