// One live board panel (a `section` or `aside` with `data-board`, holding `.status`, `.version`,
// `.error`, a table with a tbody and `.empty`): subscribes through the push SDK and renders the top 10
// with each row's move since the previous frame. Used by the dashboard (dashboard.js) and the
// moderation page (moderation.js). User ids are user-controlled text: every value goes in via textContent.
import { subscribe } from './scoreboard-push.js';

const TOP_N = 10;

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

/** One board panel: renders what its subscription delivers. */
export class BoardPanel {
  constructor(root) {
    this.root = root;
    this.board = root.dataset.board;
    this.statusElement = root.querySelector('.status');
    this.versionElement = root.querySelector('.version');
    this.errorElement = root.querySelector('.error');
    this.table = root.querySelector('table');
    this.body = root.querySelector('tbody');
    this.emptyMessage = root.querySelector('.empty');
    this.ranks = null;
    this.subscription = null;
    this.setStatus('connecting');
  }

  connect() {
    // Versions, resume, backoff, heartbeat timeout, close codes and the SSE fallback
    // are the SDK's job (clients/js, served as /static/scoreboard-push.js).
    const show = (frame) => this.apply(frame);
    try {
      this.subscription = subscribe(this.board, {
        onSnapshot: show,
        onUpdate: show,
        onStatus: (info) => this.onStatus(info),
        onError: (detail) => this.showError(detail),
      });
    } catch (error) {
      this.setStatus('stopped'); // e.g. page opened from file://, no host to connect to
      this.showError(String(error?.message ?? error));
    }
  }

  onStatus(info) {
    this.setStatus(info.status);
    if (info.status === 'stopped') {
      this.showError(`The server refused this board (${info.code}${info.reason ? `: ${info.reason}` : ''}).`);
    }
  }

  apply(frame) {
    this.showError('');
    this.versionElement.textContent = String(frame.version);
    this.render(frame.entries.slice(0, TOP_N));
  }

  render(entries) {
    const moves = detectMoves(this.ranks, entries);
    this.body.replaceChildren(...entries.map((entry) => renderRow(entry, moves.get(entry.user_id))));
    this.ranks = new Map(entries.map((entry) => [entry.user_id, entry.rank]));
    this.table.hidden = entries.length === 0;
    this.emptyMessage.hidden = entries.length > 0;
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
