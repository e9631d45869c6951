-- wrk driver: cycles through a request list written by bench.workloads and reports the run
-- as one JSON line from done(), so the harness never parses wrk's human-readable text.
--
--   wrk ... -s cycle.lua http://127.0.0.1:PORT -- <request table file> <thread count> [accept-encoding]
--
-- Each thread starts at its own offset of the list and walks it in order, wrapping around.
-- Every response's status is counted, so requests to a missing endpoint show up as non-2xx.

local threads = {}

function setup(thread)
   thread:set("thread_index", #threads)
   table.insert(threads, thread)
end

local rendered = {}
local position = 0
statuses = {}
-- X-Cache answers by value ("HIT l1", "MISS", ...; "none" without the header).
cache = {}

function init(args)
   local data = dofile(args[1])
   local thread_count = tonumber(args[2]) or 1
   local accept_encoding = args[3]
   for i, entry in ipairs(data.requests) do
      local method, path, token, body = entry[1], entry[2], entry[3], entry[4]
      local headers = {}
      if accept_encoding then
         headers["Accept-Encoding"] = accept_encoding
      end
      if token > 0 then
         headers["Authorization"] = "Bearer " .. data.tokens[token]
      end
      if body and #body > 0 then
         headers["Content-Type"] = "application/json"
      end
      rendered[i] = wrk.format(method, path, headers, body)
   end
   position = math.floor(#rendered * (thread_index or 0) / thread_count)
end

function request()
   position = position % #rendered + 1
   return rendered[position]
end

function response(status, headers, body)
   statuses[status] = (statuses[status] or 0) + 1
   local x_cache = headers["x-cache"] or headers["X-Cache"] or "none"
   cache[x_cache] = (cache[x_cache] or 0) + 1
end

local function json_object(map, format)
   local parts = {}
   for key, value in pairs(map) do
      table.insert(parts, string.format('"%s":' .. format, tostring(key), value))
   end
   table.sort(parts)
   return "{" .. table.concat(parts, ",") .. "}"
end

function done(summary, latency, requests)
   local counts = {}
   for _, thread in ipairs(threads) do
      for status, n in pairs(thread:get("statuses") or {}) do
         counts[status] = (counts[status] or 0) + n
      end
   end
   local cache_counts = {}
   for _, thread in ipairs(threads) do
      for value, n in pairs(thread:get("cache") or {}) do
         cache_counts[value] = (cache_counts[value] or 0) + n
      end
   end
   local errors = summary.errors
   local percentiles = {}
   for _, p in ipairs({50, 75, 90, 95, 99, 99.9}) do
      percentiles[tostring(p)] = latency:percentile(p)
   end
   io.write("BENCH_RESULT {",
      string.format('"requests":%d,"duration_us":%d,"bytes":%d,', summary.requests,
         summary.duration, summary.bytes),
      string.format('"errors":{"connect":%d,"read":%d,"write":%d,"timeout":%d,"status":%d},',
         errors.connect, errors.read, errors.write, errors.timeout, errors.status),
      string.format('"latency_us":{"min":%d,"max":%d,"mean":%.1f,"stdev":%.1f,', latency.min,
         latency.max, latency.mean, latency.stdev),
      '"percentiles":', json_object(percentiles, "%d"), "},",
      '"statuses":', json_object(counts, "%d"), ",",
      '"cache":', json_object(cache_counts, "%d"),
      "}\n")
end
