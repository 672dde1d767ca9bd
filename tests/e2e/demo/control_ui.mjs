// OpenClaw's control UI in headless Chromium, as a user opens it: the page through Caddy with
// the gateway token in the URL fragment, then the operator approves the new browser with
// `lobsterd devices <tenant> approve <requestId>` and the page's WebSocket finishes its
// handshake (hello-ok). Used by demo_e2e_test.cc; prints one JSON object on stdout.
//
//   node control_ui.mjs URL TOKEN SCREENSHOT TIMEOUT_MS APPROVE_CMD...
// TIMEOUT_MS bounds the wait for the handshake; a slow approval extends it by 2 minutes from
// when the approval returns.
import { execFile } from 'node:child_process';
import puppeteer from 'puppeteer-core';

const [url, token, screenshot, timeoutArg, ...approveCmd] = process.argv.slice(2);
const timeoutMs = Number(timeoutArg);
const out = { sockets: 0, helloOk: false, pairingRequested: false, approved: null, errors: [] };
let requestId = null;
let approval = Promise.resolve();
const settleMs = 120000;
let deadline = Date.now() + timeoutMs;

const browser = await puppeteer.launch({
  executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
  headless: true,
  // Root in a test namespace: no sandbox. Caddy's internal CA is not in Chromium's store.
  args: ['--no-sandbox', '--ignore-certificate-errors', '--disable-dev-shm-usage'],
});
try {
  const page = await browser.newPage();
  const cdp = await page.createCDPSession();
  await cdp.send('Network.enable');
  cdp.on('Network.webSocketCreated', (e) => {
    out.sockets += 1;
    out.wsUrl = e.url;
  });
  cdp.on('Network.webSocketHandshakeResponseReceived', (e) => {
    out.wsStatus = e.response.status;
  });
  cdp.on('Network.webSocketFrameReceived', (e) => {
    let frame;
    try {
      frame = JSON.parse(e.response.payloadData);
    } catch {
      return;
    }
    if (frame.type === 'res' && frame.ok === true && frame.payload?.type === 'hello-ok') {
      out.helloOk = true;
    }
    const details = frame.error?.details;
    if (details?.code === 'PAIRING_REQUIRED' && details.requestId && requestId === null) {
      requestId = details.requestId;
      out.pairingRequested = true;
      approval = new Promise((resolve) => {
        execFile(approveCmd[0], [...approveCmd.slice(1), requestId], { timeout: timeoutMs },
                 (err, stdout, stderr) => {
                   out.approved = !err;
                   if (err) out.errors.push(`approve: ${err.message} ${stderr}`);
                   // The page retries on its own; give it time after a slow approval (the
                   // CLI in a TCG guest takes ~1 min, minutes on a loaded host).
                   deadline = Math.max(deadline, Date.now() + settleMs);
                   resolve();
                 });
      });
    }
  });
  const response = await page.goto(`${url}/#token=${encodeURIComponent(token)}`,
                                   { waitUntil: 'domcontentloaded', timeout: timeoutMs });
  out.pageStatus = response?.status() ?? 0;
  deadline = Date.now() + timeoutMs;
  while (!out.helloOk && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  await approval;  // bounded by its own timeout
  // Let the UI render its connected state before the picture is taken.
  await new Promise((resolve) => setTimeout(resolve, 8000));
  out.title = await page.title();
  await page.screenshot({ path: screenshot });
} catch (e) {
  out.errors.push(String(e));
} finally {
  await browser.close();
}
console.log(JSON.stringify(out));
