-- Voice rooms, v1: every change of a room's state is one call of this script (atomic).
--
-- KEYS[1] = the room's base key  voice:{<ws>/<room>}   (every key below shares its hash tag)
-- KEYS[2] = the room index       voice:rooms            (a SET of "<ws>/<room>" with members)
-- ARGV[1] = the operation, ARGV[2] = "<ws>/<room>", then the operation's own arguments. Time is
-- the Redis server's (TIME), never a node's clock.
--
-- Keys of one room (B = KEYS[1]):
--   B:ver    room version: INCR for every roster or floor change (one order of all changes)
--   B:m      HASH member -> {inc, role, node, sid} (cjson) of the live session
--   B:lease  ZSET member -> lease expiry (ms); refreshed by the node holding the socket
--   B:incs   HASH member -> last incarnation handed out (never goes back)
--   B:floor  HASH holder, hinc, token, since, deadline, req (absent = floor idle)
--   B:fence  last fencing token: max(previous + 1, now in ms)
--   B:q      LIST of {m, inc, req} (cjson), FIFO floor queue
--   B:mbn    HASH "<member>:<inc>" -> last mseq of that session's mailbox
--   B:mb:<member>:<inc>   STREAM of signals to that session, entry ids 0-<mseq>
--   B:sd:<from>:<sig_id>  "<mseq> <to> <to_inc>": the signal's first commit (dedupe, with TTL)
-- Replies are one cjson string: {ok=1, ...} or {err=code, msg=text}; `events` lists what
-- changed, each with its own ver, for the node to push.

local B = KEYS[1]
local IDX = KEYS[2]
local op = ARGV[1]
local ROOM_ID = ARGV[2]
local t = redis.call('TIME')
local NOW = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local ROOM_TTL_S = 86400

local function fail(code, msg)
  return cjson.encode({err = code, msg = msg})
end

local function bump()
  return redis.call('INCR', B .. ':ver')
end

local function ver()
  return tonumber(redis.call('GET', B .. ':ver') or '0')
end

local function member(m)
  local raw = redis.call('HGET', B .. ':m', m)
  if not raw then return nil end
  return cjson.decode(raw)
end

local function members()
  local raw = redis.call('HGETALL', B .. ':m')
  local out = {}
  for i = 1, #raw, 2 do
    local e = cjson.decode(raw[i + 1])
    out[#out + 1] = {raw[i], e.inc, e.role, e.node}
  end
  table.sort(out, function(a, b) return a[1] < b[1] end)
  return out
end

local function queue()
  local raw = redis.call('LRANGE', B .. ':q', 0, -1)
  local out = {}
  for i = 1, #raw do out[i] = cjson.decode(raw[i]) end
  return out
end

local function floor()
  local f = redis.call('HMGET', B .. ':floor', 'holder', 'hinc', 'token', 'since', 'deadline', 'req')
  if not f[1] then return nil end
  return {holder = f[1], hinc = tonumber(f[2]), token = tonumber(f[3]), since = tonumber(f[4]),
          deadline = tonumber(f[5]), req = f[6]}
end

local function floor_view()
  local f = floor()
  local q = {}
  for i, e in ipairs(queue()) do q[i] = {e.m, e.inc, e.req} end
  if f then
    return {state = 'taken', holder = f.holder, hinc = f.hinc, token = f.token,
            deadline = f.deadline, queue = q}
  end
  return {state = 'idle', queue = q}
end

local function snapshot()
  return {ver = ver(), members = members(), floor = floor_view()}
end

local function next_token()
  local last = tonumber(redis.call('GET', B .. ':fence') or '0')
  local tok = math.max(last + 1, NOW)
  redis.call('SET', B .. ':fence', tok)
  return tok
end

-- A floor event: the floor's state after a change, why it changed, and the grant it ended.
local function floor_event(events, reason, prev)
  local e = floor_view()
  e.type = 'floor'
  e.ver = bump()
  e.reason = reason
  if prev then e.prev = prev end
  events[#events + 1] = e
end

local function live(m, inc)
  local cur = member(m)
  return cur ~= nil and cur.inc == inc
end

-- Grant the floor to the first queued request whose session is still live.
local function grant_next(max_talk_ms)
  while true do
    local raw = redis.call('LPOP', B .. ':q')
    if not raw then return false end
    local e = cjson.decode(raw)
    if live(e.m, e.inc) then
      redis.call('HSET', B .. ':floor', 'holder', e.m, 'hinc', e.inc, 'token', next_token(),
        'since', NOW, 'deadline', NOW + max_talk_ms, 'req', e.req)
      return true
    end
  end
end

-- End the current grant (why: released, revoked, expired, left, superseded) and hand the
-- floor to the next in the queue; one floor event.
local function end_grant(events, why, max_talk_ms)
  local f = floor()
  if not f then return end
  redis.call('DEL', B .. ':floor')
  local granted = grant_next(max_talk_ms)
  floor_event(events, granted and 'granted' or why,
    {holder = f.holder, hinc = f.hinc, token = f.token, why = why})
end

local function drop_queued(m)
  local raw = redis.call('LRANGE', B .. ':q', 0, -1)
  local removed = 0
  for i = 1, #raw do
    if cjson.decode(raw[i]).m == m then
      removed = removed + redis.call('LREM', B .. ':q', 1, raw[i])
    end
  end
  return removed
end

local function keep_room()
  for _, k in ipairs({':ver', ':incs', ':fence', ':mbn'}) do
    redis.call('EXPIRE', B .. k, ROOM_TTL_S)
  end
end

-- Remove a member's session (only the incarnation given; 0 = whichever is live).
local function remove(events, m, inc, op_name, max_talk_ms)
  local cur = member(m)
  if not cur or (inc ~= 0 and cur.inc ~= inc) then return false end
  redis.call('HDEL', B .. ':m', m)
  redis.call('ZREM', B .. ':lease', m)
  redis.call('DEL', B .. ':mb:' .. m .. ':' .. cur.inc)
  redis.call('HDEL', B .. ':mbn', m .. ':' .. cur.inc)
  events[#events + 1] = {type = 'roster', ver = bump(), op = op_name,
    member = {m, cur.inc, cur.role, cur.node}}
  local f = floor()
  if f and f.holder == m then
    end_grant(events, op_name == 'expire' and 'lease' or 'left', max_talk_ms)
  elseif drop_queued(m) > 0 then
    floor_event(events, 'left')
  end
  if redis.call('HLEN', B .. ':m') == 0 then
    redis.call('SREM', IDX, ROOM_ID)
    redis.call('DEL', B .. ':lease', B .. ':q', B .. ':floor')
  end
  keep_room()
  return true
end

local function signals_after(m, inc, after, limit)
  local entries = redis.call('XRANGE', B .. ':mb:' .. m .. ':' .. inc, '0-' .. (after + 1), '+',
    'COUNT', limit + 1)
  local out = {}
  for i = 1, math.min(#entries, limit) do
    local id, f = entries[i][1], entries[i][2]
    local s = {mseq = tonumber(string.sub(id, 3))}
    for j = 1, #f, 2 do s[f[j]] = f[j + 1] end
    s.from_inc = tonumber(s.from_inc)
    s.to_inc = tonumber(s.to_inc)
    s.neg = tonumber(s.neg)
    s.ts = tonumber(s.ts)
    out[#out + 1] = s
  end
  local head = tonumber(redis.call('HGET', B .. ':mbn', m .. ':' .. inc) or '0')
  return out, #entries > limit, head
end

-- The caller's session: {cur} or an error reply.
local function session(m, inc)
  local cur = member(m)
  if not cur then return nil, fail('not_member', 'join the room first') end
  if cur.inc ~= inc then
    return nil, fail('superseded', 'this session was replaced by a newer join (inc ' .. cur.inc .. ')')
  end
  return cur
end

------------------------------------------------------------------------------------------
local ops = {}

-- join: m, role, node, sid, lease_ms, max_talk_ms, resume_inc, after_mseq, limit
function ops.join(a)
  local m, role, node, sid = a[1], a[2], a[3], a[4]
  local lease_ms, max_talk_ms = tonumber(a[5]), tonumber(a[6])
  local resume_inc, after, limit = tonumber(a[7]), tonumber(a[8]), tonumber(a[9])
  local events = {}
  if resume_inc > 0 then
    local cur = member(m)
    if not cur or cur.inc ~= resume_inc then
      return fail('gone', 'session ' .. resume_inc .. ' is over; join afresh')
    end
    cur.node, cur.sid = node, sid
    redis.call('HSET', B .. ':m', m, cjson.encode(cur))
    redis.call('ZADD', B .. ':lease', NOW + lease_ms, m)
    local sigs, more, head = signals_after(m, resume_inc, after, limit)
    local snap = snapshot()
    return cjson.encode({ok = 1, inc = resume_inc, resumed = 1, role = cur.role, ver = snap.ver,
      members = snap.members, floor = snap.floor, signals = sigs, more = more, mseq = head,
      events = events})
  end
  local inc = redis.call('HINCRBY', B .. ':incs', m, 1)
  local old = member(m)
  local kick, kick_sid = nil, nil
  if old then
    kick, kick_sid = old.inc, old.sid
    redis.call('DEL', B .. ':mb:' .. m .. ':' .. old.inc)
    redis.call('HDEL', B .. ':mbn', m .. ':' .. old.inc)
  end
  redis.call('HSET', B .. ':m', m, cjson.encode({inc = inc, role = role, node = node, sid = sid}))
  redis.call('ZADD', B .. ':lease', NOW + lease_ms, m)
  redis.call('SADD', IDX, ROOM_ID)
  local ev = {type = 'roster', ver = bump(), op = 'join', member = {m, inc, role, node}}
  if kick then ev.replaced = kick end
  events[#events + 1] = ev
  if kick then
    local f = floor()
    if f and f.holder == m then
      end_grant(events, 'superseded', max_talk_ms)
    elseif drop_queued(m) > 0 then
      floor_event(events, 'left')
    end
  end
  keep_room()
  local snap = snapshot()
  return cjson.encode({ok = 1, inc = inc, resumed = 0, role = role, ver = snap.ver,
    members = snap.members, floor = snap.floor, signals = {}, more = false, mseq = 0,
    events = events, kick = kick, kick_sid = kick_sid})
end

-- leave: m, inc (0 = any), op name (leave|expire), max_talk_ms
function ops.leave(a)
  local events = {}
  local done = remove(events, a[1], tonumber(a[2]), a[3], tonumber(a[4]))
  return cjson.encode({ok = 1, removed = done, ver = ver(), events = events})
end

-- touch: lease_ms, then (member, inc) pairs: refresh the leases of live sessions only; the
-- others come back as {member, inc, current inc or 0}.
function ops.touch(a)
  local lease_ms = tonumber(a[1])
  local stale = {}
  for i = 2, #a, 2 do
    if live(a[i], tonumber(a[i + 1])) then
      redis.call('ZADD', B .. ':lease', 'XX', NOW + lease_ms, a[i])
    else
      local cur = member(a[i])
      stale[#stale + 1] = {a[i], tonumber(a[i + 1]), cur and cur.inc or 0}
    end
  end
  return cjson.encode({ok = 1, stale = stale})
end

-- reap: max_talk_ms; expired leases leave, an overdue grant expires.
function ops.reap(a)
  local max_talk_ms = tonumber(a[1])
  local events = {}
  local expired = redis.call('ZRANGEBYSCORE', B .. ':lease', '-inf', NOW)
  for _, m in ipairs(expired) do
    remove(events, m, 0, 'expire', max_talk_ms)
  end
  local f = floor()
  if f and f.deadline <= NOW then
    end_grant(events, 'expired', max_talk_ms)
  end
  if redis.call('HLEN', B .. ':m') == 0 then
    redis.call('SREM', IDX, ROOM_ID)
  end
  return cjson.encode({ok = 1, events = events})
end

-- signal: from, from_inc, to, to_inc, sig_id, pc, neg, kind, payload, dedupe_ttl_s, maxlen,
-- check_session (1|0)
function ops.signal(a)
  local from, from_inc, to, to_inc = a[1], tonumber(a[2]), a[3], tonumber(a[4])
  local sig_id, pc, neg, kind, payload = a[5], a[6], a[7], a[8], a[9]
  local ttl, maxlen, check = tonumber(a[10]), tonumber(a[11]), a[12] == '1'
  local _, err = session(from, from_inc)
  if err then return err end
  local dkey = B .. ':sd:' .. from .. ':' .. sig_id
  local seen = redis.call('GET', dkey)
  if seen then
    local mseq, dto, dinc = string.match(seen, '^(%d+) (%S+) (%d+)$')
    return cjson.encode({ok = 1, mseq = tonumber(mseq), duplicate = true, to = dto,
      to_inc = tonumber(dinc)})
  end
  local cur = member(to)
  if not cur then return fail('no_such_member', to .. ' is not in this room') end
  if check and cur.inc ~= to_inc then
    return fail('gone', to .. ' session ' .. to_inc .. ' is over (now ' .. cur.inc .. ')')
  end
  local box = to .. ':' .. to_inc
  local mseq = redis.call('HINCRBY', B .. ':mbn', box, 1)
  redis.call('XADD', B .. ':mb:' .. box, 'MAXLEN', '~', maxlen, '0-' .. mseq,
    'from', from, 'from_inc', from_inc, 'to', to, 'to_inc', to_inc, 'sig_id', sig_id,
    'pc', pc, 'neg', neg, 'kind', kind, 'payload', payload, 'ts', NOW)
  redis.call('SET', dkey, mseq .. ' ' .. to .. ' ' .. to_inc, 'EX', ttl)
  redis.call('EXPIRE', B .. ':mb:' .. box, ROOM_TTL_S)
  return cjson.encode({ok = 1, mseq = mseq, duplicate = false, to = to, to_inc = to_inc,
    ts = NOW})
end

-- sync: m, inc, after_mseq, limit: a snapshot and the session's signals after a point.
function ops.sync(a)
  local m, inc = a[1], tonumber(a[2])
  local _, err = session(m, inc)
  if err then return err end
  local sigs, more, head = signals_after(m, inc, tonumber(a[3]), tonumber(a[4]))
  local snap = snapshot()
  return cjson.encode({ok = 1, ver = snap.ver, members = snap.members, floor = snap.floor,
    signals = sigs, more = more, mseq = head})
end

-- peek: a snapshot for an observer that is not a member (the read-back).
function ops.peek(a)
  local snap = snapshot()
  snap.ok = 1
  snap.fence = tonumber(redis.call('GET', B .. ':fence') or '0')
  return cjson.encode(snap)
end

-- floor_req: m, inc, req_id, max_talk_ms
function ops.floor_req(a)
  local m, inc, req, max_talk_ms = a[1], tonumber(a[2]), a[3], tonumber(a[4])
  local cur, err = session(m, inc)
  if err then return err end
  if cur.role == 'listener' then return fail('floor_denied', 'listeners may not take the floor') end
  local events = {}
  local f = floor()
  if f and f.holder == m and f.hinc == inc then
    return cjson.encode({ok = 1, status = 'granted', token = f.token, events = events})
  end
  for i, e in ipairs(queue()) do
    if e.m == m and e.inc == inc then
      return cjson.encode({ok = 1, status = 'queued', pos = i, events = events})
    end
  end
  redis.call('RPUSH', B .. ':q', cjson.encode({m = m, inc = inc, req = req}))
  if not f then
    grant_next(max_talk_ms)
    floor_event(events, 'granted')
    local g = floor()
    if g and g.holder == m and g.hinc == inc then
      return cjson.encode({ok = 1, status = 'granted', token = g.token, events = events})
    end
  else
    floor_event(events, 'queued')
  end
  return cjson.encode({ok = 1, status = 'queued', pos = redis.call('LLEN', B .. ':q'),
    events = events})
end

-- floor_rel: m, inc, token, max_talk_ms
function ops.floor_rel(a)
  local m, inc, token, max_talk_ms = a[1], tonumber(a[2]), tonumber(a[3]), tonumber(a[4])
  local _, err = session(m, inc)
  if err then return err end
  local f = floor()
  if not f or f.holder ~= m or f.hinc ~= inc or f.token ~= token then
    return fail('stale_token', 'token ' .. token .. ' is not the current grant')
  end
  local events = {}
  end_grant(events, 'released', max_talk_ms)
  return cjson.encode({ok = 1, events = events})
end

-- floor_cancel: m, inc, req_id
function ops.floor_cancel(a)
  local m, inc, req = a[1], tonumber(a[2]), a[3]
  local _, err = session(m, inc)
  if err then return err end
  local raw = redis.call('LRANGE', B .. ':q', 0, -1)
  local events = {}
  for i = 1, #raw do
    local e = cjson.decode(raw[i])
    if e.m == m and e.req == req then
      redis.call('LREM', B .. ':q', 1, raw[i])
      floor_event(events, 'cancelled')
      return cjson.encode({ok = 1, cancelled = true, events = events})
    end
  end
  return cjson.encode({ok = 1, cancelled = false, events = events})
end

-- floor_grant: chair, chair_inc, target, max_talk_ms (chair only)
function ops.floor_grant(a)
  local chair, cinc, target, max_talk_ms = a[1], tonumber(a[2]), a[3], tonumber(a[4])
  local cur, err = session(chair, cinc)
  if err then return err end
  if cur.role ~= 'chair' then return fail('forbidden', 'only a chair may grant the floor') end
  local tgt = member(target)
  if not tgt then return fail('no_such_member', target .. ' is not in this room') end
  if tgt.role == 'listener' then return fail('floor_denied', 'listeners may not take the floor') end
  local events = {}
  local f = floor()
  local prev = nil
  if f then
    if f.holder == target and f.hinc == tgt.inc then
      return cjson.encode({ok = 1, token = f.token, events = events})
    end
    prev = {holder = f.holder, hinc = f.hinc, token = f.token, why = 'revoked'}
  end
  drop_queued(target)
  redis.call('HSET', B .. ':floor', 'holder', target, 'hinc', tgt.inc, 'token', next_token(),
    'since', NOW, 'deadline', NOW + max_talk_ms, 'req', 'chair:' .. chair)
  floor_event(events, 'chair', prev)
  return cjson.encode({ok = 1, token = floor().token, events = events})
end

-- floor_revoke: chair, chair_inc, max_talk_ms (chair only)
function ops.floor_revoke(a)
  local chair, cinc, max_talk_ms = a[1], tonumber(a[2]), tonumber(a[3])
  local cur, err = session(chair, cinc)
  if err then return err end
  if cur.role ~= 'chair' then return fail('forbidden', 'only a chair may revoke the floor') end
  local events = {}
  end_grant(events, 'revoked', max_talk_ms)
  return cjson.encode({ok = 1, revoked = #events > 0, events = events})
end

-- speaking: m, inc, token (0 with check off = the flaw: any token is taken)
function ops.speaking(a)
  local m, inc, token, check = a[1], tonumber(a[2]), tonumber(a[3]), a[4] == '1'
  local _, err = session(m, inc)
  if err then return err end
  local f = floor()
  if check and (not f or f.holder ~= m or f.hinc ~= inc or f.token ~= token) then
    return fail('stale_token', 'token ' .. token .. ' is not the current grant')
  end
  return cjson.encode({ok = 1})
end

-- bump: a bare version (the node-local floor of the voice-node-floor flaw numbers its pushes).
function ops.bump(_)
  return cjson.encode({ok = 1, ver = bump()})
end

local fn = ops[op]
if not fn then return fail('bad_request', 'unknown voice operation ' .. tostring(op)) end
local args = {}
for i = 3, #ARGV do args[#args + 1] = ARGV[i] end
return fn(args)
