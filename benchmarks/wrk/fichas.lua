-- wrk script for benchmarks/http.py: authorised requests, per-status counts, a JSON summary.
--
-- Settings come from environment variables (not FICHAS_*, which the server would reject):
--   BENCH_MODE   "static" (the URL as given), "cliente" (GET /clientes/<random 1..10000>)
--                or "pedido" (POST /pedidos, random cliente_id 1..10000 and tipo_id 1..6,
--                a unique Idempotency-Key per request); for benchmarks/cache.py,
--                "cliente-few" (GET /clientes/<random 1..100>: cache hits once warm) and the
--                never-repeated "cliente-unique" and "page-unique" (see below)
--   BENCH_CURSORS  page-unique: a file of page cursors, one per line
--   BENCH_TOKEN  API key sent as "Authorization: Bearer <token>" (omitted when empty)
--   BENCH_RUN    a label that makes Idempotency-Keys unique across wrk runs
-- done() prints one line "BENCH_JSON {...}" that benchmarks/http.py parses.

local mode = os.getenv("BENCH_MODE") or "static"
local token = os.getenv("BENCH_TOKEN") or ""
local run_label = os.getenv("BENCH_RUN") or tostring(os.time())

if token ~= "" then
  wrk.headers["Authorization"] = "Bearer " .. token
end

local threads = {}

function setup(thread)
  thread:set("thread_id", #threads + 1)
  table.insert(threads, thread)
end

-- Per-thread state (each wrk thread runs its own copy of this script).
sent, ok, not_ok, replayed = 0, 0, 0, 0
statuses = {}
acked_ids = {} -- POST /pedidos: the id of every pedido acknowledged with 201

function init(args)
  math.randomseed(os.time() * 1000 + (thread_id or 0))
end

local function headers_with(extra)
  local h = {}
  for k, v in pairs(wrk.headers) do h[k] = v end
  for k, v in pairs(extra) do h[k] = v end
  return h
end

local function cliente_request()
  return wrk.format("GET", "/clientes/" .. math.random(1, 10000), wrk.headers)
end

local function pedido_request()
  local quantidade = math.random(1, 500)
  local body = string.format(
    '{"cliente_id": %d, "tipo_id": %d, "descricao": "%d camisetas bordadas",'
      .. ' "quantidade": %d, "valor_unitario": %d}',
    math.random(1, 10000), math.random(1, 6), quantidade, quantidade, math.random(500, 9000)
  )
  local key = string.format("%s-%d-%d", run_label, thread_id or 0, sent)
  local h = headers_with({["Content-Type"] = "application/json", ["Idempotency-Key"] = key})
  return wrk.format("POST", "/pedidos", h, body)
end

-- Requests no cache can have seen: each walks the pages (or ids) in order, and every pass adds a
-- leading zero to a number the API reads the same ("050" is 50), so the URL is new each time.
local unique = 0
local cursors = {}
if mode == "page-unique" then
  for line in io.lines(os.getenv("BENCH_CURSORS")) do table.insert(cursors, line) end
end

local function unique_request()
  unique = unique + 1
  if mode == "cliente-unique" then
    local pass, id = math.floor(unique / 10000), unique % 10000 + 1
    return wrk.format("GET", "/clientes/" .. string.rep("0", pass) .. id, wrk.headers)
  end
  local pass, index = math.floor(unique / #cursors), unique % #cursors + 1
  local path = "/clientes?limit=" .. string.rep("0", pass) .. "50&cursor=" .. cursors[index]
  return wrk.format("GET", path, wrk.headers)
end

if mode == "cliente-few" then
  function request()
    sent = sent + 1
    return wrk.format("GET", "/clientes/" .. math.random(1, 100), wrk.headers)
  end
elseif mode == "cliente-unique" or mode == "page-unique" then
  function request()
    sent = sent + 1
    return unique_request()
  end
elseif mode == "cliente" then
  function request()
    sent = sent + 1
    return cliente_request()
  end
elseif mode == "pedido" then
  function request()
    sent = sent + 1
    return pedido_request()
  end
end

function response(status, headers, body)
  if status >= 200 and status < 300 then
    ok = ok + 1
  else
    not_ok = not_ok + 1
  end
  local code = tostring(status)
  statuses[code] = (statuses[code] or 0) + 1
  if mode == "pedido" and status == 201 then
    local id = body:match('"id":%s*(%d+)')
    if id then table.insert(acked_ids, tonumber(id)) end
    for name, _ in pairs(headers) do
      if string.lower(name) == "idempotent-replayed" then replayed = replayed + 1 end
    end
  end
end

local function statuses_json(all)
  local parts = {}
  for code, n in pairs(all) do
    table.insert(parts, string.format('"%s": %d', code, n))
  end
  return "{" .. table.concat(parts, ", ") .. "}"
end

function done(summary, latency, requests)
  local total_sent, total_ok, total_not_ok, total_replayed, all, ids = 0, 0, 0, 0, {}, {}
  for _, thread in ipairs(threads) do
    total_sent = total_sent + thread:get("sent")
    total_ok = total_ok + thread:get("ok")
    total_not_ok = total_not_ok + thread:get("not_ok")
    total_replayed = total_replayed + thread:get("replayed")
    for code, n in pairs(thread:get("statuses")) do
      all[code] = (all[code] or 0) + n
    end
    for _, id in ipairs(thread:get("acked_ids")) do
      table.insert(ids, string.format("%d", id))
    end
  end
  if mode ~= "static" then
    total_sent = total_sent - 1 -- wrk calls request() once more, unsent, to verify the script
  end
  local e = summary.errors
  io.write(string.format(
    'BENCH_JSON {"requests": %d, "duration_us": %d, "sent": %d, "ok": %d, "not_2xx": %d,'
      .. ' "replayed": %d, "acked_ids": [%s], "statuses": %s, "connect_errors": %d, "read_errors": %d, "write_errors": %d,'
      .. ' "timeouts": %d, "p50_us": %d, "p90_us": %d, "p99_us": %d, "max_us": %d,'
      .. ' "mean_us": %.1f}\n',
    summary.requests, summary.duration, total_sent, total_ok, total_not_ok, total_replayed,
    table.concat(ids, ","), statuses_json(all),
    e.connect, e.read, e.write, e.timeout, latency:percentile(50), latency:percentile(90),
    latency:percentile(99), latency.max, latency.mean
  ))
end
