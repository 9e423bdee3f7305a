import assert from 'node:assert/strict';
import { test } from 'node:test';
import { PendingTable } from '../../src/net/pending-table.js';

test('ids are unique among pending entries, found by id, and freed by delete; the table grows', () => {
  const table = new PendingTable<{ id: number }>();
  const entries = Array.from({ length: 1000 }, () => ({ id: 0 }));
  for (const entry of entries) table.add(entry);
  assert.equal(table.size, 1000);
  assert.equal(new Set(entries.map((entry) => entry.id)).size, 1000);
  for (const entry of entries) assert.equal(table.get(entry.id), entry);
  assert.equal(table.get(123_456), undefined, 'an id never given out');
  for (const entry of entries.slice(0, 500)) assert.ok(table.delete(entry));
  assert.equal(table.delete(entries[0]!), false, 'already removed');
  assert.equal(table.get(entries[0]!.id), undefined, 'a late reply finds nothing');
  assert.equal(table.size, 500);
  // new ids never collide with the 500 still pending, however their slots line up
  const more = Array.from({ length: 2000 }, () => ({ id: 0 }));
  for (const entry of more) table.add(entry);
  const pendingIds = [...entries.slice(500), ...more].map((entry) => entry.id);
  assert.equal(new Set(pendingIds).size, 2500);
  const drained = table.drain();
  assert.equal(drained.length, 2500);
  assert.deepEqual(
    drained.map((entry) => entry.id),
    [...pendingIds].sort((a, b) => a - b),
    'drained in id order',
  );
  assert.equal(table.size, 0);
});

test('an entry never added is not deleted', () => {
  const table = new PendingTable<{ id: number }>();
  const added = { id: 0 };
  table.add(added);
  assert.equal(table.delete({ id: 0 }), false);
  assert.equal(table.delete({ id: added.id }), false, 'same id, another entry');
  assert.ok(table.delete(added));
});
