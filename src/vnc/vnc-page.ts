/**
 * The /vnc page: noVNC's RFB client on the whole window, connected to the service's websocket proxy. It
 * carries no credential: the API token travels in the HttpOnly cookie, the VNC password stays in the service.
 */
export const VNC_PAGE_HTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>IB Gateway screen - ib-gateway-supervisor</title>
<style>
  html, body { margin: 0; height: 100%; background: #1b1f24; color: #e6e6e6; font: 14px system-ui, sans-serif; }
  body { display: flex; flex-direction: column; }
  header { display: flex; gap: 1em; align-items: center; padding: 6px 12px; background: #2b3038; }
  header a { color: #8cc4ff; }
  #status { flex: 1; }
  body[data-state="connected"] #status { color: #9be29b; }
  body[data-state="failed"] #status, body[data-state="disconnected"] #status { color: #ffb86b; }
  #screen { flex: 1; overflow: hidden; }
</style>
</head>
<body data-state="connecting">
<header>
  <strong>IB Gateway screen</strong>
  <span id="status" role="status">Loading the VNC client...</span>
  <a href="/docs">API (/docs)</a>
</header>
<main id="screen"></main>
<script type="module" src="/vnc/vnc-page.js"></script>
</body>
</html>
`;

export const VNC_PAGE_SCRIPT = `import RFB from '/vnc/novnc/core/rfb.js';

const RETRY_SECONDS = 3;
const screen = document.getElementById('screen');
const status = document.getElementById('status');
// The gateway this page shows (?gateway=name); the only one without it.
const gateway = new URLSearchParams(location.search).get('gateway');
const url = (location.protocol === 'https:' ? 'wss://' : 'ws://') + location.host + '/vnc/websockify' +
  (gateway ? '?gateway=' + encodeURIComponent(gateway) : '');

function show(text, state) {
  status.textContent = text;
  document.body.dataset.state = state;
}

function connect() {
  show('Connecting to the gateway screen...', 'connecting');
  // No credentials here: the service checked the API token and logs in to the gateway's VNC server itself.
  const rfb = new RFB(screen, url);
  rfb.scaleViewport = true;
  rfb.background = '#1b1f24';
  let failure;
  rfb.addEventListener('connect', () => {
    show('Connected: keyboard and mouse go to IB Gateway.', 'connected');
  });
  rfb.addEventListener('securityfailure', (event) => {
    failure = event.detail.reason || 'the gateway refused the connection';
  });
  rfb.addEventListener('credentialsrequired', () => {
    failure = 'the gateway asked for credentials the service did not supply';
    rfb.disconnect();
  });
  rfb.addEventListener('disconnect', (event) => {
    const why = failure ?? (event.detail.clean ? 'disconnected' : 'the connection was lost');
    show('No screen: ' + why + '. Retrying in ' + RETRY_SECONDS + ' s.', failure ? 'failed' : 'disconnected');
    setTimeout(connect, RETRY_SECONDS * 1000);
  });
  window.ibgsVnc = rfb;
}

connect();
`;

/** Only the page's own files: no inline script, no foreign origin, no framing (keystrokes go to the gateway). */
export const VNC_PAGE_CSP = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self' 'unsafe-inline'",
  "img-src 'self' data: blob:",
  "connect-src 'self'",
  "frame-ancestors 'none'",
].join('; ');
