// The yardstick's workload (benchmarks/yardstick.py runs it on both sides): each virtual user is
// one PC making one request after another, no think time, each drawn by weight from the old
// system's mix. Everything comes from the JSON file YARDSTICK_RUN names:
//
//   url       the cluster, e.g. http://127.0.0.1:8080
//   pcs       virtual users
//   seconds   how long they work
//   tokens    API keys, one per PC (the bare app ignores them; sent all the same, so that both
//             sides get the same bytes)
//   clientes  ids of clientes a new pedido may name
//   tipos     ids of tipos a new pedido may name
//   summary   where k6 writes its end-of-test summary as JSON
//
// Run it with `--local-ips`, so that each PC comes from a loopback address of its own, as each PC
// of a shop floor does (the API's per-address limits count them apart).

import http from 'k6/http';
import exec from 'k6/execution';

const RUN = JSON.parse(open(__ENV.YARDSTICK_RUN));

// A response counts as failed unless it is the success the endpoint owes: any 2xx for a read,
// 201 for a new pedido.
const READ = http.expectedStatuses({ min: 200, max: 299 });
const CREATED = http.expectedStatuses(201);
const MIX = [
  { name: 'GET /health', weight: 25, path: '/health' },
  { name: 'GET /producoes/tipos', weight: 20, path: '/producoes/tipos' },
  { name: 'GET /clientes?limit=20', weight: 30, path: '/clientes?limit=20' },
  { name: 'GET /pedidos?limit=20', weight: 15, path: '/pedidos?limit=20' },
  { name: 'POST /pedidos', weight: 10, path: '/pedidos', post: true },
];
// One ticket per percent: a PC draws one for each request.
const TICKETS = MIX.flatMap((endpoint) => Array(endpoint.weight).fill(endpoint));

export const options = {
  scenarios: {
    pcs: {
      executor: 'constant-vus',
      vus: RUN.pcs,
      duration: `${RUN.seconds}s`,
      gracefulStop: '5s',
    },
  },
  // Always met: a threshold is what makes k6 put a tag's figures in its summary, and the report
  // says which endpoint failed, and each endpoint's latency.
  thresholds: Object.fromEntries(
    MIX.flatMap((e) => [
      [`http_req_failed{name:${e.name}}`, ['rate>=0']],
      [`http_req_duration{name:${e.name}}`, ['med>=0']],
    ]),
  ),
  summaryTrendStats: ['med', 'p(99)'],
  // Received and counted, not kept: k6 shares the two cores with the system it measures.
  discardResponseBodies: true,
};

// This PC's key (__VU is 0 where k6 reads the options, outside any VU: the first key). No
// Accept-Encoding, as in loadtest/scripts/pcs.js: answers come uncompressed from both sides.
const HEADERS = {
  Authorization: `Bearer ${RUN.tokens[Math.max(__VU - 1, 0) % RUN.tokens.length]}`,
  'Content-Type': 'application/json',
  'User-Agent': 'fichas-yardstick',
};

function pick(list) {
  return list[Math.floor(Math.random() * list.length)];
}

function newPedido() {
  const quantidade = 1 + Math.floor(Math.random() * 200);
  return JSON.stringify({
    cliente_id: pick(RUN.clientes),
    tipo_id: pick(RUN.tipos),
    descricao: `${quantidade} camisetas`,
    quantidade,
    valor_unitario: 500 + Math.floor(Math.random() * 5000),
  });
}

export default function () {
  const endpoint = pick(TICKETS);
  const url = `${RUN.url}${endpoint.path}`;
  if (endpoint.post) {
    // A fresh key per pedido: each is a new order, never a replay of an earlier one.
    const key = `yardstick-${exec.vu.idInTest}-${exec.vu.iterationInInstance}`;
    const headers = { ...HEADERS, 'Idempotency-Key': key };
    const params = { headers, tags: { name: endpoint.name }, responseCallback: CREATED };
    http.post(url, newPedido(), params);
  } else {
    http.get(url, { headers: HEADERS, tags: { name: endpoint.name }, responseCallback: READ });
  }
}

export function handleSummary(data) {
  return { [RUN.summary]: JSON.stringify(data, null, 2) };
}
