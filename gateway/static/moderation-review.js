// One review of the moderation queue as the moderator sees it (imported by moderation.js): the facts,
// the evidence (the user's figures against the population's percentiles), the recent actions, and
// the decision form. Every user-controlled value goes in via textContent.

// Evidence fields shown in their own places; any other is a detector-specific figure, listed as is.
const EVIDENCE_FIELDS = new Set(['summary', 'window_seconds', 'user', 'population', 'threshold', 'flagged_by']);

// ---- small DOM and formatting helpers -------------------------------------------------------

export function element(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

const numberFormat = new Intl.NumberFormat(undefined, { maximumFractionDigits: 2 });

function formatFigure(value) {
  if (value === null || value === undefined) return '–';
  if (typeof value === 'number') return numberFormat.format(value);
  if (typeof value === 'string' || typeof value === 'boolean') return String(value);
  return JSON.stringify(value);
}

function timeElement(iso) {
  const node = element('time');
  const at = new Date(iso);
  if (Number.isNaN(at.getTime())) {
    node.textContent = String(iso ?? '–');
    return node;
  }
  node.dateTime = at.toISOString();
  node.title = at.toISOString();
  node.textContent = at.toLocaleString(undefined, { dateStyle: 'short', timeStyle: 'medium' });
  return node;
}

function fact(label, ...content) {
  const item = element('div', 'fact');
  const value = element('dd');
  value.append(...content);
  item.append(element('dt', '', label), value);
  return item;
}

function plural(count, one, many) {
  return `${count} ${count === 1 ? one : many}`;
}

/** The problem+json `detail` of an error answer, else its status line. */
export async function problemDetail(response) {
  try {
    const body = await response.json();
    if (body && typeof body.detail === 'string') {
      const fields = Array.isArray(body.errors)
        ? body.errors.map((e) => `${e.field}: ${e.message}`).join('; ')
        : '';
      return fields ? `${body.detail} (${fields})` : body.detail;
    }
  } catch {
    /* not JSON */
  }
  return `${response.status} ${response.statusText}`.trim();
}

export function reviewKey(review) {
  return `${review.user_id}\u0000${review.flagged_at}`;
}

export function newestFirst(a, b) {
  return (Date.parse(b.flagged_at) || 0) - (Date.parse(a.flagged_at) || 0);
}

// ---- evidence rendering ---------------------------------------------------------------------

/** The user's figure(s) against the population's percentiles and the threshold, as a table. */
function figuresTable(evidence) {
  const population = evidence.population && typeof evidence.population === 'object' ? evidence.population : {};
  const table = element('table', 'figures');
  const window = typeof evidence.window_seconds === 'number' ? `, last ${formatFigure(evidence.window_seconds)} s` : '';
  const size = typeof population.n === 'number' ? `${plural(population.n, 'user', 'users')}` : 'no population';
  table.append(element('caption', '', `This user against everyone (${size}${window})`));
  const head = element('thead');
  const headRow = element('tr');
  for (const name of ['Figure', 'User', 'p50', 'p90', 'p99', 'Threshold']) {
    const cell = element('th', '', name);
    cell.scope = 'col';
    headRow.append(cell);
  }
  head.append(headRow);
  const body = element('tbody');
  const user = evidence.user;
  const figures = user !== null && typeof user === 'object' && !Array.isArray(user)
    ? Object.entries(user)
    : [['value', user]];
  figures.forEach(([name, value], index) => {
    const row = element('tr');
    const label = element('th', '', name);
    label.scope = 'row';
    const userCell = element('td', 'user-figure', formatFigure(value));
    const exceeds = typeof value === 'number' && typeof population.p99 === 'number' && value > population.p99;
    if (exceeds) userCell.dataset.above = 'p99';
    row.append(label, userCell);
    // The percentiles and threshold are of the detector's one figure: shown once, on the first row.
    for (const key of ['p50', 'p90', 'p99']) row.append(element('td', '', index === 0 ? formatFigure(population[key]) : ''));
    row.append(element('td', 'threshold', index === 0 ? formatFigure(evidence.threshold) : ''));
    body.append(row);
  });
  table.append(head, body);
  return table;
}

/** Detector-specific figures beyond the common ones (e.g. z, burstiness, accounts). */
function extraFigures(evidence) {
  const extras = Object.entries(evidence).filter(([name]) => !EVIDENCE_FIELDS.has(name));
  if (extras.length === 0) return null;
  const list = element('dl', 'extras');
  for (const [name, value] of extras) list.append(fact(name, formatFigure(value)));
  return list;
}

function actionsTable(actions) {
  const table = element('table', 'actions');
  table.append(element('caption', '', 'Recent actions'));
  const head = element('thead');
  const headRow = element('tr');
  for (const name of ['Action', 'Points', 'When', 'State']) {
    const cell = element('th', '', name);
    cell.scope = 'col';
    headRow.append(cell);
  }
  head.append(headRow);
  const body = element('tbody');
  for (const action of actions) {
    const row = element('tr');
    row.dataset.state = String(action.state ?? '');
    const when = element('td');
    when.append(timeElement(action.occurred_at));
    row.append(
      element('td', 'action', String(action.action_id ?? '')),
      element('td', 'points', formatFigure(action.points)),
      when,
      element('td', 'state', String(action.state ?? '')),
    );
    body.append(row);
  }
  table.append(head, body);
  return table;
}

function reviewBody(review) {
  const evidence = review.evidence && typeof review.evidence === 'object' ? review.evidence : {};
  const heldPoints = element('span', 'held-points', String(review.held_points ?? 0));
  const heldActions = element('span', 'held-actions', String(review.held_actions ?? 0));
  const facts = element('dl', 'facts');
  facts.append(
    fact('Detector', element('span', 'detector', String(review.detector ?? ''))),
    fact('Flagged', timeElement(review.flagged_at)),
    fact('Flagged by', element('span', 'flagged-by', String(review.flagged_by ?? evidence.flagged_by ?? review.detector ?? ''))),
    fact('Mode', element('span', 'mode', review.shadow ? 'shadow: flagged only, nothing held' : 'points held')),
    fact('Held', heldPoints, ' points in ', heldActions, review.held_actions === 1 ? ' action' : ' actions'),
    fact('Counted score', element('span', 'score', formatFigure(review.score))),
  );
  const parts = [facts, element('p', 'summary', String(evidence.summary ?? 'No summary given.'))];
  if ('user' in evidence || 'population' in evidence) parts.push(figuresTable(evidence));
  const extras = extraFigures(evidence);
  if (extras) parts.push(extras);
  const actions = Array.isArray(review.recent_actions) ? review.recent_actions : [];
  parts.push(actions.length ? actionsTable(actions) : element('p', 'hint', 'No recent actions.'));
  return parts;
}

// ---- one review in the queue -----------------------------------------------------------------

export class ReviewCard {
  constructor(review, queue) {
    this.queue = queue;
    this.userId = review.user_id;
    this.key = reviewKey(review);
    this.shown = '';
    const fragment = document.getElementById('review-template').content.cloneNode(true);
    this.element = fragment.querySelector('li.review');
    this.element.dataset.user = review.user_id;
    const heading = this.element.querySelector('.review-user');
    heading.textContent = review.user_id;
    heading.id = `review-${queue.nextId()}`;
    this.element.querySelector('article').setAttribute('aria-labelledby', heading.id);
    for (const hidden of this.element.querySelectorAll('.button-user')) hidden.textContent = ` ${review.user_id}`;
    this.tags = this.element.querySelector('.review-tags');
    this.body = this.element.querySelector('.review-body');
    this.form = this.element.querySelector('form.decide');
    this.reason = this.form.querySelector('textarea');
    this.reason.id = `${heading.id}-reason`;
    this.form.querySelector('label').htmlFor = this.reason.id;
    this.error = this.form.querySelector('.decide-error');
    this.error.id = `${heading.id}-error`;
    this.buttons = [...this.form.querySelectorAll('button')];
    this.form.addEventListener('submit', (event) => {
      event.preventDefault();
      this.submit(event.submitter?.value ?? 'approve');
    });
  }

  update(review) {
    const shown = JSON.stringify(review);
    if (shown === this.shown) return;
    this.shown = shown;
    this.element.dataset.detector = String(review.detector ?? '');
    this.element.dataset.shadow = String(Boolean(review.shadow));
    this.element.dataset.heldPoints = String(review.held_points ?? 0);
    this.tags.replaceChildren(
      element('span', 'tag tag-detector', String(review.detector ?? '')),
      element('span', review.shadow ? 'tag tag-shadow' : 'tag tag-held', review.shadow ? 'shadow' : 'holding'),
    );
    this.body.replaceChildren(...reviewBody(review));
  }

  showError(text) {
    this.error.textContent = text;
    this.error.hidden = text === '';
    if (text) this.reason.setAttribute('aria-describedby', this.error.id);
    else this.reason.removeAttribute('aria-describedby');
  }

  async submit(decision) {
    const reason = this.reason.value.trim();
    if (decision === 'reject' && reason === '') {
      this.reason.setAttribute('aria-invalid', 'true');
      this.showError('A reason is required to reject.');
      this.reason.focus();
      return;
    }
    this.reason.removeAttribute('aria-invalid');
    this.showError('');
    this.setBusy(true);
    try {
      const failure = await this.queue.decide(this, decision, reason);
      if (failure) this.showError(failure);
    } finally {
      this.setBusy(false);
    }
  }

  setBusy(busy) {
    for (const button of this.buttons) button.disabled = busy;
    this.element.setAttribute('aria-busy', String(busy));
  }
}
