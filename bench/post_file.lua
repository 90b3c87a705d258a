-- wrk script: POST the file named by the BODY_FILE env var with the dev write key.
local f = assert(io.open(os.getenv("BODY_FILE"), "rb"))
wrk.method = "POST"
wrk.body = f:read("*a")
f:close()
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Basic " .. (os.getenv("BASIC") or "ZGV2LXdyaXRlLWtleTo=")
