// The official socket.io-client against a Pigeon backend, with its default options (only
// `auth` and, when a case names them, `transports` are set). Used by
// tests/integration/test_js_client.py.
//
// Input (argv[2], JSON): {url, cases: [{name, token, transports|null, channel, sends,
// interval_ms}]}. Every case runs at once: connect, join, send `sends` messages one every
// `interval_ms` (each acked), collect the pushes, disconnect. Output (stdout, one JSON
// object): {name: {connected, transport, sid, acks, pushes, errors}}.
"use strict";
const { io } = require("socket.io-client");

function runCase(url, c) {
  return new Promise((resolve) => {
    const out = { connected: false, transport: null, sid: null, acks: [], pushes: [], errors: [] };
    const options = { auth: { token: c.token } };
    if (c.transports) options.transports = c.transports;
    const socket = io(url, options);
    const finish = () => {
      out.transport = socket.io.engine ? socket.io.engine.transport.name : null;
      out.sid = socket.io.engine ? socket.io.engine.id : null;
      socket.disconnect();
      resolve(out);
    };
    const deadline = setTimeout(() => {
      out.errors.push("deadline");
      finish();
    }, c.deadline_ms || 20000);
    socket.on("connect_error", (err) => out.errors.push(`connect_error: ${err.message}`));
    socket.on("disconnect", (reason) => {
      if (reason !== "io client disconnect") out.errors.push(`disconnect: ${reason}`);
    });
    socket.on("message", (m) => out.pushes.push(m.seq));
    socket.once("connect", async () => {
      out.connected = true;
      try {
        const joined = await socket.timeout(5000).emitWithAck("join", { channel: c.channel });
        if (!joined.ok) out.errors.push(`join: ${JSON.stringify(joined)}`);
        for (let i = 0; i < c.sends; i++) {
          const ack = await socket.timeout(5000).emitWithAck("send", {
            channel: c.channel,
            client_msg_id: `${c.name}-${i}`,
            body: `${c.name} says ${i}`,
          });
          out.acks.push(ack.ok ? ack.seq : `error: ${JSON.stringify(ack)}`);
          await new Promise((r) => setTimeout(r, c.interval_ms));
        }
        await new Promise((r) => setTimeout(r, 500)); // the last pushes
      } catch (err) {
        out.errors.push(`emit: ${err.message}`);
      }
      clearTimeout(deadline);
      finish();
    });
  });
}

async function main() {
  const input = JSON.parse(process.argv[2]);
  const names = input.cases.map((c) => c.name);
  const results = await Promise.all(input.cases.map((c) => runCase(input.url, c)));
  const out = {};
  names.forEach((n, i) => (out[n] = results[i]));
  process.stdout.write(JSON.stringify(out) + "\n");
  process.exit(0);
}

main().catch((err) => {
  process.stderr.write(String(err && err.stack ? err.stack : err) + "\n");
  process.exit(1);
});
