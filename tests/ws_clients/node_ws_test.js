#!/usr/bin/env node
// WebSocket echo against node-ws (Debian's node-ws, NODE_PATH=/usr/share/nodejs),
// an independent client. Run by CTest:
//   node node_ws_test.js BUILD/bin/pounce-host BUILD/plugins/libecho.so
'use strict';
const { spawn } = require('child_process');
const WebSocket = require('ws');

function check(cond, what) {
  if (!cond) {
    console.error('FAIL:', what);
    process.exit(1);
  }
  console.log('ok:', what);
}

function startHost(binary, plugin) {
  return new Promise((resolve, reject) => {
    const proc = spawn(binary, ['--plugin', plugin, '--port', '0', '--no-access-log',
      '--async-threads', '2', '--max-connections', '5000'],
    { stdio: ['ignore', 'ignore', 'pipe'] });
    let log = '';
    proc.stderr.on('data', (d) => {
      log += d;
      const m = log.match(/listening on http:\/\/127\.0\.0\.1:(\d+) /);
      if (m) resolve({ proc, port: Number(m[1]) });
    });
    proc.on('exit', () => reject(new Error('pounce-host exited:\n' + log)));
  });
}

function open(port, options = {}) {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`ws://127.0.0.1:${port}/`, options);
    ws.once('open', () => resolve(ws));
    ws.once('error', reject);
  });
}

function next(ws) {
  return new Promise((resolve) => ws.once('message', (data, isBinary) =>
    resolve({ data, isBinary })));
}

async function echoSizes(port, deflate) {
  const ws = await open(port, { perMessageDeflate: deflate, maxPayload: 0 });
  check((ws.extensions !== '') === deflate,
    `permessage-deflate negotiated iff offered (${deflate})`);
  for (const n of [0, 125, 126, 64 * 1024, 1024 * 1024]) {
    const text = 'x'.repeat(n);
    ws.send(text);
    const t = await next(ws);
    check(!t.isBinary && t.data.toString() === text, `text ${n} B echoed (deflate=${deflate})`);
    const bin = Buffer.alloc(n, 7);
    ws.send(bin);
    const b = await next(ws);
    check(b.isBinary && Buffer.compare(b.data, bin) === 0, `binary ${n} B echoed (deflate=${deflate})`);
  }
  ws.close(1000);
  await new Promise((r) => ws.once('close', r));
}

async function fragmented(port) {
  const ws = await open(port, { perMessageDeflate: false });
  ws.send('frag', { fin: false });
  ws.ping('between');
  ws.send('mented', { fin: true });
  const m = await next(ws);
  check(m.data.toString() === 'fragmented', 'fragmented message with a ping between');
  ws.close(1000);
}

async function closeCode(port) {
  const ws = await open(port);
  const closed = new Promise((r) => ws.once('close', (code) => r(code)));
  ws.close(4321, 'custom');
  check(await closed === 4321, 'close code echoed by the server');
}

async function manySockets(port, n) {
  const sockets = await Promise.all(Array.from({ length: n }, () =>
    open(port, { perMessageDeflate: false })));
  const replies = await Promise.all(sockets.map((ws, i) => {
    const p = next(ws);
    ws.send(`socket ${i}`);
    return p.then((m) => m.data.toString() === `socket ${i}`);
  }));
  check(replies.every(Boolean), `${n} concurrent sockets echoed`);
  sockets.forEach((ws) => ws.close(1000));
}

(async () => {
  const [binary, plugin] = process.argv.slice(2);
  const host = await startHost(binary, plugin);
  host.proc.removeAllListeners('exit');
  try {
    await echoSizes(host.port, true);
    await echoSizes(host.port, false);
    await fragmented(host.port);
    await closeCode(host.port);
    await manySockets(host.port, 1000);
  } catch (e) {
    console.error('FAIL:', e);
    host.proc.kill('SIGKILL');
    process.exit(1);
  }
  const code = await new Promise((r) => {
    host.proc.once('exit', (c) => r(c));
    host.proc.kill('SIGTERM');
  });
  check(code === 0, 'pounce-host exited 0');
  process.exit(0);
})();
