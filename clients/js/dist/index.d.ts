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
export interface Entry {
    rank: number;
    user_id: string;
    score: number | string;
}
export interface BoardFrame {
    type: 'snapshot' | 'update';
    /** The board id (an alias such as `daily` resolves to e.g. `daily:2026-11-30`). */
    board: string;
    version: number;
    entries: Entry[];
}
export type Status = 'connecting' | 'live' | 'reconnecting' | 'stopped' | 'closed';
export type Transport = 'websocket' | 'sse';
export interface StatusInfo {
    status: Status;
    transport: Transport;
    /** WebSocket close code that caused this status, if any. */
    code?: number;
    reason?: string;
    /** Delay before the next attempt (status `reconnecting`). */
    delayMs?: number;
    /** Consecutive failed attempts so far. */
    attempt: number;
}
type WebSocketCtor = new (url: string) => WebSocket;
type EventSourceCtor = new (url: string) => EventSource;
export interface SubscribeOptions {
    /** Gateway base URL, e.g. `https://scores.example.com`; default: the page's origin. */
    url?: string;
    onSnapshot?: (frame: BoardFrame) => void;
    onUpdate?: (frame: BoardFrame) => void;
    onStatus?: (info: StatusInfo) => void;
    /** `{"type":"error","detail"}` frames: the server did not understand a frame (connection stays open). */
    onError?: (detail: string) => void;
    /** First backoff ceiling (ms), doubled per failed attempt. Default 500. */
    backoffInitialMs?: number;
    /** Backoff ceiling bound (ms). Default 10000. */
    backoffMaxMs?: number;
    /** Send a ping after this long without a frame (ms). Default 20000; 0 disables. */
    pingAfterMs?: number;
    /** Reconnect after this long without any frame (ms). Default 40000; 0 disables. */
    heartbeatTimeoutMs?: number;
    /** Switch to SSE after this many WebSocket connects in a row that never opened. Default 3; 0 never. */
    sseFallbackAfter?: number;
    /** Constructors to use instead of the globals (tests, Node). */
    WebSocket?: WebSocketCtor;
    EventSource?: EventSourceCtor;
}
export interface Subscription {
    /** Stop for good: closes the connection and cancels any pending reconnect. */
    close(): void;
    readonly status: Status;
    readonly transport: Transport;
    /** Last delivered version (null before the first frame). */
    readonly version: number | null;
    /** Board id of the last delivered frame. */
    readonly board: string | null;
}
/** Close codes after which retrying cannot help. */
export declare const TERMINAL_CLOSE_CODES: ReadonlySet<number>;
/** Full-jitter exponential backoff: uniform in [0, min(max, initial * 2^attempt)). */
export declare function backoffDelay(attempt: number, initialMs?: number, maxMs?: number, random?: () => number): number;
export declare function subscribe(board: string, options?: SubscribeOptions): Subscription;
export {};
