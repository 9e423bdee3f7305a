import assert from 'node:assert/strict';
import { test } from 'node:test';
import { joinFlagValues } from '../src/harness/args.js';

test('experiment flags take the next word as their value; booleans and --k=v stay as they are', () => {
  assert.deepEqual(
    joinFlagValues(['wal', '--crash', '500', '--quick', '--runs=7', '--only', 'a,b', '--full']),
    ['wal', '--crash=500', '--quick', '--runs=7', '--only=a,b', '--full'],
  );
  assert.deepEqual(joinFlagValues(['serve', '--verbose', '--quick']), ['serve', '--verbose', '--quick']);
});
