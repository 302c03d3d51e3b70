// Starts `kindbrug serve` on a free port with the demo data and reads the printed ids and
// tokens. Shared by validate.mjs and smart.mjs.
import { spawn } from 'node:child_process';
import { createServer } from 'node:net';

function freePort() {
  return new Promise((resolve) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

/** `{ base, demo, stop }`: the server's address, the demo's exported values, and a stop. */
export async function startDemo() {
  const BIN = process.env.KINDBRUG_BIN ?? 'target/debug/kindbrug';
  const DB = process.env.KINDBRUG_DATABASE_URL;
  if (!DB) throw new Error('KINDBRUG_DATABASE_URL names the database to run on');
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  const server = spawn(BIN, ['serve'], {
    env: {
      ...process.env,
      KINDBRUG_ENV: 'development',
      KINDBRUG_DATABASE_URL: DB,
      KINDBRUG_LISTEN: `127.0.0.1:${port}`,
      KINDBRUG_PUBLIC_BASE_URL: base,
      KINDBRUG_LOG_FORMAT: 'json',
    },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let out = '';
  server.stdout.on('data', (d) => { out += d; });
  for (let i = 0; i < 240; i++) {
    try {
      const r = await fetch(`${base}/readyz`);
      if (r.ok && out.includes('TOKEN_VLINDER_SYSTEEM=')) break;
    } catch { /* not yet */ }
    await new Promise((r) => setTimeout(r, 250));
  }
  const demo = Object.fromEntries([...out.matchAll(/^export ([A-Z_]+)=(\S+)/gm)].map((m) => [m[1], m[2]]));
  const stop = () => server.kill('SIGTERM');
  if (!demo.TOKEN_VLINDER_SYSTEEM) {
    stop();
    throw new Error('the demo did not print the integration token');
  }
  return { base, demo, stop };
}
