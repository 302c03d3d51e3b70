// Kindbrug's pages in a real browser: Debian's Chromium driven by playwright-core, against the
// real gateway (`kindbrug serve` with the demo data), on the database KINDBRUG_DATABASE_URL
// names. Parents and mentors; the specialist, the regional coordinator, the policy officer and
// the operator; and each of the last four from the attacker's side. axe (WCAG 2.1 A/AA) on every
// page, the main ones at a phone's width too; forms used by keyboard alone; no CSP violation;
// screenshots of the main pages when KINDBRUG_SCREENSHOTS names a folder.
//
// Run by .ci/browser; by hand:
//   KINDBRUG_BIN=target/debug/kindbrug KINDBRUG_DATABASE_URL=sqlite:///tmp/b.db node --test tests/browser/
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, execFile } from 'node:child_process';
import { promisify } from 'node:util';
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

let server, serverEnv, base, demo, browser, idp, smtp, mailbox, dateOrder;
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
      anouk: () => ({ org: demo.YOUTH_CARE_ORG, roles: ['specialist'] }),
    },
  });
  // a real SMTP server that prints what it receives (Python aiosmtpd)
  const smtpPort = await freePort();
  mailbox = join(mkdtempSync(join(tmpdir(), 'kindbrug-mail-')), 'mail.txt');
  smtp = spawn('python3', ['-m', 'aiosmtpd', '-n', '-l', `127.0.0.1:${smtpPort}`, '-c', 'aiosmtpd.handlers.Debugging', 'stdout'], {
    stdio: ['ignore', openSync(mailbox, 'w'), 'ignore'],
  });
  serverEnv = {
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
  };
  server = spawn(BIN, ['serve'], { env: serverEnv, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  server.on('error', (e) => serverLog.push(`could not start ${BIN}: ${e}`));
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
  dateOrder = await dateFieldOrder();
});

/**
 * The order of a date field's parts as this Chromium lays them out, found by typing into one on
 * a blank page: it follows the browser's own language (Debian's package without chromium-l10n
 * knows only en-US: month, day, year), not the page's; a Dutch Chromium gives day, month, year.
 */
async function dateFieldOrder() {
  const context = await browser.newContext({ locale: 'nl-NL' });
  const page = await context.newPage();
  await page.setContent('<input type="date" id="d">');
  await page.keyboard.press('Tab');
  await page.keyboard.type('01022026');
  const value = await page.inputValue('#d');
  await context.close();
  if (value === '2026-02-01') return ['d', 'm', 'y'];
  if (value === '2026-01-02') return ['m', 'd', 'y'];
  throw new Error(`a date field of unknown order: ${value}`);
}

/** Types the ISO date `iso` into the focused date field, its parts in the field's order. */
async function typeDate(page, iso) {
  const [y, m, d] = iso.split('-');
  await page.keyboard.type(dateOrder.map((p) => ({ y, m, d })[p]).join(''));
}

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

/** A screenshot of the whole page (or, with `fullPage: false`, of its first screen). */
async function shot(page, name, { fullPage = true } = {}) {
  if (!SHOTS) return;
  mkdirSync(SHOTS, { recursive: true });
  await page.screenshot({ path: `${SHOTS}/${name}.png`, fullPage });
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

// ------------------------------------------------------------------ the youth-care side and the office

/** A calendar day `days` from today, as YYYY-MM-DD (UTC; a day either way does not matter). */
function day(days = 0) {
  return new Date(Date.now() + days * 86400000).toISOString().slice(0, 10);
}

/** A list answer's items (some list endpoints page, with `items`). */
const items = (body) => (Array.isArray(body) ? body : body.items);

/** The staff record of `subject` at `org`, through the admin's JSON API. */
async function staffOf(org, subject) {
  const list = await api('GET', `/api/v1/organizations/${org}/staff`, demo.TOKEN_ADMIN);
  assert.equal(list.status, 200, JSON.stringify(list.body));
  const s = items(list.body).find((x) => x.subject === subject);
  assert.ok(s, `${subject} at ${org}`);
  return s;
}

/** Adds a staff member through the admin's JSON API; returns their id. */
async function addStaff(org, body) {
  const made = await api('POST', `/api/v1/organizations/${org}/staff`, demo.TOKEN_ADMIN, body);
  assert.equal(made.status, 201, JSON.stringify(made.body));
  return made.body.id;
}

async function addOrganization(name, kind) {
  const made = await api('POST', '/api/v1/organizations', demo.TOKEN_ADMIN, { name, kind });
  assert.equal(made.status, 201, JSON.stringify(made.body));
  return made.body.id;
}

async function organizationNamed(name) {
  const list = await api('GET', '/api/v1/organizations', demo.TOKEN_ADMIN);
  const org = items(list.body).find((o) => o.name === name);
  assert.ok(org, name);
  return org.id;
}

let noorConcern;
/**
 * A request for the demo child Noor (KDV De Rups, region JZ22) through the mentor's JSON API:
 * the first call notes a concern and both parents' consent for Jeugdhulp Midden.
 */
async function requestForNoor(expertise) {
  if (!noorConcern) {
    const t = demo.TOKEN_SANNE;
    const guardians = await api('GET', `/api/v1/children/${demo.CHILD}/guardians`, t);
    const sanne = await staffOf(demo.CHILDCARE_ORG, 'sanne');
    const concern = await api('POST', `/api/v1/children/${demo.CHILD}/concerns`, t, {
      domains: ['behaviour', 'language', 'motor'],
      observation: 'Wordt boos bij overgangen en praat weinig.',
      observed_since: day(-60),
    });
    assert.equal(concern.status, 201, JSON.stringify(concern.body));
    const consent = await api('POST', `/api/v1/children/${demo.CHILD}/consents`, t, {
      purpose: 'consultation',
      recipient: { organization_id: demo.YOUTH_CARE_ORG },
      decision: 'granted',
      given_by: items(guardians.body).map((g) => ({ guardian_id: g.id })),
      method: 'oral',
      noted_by_staff_id: sanne.id,
      information_version: '2026-1',
      valid_from: day(-1),
    });
    assert.equal(consent.status, 201, JSON.stringify(consent.body));
    noorConcern = concern.body.id;
  }
  const r = await api('POST', '/api/v1/consultations', demo.TOKEN_SANNE, {
    child_id: demo.CHILD,
    concern_id: noorConcern,
    question: `Wat helpt de groep bij dit kind? (${{ behaviour: 'gedrag', language: 'taal', motor: 'motoriek' }[expertise]})`,
    expertise,
    urgency: 'normal',
  });
  assert.equal(r.status, 201, JSON.stringify(r.body));
  return r.body;
}

/**
 * axe and a screenshot (`fullPage: false`: its first screen); with `phone`, again at a phone's
 * width (and nothing wider than it; the elements `fits` names do not even scroll inside).
 */
async function check(page, what, name, { phone = false, fits, fullPage = true } = {}) {
  await axe(page, what);
  if (name) await shot(page, name, { fullPage });
  if (!phone) return;
  await page.setViewportSize(PHONE);
  await axe(page, `${what} (phone)`);
  const wide = await page.evaluate(() => document.documentElement.scrollWidth);
  assert.ok(wide <= PHONE.width, `${what} is ${wide}px wide on a phone of ${PHONE.width}px`);
  if (fits) {
    const over = await page.locator(fits).evaluateAll((all) => all.filter((e) => e.scrollWidth > e.clientWidth).length);
    assert.equal(over, 0, `${what}: ${fits} fits a phone`);
  }
  if (name) await shot(page, `${name}-telefoon`, { fullPage });
  await page.setViewportSize(DESKTOP);
}

/** Tab (only) until the focused element matches `selector`. */
async function tabTo(page, selector, max = 80) {
  for (let i = 0; i < max; i++) {
    await page.keyboard.press('Tab');
    if (await page.evaluate((s) => document.activeElement?.matches(s) ?? false, selector)) return;
  }
  assert.fail(`Tab never reached ${selector}`);
}

/** In a radio group that has the focus, the arrow keys to the option `id`, then Space. */
async function arrowTo(page, id, max = 10) {
  for (let i = 0; i < max && (await page.evaluate(() => document.activeElement?.id)) !== id; i++) {
    await page.keyboard.press('ArrowDown');
  }
  assert.equal(await page.evaluate(() => document.activeElement?.id), id, `the arrows reach #${id}`);
  await page.keyboard.press('Space');
}

/** A checked radio button is drawn otherwise than an unchecked one of its group (checkboxes are drawn by the browser itself). */
async function looksChecked(page, id) {
  const [checked, unchecked] = await page.evaluate((id) => {
    const on = document.getElementById(id);
    const off = [...document.querySelectorAll(`input[name="${on.name}"]`)].find((i) => !i.checked);
    const look = (e) => { const s = getComputedStyle(e); return `${s.backgroundColor} ${s.backgroundImage} ${s.borderColor}`; };
    return [look(on), off ? look(off) : null];
  }, id);
  assert.notEqual(checked, unchecked, `#${id} looks checked`);
}

/** The label of the focused form control. */
const focusedLabel = (page) =>
  page.evaluate(() => document.querySelector(`label[for="${document.activeElement?.id}"]`)?.textContent?.trim() ?? '');

/** This session's CSRF token (the logout form in the header carries it). */
const csrfOf = (page) => page.locator('form[action="/uitloggen"] input[name=csrf]').getAttribute('value');

/** Submits the form by clicking `button` and returns the answer to its POST. */
async function submit(page, button) {
  const [res] = await Promise.all([
    page.waitForResponse((r) => r.request().method() === 'POST' && r.url().startsWith(base)),
    button.click(),
  ]);
  await page.waitForLoadState();
  return res;
}

/** Every count a page shows in a table cell is 0 or a multiple of 5 (no count of 1 to 9). */
async function noSmallCounts(page, what) {
  for (const v of await page.locator('td.utrecht-table__cell--numeric').allInnerTexts()) {
    if (/^\d+$/.test(v.trim())) {
      const n = Number(v.trim());
      assert.ok(n === 0 || n % 5 === 0, `${what}: a shown count of ${n}`);
    }
  }
}

const REFUSED = 'Deze pagina bestaat niet of u mag hem niet zien.';

/**
 * Brings the figures' summaries up to date now, as an operator would (`kindbrug figures
 * refresh`, on the server's database): `serve` does it in the background, first a minute after
 * it starts, which can fall anywhere in this suite.
 */
async function refreshFigures() {
  const { stdout } = await promisify(execFile)(BIN, ['figures', 'refresh'], { env: serverEnv });
  assert.match(stdout, /figures refreshed/);
}

test('a specialist accepts an offer, logs two visits (one by keyboard), meets an edit that crossed another and closes', async () => {
  const offer = await requestForNoor('behaviour');
  const anouk = await staffOf(demo.YOUTH_CARE_ORG, 'anouk');
  assert.equal(offer.status, 'offered');
  assert.equal(offer.offered_to, anouk.id, 'the only behaviour specialist of the region');
  const id = offer.id;

  // Anouk logs in at her organisation's OpenID provider and lands on her offers
  const page = await windowOf(DESKTOP);
  await loginAtProvider(page, 'anouk');
  await page.waitForURL(`${base}/aangeboden`);
  await page.getByRole('heading', { name: 'Aangeboden aan mij' }).waitFor();
  const card = page.locator('li.kb-card', { has: page.locator(`form[action="/aanvragen/${id}/accepteren"]`) });
  for (const words of ['gedrag', 'KDV De Rups, Kinderopvang De Vlinder', 'Utrecht Stad', 'Antwoord vóór', 'U ziet de vraag van de mentor zodra']) {
    assert.ok((await card.innerText()).includes(words), `the offer says ${words}`);
  }
  assert.ok(!(await card.innerText()).includes('Wat helpt de groep'), 'the question waits for acceptance');
  assert.equal(await card.getByRole('link', { name: /^Afwijzen/ }).getAttribute('href'), `/aanvragen/${id}/afwijzen`);
  await check(page, 'the offers', 'specialist-offered', { phone: true });
  await card.getByRole('button', { name: 'Aannemen' }).click();
  await page.waitForURL(`${base}/aanvragen/${id}`);
  await page.getByText('U heeft de aanvraag aangenomen').waitFor();
  assert.ok(await page.getByText('Wat helpt de groep bij dit kind? (gedrag)').isVisible(), 'the question, now');
  assert.ok(await page.getByText('Wordt boos bij overgangen en praat weinig.').isVisible(), 'the concern');
  assert.ok(await page.getByText('geldt', { exact: true }).isVisible(), 'consent in force');
  await check(page, "the specialist's request", null);

  // the first visit by keyboard alone: Tab, typing, the arrows and Space, Enter
  await page.getByRole('link', { name: 'Bezoek vastleggen' }).click();
  await page.getByRole('heading', { name: 'Bezoek vastleggen' }).waitFor();
  await looksChecked(page, 'status-1'); // "gehouden", filled in beforehand
  await check(page, 'the visit form', 'specialist-visit-form', { phone: true });
  const first = day(-2);
  await tabTo(page, '#date');
  await typeDate(page, first);
  assert.equal(await page.inputValue('#date'), first, 'the date typed');
  await tabTo(page, '#duration_minutes');
  await page.keyboard.type('90');
  await tabTo(page, 'input[name=kind]');
  await arrowTo(page, 'kind-2');
  assert.equal(await focusedLabel(page), 'coaching van pedagogisch medewerkers');
  await tabTo(page, 'input[name=status]');
  assert.equal(await focusedLabel(page), 'gehouden', 'the checked choice takes the focus');
  await page.keyboard.press('Space');
  await tabTo(page, '#participants-1');
  await page.keyboard.press('Space');
  await tabTo(page, '#participants-2');
  await page.keyboard.press('Space');
  await tabTo(page, '#competences-2');
  await page.keyboard.press('Space');
  await tabTo(page, '#competences-4');
  await page.keyboard.press('Space');
  await tabTo(page, '#advice');
  await page.keyboard.type('Kondig overgangen aan met een plaatje.');
  await tabTo(page, '#notes');
  await page.keyboard.type('eigen notitie');
  await tabTo(page, 'main form button[type=submit]');
  assert.equal(await page.evaluate(() => document.activeElement.textContent.trim()), 'Bezoek opslaan');
  await page.keyboard.press('Enter');
  await page.waitForURL(`${base}/aanvragen/${id}`);
  await page.getByText('Het bezoek is opgeslagen.').waitFor();

  // the second visit with the mouse
  await page.getByRole('link', { name: 'Bezoek vastleggen' }).click();
  await page.getByLabel('Datum').fill(day(-1));
  await page.getByLabel('Hoe lang (minuten)').fill('60');
  await page.getByLabel('observatie op de groep').check();
  await page.getByLabel('de mentor', { exact: true }).check();
  await page.getByLabel('kennis van de ontwikkeling van kinderen').check();
  await page.getByLabel('hulp vragen').check();
  await page.getByRole('button', { name: 'Bezoek opslaan' }).click();
  await page.waitForURL(`${base}/aanvragen/${id}`);
  const visits = page.locator('li.kb-card');
  assert.equal(await visits.count(), 2);
  const text = await page.locator('main').innerText();
  for (const words of ['coaching van pedagogisch medewerkers', 'observatie op de groep', 'omgaan met opvallend gedrag',
    'omgaan met ouders van kinderen met opvallend gedrag', 'kennis van de ontwikkeling van kinderen', 'hulp vragen', '90 minuten']) {
    assert.ok(text.includes(words), `the request page shows ${words}`);
  }
  await check(page, 'the request with two visits', 'specialist-request', { phone: true });

  // the first visit's edit form, opened here; meanwhile Anouk changes it in a second window
  const listed = await api('GET', `/api/v1/consultations/${id}/visits`, demo.TOKEN_ANOUK);
  const visit = items(listed.body).find((v) => v.date === first);
  assert.ok(visit, JSON.stringify(listed.body));
  const editPath = `/aanvragen/${id}/bezoeken/${visit.id}`;
  await page.locator(`a[href="${editPath}"]`).click();
  await page.getByRole('heading', { name: 'Bezoek wijzigen' }).waitFor();
  assert.equal(await page.locator('input[name=version]').getAttribute('value'), '1');
  assert.equal(await page.inputValue('#duration_minutes'), '90', 'the form starts from what is stored');
  assert.ok(await page.getByLabel('omgaan met opvallend gedrag').isChecked());
  await check(page, 'the visit edit form', null);
  const other = await windowOf(DESKTOP);
  await login(other, 'Anouk Bakker');
  await other.goto(`${base}${editPath}`);
  await other.getByLabel('Hoe lang (minuten)').fill('45');
  await other.getByLabel('teamoverleg').check();
  await other.getByLabel('Eigen aantekeningen').fill('hun versie');
  await other.getByRole('button', { name: 'Wijziging opslaan' }).click();
  await other.getByText('De wijziging is opgeslagen.').waitFor();

  // my edit crossed theirs: both versions, nothing lost
  await page.getByLabel('Hoe lang (minuten)').fill('120');
  const crossed = await submit(page, page.getByRole('button', { name: 'Wijziging opslaan' }));
  assert.equal(crossed.status(), 409);
  await page.getByRole('heading', { name: 'Zo is het bezoek nu opgeslagen' }).waitFor();
  const stored = await page.locator('.kb-other').innerText();
  for (const words of ['45 minuten', 'teamoverleg', 'hun versie']) assert.ok(stored.includes(words), `the stored version: ${words}`);
  assert.match(await page.locator('main').innerText(), /Iemand anders heeft dit bezoek gewijzigd/);
  assert.equal(await page.inputValue('#duration_minutes'), '120', 'my version stays in the form');
  assert.ok(await page.getByLabel('coaching van pedagogisch medewerkers').isChecked());
  assert.equal(await page.locator('input[name=version]').getAttribute('value'), '2');
  await page.locator('main').click({ position: { x: 1, y: 1 } }); // no focus or hover on a choice
  await looksChecked(page, 'kind-2');
  await check(page, 'the crossed edit', 'specialist-visit-conflict', { phone: true });
  await page.getByRole('button', { name: 'Wijziging opslaan' }).click();
  await page.waitForURL(`${base}/aanvragen/${id}`);
  await page.getByText('De wijziging is opgeslagen.').waitFor();
  const after = await api('GET', `/api/v1/consultations/${id}/visits`, demo.TOKEN_ANOUK);
  const saved = items(after.body).find((v) => v.id === visit.id);
  assert.equal(saved.duration_minutes, 120, 'saved again on purpose: my version');
  assert.equal(saved.version, 3);

  // closing: a mistake first, then the outcome
  await page.getByRole('link', { name: 'Aanvraag afronden met een uitkomst' }).click();
  await page.getByRole('heading', { name: 'Aanvraag afronden' }).waitFor();
  await check(page, 'the close form', 'specialist-close');
  await page.getByRole('button', { name: 'Afronden' }).click();
  await page.getByRole('heading', { name: 'Kijk het formulier na' }).waitFor();
  assert.ok(await page.getByText('Kies hoe het is afgelopen.').first().isVisible());
  await check(page, 'the close form with errors', null);
  await page.getByLabel('opgelost binnen de opvang').check();
  await page.getByLabel('Samenvatting').fill('Twee bezoeken; de groep kondigt overgangen aan.');
  await page.getByLabel('Ja', { exact: true }).check();
  await page.getByRole('button', { name: 'Afronden' }).click();
  await page.waitForURL(`${base}/mijn-aanvragen`);
  await page.getByText('De aanvraag is afgerond.').waitFor();
  await check(page, 'my requests', 'specialist-my-requests', { phone: true });
  await page.locator(`main a[href="/aanvragen/${id}"]`).click();
  await page.getByText('opgelost binnen de opvang').waitFor();
  assert.equal(await page.getByRole('link', { name: 'Bezoek vastleggen' }).count(), 0, 'closed requests are read-only');
  await check(page, 'the closed request', null);
  const view = await api('GET', `/api/v1/consultations/${id}`, demo.TOKEN_SANNE);
  assert.equal(view.body.status, 'completed');

  for (const p of [page, other]) {
    assert.deepEqual(p.cspViolations, []);
    await p.context().close();
  }
});

test("a specialist declines an offer, and the region's coordinator assigns it by keyboard", async () => {
  const offer = await requestForNoor('language');
  const pieter = await staffOf(demo.YOUTH_CARE_ORG, 'pieter');
  const anouk = await staffOf(demo.YOUTH_CARE_ORG, 'anouk');
  assert.equal(offer.offered_to, pieter.id, 'the only language specialist of the region');
  const id = offer.id;

  // Pieter declines: a reason is needed; the page says where the request went
  const spec = await windowOf(DESKTOP);
  await login(spec, 'Pieter Smit');
  await spec.waitForURL(`${base}/aangeboden`);
  await spec.locator(`a[href="/aanvragen/${id}/afwijzen"]`).click();
  await spec.getByRole('heading', { name: 'Aanvraag afwijzen' }).waitFor();
  await check(spec, 'the decline form', 'specialist-decline');
  await spec.getByRole('button', { name: 'Afwijzen' }).click();
  await spec.getByRole('heading', { name: 'Kijk het formulier na' }).waitFor();
  await check(spec, 'the decline form with errors', null);
  await spec.getByLabel('Waarom wijst u de aanvraag af?').fill('Geen plaats deze maand.');
  await spec.getByRole('button', { name: 'Afwijzen' }).click();
  await spec.waitForURL(`${base}/aangeboden`);
  await spec.getByText('De regiocoördinator wijst de aanvraag nu toe.').waitFor();
  await check(spec, 'the offers after declining', null);
  assert.equal((await spec.goto(`${base}/aanvragen/${id}`)).status(), 404, 'no longer his');

  // the coordinator of Utrecht's regions: the queue says why it waits
  const coord = await windowOf(DESKTOP);
  await login(coord, 'Mila Hendriks');
  await coord.waitForURL(`${base}/wachtrij`);
  await coord.getByRole('heading', { name: 'Wacht op toewijzing in mijn regio' }).waitFor();
  const card = coord.locator('li.kb-card', { has: coord.locator(`a[href="/aanvragen/${id}"]`) });
  assert.match(await card.innerText(), /1 keer afgewezen/);
  assert.match(await card.innerText(), /taal/);
  await check(coord, 'the queue', 'coordinator-queue', { phone: true });
  await card.getByRole('link', { name: /^Toewijzen/ }).click();
  await coord.getByRole('heading', { name: 'Aanvraag toewijzen' }).waitFor();
  const main = await coord.locator('main').innerText();
  assert.ok(main.includes('Pieter Smit (logopedist), Jeugdhulp Midden'), main);
  assert.ok(main.includes('wees deze aanvraag al af') && main.includes('heeft deze deskundigheid niet'), main);
  assert.match(main, /\d van 5 open/);
  await check(coord, 'the assignment', 'coordinator-assign', { phone: true });
  // without a choice: said, beside the choices
  const none = await submit(coord, coord.getByRole('button', { name: 'Toewijzen' }));
  assert.equal(none.status(), 422);
  assert.ok(await coord.getByRole('link', { name: 'Kies een specialist.' }).isVisible());
  await check(coord, 'the assignment with an error', null);

  // by keyboard alone: Tab into the choices, the arrows to Anouk, Space, Tab to the button, Enter
  await coord.goto(`${base}/aanvragen/${id}`);
  await tabTo(coord, 'input[name=specialist]');
  for (let i = 0; i < 5 && !(await focusedLabel(coord)).startsWith('Anouk Bakker'); i++) {
    await coord.keyboard.press('ArrowDown');
  }
  assert.match(await focusedLabel(coord), /^Anouk Bakker/);
  await coord.keyboard.press('Space');
  assert.equal(await coord.evaluate(() => document.activeElement.checked), true);
  await tabTo(coord, 'main form button[type=submit]');
  await coord.keyboard.press('Enter');
  await coord.waitForURL(`${base}/wachtrij`);
  await coord.getByText('De aanvraag is toegewezen aan Anouk Bakker (orthopedagoog).').waitFor();
  assert.equal(await coord.locator(`a[href="/aanvragen/${id}"]`).count(), 0, 'no longer waiting');
  const view = await api('GET', `/api/v1/consultations/${id}`, demo.TOKEN_SANNE);
  assert.equal(view.body.status, 'accepted');
  assert.equal(view.body.assigned_to, anouk.id);
  await check(coord, 'the queue after assigning', null);

  await coord.getByRole('link', { name: 'Capaciteit' }).click();
  await coord.getByRole('heading', { name: 'Capaciteit van de specialisten' }).waitFor();
  for (const region of ['Utrecht Stad (JZ22)', 'Zuidoost Utrecht (JZ21)']) {
    assert.ok(await coord.getByRole('heading', { name: region }).isVisible(), region);
  }
  assert.ok(await coord.getByRole('rowheader', { name: 'taal' }).first().isVisible());
  await check(coord, 'the capacity', 'coordinator-capacity', { phone: true, fits: '.kb-table-wrap' });

  for (const p of [spec, coord]) {
    assert.deepEqual(p.cspViolations, []);
    await p.context().close();
  }
});

test('a policy officer reads the five figures, small counts hidden with their reason, and downloads them', async () => {
  const town = await organizationNamed('Gemeente Utrecht');
  await addStaff(town, { subject: 'beleid-utrecht', name: 'Bas Willems', role: 'policy', region_codes: ['JZ22', 'JZ21'] });
  // the requests, visits and the closing of the tests above are in the figures
  await refreshFigures();
  const page = await windowOf(DESKTOP);
  await login(page, 'Bas Willems');
  await page.waitForURL(`${base}/cijfers`);
  await page.getByRole('heading', { name: 'Cijfers: Toestemming' }).waitFor();
  await check(page, 'the figures start page', 'policy-figures', { phone: true });
  const figures = [
    ['consents', 'Toestemming'],
    ['consultations', 'Aanvragen'],
    ['response-times', 'Reactietijden'],
    ['outcomes', 'Uitkomsten'],
    ['visits', 'Bezoeken'],
  ];
  for (const [figure, title] of figures) {
    await page.getByRole('navigation', { name: 'Cijfers', exact: true }).getByRole('link', { name: title, exact: true }).click();
    await page.waitForURL(`${base}/cijfers/${figure}`);
    await page.getByRole('heading', { name: `Cijfers: ${title}` }).waitFor();
    const main = await page.locator('main').innerText();
    assert.ok(main.includes('Waarom sommige getallen ontbreken') && main.includes('Bijgewerkt op'), figure);
    // the demo has few requests: the chart marks the gaps and says why, the table too
    const gaps = page.locator('svg.kb-chart g.kb-chart__gap');
    assert.ok((await gaps.count()) > 0, `${figure}: a gap in a chart:\n${main}`);
    assert.match(await gaps.first().locator('title').textContent(), /minder dan 10, niet getoond|verborgen om een klein getal te beschermen/);
    assert.match(await gaps.first().locator('text').textContent(), /^(<10|×)$/);
    const hidden = page.locator('td.kb-hidden-count');
    assert.ok((await hidden.count()) > 0, `${figure}: a hidden count in a table`);
    assert.match(await hidden.first().innerText(), /minder dan 10, niet getoond|verborgen om een klein getal te beschermen/);
    assert.ok((await page.locator('svg.kb-chart[role=img] title').count()) > 0, `${figure}: the charts have a title`);
    assert.ok(!/aandeel\s*:/.test(main), `${figure}: a share without its name`);
    for (const code of ['small_count', 'secondary', 'social_emotional', 'in_progress', 'handled_within_childcare']) {
      assert.ok(!main.includes(code), `${figure}: the code ${code} on the page`);
    }
    await noSmallCounts(page, figure);
    // (the consents are the start page, shot above as policy-figures)
    await check(page, `the figure ${figure}`, figure === 'consents' ? null : `policy-${figure}`, { phone: figure === 'consultations' });
  }
  // one region of the two
  await page.getByLabel('Jeugdregio').selectOption('JZ22');
  await page.getByRole('button', { name: 'Toon' }).click();
  await page.waitForURL(/regio=JZ22/);
  await check(page, 'the figure for one region', null);

  // the download is the API's CSV file
  const [download] = await Promise.all([
    page.waitForEvent('download'),
    page.getByRole('link', { name: 'CSV', exact: true }).click(),
  ]);
  assert.equal(download.suggestedFilename(), 'kindbrug-visits.csv');
  const csv = readFileSync(await download.path(), 'utf8');
  assert.ok(csv.startsWith('figure,table,region,half_year,age_band,column,value,suppressed'), csv.slice(0, 200));
  assert.match(csv, /small_count/, 'the file says why a count is missing');
  const [dutch] = await Promise.all([
    page.waitForEvent('download'),
    page.getByRole('link', { name: 'CSV voor Nederlandse spreadsheets (;)' }).click(),
  ]);
  assert.match(readFileSync(await dutch.path(), 'utf8').split('\n')[0], /;/);

  assert.deepEqual(page.cspViolations, []);
  await page.context().close();
});

test('an operator imports a region table, adds a specialist and a webhook, searches the access log and checks its chain', async () => {
  const page = await windowOf(DESKTOP);
  await page.goto(`${base}/inloggen`);
  assert.equal(await page.getByLabel('Beheerder — beheerder').getAttribute('value'), '|beheerder|admin');
  await login(page, 'Beheerder');
  await page.waitForURL(`${base}/beheer`);
  await page.getByRole('heading', { name: 'Beheer', exact: true }).waitFor();
  for (const org of ['Kinderopvang De Vlinder', 'Jeugdhulp Midden', 'Gemeente Utrecht']) {
    assert.ok(await page.getByRole('link', { name: org }).isVisible(), org);
  }
  await check(page, 'the operator home', 'admin-home', { phone: true });

  // regions: a preview first (it changes nothing), then applied
  await page.getByRole('link', { name: "Jeugdregio's" }).first().click();
  await page.getByRole('heading', { name: "Jeugdregio's" }).waitFor();
  await check(page, 'the regions', 'admin-regions');
  const from = `${new Date().getFullYear() + 1}-01-01`;
  await page.getByLabel('Bestand (CSV)').setInputFiles({
    name: 'regios.csv',
    mimeType: 'text/csv',
    buffer: Buffer.from('GemeentecodeGM;Gemeentenaam;JeugdzorgregioCode;JeugdzorgregioNaam\nGM0344;Utrecht;JZ22;Utrecht Stad\nGM0321;Houten;JZ22;Utrecht Stad\nGM1234;Nieuwstad;JZ22;Utrecht Stad\n'),
  });
  await page.getByLabel('Geldt vanaf').fill(from);
  await page.getByRole('button', { name: 'Bekijk wat verandert' }).click();
  await page.getByRole('heading', { name: 'Regiotabel nakijken' }).waitFor();
  const preview = await page.locator('main').innerText();
  assert.ok(preview.includes('Houten (GM0321)') && preview.includes('gaat van regio JZ21 naar regio JZ22'), preview);
  assert.ok(preview.includes('Nieuwstad (GM1234)') && preview.includes('1 blijven zoals ze zijn'), preview);
  await check(page, 'the region preview', 'admin-regions-preview', { phone: true });
  await page.getByRole('button', { name: 'Toepassen' }).click();
  await page.waitForURL(`${base}/beheer/regios`);
  await page.getByText('De regiotabel is toegepast (3 gemeenten).').waitFor();
  await check(page, 'the regions after applying', null);
  await page.getByRole('link', { name: 'Utrecht Stad' }).click();
  await page.getByRole('heading', { name: 'Utrecht Stad (JZ22)' }).waitFor();
  await check(page, 'a region', null);

  // a specialist for Jeugdhulp Midden (a mistake first: a specialist needs expertise and regions)
  await page.goto(`${base}/beheer/organisaties/${demo.YOUTH_CARE_ORG}`);
  await page.getByRole('heading', { name: 'Jeugdhulp Midden' }).waitFor();
  await check(page, "an organisation's page", 'admin-organisation');
  await page.getByRole('link', { name: 'Medewerker toevoegen' }).click();
  await page.getByRole('heading', { name: 'Medewerker toevoegen' }).waitFor();
  await check(page, 'the staff form', null);
  await page.getByLabel('Naam', { exact: true }).fill('Sam de Groot (gezinscoach)');
  await page.getByLabel('Inlognaam (subject)').fill('sam');
  await page.getByLabel('jeugdhulpspecialist').check();
  const refused = await submit(page, page.getByRole('button', { name: 'Opslaan' }));
  assert.equal(refused.status(), 422);
  await page.getByRole('heading', { name: 'Kijk het formulier na' }).waitFor();
  await check(page, 'the staff form with errors', 'admin-staff-errors');
  await page.getByLabel('verzorging en opvoeding').check();
  await page.getByLabel('Zuidoost Utrecht (JZ21)').check();
  await page.getByLabel('Capaciteit (voor specialisten)').fill('4');
  await page.getByRole('button', { name: 'Opslaan' }).click();
  await page.waitForURL(`${base}/beheer/organisaties/${demo.YOUTH_CARE_ORG}`);
  const org = await page.locator('main').innerText();
  assert.ok(org.includes('Sam de Groot (gezinscoach)') && org.includes('capaciteit 4'), org);
  await check(page, "the organisation's page with the new specialist", null);

  // a webhook endpoint for the childcare organisation: its key shown once
  await page.goto(`${base}/beheer/organisaties/${demo.CHILDCARE_ORG}`);
  await page.getByRole('link', { name: 'Webhook toevoegen' }).click();
  await page.getByRole('heading', { name: 'Webhook toevoegen' }).waitFor();
  await check(page, 'the webhook form', null);
  await page.getByLabel('Adres (https)').fill('https://partner.example/hooks');
  await page.getByLabel('consent.withdrawn').check();
  await page.getByLabel(/^Ed25519/).check();
  const made = await submit(page, page.getByRole('button', { name: 'Webhook toevoegen' }));
  assert.equal(made.status(), 201);
  await page.getByRole('heading', { name: 'Webhook toegevoegd' }).waitFor();
  assert.match(await page.locator('code.kb-secret').innerText(), /^whpk_/);
  assert.match(await page.locator('main').innerText(), /één keer/);
  await check(page, 'the key shown once', 'admin-webhook-key', { phone: true });
  await page.getByRole('link', { name: '← Terug naar de organisatie' }).click();
  assert.ok(await page.getByRole('link', { name: 'https://partner.example/hooks' }).isVisible());
  await check(page, "the childcare organisation's page", null);
  assert.ok(!(await page.content()).includes('whpk_'), 'the key is not shown again');
  await page.getByRole('link', { name: 'https://partner.example/hooks' }).click();
  await page.getByRole('heading', { name: 'Webhook', exact: true }).waitFor();
  await check(page, 'a webhook', null);

  // the access log: by child id (ids only, no child data), then the chain check
  await page.goto(`${base}/beheer`);
  await page.getByRole('link', { name: 'Toegangslog' }).click();
  await page.getByRole('heading', { name: 'Toegangslog' }).waitFor();
  await check(page, 'the access log search', null);
  await page.getByLabel('Id van het kind').fill(demo.CHILD);
  await page.getByRole('button', { name: 'Zoeken' }).click();
  await page.waitForURL(/\/beheer\/toegang\?kind=/);
  const log = await page.locator('main').innerText();
  assert.match(log, /\d+ regels/);
  assert.ok(log.includes('sanne') && log.includes('toegestaan'), log);
  for (const secret of ['Noor', 'Eva Visser', 'Wordt boos', 'Wat helpt de groep']) {
    assert.ok(!(await page.content()).includes(secret), `the access log page holds ${secret}`);
  }
  await check(page, 'the access log', 'admin-access', { phone: true, fullPage: false });
  await page.getByRole('button', { name: 'Controleer de keten van het log' }).click();
  await page.getByText('Het toegangslog is heel').waitFor();
  await check(page, 'the chain check', 'admin-access-check');

  assert.deepEqual(page.cspViolations, []);
  await page.context().close();
});

test("another provider's specialist, another region's coordinator and policy officer get the page an unknown address gets", async () => {
  // what they try to reach: the closed request with its visits, and a request waiting in JZ22
  const closed = items((await api('GET', '/api/v1/consultations?assigned=me', demo.TOKEN_ANOUK)).body)
    .find((c) => c.status === 'completed');
  assert.ok(closed, 'the request the specialist closed');
  const visit = items((await api('GET', `/api/v1/consultations/${closed.id}/visits`, demo.TOKEN_ANOUK)).body)[0];
  const waiting = await requestForNoor('motor');
  assert.equal(waiting.status, 'unassigned', 'no motor specialist in JZ22');
  const nowhere = '01a23283-0000-7000-8000-000000000000';

  const east = await addOrganization('Jeugdhulp Oost', 'youth_care');
  await addStaff(east, { subject: 'bram', name: 'Bram Oost', role: 'specialist', expertise: ['behaviour', 'motor'], region_codes: ['JZ22'], capacity: 3 });
  await addStaff(demo.YOUTH_CARE_ORG, { subject: 'coordinator-amsterdam', name: 'Rik Meijer', role: 'coordinator', region_codes: ['JZ14'] });
  const amsterdam = await addOrganization('Gemeente Amsterdam', 'municipality');
  await addStaff(amsterdam, { subject: 'beleid-amsterdam', name: 'Lieke Vos', role: 'policy', region_codes: ['JZ14'] });

  /** Each path answers 404 with the text of an unknown address. */
  async function refusedAll(page, who, paths) {
    const unknown = await page.goto(`${base}/aanvragen/${nowhere}`);
    assert.equal(unknown.status(), 404);
    const unknownText = await page.locator('main').innerText();
    assert.ok(unknownText.includes(REFUSED), unknownText);
    await check(page, `the refusal page (${who})`, null);
    for (const path of paths) {
      const res = await page.goto(`${base}${path}`);
      assert.equal(res.status(), 404, `${who}: ${path}`);
      assert.equal(await page.locator('main').innerText(), unknownText, `${who}: ${path} looks like an unknown address`);
    }
  }

  // the development login now lists the staff of five organisations: one id per choice
  const picker = await windowOf(DESKTOP);
  await picker.goto(`${base}/inloggen`);
  const ids = await picker.locator('input[name=login]').evaluateAll((all) => all.map((i) => i.id));
  assert.ok(ids.length > 12, ids.join(' '));
  assert.equal(new Set(ids).size, ids.length, `the login choices have unique ids: ${ids.join(' ')}`);
  await check(picker, 'the login page with five organisations', null);
  await picker.context().close();

  // another provider's specialist: nothing of the request, not even that it exists
  const spec = await windowOf(DESKTOP);
  await login(spec, 'Bram Oost');
  await spec.waitForURL(`${base}/aangeboden`);
  assert.equal(await spec.locator('li.kb-card').count(), 0, 'nothing offered to another provider');
  await check(spec, 'the offers of another provider', null);
  await refusedAll(spec, "another provider's specialist", [
    `/aanvragen/${closed.id}`,
    `/aanvragen/${closed.id}/afwijzen`,
    `/aanvragen/${closed.id}/bezoeken/nieuw`,
    `/aanvragen/${closed.id}/bezoeken/${visit.id}`,
    `/aanvragen/${closed.id}/afsluiten`,
    `/aanvragen/${waiting.id}`,
    '/beheer',
    '/cijfers/consultations',
  ]);
  await spec.goto(`${base}/mijn-aanvragen`);
  const csrf = await csrfOf(spec);
  const forged = await spec.request.post(`${base}/aanvragen/${closed.id}/bezoeken/nieuw`, {
    form: { csrf, date: day(0), duration_minutes: '30', kind: 'remote', status: 'held' },
    maxRedirects: 0,
  });
  assert.equal(forged.status(), 404);
  const accept = await spec.request.post(`${base}/aanvragen/${waiting.id}/accepteren`, { form: { csrf }, maxRedirects: 0 });
  assert.equal(accept.status(), 404);
  const visits = items((await api('GET', `/api/v1/consultations/${closed.id}/visits`, demo.TOKEN_ANOUK)).body);
  assert.equal(visits.length, 2, 'nothing added');

  // another region's coordinator: the waiting request is not in their queue, not theirs to assign
  const coord = await windowOf(DESKTOP);
  await login(coord, 'Rik Meijer');
  await coord.waitForURL(`${base}/wachtrij`);
  assert.equal(await coord.locator(`a[href="/aanvragen/${waiting.id}"]`).count(), 0);
  await check(coord, "another region's queue", null);
  await refusedAll(coord, "another region's coordinator", [`/aanvragen/${waiting.id}`, `/aanvragen/${closed.id}`, '/beheer/toegang']);
  await coord.goto(`${base}/capaciteit`);
  assert.ok(await coord.getByRole('heading', { name: 'Amsterdam-Amstelland (JZ14)' }).isVisible());
  assert.equal(await coord.getByRole('heading', { name: 'Utrecht Stad (JZ22)' }).count(), 0);
  await check(coord, "another region's capacity", null);
  const specialist = await staffOf(demo.YOUTH_CARE_ORG, 'anouk');
  const assign = await coord.request.post(`${base}/aanvragen/${waiting.id}/toewijzen`, {
    form: { csrf: await csrfOf(coord), specialist: specialist.id },
    maxRedirects: 0,
  });
  assert.equal(assign.status(), 404);
  assert.equal((await api('GET', `/api/v1/consultations/${waiting.id}`, demo.TOKEN_SANNE)).body.status, 'unassigned', 'nothing changed');
  // the region's own coordinator does see it waiting
  const own = await windowOf(DESKTOP);
  await login(own, "Mila Hendriks");
  await own.waitForURL(`${base}/wachtrij`);
  assert.equal(await own.locator(`a[href="/aanvragen/${waiting.id}"]`).count(), 1);

  // another region's policy officer: the other region's figures are an unknown page, also as a file
  const pol = await windowOf(DESKTOP);
  await login(pol, 'Lieke Vos');
  await pol.waitForURL(`${base}/cijfers`);
  await check(pol, "another region's figures", null);
  await refusedAll(pol, "another region's policy officer", [
    '/cijfers/consultations?regio=JZ22',
    '/cijfers/visits?regio=JZ21',
    `/aanvragen/${closed.id}`,
    '/wachtrij',
    '/beheer',
  ]);
  const file = await pol.request.get(`${base}/cijfers/consultations/download?formaat=csv&regio=JZ22`);
  assert.equal(file.status(), 404);
  assert.ok(!(await file.text()).startsWith('figure,'));

  for (const p of [spec, coord, own, pol]) {
    assert.deepEqual(p.cspViolations, []);
    await p.context().close();
  }
});
