"""The Lua scripts of the Redis push backend.

Each operation that must be atomic, or that would otherwise take several round trips, is
one script. Every key a script touches is passed in KEYS and shares the backend's hash
tag, so the scripts are valid on Redis Cluster.

A channel is two keys: a hash ``meta`` (``e``: the epoch of its history, ``l``: the id of
the newest entry ever added) and a stream whose entries carry the payload ``d`` and the
id ``p`` of the entry added before them. ``p`` is what makes gaps exact: a reader after
position X has lost nothing if and only if the first entry it is given has ``p == X``.
"""

from __future__ import annotations

# Helpers shared by the scripts below (prepended to each).
PRELUDE = """
local function parse_id(id)
  local ms, seq = string.match(id, '^(%d+)%-(%d+)$')
  -- Only the canonical spelling is a position we issued ("01" is not "1").
  if not ms or #ms > 15 or #seq > 15 or string.match(ms .. '-' .. seq, '^0%d')
     or string.match(seq, '^0%d') then
    return nil
  end
  return tonumber(ms), tonumber(seq)
end

local function now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end

-- Where a reader after (after_epoch, after_id) must start reading one channel.
-- Returns: status ('none': channel never used, 'fresh': read from the oldest,
-- 'reset': history lost, 'gap?': check the first entry's p), XRANGE start, epoch, last.
local function locate(meta, after_epoch, after_id, horizon)
  local m = redis.call('HMGET', meta, 'e', 'l')
  local epoch, last = m[1], m[2]
  local oldest = horizon .. '-0'
  if not epoch then
    if after_id == '' then return 'none', oldest, false, false end
    return 'reset', oldest, false, false
  end
  if after_id == '' then return 'fresh', oldest, epoch, last end
  if after_epoch ~= epoch then return 'reset', oldest, epoch, last end
  local a_ms, a_seq = parse_id(after_id)
  local l_ms, l_seq = parse_id(last)
  if not a_ms or a_ms > l_ms or (a_ms == l_ms and a_seq > l_seq) then
    return 'reset', oldest, epoch, last
  end
  if after_id == last then return 'current', '(' .. after_id, epoch, last end
  if a_ms < horizon then return 'gap?', oldest, epoch, last end
  return 'gap?', '(' .. after_id, epoch, last
end

-- Append one payload to a channel; returns its epoch, the id before it ('' for the
-- channel's first) and its id.
local function append(meta, stream, payload, new_epoch, capacity, meta_ttl, stream_ttl)
  local m = redis.call('HMGET', meta, 'e', 'l')
  local epoch, prev = m[1], m[2]
  if not epoch then
    epoch = new_epoch
    prev = ''
  end
  local id = redis.call('XADD', stream, 'MAXLEN', capacity, '*', 'd', payload, 'p', prev)
  redis.call('HSET', meta, 'e', epoch, 'l', id)
  redis.call('PEXPIRE', meta, meta_ttl)
  redis.call('PEXPIRE', stream, stream_ttl)
  return epoch, prev, id
end

-- Append ARGV[first + 2i] to the channel named ARGV[first + 2i - 1], with its keys at
-- KEYS[key_offset + 2i - 1] (meta) and KEYS[key_offset + 2i] (stream), and announce each
-- message on the wake-up channel: its channel, epoch, previous id and id, then its payload
-- when that is at most announce_limit bytes, separated by newlines. Returns {position,
-- previous id, ...}.
local function append_all(key_offset, first, wake, new_epoch, capacity, meta_ttl,
                          stream_ttl, announce_limit)
  local out = {}
  local n = (#ARGV - first + 1) / 2
  for i = 1, n do
    local channel = ARGV[first + 2 * i - 2]
    local payload = ARGV[first + 2 * i - 1]
    local epoch, prev, id = append(KEYS[key_offset + 2 * i - 1], KEYS[key_offset + 2 * i],
                                   payload, new_epoch, capacity, meta_ttl, stream_ttl)
    local announcement = channel .. '\\n' .. epoch .. '\\n' .. prev .. '\\n' .. id
    if #payload <= announce_limit then
      announcement = announcement .. '\\n' .. payload
    end
    redis.call('PUBLISH', wake, announcement)
    out[2 * i - 1] = epoch .. '-' .. id
    out[2 * i] = prev
  end
  return out
end
"""

# KEYS: meta, stream per entry. ARGV: wake channel, new epoch, capacity, meta ttl (ms),
# stream ttl (ms), announce limit (bytes), then channel, payload per entry. Returns
# {position, previous id} per entry.
PUBLISH_MANY = (
    PRELUDE
    + """
return append_all(0, 7, ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5], tonumber(ARGV[6]))
"""
)

# KEYS: sequence key, lock key, then meta, stream per entry. ARGV: seq, sequence ttl
# (ms), lock token to release the lock with ('': keep it), wake channel, new epoch,
# capacity, meta ttl, stream ttl, announce limit, then channel, payload per entry.
# Returns {position, previous id} per entry, or false when seq is not above the recorded
# one. The lock is released either way (when the token holds it).
PUBLISH_SEQUENCED = (
    PRELUDE
    + """
if ARGV[3] ~= '' and redis.call('GET', KEYS[2]) == ARGV[3] then
  redis.call('DEL', KEYS[2])
end
local recorded = tonumber(redis.call('GET', KEYS[1]) or '0')
if tonumber(ARGV[1]) <= recorded then return false end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return append_all(2, 10, ARGV[4], ARGV[5], ARGV[6], ARGV[7], ARGV[8], tonumber(ARGV[9]))
"""
)

# KEYS: meta, stream. ARGV: after epoch ('' for none), after id ('' for none), limit,
# max age (ms). Returns {reset (0/1), position or false, id, payload, id, payload, ...}.
READ = (
    PRELUDE
    + """
local horizon = now_ms() - tonumber(ARGV[4])
local status, start, epoch, last = locate(KEYS[1], ARGV[1], ARGV[2], horizon)
if status == 'none' then return {0, false} end
local reset = 0
if status == 'reset' then reset = 1 end
local entries = {}
if epoch and status ~= 'current' then
  entries = redis.call('XRANGE', KEYS[2], start, '+', 'COUNT', tonumber(ARGV[3]))
end
if status == 'gap?' and (#entries == 0 or entries[1][2][4] ~= ARGV[2]) then
  reset = 1
end
local out = {reset, false}
for i, entry in ipairs(entries) do
  out[#out + 1] = entry[1]
  out[#out + 1] = entry[2][2]
end
if #entries > 0 then
  out[2] = epoch .. '-' .. entries[#entries][1]
elseif epoch then
  out[2] = epoch .. '-' .. last
end
return out
"""
)

# KEYS: meta, stream per channel. ARGV: max age (ms), then after epoch, after id per
# channel. Returns 1 when a read of any channel would return a message or a reset.
HAS_NEWS = (
    PRELUDE
    + """
local horizon = now_ms() - tonumber(ARGV[1])
for i = 1, #KEYS / 2 do
  local status, start, epoch, last = locate(KEYS[2 * i - 1], ARGV[2 * i], ARGV[2 * i + 1],
                                            horizon)
  if status == 'reset' or status == 'gap?' then return 1 end
  if status == 'fresh' then
    if #redis.call('XRANGE', KEYS[2 * i], start, '+', 'COUNT', 1) > 0 then return 1 end
  end
end
return 0
"""
)

# KEYS: lock, sequence key, then the session's revocation record (optional). ARGV: token,
# lease (ms). Takes the lock unless the session was revoked. Returns {1, the client's last
# sequence} when taken, {0} when someone else holds it, {-1} when the session was revoked.
ACQUIRE_LOCK = """
if KEYS[3] and redis.call('EXISTS', KEYS[3]) == 1 then return {-1} end
if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then
  return {1, redis.call('GET', KEYS[2]) or '0'}
end
return {0}
"""

# KEYS: lock. ARGV: token, lease (ms). Extends the lease if this token holds the lock.
RENEW_LOCK = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return 0
"""

# KEYS: lock. ARGV: token. Releases the lock if this token holds it.
RELEASE_LOCK = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
"""

# KEYS: leases (sorted set), lease data (hash). ARGV: client id, data, ttl (ms).
# Returns 1 when the client held no lease.
RENEW_PRESENCE = (
    PRELUDE
    + """
local new = redis.call('ZADD', KEYS[1], now_ms() + tonumber(ARGV[3]), ARGV[1])
redis.call('HSET', KEYS[2], ARGV[1], ARGV[2])
return new
"""
)

# KEYS: leases, lease data, claims (sorted set: client id -> claim expiry).
# ARGV: limit, claim lease (ms). Claims up to limit lapsed leases, and claims whose own
# lease expired unacknowledged (their claimer died), for claim-lease ms; returns them as
# {client id, data, client id, data, ...}.
CLAIM_LAPSED = (
    PRELUDE
    + """
local now = now_ms()
local claimed_until = now + tonumber(ARGV[2])
local limit = tonumber(ARGV[1])
local out = {}
local function claim(client)
  redis.call('ZADD', KEYS[3], claimed_until, client)
  out[#out + 1] = client
  out[#out + 1] = redis.call('HGET', KEYS[2], client) or ''
end
local expired = redis.call('ZRANGEBYSCORE', KEYS[3], '-inf', now, 'LIMIT', 0, limit)
for _, client in ipairs(expired) do
  claim(client)
end
local room = limit - #out / 2
if room > 0 then
  local lapsed = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now, 'LIMIT', 0, room)
  for _, client in ipairs(lapsed) do
    redis.call('ZREM', KEYS[1], client)
    claim(client)
  end
end
return out
"""
)

# KEYS: leases, lease data, claims. ARGV: client id. The claimed client's disconnect
# event ran: forget the claim, and its data unless it holds a new lease.
ACK_LAPSED = """
redis.call('ZREM', KEYS[3], ARGV[1])
if not redis.call('ZSCORE', KEYS[1], ARGV[1]) then
  redis.call('HDEL', KEYS[2], ARGV[1])
end
return 0
"""

# KEYS: the group's member set, the client's group set, the index of groups (a sorted
# set, every score 0, so it is read by name: ZRANGE BYLEX). ARGV: client id, group.
# Returns 1 when the client was not a member yet.
ADD_MEMBER = """
redis.call('SADD', KEYS[2], ARGV[2])
redis.call('ZADD', KEYS[3], 0, ARGV[2])
return redis.call('SADD', KEYS[1], ARGV[1])
"""

# KEYS: the group's member set, the client's group set, the index of groups.
# ARGV: client id, group. Returns 1 when the client was a member.
REMOVE_MEMBER = """
redis.call('SREM', KEYS[2], ARGV[2])
local removed = redis.call('SREM', KEYS[1], ARGV[1])
if redis.call('SCARD', KEYS[1]) == 0 then
  redis.call('ZREM', KEYS[3], ARGV[2])
end
return removed
"""

# KEYS: leases. ARGV: client ids. Returns 1 or 0 for each: whether its lease is live.
PRESENT = (
    PRELUDE
    + """
local now = now_ms()
local out = {}
for i, client in ipairs(ARGV) do
  local expiry = redis.call('ZSCORE', KEYS[1], client)
  out[i] = (expiry and tonumber(expiry) > now) and 1 or 0
end
return out
"""
)

# KEYS: leases. Returns how many leases are live.
COUNT_PRESENT = (
    PRELUDE
    + """
return redis.call('ZCOUNT', KEYS[1], '(' .. now_ms(), '+inf')
"""
)
