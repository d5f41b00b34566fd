//! The Lua scripts of the Redis store, one per operation. Each touches only the
//! keys it is given, all of one board instance (one hash slot), so it runs
//! unchanged on a Redis Cluster; scores pass through as ordered integers (the
//! negation of the score on descending boards, see the store's module docs).

/// Submits one score. KEYS: z, m. ARGV: user, operator, ordered value (for
/// `incr` the ordered increment), new member, expiry (Unix ms or ""), max.
/// Returns {had old, old ordered score, new ordered score, changed}.
pub(super) const SUBMIT: &str = r#"
local z, m = KEYS[1], KEYS[2]
local user, op, value, member, expire_at, max =
  ARGV[1], ARGV[2], tonumber(ARGV[3]), ARGV[4], ARGV[5], tonumber(ARGV[6])
local old_member = redis.call('HGET', m, user)
local old = nil
if old_member then old = tonumber(redis.call('ZSCORE', z, old_member)) end
local new = value
local changed = true
if old ~= nil then
  if op == 'incr' then
    new = old + value
    changed = value ~= 0
  elseif op == 'best' then
    changed = value < old
  else
    changed = value ~= old
  end
  if not changed then new = old end
end
if new > max or new < -max then
  return redis.error_reply('ERR_SCORE_RANGE ' .. string.format('%.0f', new))
end
if changed then
  if old_member then redis.call('ZREM', z, old_member) end
  redis.call('ZADD', z, new, member)
  redis.call('HSET', m, user, member)
  if expire_at ~= '' then
    redis.call('PEXPIREAT', z, expire_at)
    redis.call('PEXPIREAT', m, expire_at)
  end
end
if old == nil then return {0, 0, new, 1} end
return {1, old, new, changed and 1 or 0}
"#;

/// Entries of some users. KEYS: z, m. ARGV: users. Returns a flat list of
/// member, 0-based rank, ordered score per user that has an entry.
pub(super) const RANKS: &str = r#"
local z, m = KEYS[1], KEYS[2]
local out = {}
for i = 1, #ARGV do
  local member = redis.call('HGET', m, ARGV[i])
  if member then
    local rank = redis.call('ZRANK', z, member)
    if rank then
      out[#out + 1] = member
      out[#out + 1] = rank
      out[#out + 1] = redis.call('ZSCORE', z, member)
    end
  end
end
return out
"#;

/// A user's neighbourhood. KEYS: z, m. ARGV: user, radius. Returns {start rank,
/// {member, score, …}} or {} without an entry.
pub(super) const AROUND: &str = r#"
local z, m = KEYS[1], KEYS[2]
local member = redis.call('HGET', m, ARGV[1])
if not member then return {} end
local rank = redis.call('ZRANK', z, member)
if not rank then return {} end
local radius = tonumber(ARGV[2])
local start = rank - radius
if start < 0 then start = 0 end
return {start, redis.call('ZRANGE', z, start, rank + radius, 'WITHSCORES')}
"#;

/// A page. KEYS: z. ARGV: has cursor ("1"/"0"), cursor ordered score, cursor
/// member, limit. Returns {start rank, {member, score, …}}: the entries after
/// the cursor's position, found by binary search among the entries of its score.
pub(super) const TOP: &str = r#"
local z = KEYS[1]
local start = 0
if ARGV[1] == '1' then
  local s, cursor = ARGV[2], ARGV[3]
  local lo = redis.call('ZCOUNT', z, '-inf', '(' .. s)
  local hi = redis.call('ZCOUNT', z, '-inf', s)
  while lo < hi do
    local mid = math.floor((lo + hi) / 2)
    local x = redis.call('ZRANGE', z, mid, mid)[1]
    if x <= cursor then lo = mid + 1 else hi = mid end
  end
  start = lo
end
local limit = tonumber(ARGV[4])
if limit <= 0 then return {start, {}} end
return {start, redis.call('ZRANGE', z, start, start + limit - 1, 'WITHSCORES')}
"#;

/// Removes one user's entry. KEYS: z, m. ARGV: user. Returns the ordered score
/// it had, or nil without an entry.
pub(super) const REMOVE: &str = r#"
local member = redis.call('HGET', KEYS[2], ARGV[1])
if not member then return false end
redis.call('HDEL', KEYS[2], ARGV[1])
local score = redis.call('ZSCORE', KEYS[1], member)
redis.call('ZREM', KEYS[1], member)
return score
"#;

/// Swaps loaded staging keys in. KEYS: z, m, staged z, staged m. ARGV: expiry
/// (Unix ms or "").
pub(super) const SWAP: &str = r#"
redis.call('DEL', KEYS[1], KEYS[2])
if redis.call('EXISTS', KEYS[3]) == 1 then
  redis.call('RENAME', KEYS[3], KEYS[1])
  redis.call('RENAME', KEYS[4], KEYS[2])
  if ARGV[1] ~= '' then
    redis.call('PEXPIREAT', KEYS[1], ARGV[1])
    redis.call('PEXPIREAT', KEYS[2], ARGV[1])
  end
else
  redis.call('DEL', KEYS[4])
end
return 1
"#;
