-- SPDX-License-Identifier: Apache-2.0
-- wrk script for bench/http_bench.sh: POST /embed with one input per
-- request, lengths cycling deterministically through 4..120 words, so the
-- server sees the mixed traffic a web backend sends. Words are plain ASCII
-- so every one is one or a few tokens.
local words = {}
for i = 1, 200 do words[i] = "word" .. i end
local bodies = {}
local seed = 12345
local function rnd(n)
  seed = (seed * 1103515245 + 12345) % 2147483648
  return seed % n
end
-- WRK_WORDS=N: every request N words instead (http_bench.sh's latency row).
local fixed = tonumber(os.getenv("WRK_WORDS") or "")
for b = 1, 64 do
  local n = fixed or 4 + rnd(117)
  local t = {}
  for i = 1, n do t[i] = words[1 + rnd(#words)] end
  bodies[b] = '{"inputs": "' .. table.concat(t, " ") .. '"}'
end
local counter = 0
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
request = function()
  counter = counter + 1
  return wrk.format(nil, "/embed", nil, bodies[1 + (counter % #bodies)])
end
