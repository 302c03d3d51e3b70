// A SMART Backend Services client written with `jose` (npm), not with anything of Kindbrug's:
// it registers through the operator API, signs its assertions with RS384 and ES384 keys,
// gets access tokens, verifies them against the published key set, and reads on /fhir/r4 and
// /api/v1. Each assertion that must fail is refused: replayed jti, wrong aud, expired, exp too
// far ahead, alg none, HS256 signed with the public key, unknown kid, a scope beyond the
// registration, a deactivated client (whose token then ends at once).
//
// Run by .ci/fhir; by hand:
//   KINDBRUG_BIN=target/debug/kindbrug KINDBRUG_DATABASE_URL=sqlite:///tmp/s.db node tests/fhir/smart.mjs
import { randomUUID } from 'node:crypto';
import { createRemoteJWKSet, exportJWK, exportSPKI, generateKeyPair, jwtVerify, SignJWT, UnsecuredJWT } from 'jose';
import { startDemo } from './server.mjs';

const { base, demo, stop } = await startDemo();
const failures = [];
let checks = 0;
function expect(ok, what) {
  checks += 1;
  if (!ok) failures.push(what);
}

async function call(method, path, token, body, accept = 'application/json') {
  const r = await fetch(`${base}${path}`, {
    method,
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', accept },
    body: body ? JSON.stringify(body) : undefined,
  });
  const text = await r.text();
  return { status: r.status, body: text ? JSON.parse(text) : null, headers: r.headers };
}

try {
  const conf = await (await fetch(`${base}/fhir/r4/.well-known/smart-configuration`)).json();
  const tokenUrl = conf.token_endpoint;
  expect(tokenUrl === `${base}/oauth2/token`, `token_endpoint ${tokenUrl}`);
  expect(conf.token_endpoint_auth_methods_supported?.includes('private_key_jwt'), 'private_key_jwt offered');

  const rsa = await generateKeyPair('RS384', { modulusLength: 2048, extractable: true });
  const ec = await generateKeyPair('ES384', { extractable: true });
  const rsaJwk = { ...(await exportJWK(rsa.publicKey)), kid: 'rsa-2026', alg: 'RS384', use: 'sig' };
  const ecJwk = { ...(await exportJWK(ec.publicKey)), kid: 'ec-2026', alg: 'ES384', use: 'sig' };
  const reg = await call('POST', '/api/v1/smart-clients', demo.TOKEN_ADMIN, {
    organization_id: demo.CHILDCARE_ORG,
    name: 'Vlinder kindvolgsysteem (jose test client)',
    jwks: { keys: [rsaJwk, ecJwk] },
    scopes: ['system/Patient.read', 'system/Consent.rs'],
  });
  if (reg.status !== 201) throw new Error(`registration: ${reg.status} ${JSON.stringify(reg.body)}`);
  const client = reg.body.client_id;

  const sign = (key, alg, kid, change = {}) => {
    const claims = { jti: randomUUID(), ...change.claims };
    let jwt = new SignJWT(claims)
      .setProtectedHeader({ alg, kid, typ: 'JWT' })
      .setIssuer(change.iss ?? client)
      .setSubject(change.sub ?? client)
      .setAudience(change.aud ?? tokenUrl)
      .setIssuedAt()
      .setExpirationTime(change.exp ?? '4m');
    return jwt.sign(key);
  };
  const token = async (assertion, scope = 'system/Patient.rs') => {
    const r = await fetch(tokenUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({
        grant_type: 'client_credentials',
        client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer',
        client_assertion: assertion,
        scope,
      }),
    });
    return { status: r.status, body: await r.json(), cacheControl: r.headers.get('cache-control') };
  };

  // RS384 and ES384 each get a token that the published keys verify, and read
  const keySet = createRemoteJWKSet(new URL(conf.jwks_uri));
  let accessToken;
  for (const [key, alg, kid] of [[rsa.privateKey, 'RS384', 'rsa-2026'], [ec.privateKey, 'ES384', 'ec-2026']]) {
    const t = await token(await sign(key, alg, kid), 'system/Patient.rs system/Consent.read');
    expect(t.status === 200, `${alg}: ${t.status} ${JSON.stringify(t.body)}`);
    expect(t.cacheControl === 'no-store', `${alg}: Cache-Control ${t.cacheControl}`);
    expect(t.body.token_type === 'bearer' && t.body.expires_in <= 300, `${alg}: ${JSON.stringify(t.body)}`);
    expect(t.body.scope === 'system/Consent.rs system/Patient.rs', `${alg}: scope ${t.body.scope}`);
    const { payload } = await jwtVerify(t.body.access_token, keySet, { audience: 'kindbrug' });
    expect(payload.sub === client && payload.exp - payload.iat <= 300, `${alg}: access token claims`);
    accessToken = t.body.access_token;
  }
  const patient = await call('GET', `/fhir/r4/Patient/${demo.CHILD}`, accessToken, null, 'application/fhir+json');
  expect(patient.status === 200 && patient.body.resourceType === 'Patient', `Patient read: ${patient.status}`);
  const consents = await call('GET', `/fhir/r4/Consent?patient=${demo.CHILD}`, accessToken, null, 'application/fhir+json');
  expect(consents.status === 200 && consents.body.type === 'searchset', `Consent search: ${consents.status}`);
  const child = await call('GET', `/api/v1/children/${demo.CHILD}`, accessToken);
  expect(child.status === 200, `JSON API read: ${child.status}`);
  // beyond the scope, on both doors
  const guardians = await call('GET', `/fhir/r4/RelatedPerson?patient=${demo.CHILD}`, accessToken, null, 'application/fhir+json');
  expect(guardians.status === 403 && guardians.body.resourceType === 'OperationOutcome', `RelatedPerson beyond scope: ${guardians.status}`);
  const apiGuardians = await call('GET', `/api/v1/children/${demo.CHILD}/guardians`, accessToken);
  expect(apiGuardians.status === 403, `JSON guardians beyond scope: ${apiGuardians.status}`);

  // what must fail
  const refused = async (what, assertion, scope, error = 'invalid_client') => {
    const t = await token(assertion, scope);
    expect(t.body.error === error && t.status === (error === 'invalid_client' ? 401 : 400),
      `${what}: ${t.status} ${JSON.stringify(t.body)}`);
  };
  const used = await sign(rsa.privateKey, 'RS384', 'rsa-2026');
  expect((await token(used)).status === 200, 'first use');
  await refused('replayed jti', used);
  await refused('wrong aud', await sign(rsa.privateKey, 'RS384', 'rsa-2026', { aud: `${base}/fhir/r4` }));
  await refused('expired', await sign(rsa.privateKey, 'RS384', 'rsa-2026', { exp: Math.floor(Date.now() / 1000) - 120 }));
  await refused('exp ten minutes ahead', await sign(rsa.privateKey, 'RS384', 'rsa-2026', { exp: '10m' }));
  await refused('iss is not sub', await sign(rsa.privateKey, 'RS384', 'rsa-2026', { sub: randomUUID() }));
  await refused('unknown kid', await sign(rsa.privateKey, 'RS384', 'rsa-2025'));
  await refused('ES384 key under the RSA kid', await sign(ec.privateKey, 'ES384', 'rsa-2026'));
  const none = new UnsecuredJWT({ jti: randomUUID() }).setIssuer(client).setSubject(client)
    .setAudience(tokenUrl).setExpirationTime('4m').encode();
  await refused('alg none', none);
  const publicPem = new TextEncoder().encode(await exportSPKI(rsa.publicKey));
  await refused('HS256 signed with the public key', await sign(publicPem, 'HS256', 'rsa-2026'));
  await refused('a scope beyond the registration', await sign(rsa.privateKey, 'RS384', 'rsa-2026'), 'system/Patient.rs system/Task.rs', 'invalid_scope');
  await refused('a patient scope', await sign(rsa.privateKey, 'RS384', 'rsa-2026'), 'patient/Patient.rs', 'invalid_scope');

  // another organisation's client reads nothing of this one's children
  const other = await call('POST', '/api/v1/smart-clients', demo.TOKEN_ADMIN, {
    organization_id: demo.YOUTH_CARE_ORG, name: 'Jeugdhulp EPD', jwks: { keys: [rsaJwk] }, scopes: ['system/*.rs'],
  });
  const otherToken = await token(await sign(rsa.privateKey, 'RS384', 'rsa-2026', { iss: other.body.client_id, sub: other.body.client_id }), 'system/*.rs');
  expect(otherToken.status === 200, `other client: ${otherToken.status}`);
  const theirs = await call('GET', `/fhir/r4/Patient/${demo.CHILD}`, otherToken.body.access_token, null, 'application/fhir+json');
  const nobody = await call('GET', `/fhir/r4/Patient/${randomUUID()}`, otherToken.body.access_token, null, 'application/fhir+json');
  expect(theirs.status === 404 && nobody.status === 404, `other organisation: ${theirs.status} / ${nobody.status}`);

  // deactivated: no new token, and the one it holds ends at once
  const off = await call('PATCH', `/api/v1/smart-clients/${client}`, demo.TOKEN_ADMIN, { active: false });
  expect(off.status === 200 && off.body.active === false, `deactivate: ${off.status}`);
  await refused('deactivated client', await sign(rsa.privateKey, 'RS384', 'rsa-2026'));
  const after = await call('GET', `/fhir/r4/Patient/${demo.CHILD}`, accessToken, null, 'application/fhir+json');
  expect(after.status === 401, `token of a deactivated client: ${after.status}`);
} finally {
  stop();
}
if (failures.length) {
  console.error(failures.join('\n'));
  console.error(`${failures.length} of ${checks} SMART checks failed`);
  process.exit(1);
}
console.log(`${checks} SMART Backend Services checks passed with a jose client`);
