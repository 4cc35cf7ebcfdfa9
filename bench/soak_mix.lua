-- wrk script for bench/soak.sh: a mixed load, cycling through 50 requests per connection: one
-- 1,000-row CSV upload (POST /api/v1/predict/csv, CSV_FILE), one GET /metrics, four GET /healthz and
-- 44 one-record JSON predictions (POST /api/v1/predict, JSON_FILE). Reports one RESULT line.
local function slurp(name)
  local f = assert(io.open(assert(os.getenv(name), name .. " is not set"), "rb"))
  local s = f:read("*a")
  f:close()
  return s
end

local cycle = {}
local at = 0

function init(args)
  local json, csv = slurp("JSON_FILE"), slurp("CSV_FILE")
  local predict = wrk.format("POST", "/api/v1/predict", { ["Content-Type"] = "application/json" }, json)
  local upload = wrk.format("POST", "/api/v1/predict/csv",
    { ["Content-Type"] = "text/csv", ["Accept"] = "application/json" }, csv)
  local health = wrk.format("GET", "/healthz")
  local metrics = wrk.format("GET", "/metrics")
  for i = 1, 50 do
    if i == 1 then
      cycle[i] = upload
    elseif i == 2 then
      cycle[i] = metrics
    elseif i <= 6 then
      cycle[i] = health
    else
      cycle[i] = predict
    end
  end
end

function request()
  at = at % #cycle + 1
  return cycle[at]
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    "RESULT requests=%d duration_us=%d rps=%.1f p50_ms=%.3f p99_ms=%.3f max_ms=%.3f " ..
    "connect=%d read=%d write=%d timeout=%d non2xx=%d\n",
    summary.requests, summary.duration, summary.requests / (summary.duration / 1e6),
    latency:percentile(50) / 1000, latency:percentile(99) / 1000, latency.max / 1000,
    e.connect, e.read, e.write, e.timeout, e.status))
end
