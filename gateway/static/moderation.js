// Moderation page served by the gateway at GET /moderation (an ES module: see moderation.html).
//
// The moderator pastes an admin JWT; it is kept in sessionStorage (this tab only) and sent only in
// the Authorization header to the api, whose base URL the gateway gives at /moderation/config.json.
// The queue (GET /v1/admin/reviews?status=pending) is re-fetched every POLL_MS while the tab is
// visible, one request at a time, with If-None-Match so an unchanged queue costs a 304. Rows are kept
// by user id and updated in place, so a reason being typed survives every refresh. A decision is one
// POST; on 202 the row leaves the list at once (the worker applies the decision shortly after).
// Beside the queue, the live top 10 through the push SDK, as on the dashboard.
// User ids, reasons and evidence are user-controlled text: every value goes in via textContent.
import {
  ReviewCard, element, newestFirst, problemDetail, reviewKey,
} from './moderation-review.js';
import { BoardPanel } from './board-panel.js';

const TOKEN_KEY = 'scoreboard.moderation.token';
const POLL_MS = 1000;
const MAX_RETRY_MS = 10000;
const QUEUE_LIMIT = 50;

// ---- the queue: polling, rendering, decisions ----------------------------------------------

class ReviewQueue {
  constructor(root, apiUrl) {
    this.root = root;
    this.apiUrl = apiUrl;
    this.list = root.querySelector('ol.queue');
    this.statusElement = root.querySelector('.queue-status');
    this.countElement = root.querySelector('.queue-count');
    this.countLabel = root.querySelector('.queue-count-label');
    this.errorElement = root.querySelector('.queue-error');
    this.emptyMessage = root.querySelector('.queue-empty');
    this.decisions = root.querySelector('.decisions');
    this.decisionLog = root.querySelector('.decision-log');
    this.token = '';
    this.etag = null;
    this.generation = 0; // bumped per token: answers to an older token's request are dropped
    this.cards = new Map(); // user id -> ReviewCard
    this.sent = new Map(); // review key -> its line in the decision log, until the review leaves the queue
    this.timer = null;
    this.inFlight = false;
    this.failures = 0;
    this.ids = 0;
    document.addEventListener('visibilitychange', () => {
      if (document.visibilityState === 'visible') this.refreshNow();
    });
  }

  nextId() {
    this.ids += 1;
    return this.ids;
  }

  setToken(token) {
    this.token = token;
    this.generation += 1;
    this.etag = null;
    this.failures = 0;
    for (const card of this.cards.values()) card.element.remove();
    this.cards.clear();
    this.showError('');
    this.countLabel.hidden = true;
    this.emptyMessage.hidden = true;
    if (token) {
      this.setStatus('loading', 'loading');
      this.refreshNow();
    } else {
      this.setStatus('idle', 'waiting for a token');
    }
  }

  /** Fetch now unless a request is under way (its completion schedules the next). */
  refreshNow() {
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
    if (!this.inFlight) this.poll();
  }

  schedule(delayMs) {
    if (this.timer === null && this.token) this.timer = setTimeout(() => {
      this.timer = null;
      this.poll();
    }, delayMs);
  }

  async poll() {
    if (!this.token) return;
    if (document.visibilityState === 'hidden') {
      this.setStatus('paused', 'paused while the tab is hidden');
      return; // visibilitychange resumes
    }
    this.inFlight = true;
    let next = POLL_MS;
    try {
      next = await this.fetchQueue();
    } finally {
      this.inFlight = false;
    }
    if (next !== null) this.schedule(next);
  }

  authorization() {
    return `Bearer ${this.token}`;
  }

  /** One GET of the queue; returns the delay before the next, or null to stop polling. */
  async fetchQueue() {
    const generation = this.generation;
    const headers = { Authorization: this.authorization(), Accept: 'application/json' };
    if (this.etag) headers['If-None-Match'] = this.etag;
    const url = `${this.apiUrl}/v1/admin/reviews?status=pending&limit=${QUEUE_LIMIT}`;
    let response;
    try {
      response = await fetch(url, { headers, cache: 'no-store', credentials: 'omit', mode: 'cors' });
    } catch (error) {
      if (generation !== this.generation) return POLL_MS;
      return this.retryLater(`Cannot reach the api at ${this.apiUrl} (${error?.message ?? error}). `
        + 'Is it running, and does it allow this page\'s origin (CORS)?');
    }
    if (generation !== this.generation) return POLL_MS;
    if (response.status === 304) {
      this.live();
      return POLL_MS;
    }
    if (response.status === 401) {
      this.stop('unauthorized', 'The api refused this token (401): it is invalid or has expired. Paste a fresh admin token.');
      return null;
    }
    if (response.status === 403) {
      this.stop('forbidden', 'Not a moderator: this token lacks the admin role (403). Paste an admin token.');
      return null;
    }
    if (!response.ok) {
      return this.retryLater(`The api answered ${response.status}: ${await problemDetail(response)}`);
    }
    let body;
    try {
      body = await response.json();
    } catch {
      return this.retryLater('The api answered with something that is not JSON.');
    }
    if (generation !== this.generation) return POLL_MS;
    this.etag = response.headers.get('ETag');
    this.render(Array.isArray(body?.reviews) ? body.reviews : []);
    this.live();
    return POLL_MS;
  }

  live() {
    this.failures = 0;
    this.showError('');
    this.setStatus('live', 'live');
  }

  retryLater(message) {
    this.failures += 1;
    this.showError(message);
    this.setStatus('reconnecting', 'retrying');
    return Math.min(MAX_RETRY_MS, POLL_MS * 2 ** Math.min(this.failures - 1, 4));
  }

  stop(state, message) {
    this.showError(message);
    this.setStatus(state, state === 'forbidden' ? 'not a moderator' : 'token refused');
    for (const card of this.cards.values()) card.element.remove();
    this.cards.clear();
    this.countLabel.hidden = true;
    this.emptyMessage.hidden = true;
  }

  render(reviews) {
    const pendingNow = reviews.filter((review) => review.status === undefined || review.status === 'pending');
    const stillPending = new Set(pendingNow.map(reviewKey));
    for (const [key, line] of this.sent) {
      if (!stillPending.has(key)) {
        line.querySelector('.applied').textContent = 'applied';
        this.sent.delete(key);
      }
    }
    const shown = pendingNow.filter((review) => !this.sent.has(reviewKey(review))).sort(newestFirst);
    const wanted = [];
    for (const review of shown) {
      let card = this.cards.get(review.user_id);
      if (card && card.key !== reviewKey(review)) {
        card.element.remove(); // flagged again: a new review, a fresh form
        card = undefined;
      }
      if (!card) {
        card = new ReviewCard(review, this);
        this.cards.set(review.user_id, card);
      }
      card.update(review);
      wanted.push(card);
    }
    const keep = new Set(wanted.map((card) => card.userId));
    for (const [userId, card] of this.cards) {
      if (!keep.has(userId)) {
        card.element.remove();
        this.cards.delete(userId);
      }
    }
    // Move only what is out of place: moving a node would take the focus out of a reason being typed.
    wanted.forEach((card, index) => {
      if (this.list.children[index] !== card.element) this.list.insertBefore(card.element, this.list.children[index] ?? null);
    });
    this.showCount(wanted.length);
  }

  showCount(count) {
    const text = String(count);
    if (this.countElement.textContent !== text) this.countElement.textContent = text;
    this.countLabel.hidden = false;
    this.emptyMessage.hidden = count > 0;
  }

  /** POST the decision; null when accepted (the row leaves), else what to tell the moderator. */
  async decide(card, decision, reason) {
    const url = `${this.apiUrl}/v1/admin/reviews/${encodeURIComponent(card.userId)}/decision`;
    const body = reason ? { decision, reason } : { decision };
    let response;
    try {
      response = await fetch(url, {
        method: 'POST',
        headers: { Authorization: this.authorization(), 'Content-Type': 'application/json' },
        body: JSON.stringify(body),
        cache: 'no-store',
        credentials: 'omit',
        mode: 'cors',
      });
    } catch (error) {
      return `The decision was not sent: cannot reach the api (${error?.message ?? error}).`;
    }
    if (response.status === 401 || response.status === 403) {
      this.stop(response.status === 401 ? 'unauthorized' : 'forbidden', response.status === 401
        ? 'The api refused this token (401): it is invalid or has expired. Paste a fresh admin token.'
        : 'Not a moderator: this token lacks the admin role (403). Paste an admin token.');
      return null;
    }
    if (response.status === 404) {
      this.logDecision(card, decision, reason, 'no longer pending (decided elsewhere?)', null);
      this.dropCard(card, false);
      return null;
    }
    if (!response.ok) return `The api refused the decision (${response.status}): ${await problemDetail(response)}`;
    let receipt = {};
    try {
      receipt = await response.json();
    } catch {
      /* the status says enough */
    }
    this.dropCard(card, true, this.logDecision(card, decision, reason, 'applying…', receipt.event_id ?? null));
    return null;
  }

  dropCard(card, waitForQueue, line) {
    if (waitForQueue) this.sent.set(card.key, line);
    const focusNext = card.element.contains(document.activeElement);
    const next = card.element.nextElementSibling ?? card.element.previousElementSibling;
    card.element.remove();
    this.cards.delete(card.userId);
    this.showCount(this.cards.size);
    if (focusNext) (next?.querySelector('textarea') ?? this.list.closest('section')?.querySelector('h2'))?.focus();
  }

  logDecision(card, decision, reason, state, eventId) {
    const line = element('li', 'decision');
    line.dataset.user = card.userId;
    line.dataset.decision = decision;
    const verb = decision === 'approve' ? 'Approved' : 'Rejected';
    line.append(element('strong', '', `${verb} ${card.userId}`));
    if (reason) line.append(`: “${reason}”`);
    line.append(' — ', element('span', 'applied', state));
    if (eventId) line.title = `event ${eventId}`;
    this.decisionLog.prepend(line);
    this.decisions.hidden = false;
    return line;
  }

  setStatus(state, text) {
    this.root.dataset.state = state;
    if (this.statusElement.textContent !== text) this.statusElement.textContent = text;
  }

  showError(text) {
    if (this.errorElement.textContent !== text) this.errorElement.textContent = text;
    this.errorElement.hidden = text === '';
  }
}

// ---- the token form --------------------------------------------------------------------------

function readStoredToken() {
  try {
    return sessionStorage.getItem(TOKEN_KEY) ?? '';
  } catch {
    return ''; // storage disabled: the token lives in memory only
  }
}

function storeToken(token) {
  try {
    if (token) sessionStorage.setItem(TOKEN_KEY, token);
    else sessionStorage.removeItem(TOKEN_KEY);
  } catch {
    /* storage disabled */
  }
}

/** What the token says about itself (unverified: only to show whose it is and when it expires). */
function describeToken(token) {
  try {
    const payload = JSON.parse(atob(token.split('.')[1].replace(/-/g, '+').replace(/_/g, '/')));
    const who = typeof payload.sub === 'string' ? payload.sub : 'unknown subject';
    const expires = typeof payload.exp === 'number' ? `, expires ${new Date(payload.exp * 1000).toLocaleString()}` : '';
    return `Using the token of ${who}${expires}.`;
  } catch {
    return 'Using the pasted token.';
  }
}

function wireToken(queue) {
  const form = document.getElementById('token-form');
  const input = document.getElementById('token-input');
  const forget = document.getElementById('token-forget');
  const state = document.getElementById('token-state');
  const use = (token) => {
    storeToken(token);
    input.value = '';
    forget.hidden = token === '';
    state.textContent = token ? describeToken(token) : 'No token yet.';
    queue.setToken(token);
  };
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    const token = input.value.trim().replace(/^Bearer\s+/i, '');
    if (token) use(token);
  });
  forget.addEventListener('click', () => {
    use('');
    input.focus();
  });
  const stored = readStoredToken();
  if (stored) use(stored);
}

async function loadConfig() {
  const response = await fetch('/moderation/config.json', { cache: 'no-store' });
  if (!response.ok) throw new Error(`the gateway answered ${response.status} for /moderation/config.json`);
  const config = await response.json();
  if (typeof config.api_url !== 'string' || config.api_url === '') throw new Error('no api_url in the page configuration');
  return config;
}

async function start() {
  const queueRoot = document.querySelector('.queue-panel');
  new BoardPanel(document.querySelector('[data-board]')).connect();
  let config;
  try {
    config = await loadConfig();
  } catch (error) {
    queueRoot.dataset.state = 'stopped';
    const message = queueRoot.querySelector('.queue-error');
    message.textContent = `This page cannot find the api: ${error?.message ?? error}.`;
    message.hidden = false;
    return;
  }
  wireToken(new ReviewQueue(queueRoot, config.api_url.replace(/\/+$/, '')));
}

if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', start);
else start();
