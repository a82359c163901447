'use strict';
// csr-app: a one-node socket.io 4 chat with connection state recovery on, and no history:
// what `pigeon-lab probe` must credit with replaying missed messages after a dropped
// transport. Runs with the Node.js peer's node_modules (NODE_PATH, tests/apps/csr.py).
// env: PORT, JWT_SECRET
const http = require('http');
const crypto = require('crypto');
const { Server } = require('socket.io');
const jwt = require('jsonwebtoken');

const PORT = +(process.env.PORT || 3100);
const SECRET = process.env.JWT_SECRET || 'dev-secret';

const httpServer = http.createServer((req, res) => {
  if (req.url === '/readyz') return res.writeHead(200).end('ready\n');
  res.writeHead(404).end();
});
const io = new Server(httpServer, {
  serveClient: false,
  connectionStateRecovery: { maxDisconnectionDuration: 60000, skipMiddlewares: true },
});

io.use((socket, next) => {
  const token = socket.handshake.auth && socket.handshake.auth.token;
  try {
    const claims = jwt.verify(String(token), SECRET, { algorithms: ['HS256'] });
    socket.data.sub = claims.sub;
    socket.data.ws = claims.ws;
    return next();
  } catch (e) {
    const err = new Error('unauthorized');
    err.data = { code: 'unauthorized', message: e.message };
    return next(err);
  }
});

const room = (socket, ch) => `ws:${socket.data.ws}:ch:${ch}`;
io.on('connection', (socket) => {
  socket.on('join', (p, ack) => { socket.join(room(socket, p.channel)); ack({ ok: true, channel: p.channel }); });
  socket.on('leave', (p, ack) => { socket.leave(room(socket, p.channel)); ack({ ok: true }); });
  socket.on('send', (p, ack) => {
    const msg = { channel: p.channel, id: crypto.randomUUID(), client_msg_id: p.client_msg_id,
      sender: socket.data.sub, body: p.body, ts: Date.now() };
    io.to(room(socket, p.channel)).emit('message', msg);
    ack({ ok: true, id: msg.id, ts: msg.ts });
  });
});

httpServer.listen(PORT, '127.0.0.1', () => console.log(`csr-app on ${PORT}`));
