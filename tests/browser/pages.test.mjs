// Kindbrug's pages in a real browser: Debian's Chromium driven by playwright-core, against the
// real gateway (`kindbrug serve` with the demo data), on the database KINDBRUG_DATABASE_URL
// names. axe (WCAG 2.1 A/AA) on every page; one form used by keyboard alone; screenshots of the
// main pages when KINDBRUG_SCREENSHOTS names a folder.
//
// Run by .ci/browser; by hand:
//   KINDBRUG_BIN=target/debug/kindbrug KINDBRUG_DATABASE_URL=sqlite:///tmp/b.db node --test tests/browser/
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { createServer } from 'node:net';
import { chromium } from 'playwright-core';
import { AxeBuilder } from '@axe-core/playwright';

const BIN = process.env.KINDBRUG_BIN ?? 'target/debug/kindbrug';
const DB = process.env.KINDBRUG_DATABASE_URL;
const SHOTS = process.env.KINDBRUG_SCREENSHOTS;
const CHROMIUM = process.env.CHROMIUM ?? '/usr/bin/chromium';
const PHONE = { width: 375, height: 740 };
const DESKTOP = { width: 1200, height: 900 };

let server, base, demo, browser;
const serverLog = [];

function freePort() {
  return new Promise((resolve) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

before(async () => {
  assert.ok(DB, 'KINDBRUG_DATABASE_URL names the database to run on');
  const port = await freePort();
  base = `http://127.0.0.1:${port}`;
  server = spawn(BIN, ['serve'], {
    env: {
      ...process.env,
      KINDBRUG_ENV: 'development',
      KINDBRUG_DATABASE_URL: DB,
      KINDBRUG_LISTEN: `127.0.0.1:${port}`,
      KINDBRUG_PUBLIC_BASE_URL: base,
      KINDBRUG_LOG_FORMAT: 'json',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  server.stdout.on('data', (d) => { out += d; serverLog.push(String(d)); });
  server.stderr.on('data', (d) => serverLog.push(String(d)));
  for (let i = 0; i < 120; i++) {
    try {
      const r = await fetch(`${base}/readyz`);
      if (r.ok && out.includes('TOKEN_SANNE=')) break;
    } catch { /* not yet */ }
    await new Promise((r) => setTimeout(r, 250));
  }
  demo = Object.fromEntries(
    [...out.matchAll(/^export ([A-Z_]+)=(\S+)/gm)].map((m) => [m[1], m[2]]),
  );
  assert.ok(demo.TOKEN_SANNE, `the demo was loaded:\n${serverLog.join('')}`);
  browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] });
});

after(async () => {
  await browser?.close();
  server?.kill('SIGTERM');
  const errors = serverLog.join('').split('\n').filter((l) => l.includes('"level":"ERROR"'));
  assert.deepEqual(errors, [], 'the server logged no errors');
  // no child data in the log: the demo child's name and its parents' names never appear
  const log = serverLog.join('').split('\n').filter((l) => !l.startsWith('export ') && !l.startsWith('#'));
  for (const word of ['Noor', 'Eva Visser', 'Tom Visser', 'Sanne de Vries']) {
    assert.ok(!log.some((l) => l.includes(word)), `the log holds "${word}"`);
  }
});

async function api(method, path, token, body) {
  const r = await fetch(`${base}${path}`, {
    method,
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', accept: 'application/json' },
    body: body ? JSON.stringify(body) : undefined,
  });
  const text = await r.text();
  return { status: r.status, body: text ? JSON.parse(text) : null };
}

/** axe with the WCAG 2.1 A and AA rules: no violations. */
async function axe(page, what) {
  const result = await new AxeBuilder({ page })
    .withTags(['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'])
    .analyze();
  const found = result.violations.map((v) => `${v.id}: ${v.help} (${v.nodes.map((n) => n.target.join(' ')).join(', ')})`);
  assert.deepEqual(found, [], `axe on ${what}`);
}

async function shot(page, name) {
  if (!SHOTS) return;
  mkdirSync(SHOTS, { recursive: true });
  await page.screenshot({ path: `${SHOTS}/${name}.png`, fullPage: true });
}

/** A fresh browser window (its own cookies). */
async function windowOf(viewport) {
  const context = await browser.newContext({ viewport, locale: 'nl-NL' });
  const page = await context.newPage();
  const cspViolations = [];
  page.on('console', (m) => {
    if (m.type() === 'error' && /Content Security Policy/i.test(m.text())) cspViolations.push(m.text());
  });
  page.cspViolations = cspViolations;
  return page;
}

async function login(page, name) {
  await page.goto(`${base}/`);
  assert.match(page.url(), /\/inloggen$/);
  await page.getByLabel(new RegExp(`^${name}`)).check();
  await page.getByRole('button', { name: 'Inloggen' }).click();
}

async function invite(guardianName) {
  const guardians = await api('GET', `/api/v1/children/${demo.CHILD}/guardians`, demo.TOKEN_SANNE);
  const g = guardians.body.find((x) => x.name === guardianName);
  const inv = await api('POST', `/api/v1/children/${demo.CHILD}/consent-invitations`, demo.TOKEN_SANNE, {
    guardian_id: g.id,
    purpose: 'consultation',
    recipient: { organization_id: demo.YOUTH_CARE_ORG },
    information_version: '2026-1',
  });
  assert.equal(inv.status, 201, JSON.stringify(inv.body));
  return inv.body.url;
}

test('the login page and the mentor start page', async () => {
  const page = await windowOf(DESKTOP);
  await page.goto(`${base}/inloggen`);
  await axe(page, 'the login page');
  await shot(page, 'inloggen');
  await login(page, 'Sanne de Vries');
  assert.match(page.url(), /\/kinderen$/);
  await page.getByRole('heading', { name: 'Mijn kinderen' }).waitFor();
  assert.ok(await page.getByRole('heading', { name: 'Dreumesgroep' }).isVisible());
  await axe(page, 'Mijn kinderen');
  await shot(page, 'mentor-mijn-kinderen');
  // search by name
  await page.getByLabel('Zoek op naam of eigen nummer').fill('lina');
  await page.getByRole('button', { name: 'Zoeken' }).click();
  assert.ok(await page.getByRole('link', { name: 'Lina' }).isVisible());
  assert.equal(await page.getByRole('link', { name: 'Noor' }).count(), 0);
  assert.deepEqual(page.cspViolations, []);
  await page.context().close();
});

test('two parents consent on a phone, one withdraws, and the mentor sees it at once', async () => {
  const evaLink = await invite('Eva Visser');
  const tomLink = await invite('Tom Visser');

  // Eva: on a phone, by touch
  const eva = await windowOf(PHONE);
  await eva.goto(evaLink);
  assert.match(eva.url(), /\/ouder$/, 'the token left the address bar');
  await eva.getByRole('heading', { name: /vraagt uw toestemming/ }).waitFor();
  const yes = eva.getByRole('button', { name: 'Ja, ik geef toestemming' });
  const no = eva.getByRole('button', { name: 'Nee, ik geef geen toestemming' });
  assert.ok(await yes.isVisible() && await no.isVisible());
  const [yb, nb] = [await yes.boundingBox(), await no.boundingBox()];
  assert.ok(Math.abs(yb.height - nb.height) < 2, 'the two choices are equal');
  assert.ok(yb.width <= PHONE.width, 'fits a phone');
  assert.ok(await eva.getByText('Sanne de Vries, de mentor van Noor').isVisible(), 'who asks');
  assert.ok(await eva.getByText('De andere ouder met gezag moet ook toestemming geven').isVisible());
  await axe(eva, 'the question (phone)');
  await shot(eva, 'ouder-vraag-telefoon');
  await yes.click();
  await eva.getByRole('heading', { name: 'Uw keuze is vastgelegd' }).waitFor();
  await axe(eva, 'the confirmation');
  await eva.goto(`${base}/ouder`);
  assert.ok(await eva.getByText('wacht op de andere ouder').isVisible(), 'Tom has not decided yet');
  await shot(eva, 'ouder-bevestiging-telefoon');

  // Tom: keyboard alone
  const tom = await windowOf(PHONE);
  await tom.goto(tomLink);
  await tom.getByRole('heading', { name: /vraagt uw toestemming/ }).waitFor();
  let focused = '';
  for (let i = 0; i < 30 && focused !== 'Ja, ik geef toestemming'; i++) {
    await tom.keyboard.press('Tab');
    focused = await tom.evaluate(() => document.activeElement?.textContent?.trim() ?? '');
  }
  assert.equal(focused, 'Ja, ik geef toestemming', 'the choice is reached by Tab');
  await tom.keyboard.press('Enter');
  await tom.getByRole('heading', { name: 'Uw keuze is vastgelegd' }).waitFor();

  // the mentor's page of the child now shows consent given
  const mentor = await windowOf(DESKTOP);
  await login(mentor, 'Sanne de Vries');
  await mentor.goto(`${base}/kinderen/${demo.CHILD}`);
  await mentor.getByRole('heading', { name: 'Noor' }).waitFor();
  assert.ok(await mentor.getByText('toestemming gegeven').first().isVisible());
  await axe(mentor, "the child's page");
  await shot(mentor, 'mentor-kind');

  // Eva's link is now her overview; she withdraws with one confirmation
  await eva.goto(`${base}/ouder`);
  await eva.getByRole('heading', { name: /Wie heeft de gegevens van Noor bekeken/ }).waitFor();
  assert.equal(await eva.getByText('wacht op de andere ouder').count(), 0, 'both decided');
  await axe(eva, 'the overview (phone)');
  await shot(eva, 'ouder-overzicht-telefoon');
  await eva.getByRole('link', { name: 'Toestemming intrekken' }).first().click();
  await eva.getByRole('heading', { name: 'Toestemming intrekken' }).waitFor();
  await axe(eva, 'the withdrawal question');
  await shot(eva, 'ouder-intrekken-telefoon');
  await eva.getByRole('button', { name: 'Ja, trek mijn toestemming in' }).click();
  await eva.getByText('Uw toestemming is ingetrokken').waitFor();

  await mentor.reload();
  assert.ok(await mentor.getByText('ingetrokken').first().isVisible(), 'the mentor sees the withdrawal at once');

  for (const p of [eva, tom, mentor]) {
    assert.deepEqual(p.cspViolations, []);
    await p.context().close();
  }
});

test("a mentor of another location is refused the child, as if it did not exist", async () => {
  const page = await windowOf(DESKTOP);
  await login(page, 'Youssef El Amrani');
  const theirs = await page.goto(`${base}/kinderen/${demo.CHILD}`);
  const theirsText = await page.locator('main').innerText();
  const unknown = await page.goto(`${base}/kinderen/01a23283-0000-7000-8000-000000000000`);
  const unknownText = await page.locator('main').innerText();
  assert.equal(theirs.status(), 404);
  assert.equal(unknown.status(), 404);
  assert.equal(theirsText, unknownText);
  assert.match(theirsText, /bestaat niet of u mag hem niet zien/);
  await axe(page, 'the not-found page');
  await page.context().close();
});

test('a link that does not work gets a friendly page', async () => {
  const page = await windowOf(PHONE);
  const res = await page.goto(`${base}/api/v1/parent/${'x'.repeat(43)}`);
  assert.equal(res.status(), 404);
  await page.getByRole('heading', { name: 'Deze link werkt niet (meer)' }).waitFor();
  assert.match(await page.locator('main').innerText(), /Vraag de kinderopvang/);
  await axe(page, 'the link-does-not-work page');
  await shot(page, 'ouder-link-werkt-niet-telefoon');
  await page.context().close();
});
