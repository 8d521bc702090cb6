/**
 * Client for the Live Scoreboard push protocol (docs/push.md).
 *
 * `subscribe(board, options)` keeps one live view of a board: a WebSocket on
 * `/v1/leaderboards/{board}/ws` (snapshot first, then updates, each a full top 10),
 * falling back to Server-Sent Events on `/v1/leaderboards/{board}/events` when the
 * WebSocket fails to connect `sseFallbackAfter` times in a row.
 *
 * - Versions only move forward: within one board id a frame at or below the last
 *   delivered version is dropped (a different board id, e.g. a new daily window,
 *   starts a new sequence).
 * - After a reconnect the client sends `{"type":"resume","version":<last>}`; over SSE
 *   the browser sends `Last-Event-ID` by itself.
 * - Reconnects wait `random(0, min(backoffMaxMs, backoffInitialMs * 2^attempt))`
 *   (exponential backoff, full jitter); the attempt counter resets once a frame arrives.
 * - Heartbeat timeout: the gateway sends `{"type":"heartbeat"}` after 15 s without a
 *   frame; with no frame for `pingAfterMs` the client sends `{"type":"ping"}` (answered
 *   by `pong`), and with no frame at all for `heartbeatTimeoutMs` it reconnects.
 * - Close codes: 1008 (policy violation: unknown board, Origin, bad frames) and 1003
 *   stop for good (status `stopped`); anything else (1001 going away, 1012 restart,
 *   1013 try again later, 1006 dropped, ...) is retried with backoff.
 *
 * No runtime dependencies; runs in browsers (and anywhere `WebSocket`/`EventSource`
 * exist or are passed in the options).
 */
/** Close codes after which retrying cannot help. */
export const TERMINAL_CLOSE_CODES = new Set([1003, 1008]);
/** Full-jitter exponential backoff: uniform in [0, min(max, initial * 2^attempt)). */
export function backoffDelay(attempt, initialMs = 500, maxMs = 10000, random = Math.random) {
    const ceiling = Math.min(maxMs, initialMs * 2 ** Math.min(attempt, 30));
    return Math.floor(random() * ceiling);
}
function endpoint(base, board, transport) {
    const url = new URL(base);
    const path = `/v1/leaderboards/${encodeURIComponent(board)}/${transport === 'websocket' ? 'ws' : 'events'}`;
    url.pathname = url.pathname.replace(/\/+$/, '') + path;
    url.search = '';
    url.hash = '';
    if (transport === 'websocket')
        url.protocol = url.protocol === 'https:' ? 'wss:' : 'ws:';
    return url.toString();
}
function defaultBase() {
    const loc = globalThis.location;
    if (!loc || !/^https?:$/.test(loc.protocol)) {
        throw new Error('subscribe: options.url is required outside an http(s) page');
    }
    return loc.origin;
}
function readFrame(raw) {
    if (typeof raw !== 'object' || raw === null)
        return null;
    const frame = raw;
    if (frame.type !== 'snapshot' && frame.type !== 'update')
        return null;
    if (typeof frame.version !== 'number' || !Number.isFinite(frame.version))
        return null;
    if (!Array.isArray(frame.entries))
        return null;
    const entries = frame.entries.map((item, index) => {
        const e = (typeof item === 'object' && item !== null ? item : {});
        return {
            rank: typeof e.rank === 'number' && Number.isFinite(e.rank) ? e.rank : index + 1,
            user_id: String(e.user_id ?? ''),
            score: typeof e.score === 'number' || typeof e.score === 'string' ? e.score : '',
        };
    });
    return { type: frame.type, board: typeof frame.board === 'string' ? frame.board : '', version: frame.version, entries };
}
export function subscribe(board, options = {}) {
    const base = options.url ?? defaultBase();
    const backoffInitialMs = options.backoffInitialMs ?? 500;
    const backoffMaxMs = options.backoffMaxMs ?? 10000;
    const pingAfterMs = options.pingAfterMs ?? 20000;
    const heartbeatTimeoutMs = options.heartbeatTimeoutMs ?? 40000;
    const sseFallbackAfter = options.sseFallbackAfter ?? 3;
    const WS = options.WebSocket ?? globalThis.WebSocket;
    const ES = options.EventSource ?? globalThis.EventSource;
    let status = 'connecting';
    let transport = WS ? 'websocket' : 'sse';
    let version = null;
    let streamBoard = null;
    let attempt = 0; // failed attempts since the last useful frame, for backoff
    let wsFailures = 0; // WebSocket connects in a row that never opened
    let socket = null;
    let source = null;
    let reconnectTimer = null;
    let pingTimer = null;
    let deadTimer = null;
    let done = false;
    function report(next, extra = {}) {
        status = next;
        options.onStatus?.({ status: next, transport, attempt, ...extra });
    }
    function deliver(frame) {
        const sameStream = streamBoard === null || frame.board === '' || frame.board === streamBoard;
        if (sameStream && version !== null && frame.version <= version)
            return; // never go back
        if (frame.board !== '')
            streamBoard = frame.board;
        version = frame.version;
        attempt = 0; // the connection proved useful: the next drop retries quickly again
        if (frame.type === 'snapshot')
            options.onSnapshot?.(frame);
        else
            options.onUpdate?.(frame);
    }
    function receive(data) {
        if (typeof data !== 'string')
            return;
        let parsed;
        try {
            parsed = JSON.parse(data);
        }
        catch {
            return; // the next valid frame carries the full top 10 anyway
        }
        const type = parsed?.type;
        if (type === 'error') {
            options.onError?.(String(parsed.detail ?? 'The server reported an error.'));
            return;
        }
        const frame = readFrame(parsed);
        if (frame)
            deliver(frame);
        // heartbeat, pong or an unknown type: only proves the connection is alive
    }
    function clearTimers() {
        if (pingTimer !== null)
            clearTimeout(pingTimer);
        if (deadTimer !== null)
            clearTimeout(deadTimer);
        pingTimer = deadTimer = null;
    }
    /** (Re)arm the liveness timers: called on open and on every frame. */
    function alive(ws) {
        clearTimers();
        if (pingAfterMs > 0) {
            pingTimer = setTimeout(() => {
                try {
                    ws.send('{"type":"ping"}');
                }
                catch {
                    /* closing already */
                }
            }, pingAfterMs);
        }
        if (heartbeatTimeoutMs > 0) {
            deadTimer = setTimeout(() => {
                drop();
                retry({ reason: 'heartbeat timeout' });
            }, heartbeatTimeoutMs);
        }
    }
    /** Forget the current connection without waiting for its close handshake. */
    function drop(code = 4000, reason = 'client reconnecting') {
        clearTimers();
        const ws = socket;
        socket = null;
        if (ws) {
            ws.onopen = ws.onmessage = ws.onclose = ws.onerror = null;
            try {
                ws.close(code, reason);
            }
            catch {
                /* already closed */
            }
        }
        const es = source;
        source = null;
        if (es) {
            es.onopen = es.onmessage = es.onerror = null;
            es.removeEventListener('leaderboard', onSseEvent);
            es.close();
        }
    }
    function retry(extra = {}) {
        if (done || reconnectTimer !== null)
            return;
        const delayMs = backoffDelay(attempt, backoffInitialMs, backoffMaxMs);
        attempt += 1;
        report('reconnecting', { ...extra, delayMs });
        reconnectTimer = setTimeout(connect, delayMs);
    }
    function stop(code, reason) {
        drop();
        done = true;
        report('stopped', { code, reason });
    }
    function connect() {
        reconnectTimer = null;
        if (done)
            return;
        if (!WS || (ES && sseFallbackAfter > 0 && wsFailures >= sseFallbackAfter))
            connectSse();
        else
            connectWebSocket();
    }
    function connectWebSocket() {
        transport = 'websocket';
        let ws;
        try {
            ws = new WS(endpoint(base, board, 'websocket'));
        }
        catch (error) {
            wsFailures += 1;
            retry({ reason: String(error) });
            return;
        }
        socket = ws;
        let opened = false;
        ws.onopen = () => {
            opened = true;
            wsFailures = 0;
            alive(ws);
            if (version !== null)
                ws.send(JSON.stringify({ type: 'resume', version }));
            report('live');
        };
        ws.onmessage = (event) => {
            alive(ws);
            receive(event.data);
        };
        // 'error' is always followed by 'close', which decides what happens next.
        ws.onclose = (event) => {
            socket = null;
            clearTimers();
            if (TERMINAL_CLOSE_CODES.has(event.code)) {
                stop(event.code, event.reason);
                return;
            }
            if (!opened)
                wsFailures += 1;
            retry({ code: event.code, reason: event.reason });
        };
    }
    function onSseEvent(event) {
        receive(event.data);
    }
    function connectSse() {
        transport = 'sse';
        let es;
        try {
            es = new ES(endpoint(base, board, 'sse'));
        }
        catch (error) {
            wsFailures = 0;
            retry({ reason: String(error) });
            return;
        }
        source = es;
        let opened = false;
        es.onopen = () => {
            opened = true;
            report('live');
        };
        es.addEventListener('leaderboard', onSseEvent);
        es.onmessage = (event) => receive(event.data);
        es.onerror = () => {
            if (opened && es.readyState !== 2) {
                // Dropped after working: the browser reconnects by itself and resumes with Last-Event-ID.
                report('reconnecting', { reason: 'event stream interrupted' });
                return;
            }
            // Refused (4xx/5xx: the browser gives up) or never connected (gateway down): give the
            // WebSocket another round, which can also say why (close code); whichever connects first wins.
            drop();
            wsFailures = 0;
            retry({ reason: opened ? 'event stream refused' : 'event stream failed to connect' });
        };
    }
    report('connecting');
    connect();
    return {
        close() {
            if (done)
                return;
            if (reconnectTimer !== null)
                clearTimeout(reconnectTimer);
            reconnectTimer = null;
            drop(1000, 'client closed');
            done = true;
            report('closed');
        },
        get status() {
            return status;
        },
        get transport() {
            return transport;
        },
        get version() {
            return version;
        },
        get board() {
            return streamBoard;
        },
    };
}
