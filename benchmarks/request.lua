-- wrk script: one AWS JSON request, described by environment variables the harness sets.
--   BENCH_TARGET        X-Amz-Target, e.g. SageMaker.DescribeImage
--   BENCH_CONTENT_TYPE  application/x-amz-json-1.1 (SageMaker) or -1.0 (Cloud Control)
--   BENCH_BODY          the JSON body; every "{token}" in it becomes a fresh ClientToken
--   BENCH_RUN           a short word unique to this run, so tokens never repeat across runs
-- At the end it prints one JSON line with the counts and latency percentiles (microseconds).

local body = os.getenv("BENCH_BODY")
local run = os.getenv("BENCH_RUN") or "run"
local fresh_tokens = body:find("{token}", 1, true) ~= nil
local threads = {}
local counter = 0

wrk.method = "POST"
wrk.path = "/"
wrk.body = body
wrk.headers["Content-Type"] = os.getenv("BENCH_CONTENT_TYPE")
wrk.headers["X-Amz-Target"] = os.getenv("BENCH_TARGET")
wrk.headers["Authorization"] = "AWS4-HMAC-SHA256 Credential=AKIDBENCHMARK/20240101/us-east-1/"
  .. "sagemaker/aws4_request, SignedHeaders=host;x-amz-date, Signature=0"

function setup(thread)
  thread:set("thread_id", #threads + 1)
  table.insert(threads, thread)
end

function request()
  if not fresh_tokens then
    return wrk.request()
  end
  counter = counter + 1
  local token = string.format("%s-%d-%d", run, thread_id, counter)
  return wrk.format(nil, nil, nil, (body:gsub("{token}", token)))
end

function done(summary, latency, requests)
  io.write(string.format(
    '{"requests": %d, "duration_us": %d, "non_2xx": %d, "socket_errors": %d, '
      .. '"p50_us": %d, "p99_us": %d}\n',
    summary.requests, summary.duration, summary.errors.status,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout,
    latency:percentile(50), latency:percentile(99)))
end
