// Live dashboard served by the gateway at GET /.
//
// One WebSocket per board panel (`section[data-board]` in index.html) on
// /v1/leaderboards/<board>/ws. Frames: snapshot, then update per change (full
// top 10 each time), heartbeat, error. Versions only move forward: a frame whose
// version is not newer than the last one shown is dropped, and after a reconnect
// the client sends {"type": "resume", "version": <last seen>}.
// User ids are user-controlled text, so every value goes in via textContent.
'use strict';

(() => {
  const BACKOFF_FIRST_MS = 500;
  const BACKOFF_MAX_MS = 10_000;
  const TOP_N = 10;

  /** Delay before reconnect attempt `attempt` (0-based): 0.5 s doubling, capped at 10 s. */
  function backoffDelay(attempt) {
    const ceiling = Math.min(BACKOFF_MAX_MS, BACKOFF_FIRST_MS * 2 ** attempt);
    // Keep at least half the delay, randomise the rest, so clients cut off together
    // by a gateway restart do not all come back in the same instant.
    return ceiling / 2 + Math.random() * (ceiling / 2);
  }

  function socketUrl(board) {
    const scheme = location.protocol === 'https:' ? 'wss:' : 'ws:';
    return `${scheme}//${location.host}/v1/leaderboards/${encodeURIComponent(board)}/ws`;
  }

  /**
   * How each entry moved since the previously shown top N.
   * `previousRanks` is null before the first frame: nothing is marked on first paint.
   */
  function detectMoves(previousRanks, entries) {
    const moves = new Map();
    for (const entry of entries) {
      const before = previousRanks?.get(entry.user_id);
      if (!previousRanks) moves.set(entry.user_id, { kind: 'same', places: 0 });
      else if (before === undefined) moves.set(entry.user_id, { kind: 'new', places: 0 });
      else if (entry.rank < before) moves.set(entry.user_id, { kind: 'up', places: before - entry.rank });
      else if (entry.rank > before) moves.set(entry.user_id, { kind: 'down', places: entry.rank - before });
      else moves.set(entry.user_id, { kind: 'same', places: 0 });
    }
    return moves;
  }

  /** Normalise one entry from the wire; rank falls back to list position. */
  function readEntry(raw, index) {
    return {
      rank: Number.isFinite(raw?.rank) ? raw.rank : index + 1,
      user_id: String(raw?.user_id ?? ''),
      score: raw?.score ?? '',
    };
  }

  function textElement(tag, className, text) {
    const element = document.createElement(tag);
    if (className) element.className = className;
    element.textContent = text;
    return element;
  }

  function plural(places) {
    return places === 1 ? '1 place' : `${places} places`;
  }

  function moveCell(move) {
    const cell = document.createElement('td');
    cell.className = 'move';
    if (move.kind === 'up' || move.kind === 'down') {
      const arrow = textElement('span', 'arrow', move.kind === 'up' ? '▲' : '▼');
      arrow.setAttribute('aria-hidden', 'true');
      const label = `moved ${move.kind} ${plural(move.places)}`;
      cell.append(arrow, textElement('span', 'visually-hidden', label));
      cell.title = label;
    } else if (move.kind === 'new') {
      cell.append(textElement('span', 'badge-new', 'new'));
    }
    return cell;
  }

  function renderRow(entry, move) {
    const row = document.createElement('tr');
    row.dataset.user = entry.user_id;
    row.dataset.move = move.kind;
    const user = textElement('th', 'user', entry.user_id);
    user.scope = 'row';
    user.title = entry.user_id; // long ids are truncated with an ellipsis; the tooltip shows them whole
    row.append(
      textElement('td', 'rank', String(entry.rank)),
      user,
      textElement('td', 'score', String(entry.score)),
      moveCell(move),
    );
    return row;
  }

  /** One board panel: owns its socket, reconnect timer and last shown version. */
  class BoardPanel {
    constructor(root) {
      this.root = root;
      this.board = root.dataset.board;
      this.statusElement = root.querySelector('.status');
      this.versionElement = root.querySelector('.version');
      this.errorElement = root.querySelector('.error');
      this.table = root.querySelector('table');
      this.body = root.querySelector('tbody');
      this.emptyMessage = root.querySelector('.empty');
      this.version = null;
      this.streamBoard = null;
      this.ranks = null;
      this.attempt = 0;
      this.reconnectTimer = null;
      this.setStatus('connecting');
    }

    connect() {
      this.reconnectTimer = null;
      let socket;
      try {
        socket = new WebSocket(socketUrl(this.board));
      } catch {
        this.scheduleReconnect(); // e.g. page opened from file://, no host to connect to
        return;
      }
      socket.addEventListener('open', () => {
        this.setStatus('live');
        if (this.version !== null) {
          socket.send(JSON.stringify({ type: 'resume', version: this.version }));
        }
      });
      socket.addEventListener('message', (event) => this.receive(event.data));
      // An 'error' event is always followed by 'close', which does the reconnecting.
      socket.addEventListener('close', () => this.scheduleReconnect());
    }

    scheduleReconnect() {
      if (this.reconnectTimer !== null) return;
      this.setStatus('reconnecting');
      const delay = backoffDelay(this.attempt);
      this.attempt += 1;
      this.reconnectTimer = setTimeout(() => this.connect(), delay);
    }

    receive(data) {
      let frame;
      try {
        frame = JSON.parse(data);
      } catch {
        return; // not ours to interpret; the next valid frame carries the full top 10 anyway
      }
      switch (frame?.type) {
        case 'snapshot':
        case 'update':
          this.apply(frame);
          break;
        case 'error':
          this.showError(String(frame.detail ?? 'The server reported an error.'));
          break;
        default:
          break; // heartbeat, or a frame type this page does not know yet
      }
    }

    apply(frame) {
      if (!Number.isFinite(frame.version) || !Array.isArray(frame.entries)) return;
      // A different board id in the frame (e.g. a new daily window) starts a new version sequence.
      const sameStream = this.streamBoard === null || frame.board === undefined || frame.board === this.streamBoard;
      if (sameStream && this.version !== null && frame.version <= this.version) return;
      if (typeof frame.board === 'string') this.streamBoard = frame.board;
      this.version = frame.version;
      this.attempt = 0; // the connection proved useful, so the next drop retries quickly again
      this.showError('');
      this.render(frame.entries.slice(0, TOP_N).map(readEntry));
    }

    render(entries) {
      const moves = detectMoves(this.ranks, entries);
      this.body.replaceChildren(...entries.map((entry) => renderRow(entry, moves.get(entry.user_id))));
      this.ranks = new Map(entries.map((entry) => [entry.user_id, entry.rank]));
      this.table.hidden = entries.length === 0;
      this.emptyMessage.hidden = entries.length > 0;
      this.versionElement.textContent = String(this.version);
    }

    setStatus(status) {
      this.root.dataset.state = status;
      // Only write on change so screen readers hear transitions, not every retry.
      if (this.statusElement.textContent !== status) this.statusElement.textContent = status;
    }

    showError(detail) {
      this.errorElement.textContent = detail;
      this.errorElement.hidden = detail === '';
    }
  }

  function start() {
    for (const root of document.querySelectorAll('section[data-board]')) {
      new BoardPanel(root).connect();
    }
  }

  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', start);
  else start();
})();
