-- wrk script of scripts/login-cost.sh and scripts/login-ab.sh: each request
-- logs in as the next of the 32 accounts load-<k>@example.com, all with the
-- password in LOGIN_PASSWORD.
local n = 0
local password = os.getenv("LOGIN_PASSWORD")
request = function()
  n = n + 1
  local body = "username=load-" .. (n % 32) .. "%40example.com&password=" .. password
  return wrk.format("POST", "/login/", {["Content-Type"] = "application/x-www-form-urlencoded"}, body)
end
