// Live dashboard served by the gateway at GET / (an ES module: see index.html).
//
// One subscription per board panel (`section[data-board]` in index.html) through the
// push SDK (clients/js, built and copied to /static/scoreboard-push.js): snapshot, then
// an update per change (full top 10 each time). The SDK keeps versions moving forward,
// resumes after reconnects, backs off with jitter, reconnects on a heartbeat timeout,
// stops on 1008/1003 and falls back to SSE when WebSockets cannot connect.
// The panel itself is board-panel.js.
import { BoardPanel } from './board-panel.js';

function start() {
  for (const root of document.querySelectorAll('section[data-board]')) {
    new BoardPanel(root).connect();
  }
}

if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', start);
else start();
