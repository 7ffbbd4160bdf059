// The shop-floor PC workload. Each virtual user is one PC running an operator's session over and
// over: find a cliente, list tipos, open a pedido, carry it through production, read its history
// and print its ficha. `fichas loadtest` runs it (every scenario is this script with other
// settings) and reads the samples it streams as CSV; run by hand it needs the FICHAS_* variables
// below.
//
//   FICHAS_URL         the API, e.g. http://127.0.0.1:8080
//   FICHAS_TOKENS_FILE a JSON list of API keys (read and write scopes), one per PC or shared
//                      round-robin when there are fewer keys than PCs
//   FICHAS_PCS         virtual users (default 25)
//   FICHAS_DURATION    seconds all the PCs work once they have arrived (default 60)
//   FICHAS_THINK       seconds an operator pauses after each request (default 0; jittered ±50 %)
//   FICHAS_THRESHOLDS  k6 thresholds as JSON (the SLO; the runner fills it in)
//   FICHAS_SUMMARY     where to write k6's end-of-test summary as JSON

import http from 'k6/http';
import exec from 'k6/execution';
import { check, sleep } from 'k6';
import { Rate } from 'k6/metrics';

const BASE = __ENV.FICHAS_URL;
const THINK = Number(__ENV.FICHAS_THINK || '0');
const DURATION = Number(__ENV.FICHAS_DURATION || '60');

// The PCs of a shop floor are at every step of their sessions at once. Started together they
// would stay in step for many minutes (the think-time jitter drifts them apart by only ~0.3 s a
// request) and send the session's writes in waves. So each PC starts at a random moment of one
// session's length (10 requests, each followed by a think): the ramp. Requests are tagged with
// their phase — ramp, full (DURATION seconds with every PC at work), tail (the sessions the end
// cut, finishing) — and the latency thresholds judge the full load.
const SESSION_REQUESTS = 10;
const RAMP = SESSION_REQUESTS * THINK; // seconds

function phase() {
  const second = (Date.now() - exec.scenario.startTime) / 1000;
  if (second < RAMP) return 'ramp';
  return second < RAMP + DURATION ? 'full' : 'tail';
}

const STATUSES = ['em_producao', 'pronto', 'entregue'];
const TOKENS = JSON.parse(open(__ENV.FICHAS_TOKENS_FILE));

function headersFor(token) {
  return {
    Authorization: `Bearer ${token}`,
    'Content-Type': 'application/json',
    'User-Agent': 'fichas-loadtest',
  };
}

// This PC's key (__VU is 0 outside any VU, e.g. in setup, which uses the first).
const HEADERS = headersFor(TOKENS[Math.max(__VU - 1, 0) % TOKENS.length]);

// One sample per request the PC needed answered (after its retry, if it had one), tagged with the
// endpoint: did it get the right answer? Success rates and the SLO are computed from this, not
// from k6's http_req_failed, which also counts a network error the retry then repaired.
const answered = new Rate('fichas_answered');

export const options = {
  scenarios: {
    pcs: {
      executor: 'constant-vus',
      vus: Number(__ENV.FICHAS_PCS || '25'),
      duration: `${RAMP + DURATION}s`,
      gracefulStop: '10s',
    },
  },
  thresholds: JSON.parse(__ENV.FICHAS_THRESHOLDS || '{}'),
  summaryTrendStats: ['avg', 'min', 'med', 'p(95)', 'p(99)', 'max'],
  // Only the tags the report uses: every sample carries them to the runner.
  systemTags: ['method', 'name', 'status', 'error_code', 'group'],
  setupTimeout: '60s',
};

// The factory as it is: the PCs work on clientes and tipos that exist.
export function setup() {
  const clientes = [];
  let cursor = '';
  while (clientes.length < 1000) {
    const page = http.get(`${BASE}/clientes?limit=200${cursor}`, { headers: HEADERS }).json();
    clientes.push(...page.items.map((c) => ({ id: c.id, nome: c.nome })));
    if (page.next_cursor === null) break;
    cursor = `&cursor=${page.next_cursor}`;
  }
  const tipos = http.get(`${BASE}/producoes/tipos?ativo=true&limit=200`, { headers: HEADERS })
    .json().items.map((t) => t.id);
  if (clientes.length === 0 || tipos.length === 0) {
    exec.test.abort('no clientes or tipos to work on: load some with `fichas demo-data`');
  }
  return { clientes, tipos };
}

function pick(list) {
  return list[Math.floor(Math.random() * list.length)];
}

function think() {
  if (THINK > 0) sleep(THINK * (0.5 + Math.random()));
}

function json(response) {
  try {
    return response.json();
  } catch (_) {
    return null;
  }
}

// One request the way a PC makes it: a write carries an Idempotency-Key and is sent once more
// with the same key if the network failed (so it can never be applied twice); then checked.
function call(name, method, path, { body = null, key = null, status = 200, shape }) {
  exec.vu.metrics.tags.phase = phase();
  const headers = key ? { ...HEADERS, 'Idempotency-Key': key } : HEADERS;
  const params = { headers, tags: { name }, responseCallback: http.expectedStatuses(status) };
  const payload = body === null ? null : JSON.stringify(body);
  let response = http.request(method, `${BASE}${path}`, payload, params);
  if (key && response.status === 0) {
    response = http.request(method, `${BASE}${path}`, payload, params);
  }
  const html = shape === 'html';
  const checks = {
    status: (r) => r.status === status,
    'content type': (r) => String(r.headers['Content-Type']).startsWith(
      html ? 'text/html' : 'application/json'),
    body: (r) => (html ? r.body.includes('<html') : shape(json(r))),
  };
  const ok = check(response, checks, { name });
  answered.add(ok, ok ? { name } : { name, ...why(response, checks) });
  return ok ? json(response) : null;
}

// What a wrong answer was, for the report: the first check it failed, its status and k6's error
// code (e.g. 1211, connection reset), so a failed run says what went wrong without a rerun.
function why(response, checks) {
  return {
    wrong: Object.keys(checks).find((label) => !checks[label](response)),
    status: String(response.status),
    error_code: String(response.error_code || ''),
  };
}

const isPage = (b) => b !== null && Array.isArray(b.items) && 'next_cursor' in b;
const isCliente = (b) => b !== null && Number.isInteger(b.id) && typeof b.documento === 'string';
const isPedido = (b) => b !== null && Number.isInteger(b.numero) && typeof b.status === 'string';

export default function (factory) {
  if (exec.vu.iterationInScenario === 0) sleep(RAMP * Math.random());

  const cliente = pick(factory.clientes);
  const term = encodeURIComponent(cliente.nome.split(' ')[0]);
  call('GET /clientes?q=', 'GET', `/clientes?q=${term}&limit=20`, { shape: isPage });
  think();
  call('GET /clientes', 'GET', '/clientes?limit=50', { shape: isPage });
  think();
  call('GET /clientes/{id}', 'GET', `/clientes/${cliente.id}`, { shape: isCliente });
  think();
  call('GET /producoes/tipos', 'GET', '/producoes/tipos', { shape: isPage });
  think();

  const key = `loadtest-${exec.vu.idInTest}-${exec.vu.iterationInInstance}-${Date.now()}`;
  const pedido = call('POST /pedidos', 'POST', '/pedidos', {
    body: {
      cliente_id: cliente.id,
      tipo_id: pick(factory.tipos),
      descricao: `${1 + Math.floor(Math.random() * 200)} camisetas`,
      quantidade: 1 + Math.floor(Math.random() * 200),
      valor_unitario: 500 + Math.floor(Math.random() * 5000),
    },
    key,
    status: 201,
    shape: isPedido,
  });
  if (pedido === null) return;
  for (const status of STATUSES) {
    think();
    call('POST /pedidos/{id}/status', 'POST', `/pedidos/${pedido.id}/status`, {
      body: { status },
      key: `${key}-${status}`,
      shape: isPedido,
    });
  }
  think();
  call('GET /pedidos/{id}/eventos', 'GET', `/pedidos/${pedido.id}/eventos`, { shape: isPage });
  think();
  call('GET /pedidos/{id}/ficha', 'GET', `/pedidos/${pedido.id}/ficha`, { shape: 'html' });
  think();
}

export function handleSummary(data) {
  return __ENV.FICHAS_SUMMARY ? { [__ENV.FICHAS_SUMMARY]: JSON.stringify(data, null, 2) } : {};
}
