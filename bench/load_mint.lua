-- wrk script of bench/load.py: POSTs a mint body with one of the sessions, counts what is not a 200
-- success, and with a quota sends exactly that many mints (then only /healthz until every mint answered).
-- bench/load.py fills in {SESSIONS}, {BODY}, {QUOTA} and {ANSWERED_FILE}, and runs it with one wrk thread.
-- wrk calls that thread's request() once before the run, to learn whether the script pipelines (wrk.c,
-- script_verify_request), and never sends what that call returns: it is not counted as sent. Stopping the
-- thread does not end wrk's run: the file, created once the quota is answered, tells bench/load.py to.
local sessions = {SESSIONS}
local body = {BODY}
local quota = {QUOTA}
local answered_file = {ANSWERED_FILE}
local threads = {}
function setup(thread) table.insert(threads, thread) end
function init(args) sent, answered, server_errors, failures, verified = 0, 0, 0, 0, false end
function request()
  if not verified then
    verified = true
    return wrk.format("GET", "/healthz")
  end
  if quota > 0 and sent >= quota then return wrk.format("GET", "/healthz") end
  sent = sent + 1
  local headers = {["Content-Type"] = "application/json",
                   ["Authorization"] = "Bearer " .. sessions[(sent % #sessions) + 1]}
  return wrk.format("POST", "/api/v1/sts", headers, body)
end
function response(status, headers, body)
  if quota > 0 and status == 200 and not string.find(body, '"success"', 1, true) then return end
  answered = answered + 1
  if status >= 500 then server_errors = server_errors + 1 end
  if status ~= 200 or not string.find(body, '"success":true', 1, true) then failures = failures + 1 end
  if quota > 0 and answered == quota then
    local marker = io.open(answered_file, "w")
    if marker then marker:close() end
    wrk.thread:stop()
  end
end
function done(summary, latency, requests)
  local s, a, e, f = 0, 0, 0, 0
  for _, t in ipairs(threads) do
    s = s + t:get("sent"); a = a + t:get("answered"); e = e + t:get("server_errors"); f = f + t:get("failures")
  end
  io.write(string.format("MINTS sent=%d answered=%d server_errors=%d failures=%d\n", s, a, e, f))
end
