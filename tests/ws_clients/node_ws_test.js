#!/usr/bin/env node
// WebSocket echo against node-ws (Debian's node-ws, NODE_PATH=/usr/share/nodejs),
// an independent client. Run by CTest:
//   node node_ws_test.js BUILD/bin/pounce-host BUILD/plugins/libecho.so
'use strict';
const { spawn } = require('child_process');
const crypto = require('crypto');
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

// Resolves with the close code the server sent (1006 if none came). A reset
// connection is reported by 'close' too, so errors are only logged here.
function closed(ws) {
  return new Promise((resolve) => {
    ws.on('error', (e) => console.log('  (client error:', e.message + ')'));
    ws.once('close', (code) => resolve(code));
  });
}

async function expectClose(ws, code, what) {
  const got = await Promise.race([closed(ws),
    new Promise((r) => setTimeout(() => r('timeout'), 20000))]);
  check(got === code, `${what}: closed with ${code} (got ${got})`);
}

async function fragmented(port) {
  const ws = await open(port, { perMessageDeflate: false });
  const events = [];
  ws.on('pong', (data) => events.push(`pong:${data.toString()}`));
  const m = new Promise((r) => ws.once('message', (data) => {
    events.push('message');
    r(data);
  }));
  ws.send('frag', { fin: false });
  ws.ping('between');
  ws.send('mented ', { fin: false });
  ws.ping('again');
  ws.send('message', { fin: true });
  check((await m).toString() === 'fragmented message',
    'fragmented message with pings between reassembled');
  check(events.join(',') === 'pong:between,pong:again,message',
    `pongs carry the pings' payloads, before the message (${events.join(',')})`);
  const done = closed(ws);
  ws.close(1000);
  await done;
}

async function invalidUtf8AcrossFragments(port) {
  const ws = await open(port, { perMessageDeflate: false });
  // 0xc3 starts a two-byte code point; 0x28 cannot continue it. The message
  // is not finished: the server must fail it at once.
  ws.send(Buffer.from([0x6f, 0x6b, 0x20, 0xc3]), { binary: false, fin: false });
  ws.send(Buffer.from('\x28 and more', 'latin1'), { fin: false });
  await expectClose(ws, 1007, 'invalid UTF-8 split inside a code point');
}

async function unmaskedFrame(port) {
  const ws = await open(port, { perMessageDeflate: false });
  ws.send('hi', { mask: false });
  await expectClose(ws, 1002, 'unmasked client frame');
}

// A masked client close frame built by hand: ws.close() refuses these codes.
function rawCloseFrame(code) {
  const payload = Buffer.alloc(2);
  payload.writeUInt16BE(code);
  const key = crypto.randomBytes(4);
  const masked = payload.map((b, i) => b ^ key[i % 4]);
  return Buffer.concat([Buffer.from([0x88, 0x80 | payload.length]), key, masked]);
}

async function badCloseCodes(port) {
  for (const code of [0, 999, 1004, 1005, 1006, 1015, 1016, 2999, 5000]) {
    const ws = await open(port, { perMessageDeflate: false });
    ws._socket.write(rawCloseFrame(code));
    await expectClose(ws, 1002, `client close code ${code}`);
  }
}

// The server refuses an uncompressed message by its frame header, then reads
// at most 64 KiB more before it resets the connection. node-ws, still writing
// megabytes, gets EPIPE and drops the socket unread: the 1009 is lost (1006).
// So the over-size frame's header goes alone, and a fragmented message only
// goes over the limit in a small last fragment.
async function oversize(port) {
  const limit = 16 * 1024 * 1024;  // --ws-max-message-size default
  let ws = await open(port, { perMessageDeflate: false, maxPayload: 0 });
  const header = Buffer.alloc(14);
  header[0] = 0x82;  // FIN + binary
  header[1] = 0x80 | 127;  // masked, 64-bit length
  header.writeBigUInt64BE(BigInt(limit + 1), 2);
  crypto.randomFillSync(header, 10, 4);  // the masking key
  ws._socket.write(header);
  await expectClose(ws, 1009, 'over-size message (by its frame header)');

  ws = await open(port, { perMessageDeflate: false, maxPayload: 0 });
  ws.send(Buffer.alloc(limit, 0x78), { fin: false });  // at the limit
  ws.send(Buffer.from('x'), { fin: false });  // one byte over it
  await expectClose(ws, 1009, 'over-size message across fragments');

  ws = await open(port, { perMessageDeflate: true, maxPayload: 0 });
  // 17 MiB of zeros deflate to a few KiB: the limit counts after inflation.
  ws.send(Buffer.alloc(17 * 1024 * 1024));
  await expectClose(ws, 1009, 'compressed over-size message');
}

async function closeCode(port) {
  for (const code of [1000, 3000, 4321, 4999]) {
    const ws = await open(port);
    const done = closed(ws);
    ws.close(code, 'custom');
    check(await done === code, `close code ${code} echoed by the server`);
  }
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
    await invalidUtf8AcrossFragments(host.port);
    await unmaskedFrame(host.port);
    await badCloseCodes(host.port);
    await oversize(host.port);
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
