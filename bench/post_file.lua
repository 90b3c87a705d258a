-- wrk script: POST the file named by BODY_FILE with the write key in BASIC (base64 "key:").
-- "{{REQ}}" in the file becomes a per-request number, so every event has its own messageId
-- (repeated ids would be collapsed by ClickHouse and the sink benchmark would undercount).
local f = assert(io.open(os.getenv("BODY_FILE"), "rb"))
local template = f:read("*a")
f:close()
local has_placeholder = template:find("{{REQ}}", 1, true) ~= nil
local counter = 0
-- RUN_TAG differs per wrk run (math.random is unseeded, so it would repeat across runs).
local thread_tag = os.getenv("RUN_TAG") or tostring(os.time())
local headers = {
  ["Content-Type"] = "application/json",
  ["Authorization"] = "Basic " .. (os.getenv("BASIC") or "ZGV2LXdyaXRlLWtleTo="),
}

request = function()
  local body = template
  if has_placeholder then
    counter = counter + 1
    body = template:gsub("{{REQ}}", thread_tag .. "-" .. counter)
  end
  return wrk.format("POST", nil, headers, body)
end
