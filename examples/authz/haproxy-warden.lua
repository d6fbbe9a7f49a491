-- Warden's authorization for HAProxy 2.5 or later, built with Lua (`haproxy -vv` lists USE_LUA=1):
-- an http-request action that asks `warden gateway --mode authz` (examples/authz/gateway.yaml) about
-- each request, as nginx's auth_request does, with HAProxy's own HTTP client (core.httpclient()).
-- Used by examples/authz/haproxy.cfg:
--
--   global
--     lua-load /etc/haproxy/haproxy-warden.lua
--   frontend ...
--     http-request lua.warden_authz http://127.0.0.1:8481/auth X-Warden-Key-Id,X-Warden-Owner 1000
--     http-request return status 503 ... unless { var(txn.warden_allowed) -m bool }
--
-- Arguments: the authz listener's /auth URL; the route's identity headers (its identityHeaders, and the
-- assertion header if the route signs one), comma-separated; the deadline of one attempt in milliseconds.
--
-- What Warden is sent: the client's header fields (so a client's copy of the upstream's own credential is
-- seen and refused) and its Host, with X-Original-Method, X-Original-URI (path and query as sent, never
-- decoded) and X-Forwarded-For (the client's address) set by this action, not taken from the client.
--
-- What happens next:
--   200            allowed: the client's copies of the identity headers and its Authorization and X-API-Key
--                  are removed, Warden's identity values set (an empty one stays removed), and
--                  txn.warden_allowed is set for the rule after the action;
--   a refusal      (X-Warden-Refusal present, 4xx: 400, 401, 403, 405, 429) goes to the client as Warden
--                  wrote it: status, JSON body, WWW-Authenticate, Retry-After;
--   anything else  (5xx, a timeout, no connection, a redirect, an answer not from Warden) is 503: it fails closed.
--
-- A Lua error makes HAProxy log it and go on to the next rule as if the action had passed: the `return
-- status 503 ... unless { var(txn.warden_allowed) -m bool }` rule right after the action is what refuses then.
--
-- HAProxy 2.6's httpclient tries a request up to 4 times (3 retries; later versions have
-- `httpclient.retries`), each attempt with the deadline given here, and waits up to a second between attempts
-- when a connection is refused: a silent Warden is answered 503 after 4 deadlines at most, an absent one after
-- about 3 seconds.

-- Hop-by-hop fields and framing belong to the client's connection, not to the question. Accept-Encoding:
-- the httpclient cannot decompress an answer.
local NOT_SENT = {
  connection = true, ['keep-alive'] = true, ['proxy-connection'] = true, te = true, trailer = true,
  ['transfer-encoding'] = true, ['content-length'] = true, expect = true, ['accept-encoding'] = true,
}
-- Of a refusal, the fields the client needs besides the body.
local REFUSAL_FIELDS = { 'content-type', 'cache-control', 'www-authenticate', 'retry-after' }
local UNAVAILABLE = '{"error":"unavailable","reason":"authz_unavailable","message":"the authorization server did not answer; try again"}'

-- The one value of a response field; nil when absent or sent more than once (the httpclient indexes from 0).
local function one(headers, name)
  local values = headers[name]
  if values == nil or values[1] ~= nil then return nil end
  return values[0]
end

local function split(list)
  local names = {}
  for name in string.gmatch(list, '[^,%s]+') do names[#names + 1] = string.lower(name) end
  return names
end

-- A request field's copies as a Lua list (HAProxy indexes them from 0).
local function copies(values)
  local list = {}
  local i = 0
  while values[i] ~= nil do
    list[#list + 1] = values[i]
    i = i + 1
  end
  return list
end

local function question(txn)
  local fields = {}
  for name, values in pairs(txn.http:req_get_headers()) do
    if not NOT_SENT[name] then fields[name] = copies(values) end
  end
  -- Set here, replacing a client's own copies.
  -- pathq, not url: an HTTP/2 request's target is absolute in HAProxy, and Warden refuses absolute targets.
  fields['x-original-uri'] = { txn.sf:pathq() }
  fields['x-original-method'] = { txn.sf:method() }
  fields['x-forwarded-for'] = { txn.sf:src() }
  return fields
end

local function refuse(txn, status, body, headers)
  local reply = txn:reply({ status = status, body = body })
  for _, name in ipairs(REFUSAL_FIELDS) do
    local value = headers and one(headers, name)
    if value ~= nil then reply:add_header(name, value) end
  end
  if not (headers and one(headers, 'content-type')) then reply:add_header('content-type', 'application/json') end
  txn:done(reply)
end

local function warden_authz(txn, url, identity_list, deadline_ms)
  local deadline = tonumber(deadline_ms)
  -- An error, so a misconfigured action refuses through the rule after it, and says why in HAProxy's log.
  if deadline == nil or deadline <= 0 then
    error('warden_authz: the third argument is the deadline in ms, not ' .. deadline_ms)
  end
  local answer = core.httpclient():get({ url = url, headers = question(txn), timeout = deadline })
  local status = answer and answer.status or 0
  local headers = answer and answer.headers or {}
  if status == 200 then
    for _, name in ipairs(split(identity_list)) do
      local value = one(headers, name)
      txn.http:req_del_header(name)
      if value ~= nil and value ~= '' then txn.http:req_set_header(name, value) end
    end
    txn.http:req_del_header('authorization')
    txn.http:req_del_header('x-api-key')
    txn:set_var('txn.warden_allowed', true)
    return
  end
  if one(headers, 'x-warden-refusal') ~= nil and answer.body ~= nil and answer.body ~= '' then
    -- Warden's own 5xx (its key store unavailable) keeps its reason but is a 503 to the client.
    refuse(txn, (status >= 400 and status < 500) and status or 503, answer.body, headers)
    return
  end
  txn:Warning(string.format('warden_authz: no decision from %s (status %d): refused with 503', url, status))
  refuse(txn, 503, UNAVAILABLE, nil)
end

core.register_action('warden_authz', { 'http-req' }, warden_authz, 3)
