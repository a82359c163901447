-- Pigeon send: dedupe check -> INCR -> XADD -> SET dedupe, atomically.
-- KEYS[1] seq counter, KEYS[2] log stream (entry ids 0-<seq>), KEYS[3] the sender's dedupe
--     record of this client_msg_id
-- ARGV[1] id, [2] client_msg_id, [3] sender, [4] body, [5] ts (ms), [6] retention (MAXLEN ~),
--     [7] dedupe ttl (s), [8] forced seq ("0": INCR), [9] dedupe on ("1"/"0"),
--     [10] touch ("1": on a duplicate, rewrite the record so a following WAIT covers it, and
--     return the stored entry so that the caller pushes the stored message, not the retry's),
--     [11] log ttl (s): the log of a channel expires this long after its last message
-- Returns {duplicate 0|1, "<seq> <id> <ts>" [, stored fields of a duplicate]} or an error.
local dedupe = ARGV[9] == '1'
if dedupe then
  local d = redis.call('GET', KEYS[3])
  if d then
    if ARGV[10] == '1' then
      redis.call('SET', KEYS[3], d, 'KEEPTTL')
      local id = '0-' .. string.match(d, '^(%d+)')
      local e = redis.call('XRANGE', KEYS[2], id, id)
      if e[1] then return {1, d, e[1][2]} end
    end
    return {1, d}
  end
end
local seq
local incr = ARGV[8] == '0'
if incr then seq = redis.call('INCR', KEYS[1]) else seq = tonumber(ARGV[8]) end
local ok = redis.pcall('XADD', KEYS[2], 'MAXLEN', '~', ARGV[6], '0-' .. seq,
  'i', ARGV[1], 'c', ARGV[2], 's', ARGV[3], 'b', ARGV[4], 't', ARGV[5])
if type(ok) == 'table' and ok.err then
  if incr then redis.call('DECR', KEYS[1]) end  -- never leave a hole in the sequence
  return redis.error_reply('XADD failed: ' .. ok.err)
end
redis.call('EXPIRE', KEYS[2], ARGV[11])
local v = seq .. ' ' .. ARGV[1] .. ' ' .. ARGV[5]
if dedupe then redis.call('SET', KEYS[3], v, 'EX', ARGV[7]) end
return {0, v}
