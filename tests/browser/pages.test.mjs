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
import { mkdirSync, mkdtempSync, readFileSync, openSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createServer } from 'node:net';
import { chromium } from 'playwright-core';
import { AxeBuilder } from '@axe-core/playwright';
import { startProvider } from './oidc-provider.mjs';

const BIN = process.env.KINDBRUG_BIN ?? 'target/debug/kindbrug';
const DB = process.env.KINDBRUG_DATABASE_URL;
const SHOTS = process.env.KINDBRUG_SCREENSHOTS;
const CHROMIUM = process.env.CHROMIUM ?? '/usr/bin/chromium';
const PHONE = { width: 375, height: 740 };
const DESKTOP = { width: 1200, height: 900 };

let server, base, demo, browser, idp, smtp, mailbox;
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
  // the organisation's OpenID provider: Sanne's account there carries her organisation and role
  idp = await startProvider(await freePort(), {
    redirectBase: () => base,
    accounts: {
      sanne: () => ({ org: demo.CHILDCARE_ORG, roles: ['mentor'] }),
      stranger: () => ({ org: demo.CHILDCARE_ORG, roles: ['mentor'] }),
    },
  });
  // a real SMTP server that prints what it receives (Python aiosmtpd)
  const smtpPort = await freePort();
  mailbox = join(mkdtempSync(join(tmpdir(), 'kindbrug-mail-')), 'mail.txt');
  smtp = spawn('python3', ['-m', 'aiosmtpd', '-n', '-l', `127.0.0.1:${smtpPort}`, '-c', 'aiosmtpd.handlers.Debugging', 'stdout'], {
    stdio: ['ignore', openSync(mailbox, 'w'), 'ignore'],
  });
  server = spawn(BIN, ['serve'], {
    env: {
      ...process.env,
      KINDBRUG_ENV: 'development',
      KINDBRUG_DATABASE_URL: DB,
      KINDBRUG_LISTEN: `127.0.0.1:${port}`,
      KINDBRUG_PUBLIC_BASE_URL: base,
      KINDBRUG_LOG_FORMAT: 'json',
      KINDBRUG_OIDC_ISSUERS: idp.issuer,
      KINDBRUG_OIDC_CLIENT_ID: 'kindbrug',
      KINDBRUG_OIDC_CLIENT_SECRET: 'kindbrug-test-secret',
      KINDBRUG_OIDC_SCOPES: 'kindbrug',
      KINDBRUG_SMTP_URL: `smtp://127.0.0.1:${smtpPort}`,
      KINDBRUG_MAIL_FROM: 'Kinderopvang De Vlinder <noreply@example.nl>',
      KINDBRUG_MAIL_INTERVAL_SECONDS: '1',
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
  await idp?.close();
  smtp?.kill('SIGTERM');
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

/** The mails the SMTP server received, quoted-printable undone. */
function mails() {
  return readFileSync(mailbox, 'utf8').replace(/^b'|'$/gm, '').replace(/=\r?\n/g, '');
}

/** Waits for the invitation mail to `to` and returns the link in it. */
async function mailedLink(to) {
  for (let i = 0; i < 150; i++) {
    const text = mails();
    const at = text.indexOf(`To: ${to}`);
    if (at >= 0) {
      const m = text.slice(at).match(/http:\/\/127\.0\.0\.1:\d+\/api\/v1\/parent\/[A-Za-z0-9_-]{43}/);
      if (m) return m[0];
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  assert.fail(`no invitation mail to ${to}:\n${mails()}`);
}

async function login(page, name) {
  await page.goto(`${base}/`);
  assert.match(page.url(), /\/inloggen$/);
  await page.getByLabel(new RegExp(`^${name}`)).check();
  await page.getByRole('button', { name: 'Inloggen' }).click();
}

async function inviteByApi(guardianName) {
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

/** Through the provider's own login form (and its consent step), back to Kindbrug. */
async function loginAtProvider(page, login) {
  await page.goto(`${base}/inloggen`);
  await page.getByRole('link', { name: 'Inloggen met uw organisatie' }).click();
  await page.waitForURL((u) => u.toString().startsWith(idp.issuer));
  await page.fill('input[name=login]', login);
  await page.fill('input[name=password]', 'any');
  await page.click('button[type=submit]');
  for (let i = 0; i < 3 && page.url().startsWith(idp.issuer); i++) {
    await page.click('button[type=submit]');
    await page.waitForLoadState();
  }
}

test('a mentor logs in at the organisation\'s OpenID provider (PKCE) and out at both', async () => {
  const page = await windowOf(DESKTOP);
  await loginAtProvider(page, 'sanne');
  await page.waitForURL(`${base}/kinderen`);
  await page.getByRole('heading', { name: 'Mijn kinderen' }).waitFor();
  assert.ok(await page.getByText('Sanne de Vries').first().isVisible());
  await page.getByRole('button', { name: 'Uitloggen' }).click();
  await page.waitForURL((u) => u.toString().startsWith(idp.issuer));
  // the provider asks to confirm its own logout
  await page.click('button[type=submit]').catch(() => {});
  await page.goto(`${base}/kinderen`);
  assert.match(page.url(), /\/inloggen$/, 'logged out at Kindbrug');

  // an account the provider knows but Kindbrug has no staff record for is refused
  const other = await windowOf(DESKTOP);
  await loginAtProvider(other, 'stranger');
  await other.waitForURL((u) => u.toString().startsWith(`${base}/inloggen/terug`));
  assert.match(await other.locator('main').innerText(), /kent u \(nog\) niet/);
  await other.goto(`${base}/kinderen`);
  assert.match(other.url(), /\/inloggen$/);
  await page.context().close();
  await other.context().close();
});

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

test('a mentor registers a child with two parents, both consent on a phone, the request is routed, one parent withdraws', async () => {
  const mentor = await windowOf(DESKTOP);
  await login(mentor, 'Sanne de Vries');

  // register a child; an empty form first: the errors stand beside the fields, in Dutch
  await mentor.getByRole('link', { name: 'Kind inschrijven' }).click();
  await mentor.getByRole('button', { name: 'Kind inschrijven' }).click();
  await mentor.getByRole('heading', { name: 'Kijk het formulier na' }).waitFor();
  assert.ok(await mentor.getByText('Kies een locatie.').first().isVisible());
  await axe(mentor, 'a form with errors');
  await shot(mentor, 'mentor-formulier-met-fouten');
  await mentor.getByLabel('Voornaam').fill('Ilse');
  await mentor.getByLabel('Eigen nummer').fill('K-0100');
  await mentor.getByLabel('Geboortedatum').fill('2024-03-15');
  await mentor.getByLabel('Locatie').selectOption({ label: 'KDV De Rups' });
  await mentor.getByLabel('Groep').selectOption({ label: 'Peutergroep (KDV De Rups)' });
  await mentor.getByRole('button', { name: 'Kind inschrijven' }).click();
  await mentor.getByRole('heading', { name: 'Ilse' }).waitFor();
  const childUrl = mentor.url();

  // two parents with gezag
  for (const [name, email] of [['Marije de Wit', 'marije@example.nl'], ['Koen de Wit', 'koen@example.nl']]) {
    await mentor.getByRole('link', { name: 'Ouder of verzorger toevoegen' }).click();
    await axe(mentor, 'the guardian form');
    await mentor.getByLabel('Naam').fill(name);
    await mentor.getByLabel('ouder', { exact: true }).check();
    await mentor.getByLabel('Ja', { exact: true }).check();
    await mentor.getByLabel('De ouder heeft het gezegd of het staat in onze administratie').check();
    await mentor.getByLabel('E-mailadres (mag leeg)').fill(email);
    await mentor.getByRole('button', { name: 'Toevoegen' }).click();
    await mentor.getByRole('heading', { name: 'Ilse' }).waitFor();
  }
  await axe(mentor, "the child's page");

  // a concern, then the request form: its button waits for consent, and says why
  await mentor.getByRole('link', { name: 'Toestemming vastleggen (papier of mondeling)' }).click();
  await axe(mentor, 'the consent form');
  await shot(mentor, 'mentor-toestemming-vastleggen');
  await mentor.goto(childUrl);
  await mentor.getByRole('link', { name: 'Een melding bij Veilig Thuis vastleggen' }).click();
  await mentor.getByRole('heading', { name: 'Melding bij Veilig Thuis vastleggen' }).waitFor();
  await axe(mentor, 'the Meldcode form');
  await mentor.goto(childUrl);
  await mentor.getByRole('link', { name: 'Zorg vastleggen' }).click();
  await axe(mentor, 'the concern form');
  await mentor.getByLabel('taal').check();
  await mentor.getByLabel('Wat ziet u?').fill('Zegt weinig en speelt vaak alleen.');
  await mentor.getByLabel('Sinds wanneer?').fill('2026-09-01');
  await mentor.getByRole('button', { name: 'Vastleggen' }).click();
  await mentor.getByRole('heading', { name: 'Ilse' }).waitFor();
  await mentor.getByRole('link', { name: 'Specialist vragen' }).click();
  assert.ok(await mentor.getByRole('button', { name: 'Aanvraag versturen' }).isDisabled(), 'no request before consent');
  assert.ok(await mentor.getByText(/Nog nodig: toestemming van Marije de Wit en Koen de Wit/).isVisible());
  await axe(mentor, 'the request form waiting for consent');
  await mentor.goto(childUrl);
  assert.ok(await mentor.getByText('Nog nodig: toestemming van Marije de Wit en Koen de Wit.').first().isVisible(), 'the child page says who must consent');
  await mentor.getByRole('link', { name: 'Specialist vragen' }).click();
  await shot(mentor, 'mentor-aanvraag-wacht-op-toestemming');

  // invitations, one per parent
  const links = [];
  for (const name of ['Marije de Wit', 'Koen de Wit']) {
    await mentor.goto(childUrl);
    await mentor.getByRole('link', { name: 'Ouder vragen om toestemming' }).click();
    await axe(mentor, 'the invitation form');
    await mentor.getByLabel(name).check();
    await mentor.getByLabel('meekijken en advies door een specialist (consultatie)').check();
    await mentor.getByLabel('Versie van de informatiebrief').fill('2026-1');
    await mentor.getByRole('button', { name: 'Vraag versturen' }).click();
    assert.ok(await mentor.getByText('Kindbrug stuurt de vraag per e-mail').isVisible());
    await axe(mentor, 'the invitation made');
  }
  // each parent gets the link by mail (caught by the test SMTP server), with nothing about the child
  links.push(await mailedLink('marije@example.nl'));
  links.push(await mailedLink('koen@example.nl'));
  for (const secret of ['Ilse', '2024', 'Zegt weinig']) {
    assert.ok(!mails().includes(secret), `a mail holds ${secret}`);
  }

  // Marije: on a phone, by touch
  const marije = await windowOf(PHONE);
  await marije.goto(links[0]);
  assert.match(marije.url(), /\/ouder$/, 'the token left the address bar');
  await marije.getByRole('heading', { name: /vraagt uw toestemming/ }).waitFor();
  const yes = marije.getByRole('button', { name: 'Ja, ik geef toestemming' });
  const no = marije.getByRole('button', { name: 'Nee, ik geef geen toestemming' });
  const [yb, nb] = [await yes.boundingBox(), await no.boundingBox()];
  assert.ok(Math.abs(yb.height - nb.height) < 2, 'the two choices are equal');
  assert.ok(yb.x + yb.width <= PHONE.width, 'fits a phone');
  assert.ok(await marije.getByText('Sanne de Vries, de mentor van Ilse').isVisible(), 'who asks');
  assert.ok(await marije.getByText('De andere ouder met gezag moet ook toestemming geven').isVisible());
  await axe(marije, 'the question (phone)');
  await shot(marije, 'ouder-vraag-telefoon');
  await yes.click();
  await marije.getByRole('heading', { name: 'Uw keuze is vastgelegd' }).waitFor();
  await axe(marije, 'the confirmation');
  await shot(marije, 'ouder-bevestiging-telefoon');
  await marije.goto(`${base}/ouder`);
  assert.ok(await marije.getByText('wacht op de andere ouder').isVisible(), 'Koen has not decided yet');

  // Koen: keyboard alone
  const koen = await windowOf(PHONE);
  await koen.goto(links[1]);
  await koen.getByRole('heading', { name: /vraagt uw toestemming/ }).waitFor();
  let focused = '';
  for (let i = 0; i < 30 && focused !== 'Ja, ik geef toestemming'; i++) {
    await koen.keyboard.press('Tab');
    focused = await koen.evaluate(() => document.activeElement?.textContent?.trim() ?? '');
  }
  assert.equal(focused, 'Ja, ik geef toestemming', 'the choice is reached by Tab');
  await koen.keyboard.press('Enter');
  await koen.getByRole('heading', { name: 'Uw keuze is vastgelegd' }).waitFor();

  // now the request can go: it is routed to a specialist
  await mentor.goto(childUrl);
  assert.ok(await mentor.getByText('toestemming gegeven').first().isVisible());
  assert.ok(await mentor.getByText('toestemming in orde').first().isVisible(), 'consent per purpose, as the consent check says');
  await mentor.getByRole('link', { name: 'Specialist vragen' }).click();
  assert.ok(await mentor.getByRole('button', { name: 'Aanvraag versturen' }).isEnabled());
  await mentor.getByLabel('Over welke zorg?').selectOption({ index: 1 });
  await mentor.getByLabel('Wat is de vraag van het kind?').fill('Hoe kan Ilse meer meedoen in de groep?');
  await mentor.getByRole('radio', { name: 'taal' }).check();
  await mentor.getByLabel('gewoon').check();
  await mentor.getByRole('button', { name: 'Aanvraag versturen' }).click();
  await mentor.getByRole('heading', { name: 'Aanvraag voor een specialist' }).waitFor();
  assert.ok(await mentor.getByText('aangeboden aan een specialist').first().isVisible(), 'routed');
  await axe(mentor, "the request's page");
  await shot(mentor, 'mentor-aanvraag');
  await mentor.goto(childUrl);
  await shot(mentor, 'mentor-kind');

  // Marije's link is now her overview; she withdraws with one confirmation
  await marije.goto(`${base}/ouder`);
  await marije.getByRole('heading', { name: /Wie heeft de gegevens van Ilse bekeken/ }).waitFor();
  assert.equal(await marije.getByText('wacht op de andere ouder').count(), 0, 'both decided');
  await axe(marije, 'the overview (phone)');
  await shot(marije, 'ouder-overzicht-telefoon');
  await marije.getByRole('link', { name: 'Toestemming intrekken' }).first().click();
  await marije.getByRole('heading', { name: 'Toestemming intrekken' }).waitFor();
  await axe(marije, 'the withdrawal question');
  await shot(marije, 'ouder-intrekken-telefoon');
  await marije.getByRole('button', { name: 'Ja, trek mijn toestemming in' }).click();
  await marije.getByText('Uw toestemming is ingetrokken').waitFor();

  await mentor.reload();
  assert.ok(await mentor.getByText('ingetrokken').first().isVisible(), 'the mentor sees the withdrawal at once');

  for (const p of [marije, koen, mentor]) {
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
