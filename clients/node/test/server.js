'use strict';
// Starts a real `parendb serve` on a free loopback port for a test.
const { spawn } = require('node:child_process');
const fs = require('node:fs');
const net = require('node:net');
const os = require('node:os');
const path = require('node:path');

const REPO = path.resolve(__dirname, '..', '..', '..');

function binary() {
  const bin = process.env.PARENDB_BIN || path.join(REPO, 'build', 'parendb');
  fs.accessSync(bin, fs.constants.X_OK);
  return bin;
}

function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
    s.on('error', reject);
  });
}

function canConnect(port) {
  return new Promise((resolve) => {
    const s = net.connect({ host: '127.0.0.1', port }, () => {
      s.destroy();
      resolve(true);
    });
    s.on('error', () => resolve(false));
  });
}

class Server {
  constructor({ password, extra = [] } = {}) {
    this.extra = extra;
    this.dir = fs.mkdtempSync(path.join(os.tmpdir(), 'parendb-nodetest-'));
    this.password = password;
    this.socketPath = path.join(this.dir, 'parendb.sock'); // --socket, beside TCP
  }

  async start() {
    this.port = await freePort();
    const args = ['serve', '--data', path.join(this.dir, 'data'), '--port', String(this.port),
      '--log-level', 'warn', '--threads', '1', '--socket', this.socketPath, ...this.extra];
    if (this.password !== undefined) {
      const file = path.join(this.dir, 'password');
      fs.writeFileSync(file, this.password);
      args.push('--password-file', file);
    }
    const log = fs.openSync(path.join(this.dir, 'server.log'), 'a');
    this.proc = spawn(binary(), args, { stdio: ['ignore', 'ignore', log] });
    fs.closeSync(log);
    this.exited = new Promise((r) => this.proc.once('exit', r));
    const deadline = Date.now() + 20000;
    while (!(await canConnect(this.port))) {
      if (this.proc.exitCode !== null) throw new Error('parendb serve exited: ' + fs.readFileSync(path.join(this.dir, 'server.log')));
      if (Date.now() > deadline) throw new Error('parendb serve did not start listening');
      await new Promise((r) => setTimeout(r, 10));
    }
    return this;
  }

  async kill() {
    if (this.proc.exitCode === null && this.proc.signalCode === null) {
      this.proc.kill('SIGKILL');
      await this.exited;
    }
  }

  async stop() {
    if (this.proc.exitCode === null && this.proc.signalCode === null) {
      this.proc.kill('SIGTERM');
      await this.exited;
    }
    fs.rmSync(this.dir, { recursive: true, force: true });
  }
}

// Forwards one client connection to the server and cuts both sides as soon
// as the client has sent `trigger` (before any answer to it).
async function cutProxy(port, trigger) {
  const server = net.createServer((client) => {
    const upstream = net.connect({ host: '127.0.0.1', port });
    let seen = '';
    upstream.on('data', (d) => client.write(d));
    upstream.on('error', () => {});
    client.on('error', () => {});
    client.on('data', (d) => {
      seen += d.toString('utf8');
      upstream.write(d);
      if (seen.includes(trigger)) {
        client.destroy();
        upstream.destroy();
        server.close();
      }
    });
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  return server.address().port;
}

module.exports = { Server, freePort, cutProxy };
