// Unit tests of the built module with scripted WebSocket/EventSource fakes: `npm test` (after `npm run build`).
// The same behaviour against the real gateway in Chromium: tests/browser/test_push_sdk.py.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { backoffDelay, subscribe } from '../dist/index.js';

function fakes() {
  const sockets = [];
  const sources = [];
  class FakeSocket {
    constructor(url) { this.url = url; this.sent = []; this.closed = null; sockets.push(this); }
    send(data) { this.sent.push(JSON.parse(data)); }
    close(code, reason) { this.closed = { code, reason }; }
    open() { this.onopen?.({}); }
    frame(obj) { this.onmessage?.({ data: JSON.stringify(obj) }); }
    end(code, reason = '') { this.onclose?.({ code, reason }); }
  }
  class FakeSource {
    constructor(url) { this.url = url; this.readyState = 0; this.listeners = {}; sources.push(this); }
    addEventListener(type, fn) { this.listeners[type] = fn; }
    removeEventListener(type) { delete this.listeners[type]; }
    close() { this.readyState = 2; }
    event(obj) { this.listeners.leaderboard?.({ data: JSON.stringify(obj) }); }
  }
  return { sockets, sources, WebSocket: FakeSocket, EventSource: FakeSource };
}

const tick = (ms = 5) => new Promise((resolve) => setTimeout(resolve, ms));
const frame = (type, version, board = 'global') => ({ type, board, version, entries: [{ rank: 1, user_id: 'a', score: version }] });

test('backoff is full jitter, bounded', () => {
  assert.equal(backoffDelay(0, 500, 10_000, () => 0), 0);
  assert.equal(backoffDelay(3, 500, 10_000, () => 0.999999), 3999);
  assert.equal(backoffDelay(50, 500, 10_000, () => 0.999999), 9999);
});

test('versions only increase; a reconnect resumes from the last version', async () => {
  const f = fakes();
  const seen = [];
  const statuses = [];
  const sub = subscribe('global', {
    url: 'https://example.test/base/', WebSocket: f.WebSocket, EventSource: f.EventSource,
    backoffInitialMs: 1, backoffMaxMs: 2,
    onSnapshot: (x) => seen.push(['snapshot', x.version]), onUpdate: (x) => seen.push(['update', x.version]),
    onStatus: (s) => statuses.push(s.status),
  });
  assert.equal(f.sockets[0].url, 'wss://example.test/base/v1/leaderboards/global/ws');
  f.sockets[0].open();
  assert.deepEqual(f.sockets[0].sent, []);
  f.sockets[0].frame(frame('snapshot', 5));
  f.sockets[0].frame(frame('update', 7));
  f.sockets[0].frame(frame('update', 6)); // older: ignored
  f.sockets[0].frame({ type: 'heartbeat' });
  f.sockets[0].end(1001, 'server shutting down');
  assert.equal(sub.status, 'reconnecting');
  await tick();
  f.sockets[1].open();
  assert.deepEqual(f.sockets[1].sent, [{ type: 'resume', version: 7 }]);
  f.sockets[1].frame(frame('snapshot', 7)); // not newer: ignored
  f.sockets[1].frame(frame('update', 8));
  f.sockets[1].frame(frame('snapshot', 0, 'daily:2026-12-01')); // a new board id starts a new sequence
  assert.deepEqual(seen, [['snapshot', 5], ['update', 7], ['update', 8], ['snapshot', 0]]);
  assert.deepEqual(statuses, ['connecting', 'live', 'reconnecting', 'live']);
  sub.close();
  assert.equal(sub.status, 'closed');
  assert.equal(f.sockets[1].closed.code, 1000);
});

for (const code of [1008, 1003]) {
  test(`close code ${code} stops without retrying`, async () => {
    const f = fakes();
    let last;
    const sub = subscribe('nope', { url: 'http://h', WebSocket: f.WebSocket, backoffInitialMs: 1, onStatus: (s) => { last = s; } });
    f.sockets[0].open();
    f.sockets[0].end(code, 'unknown board');
    await tick(20);
    assert.equal(f.sockets.length, 1);
    assert.equal(sub.status, 'stopped');
    assert.equal(last.code, code);
  });
}

for (const code of [1013, 1001, 1012, 1006]) {
  test(`close code ${code} is retried`, async () => {
    const f = fakes();
    subscribe('global', { url: 'http://h', WebSocket: f.WebSocket, backoffInitialMs: 1, backoffMaxMs: 1 });
    f.sockets[0].open();
    f.sockets[0].end(code);
    await tick(20);
    assert.equal(f.sockets.length, 2);
    f.sockets[1].end(1008); // stop the loop
  });
}

test('heartbeat timeout: ping when idle, reconnect when silent', async () => {
  const f = fakes();
  const sub = subscribe('global', { url: 'http://h', WebSocket: f.WebSocket, pingAfterMs: 10, heartbeatTimeoutMs: 40,
                                    backoffInitialMs: 1, backoffMaxMs: 1 });
  f.sockets[0].open();
  await tick(25);
  assert.deepEqual(f.sockets[0].sent, [{ type: 'ping' }]);
  await tick(40);
  assert.equal(f.sockets[0].closed.code, 4000);
  assert.ok(f.sockets.length >= 2);
  sub.close();
});

test('falls back to SSE after N failed WebSocket connects', async () => {
  const f = fakes();
  const seen = [];
  const sub = subscribe('global', { url: 'http://h:8001', WebSocket: f.WebSocket, EventSource: f.EventSource,
                                    sseFallbackAfter: 2, backoffInitialMs: 1, backoffMaxMs: 1,
                                    onSnapshot: (x) => seen.push(x.version), onUpdate: (x) => seen.push(x.version) });
  f.sockets[0].end(1006);
  await tick(10);
  f.sockets[1].end(1006);
  await tick(10);
  assert.equal(f.sockets.length, 2);
  assert.equal(f.sources.length, 1);
  assert.equal(f.sources[0].url, 'http://h:8001/v1/leaderboards/global/events');
  assert.equal(sub.transport, 'sse');
  f.sources[0].onopen();
  assert.equal(sub.status, 'live');
  f.sources[0].event(frame('snapshot', 3));
  f.sources[0].event(frame('update', 2));
  f.sources[0].event(frame('update', 4));
  assert.deepEqual(seen, [3, 4]);
  sub.close();
  assert.equal(f.sources[0].readyState, 2);
});

test('an event stream that never opens hands back to WebSocket attempts', async () => {
  const f = fakes();
  const sub = subscribe('global', { url: 'http://h', WebSocket: f.WebSocket, EventSource: f.EventSource,
                                    sseFallbackAfter: 1, backoffInitialMs: 1, backoffMaxMs: 1 });
  f.sockets[0].end(1006);
  await tick(10);
  assert.equal(f.sources.length, 1);
  f.sources[0].onerror(); // gateway down: no open before the error
  assert.equal(f.sources[0].readyState, 2);
  await tick(10);
  assert.equal(f.sockets.length, 2);
  assert.equal(sub.transport, 'websocket');
  f.sockets[1].open();
  assert.equal(sub.status, 'live');
  sub.close();
});
