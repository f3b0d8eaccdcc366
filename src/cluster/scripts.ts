/**
 * The cluster's Lua scripts: each check and the change it guards is one
 * script, so two servers can never both pass a check ("is this name free?")
 * before either makes the change ("take it"). KEYS and ARGV are documented
 * at each; the key prefix comes in ARGV where a script reaches keys it does
 * not declare (a single Redis, not Redis Cluster).
 *
 * @module
 */

import { Script } from "../redis/link.ts";

/**
 * Lua for the scripts below: a room whose last member (on any server) has
 * just left leaves the list of rooms, and its record goes too if it holds
 * nothing but its name (no line, no topic, no owner): the embedded store
 * keeps no such room either, and every room ever joined would stay in Redis.
 * Unless it is claimed, it no longer keeps look-alikes out (see OPEN_ROOM).
 */
const EMPTIED = `
local function emptied(prefix, r)
  if redis.call('ZCARD', prefix .. 'members:' .. r) > 0 then return end
  redis.call('SREM', prefix .. 'rooms', r)
  local record = prefix .. 'room:' .. r
  if redis.call('HEXISTS', record, 'owner') == 0 then
    local skel = redis.call('HGET', prefix .. 'room-skeleton-of', r)
    if skel then
      redis.call('HDEL', prefix .. 'room-skeleton-of', r)
      if redis.call('HGET', prefix .. 'room-skeletons', skel) == r then
        redis.call('HDEL', prefix .. 'room-skeletons', skel)
      end
      if redis.call('GET', prefix .. 'opening-look:' .. skel) == r then
        redis.call('DEL', prefix .. 'opening-look:' .. skel)
      end
    end
    redis.call('DEL', prefix .. 'opening:' .. r)
  end
  if redis.call('HLEN', record) <= 1 and redis.call('EXISTS', prefix .. 'history:' .. r) == 0 then
    redis.call('DEL', record)
  end
end`;

/**
 * Lua for the scripts below: a session that leaves (or is reaped) is no
 * longer found under the name it changed to (`sessions`, see PRIVATE).
 */
const FORGET = `
local function forget(prefix, login, key)
  if type(login) ~= 'string' then return end
  if redis.call('HGET', prefix .. 'sessions', login) == key then
    redis.call('HDEL', prefix .. 'sessions', login)
  end
end`;

/**
 * Takes a name for a user of this server.
 * KEYS: names, skeletons, node-users. ARGV: key, skeleton, presence JSON.
 * Returns {"ok"}, {"taken"} or {"lookalike", holder's name}.
 */
export const CLAIM = new Script(`
if redis.call('HEXISTS', KEYS[1], ARGV[1]) == 1 then return {'taken'} end
local twin = redis.call('HGET', KEYS[2], ARGV[2])
if twin and twin ~= ARGV[1] then
  local other = redis.call('HGET', KEYS[1], twin)
  if other then return {'lookalike', cjson.decode(other).name} end
end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[3])
redis.call('HSET', KEYS[2], ARGV[2], ARGV[1])
redis.call('SADD', KEYS[3], ARGV[1])
return {'ok'}`);

/**
 * Renames a user of this server, the new name checked as CLAIM checks it.
 * KEYS: names, skeletons, node-users. ARGV: old key, old skeleton, new key,
 * new skeleton, presence JSON, prefix, room key ('' for none), node, now
 * (ms). The old name, and its place in the room, are this user's only if
 * this server held it: a user asked to pick another name (another server's
 * user kept it) leaves the other's place alone and takes one of its own.
 * The session's new name goes into `sessions` (see PRIVATE).
 */
export const RENAME = new Script(`
local old, oldSkel, new, newSkel, json, prefix, room = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5], ARGV[6], ARGV[7]
local held = redis.call('HGET', KEYS[1], old)
local ours = held and cjson.decode(held).node == ARGV[8]
if new ~= old and redis.call('HEXISTS', KEYS[1], new) == 1 then return {'taken'} end
-- A change of letter case only keeps the name: unless another server's
-- user holds it now (this one was reaped, and has not taken it back yet).
if new == old and held and not ours then return {'taken'} end
local twin = redis.call('HGET', KEYS[2], newSkel)
if twin and twin ~= old and twin ~= new then
  local other = redis.call('HGET', KEYS[1], twin)
  if other then return {'lookalike', cjson.decode(other).name} end
end
if ours then
  redis.call('HDEL', KEYS[1], old)
  if redis.call('HGET', KEYS[2], oldSkel) == old then redis.call('HDEL', KEYS[2], oldSkel) end
end
redis.call('HSET', KEYS[1], new, json)
redis.call('HSET', KEYS[2], newSkel, new)
redis.call('SREM', KEYS[3], old)
redis.call('SADD', KEYS[3], new)
local login = cjson.decode(json).login
if new ~= old and type(login) == 'string' then
  redis.call('HSET', prefix .. 'sessions', login, new)
end
if room ~= '' then
  local members = prefix .. 'members:' .. room
  local since = ours and redis.call('ZSCORE', members, old)
  if since then redis.call('ZREM', members, old) end
  redis.call('ZADD', members, since or ARGV[9], new)
  redis.call('SADD', prefix .. 'rooms', room)
end
return {'ok'}`);

/**
 * Frees a name this server held, and its place in its room.
 * KEYS: names, skeletons, node-users. ARGV: key, node, prefix, the session
 * whose name it is ('' for whoever of this server holds it: a name claimed
 * for a login that did not happen, or held for nobody here any more). A
 * release that comes late (written to a connection that then broke, and
 * delivered by the network after this server, reconnected, took its names
 * back on the new one) leaves the name to another session of this server
 * that holds it now.
 */
export const RELEASE = new Script(`${EMPTIED}${FORGET}
-- The session has left, whatever becomes of the name: a reply no longer
-- looks for it (see PRIVATE), and its entry does not stay for good.
if ARGV[4] ~= '' then redis.call('HDEL', ARGV[3] .. 'sessions', ARGV[4]) end
local json = redis.call('HGET', KEYS[1], ARGV[1])
local p = json and cjson.decode(json)
if p and p.node == ARGV[2] and ARGV[4] ~= '' and type(p.login) == 'string' and
    p.login ~= ARGV[4] then
  return 0
end
redis.call('SREM', KEYS[3], ARGV[1])
if not p then return 0 end
if p.node ~= ARGV[2] then return 0 end
redis.call('HDEL', KEYS[1], ARGV[1])
if redis.call('HGET', KEYS[2], p.skeleton) == ARGV[1] then redis.call('HDEL', KEYS[2], p.skeleton) end
forget(ARGV[3], p.login, ARGV[1])
if p.room and p.room ~= '' then
  local members = ARGV[3] .. 'members:' .. p.room
  redis.call('ZREM', members, ARGV[1])
  emptied(ARGV[3], p.room)
end
return 1`);

/**
 * Lua for the scripts below: which room each look (a room name's skeleton)
 * belongs to, in room-skeletons (and back, in room-skeleton-of, for
 * EMPTIED). A room keeps its look while it is live: it has members, an
 * owner, or is being made (opening:KEY, see OPEN_ROOM).
 */
const LOOKS = `
local function live(prefix, r)
  return redis.call('EXISTS', prefix .. 'opening:' .. r) == 1 or
    redis.call('ZCARD', prefix .. 'members:' .. r) > 0 or
    redis.call('HEXISTS', prefix .. 'room:' .. r, 'owner') == 1
end
local function takeLook(prefix, skel, r)
  local looks = prefix .. 'room-skeletons'
  local twin = redis.call('HGET', looks, skel)
  if twin == r then return end
  -- A look-alike being made elsewhere (OPEN_ROOM) keeps the look for it.
  local making = redis.call('GET', prefix .. 'opening-look:' .. skel)
  if making and making ~= r and
      redis.call('EXISTS', prefix .. 'opening:' .. making) == 1 then
    return
  end
  if twin then
    if live(prefix, twin) then return end
    redis.call('HDEL', prefix .. 'room-skeleton-of', twin)
  end
  redis.call('HSET', looks, skel, r)
  redis.call('HSET', prefix .. 'room-skeleton-of', r, skel)
end`;

/**
 * How long a room being made (its look-alikes checked, its first member
 * not yet in Redis) keeps look-alikes out without a member, in ms: the
 * first member's presence update comes a round trip or two later; a join
 * that failed in between leaves nothing that lasts.
 */
const OPENING_MS = 10_000;

/**
 * A room new to the whole cluster is about to be made here: refused if its
 * name looks like one open on any server (with members, claimed, or being
 * made), as one server refuses a look-alike of a room it has open; else it
 * is marked as being made, look and all, in the same step (two servers
 * cannot make two look-alikes at once), for OPENING_MS only: its first
 * member's MOVE takes the look for as long as the room lives.
 * KEYS: none of its own (a single Redis). ARGV: skeleton, key, name, prefix.
 * Returns '' or the name of the room it looks like.
 */
export const OPEN_ROOM = new Script(`${LOOKS}
local skel, key, name, prefix = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
local twin = redis.call('HGET', prefix .. 'room-skeletons', skel)
if not (twin and twin ~= key and live(prefix, twin)) then
  -- Or one being made elsewhere, whose first member is not in yet.
  twin = redis.call('GET', prefix .. 'opening-look:' .. skel)
  if twin == key or redis.call('EXISTS', prefix .. 'opening:' .. (twin or '')) == 0 then
    twin = nil
  end
end
if twin then
  return redis.call('HGET', prefix .. 'room:' .. twin, 'name') or
    redis.call('GET', prefix .. 'opening:' .. twin) or twin
end
-- Only what expires: the lasting look is taken with the first member
-- (MOVE), so a join that fails in between leaves nothing behind.
redis.call('SET', prefix .. 'opening-look:' .. skel, key, 'PX', ${OPENING_MS})
redis.call('SET', prefix .. 'opening:' .. key, name, 'PX', ${OPENING_MS})
return ''`);

/**
 * A user of this server is now in another room (or none), and what is known
 * of them changed. KEYS: names. ARGV: key, old room ('' none), new room
 * ('' none), presence JSON, joined at (ms), prefix, node, new room's name,
 * its skeleton ('' unless the user moved).
 */
export const MOVE = new Script(`${EMPTIED}${LOOKS}
local key, old, new, json, at, prefix = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5], ARGV[6]
local held = redis.call('HGET', KEYS[1], key)
if not held or cjson.decode(held).node ~= ARGV[7] then return 0 end
if old ~= '' and old ~= new then
  redis.call('ZREM', prefix .. 'members:' .. old, key)
  emptied(prefix, old)
end
if new ~= '' and new ~= old then
  redis.call('ZADD', prefix .. 'members:' .. new, at, key)
  redis.call('SADD', prefix .. 'rooms', new)
  redis.call('HSETNX', prefix .. 'room:' .. new, 'name', ARGV[8])
  -- Open now: a look-alike made elsewhere is refused (OPEN_ROOM), as one
  -- made here is, also of a room kept from before and opened again.
  if ARGV[9] ~= '' then takeLook(prefix, ARGV[9], new) end
end
redis.call('HSET', KEYS[1], key, json)
return 1`);

/**
 * Gives a room event its id and publishes it: one PUBLISH per event, however
 * many servers and members there are. A chat line goes into the room's
 * history, a topic into the room's record, in the same step.
 * KEYS: ids, channel, history ('' unless a chat line), room hash.
 * ARGV: event JSON without its id, history kept, room name, what goes
 * before the event in the message (its origin and sender, a line each),
 * topic text, topic by, topic at ('' unless a topic).
 * Returns the id.
 */
export const EMIT = new Script(`
local id = redis.call('INCR', KEYS[1])
local event = '{"id":' .. id .. ',' .. string.sub(ARGV[1], 2)
if KEYS[3] ~= '' then
  redis.call('ZADD', KEYS[3], id, event)
  redis.call('ZREMRANGEBYRANK', KEYS[3], 0, -(tonumber(ARGV[2]) + 1))
  redis.call('HSETNX', KEYS[4], 'name', ARGV[3])
end
if ARGV[7] ~= '' then
  redis.call('HSETNX', KEYS[4], 'name', ARGV[3])
  redis.call('HSET', KEYS[4], 'topic', ARGV[5], 'topic_by', ARGV[6], 'topic_at', ARGV[7])
end
redis.call('PUBLISH', KEYS[2], ARGV[4] .. '\\n' .. event)
return id`);

/**
 * Sends a private message straight to the server holding its recipient.
 * KEYS: names, ids. ARGV: recipient key, event JSON without its id, the
 * sender (key and session: see `#sender` in cluster.ts), prefix, and the
 * recipient's session or '' (a reply to a guest: to that session only,
 * under its name now: `sessions` holds the key of each session that
 * changed name, as RENAME and RECLAIM leave it).
 * Returns {id, recipient's name, their away message or '', how many
 * servers heard it, 1 if they are away (also with no reason: '') else 0},
 * or 0 when nobody has the name (or, with a session, when that session is
 * not online under the name nor any other), or holds it in no room: a
 * login not done yet (CLAIM took the name, its server has not put the user
 * in main), whose server would drop the message, its user not yet there,
 * or one kicked off the server, logging out. Nobody there, as on one
 * server: a message to an account waits for its owner's login (this one's
 * reads them after the claim, or the next one's).
 */
export const PRIVATE = new Script(`
local holder = redis.call('HGET', KEYS[1], ARGV[1])
local p = holder and cjson.decode(holder)
if ARGV[5] ~= '' and not (p and p.login == ARGV[5]) then
  -- The session renamed since: under its name now, if it is still online.
  local now = redis.call('HGET', ARGV[4] .. 'sessions', ARGV[5])
  holder = now and redis.call('HGET', KEYS[1], now)
  p = holder and cjson.decode(holder)
  if not (p and p.login == ARGV[5]) then return 0 end
end
if not p or p.room == '' then return 0 end
local id = redis.call('INCR', KEYS[2])
local event = '{"id":' .. id .. ',"to":' .. cjson.encode(p.name) .. ',' .. string.sub(ARGV[2], 2)
local heard = redis.call('PUBLISH', ARGV[4] .. 'n:' .. p.node, 'private\\n' .. ARGV[3] .. '\\n' .. event)
local away = p.away
local isAway = 1
if away == nil or away == cjson.null then away = ''; isAway = 0 end
return {id, p.name, away, heard, isAway}`);

/**
 * The names of a room's members, in the order they came in, on every
 * server. KEYS: members of the room, names.
 */
export const LOOK = new Script(`
local out = {}
for _, key in ipairs(redis.call('ZRANGE', KEYS[1], 0, -1)) do
  local json = redis.call('HGET', KEYS[2], key)
  if json then table.insert(out, cjson.decode(json).name) end
end
return out`);

/**
 * The rooms with members, with their number of members, name and topic.
 * KEYS: rooms. ARGV: prefix. Returns [key, count, name, topic, ...].
 */
export const ROOMS = new Script(`
local out = {}
for _, room in ipairs(redis.call('SMEMBERS', KEYS[1])) do
  local count = redis.call('ZCARD', ARGV[1] .. 'members:' .. room)
  if count > 0 then
    local h = redis.call('HMGET', ARGV[1] .. 'room:' .. room, 'name', 'topic')
    table.insert(out, room)
    table.insert(out, count)
    table.insert(out, h[1] or room)
    table.insert(out, h[2] or '')
  else
    redis.call('SREM', KEYS[1], room)
  end
end
return out`);

/**
 * Forgets a server that stopped answering: its names, and its users' places
 * in rooms. Only one server gets the list (the one whose HDEL removed the
 * server), so each room is told once that those users left.
 * The server, if it was only stalling, finds at its next heartbeat that it
 * was reaped (reaped:NODE, kept a day at most), and tells its rooms that
 * its users are back.
 * KEYS: nodes, the server's alive key, its users. ARGV: node, prefix.
 * Returns [room key, room name, user name, ...].
 */
export const REAP = new Script(`${EMPTIED}${FORGET}
if redis.call('EXISTS', KEYS[2]) == 1 then return {} end
if redis.call('HDEL', KEYS[1], ARGV[1]) == 0 then return {} end
local prefix = ARGV[2]
redis.call('SET', prefix .. 'reaped:' .. ARGV[1], '1', 'PX', 86400000)
local out = {}
for _, key in ipairs(redis.call('SMEMBERS', KEYS[3])) do
  local json = redis.call('HGET', prefix .. 'names', key)
  if json then
    local p = cjson.decode(json)
    if p.node == ARGV[1] then
      redis.call('HDEL', prefix .. 'names', key)
      if redis.call('HGET', prefix .. 'skeletons', p.skeleton) == key then
        redis.call('HDEL', prefix .. 'skeletons', p.skeleton)
      end
      forget(prefix, p.login, key)
      if p.room and p.room ~= '' then
        local members = prefix .. 'members:' .. p.room
        redis.call('ZREM', members, key)
        emptied(prefix, p.room)
        table.insert(out, p.room)
        table.insert(out, p.roomName)
        table.insert(out, p.name)
      end
    end
  end
end
redis.call('DEL', KEYS[3])
return out`);

/**
 * After Redis came back (or this server was reaped while it stalled): this
 * server's user takes its name again. What it finds decides (two logins in
 * one millisecond: the name's holder keeps it):
 * - The account's owner logged in to it on another server meanwhile, after
 *   this session (with its password: the takeover this server did not hear
 *   of): this session ends. {"replaced", the address they logged in from}.
 * - Another server's user who logged in no later than ours holds the name,
 *   or a look-alike of it: ours must pick another, and nothing is changed.
 *   {"later", the other's name}.
 * - Else ours takes the name, and their place where they are now (not in a
 *   room they left while Redis was away): {"ok"}. Another server's holder
 *   is told: the account's older session (Redis came back empty and its
 *   server took the name back first) by a "replace" control (`reclaimed`:
 *   seen leaving on its own server only); a later user of the name or of a
 *   look-alike by "yield" (their key, and for a look-alike the name kept).
 * KEYS: names, skeletons, node-users.
 * ARGV: key, skeleton, presence JSON, since, node, prefix, room, joined at,
 * the room's skeleton (its look, taken as MOVE takes it: a room made while
 * Redis was away keeps look-alikes out once it is back).
 */
export const RECLAIM = new Script(`${EMPTIED}${LOOKS}
local key, skel, json, since, node, prefix, room = ARGV[1], ARGV[2], ARGV[3], tonumber(ARGV[4]), ARGV[5], ARGV[6], ARGV[7]
local function leave(r)
  local members = prefix .. 'members:' .. r
  redis.call('ZREM', members, key)
  emptied(prefix, r)
end
local held = redis.call('HGET', KEYS[1], key)
local p = held and cjson.decode(held)
local mine = cjson.decode(json)
local account = mine.account
local newer = false
if p and p.node ~= node and type(account) == 'string' and p.account == account then
  -- The account's later login keeps it (the one its owner typed the
  -- password for last); the earlier session ends.
  if tonumber(p.since) >= since then return {'replaced', p.address or ''} end
  newer = true
end
if p and p.node ~= node and not newer and tonumber(p.since) <= since then return {'later', p.name} end
local twin = redis.call('HGET', KEYS[2], skel)
local t = nil
if twin and twin ~= key then
  local other = redis.call('HGET', KEYS[1], twin)
  if other then
    t = cjson.decode(other)
    if t.node == node then
      t = nil
    elseif tonumber(t.since) <= since then
      return {'later', t.name}
    end
  end
end
if p then
  if p.node ~= node then
    redis.call('SREM', prefix .. 'node-users:' .. p.node, key)
    if newer then
      redis.call('PUBLISH', prefix .. 'n:' .. p.node, 'control\\n' ..
        cjson.encode({kind = 'replace', key = key, address = mine.address or '', reclaimed = true}))
    else
      redis.call('PUBLISH', prefix .. 'n:' .. p.node, 'yield\\n' .. key)
    end
  end
  if p.room and p.room ~= '' and (p.node ~= node or p.room ~= room) then leave(p.room) end
end
if t then
  redis.call('PUBLISH', prefix .. 'n:' .. t.node, 'yield\\n' .. twin .. '\\n' .. mine.name)
end
redis.call('HSET', KEYS[1], key, json)
redis.call('HSET', KEYS[2], skel, key)
redis.call('SADD', KEYS[3], key)
-- A rename while Redis was away: a reply to the session finds it.
if type(mine.login) == 'string' then
  redis.call('HSET', prefix .. 'sessions', mine.login, key)
end
if room ~= '' then
  redis.call('ZADD', prefix .. 'members:' .. room, ARGV[8], key)
  redis.call('SADD', prefix .. 'rooms', room)
  if ARGV[9] and ARGV[9] ~= '' then takeLook(prefix, ARGV[9], room) end
end
return {'ok'}`);

/**
 * Raises the event id counter to at least ARGV[1], the largest id a server
 * has seen: a Redis restarted with less than it had (no persistence, or an
 * older snapshot) would give out ids again that pages and histories hold
 * already. KEYS: ids. Returns 1 if it was behind.
 */
export const RAISE = new Script(`
local floor = tonumber(ARGV[1])
if tonumber(redis.call('GET', KEYS[1]) or '0') >= floor then return 0 end
redis.call('SET', KEYS[1], floor)
return 1`);
