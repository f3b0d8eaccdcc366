import { ChatError } from "../errors.ts";
import { foldName } from "../names.ts";
import {
  type Sanction,
  type Store,
  type StoredRoom,
  StoreUnavailable,
} from "../store/store.ts";
import { TEXT } from "../text.ts";
import {
  type Command,
  type Context,
  takePlace,
  type UserContext,
} from "./command.ts";
import type { Room, User } from "../room.ts";
import { sanctionText, subjectOf } from "./moderation.ts";
import { renamedElsewhere } from "./ignore.ts";

/** `join ROOM`: move to a room, made on first join. */
export const join: Command = {
  name: "join",
  usage: "join ROOM",
  summary: "move to ROOM (made if new); shows its topic and recent lines",
  details: [
    'Room names follow the name rules; a leading "#" is left out.',
    "An empty room goes away, unless it is main or claimed (see claim).",
    "The last lines said in the room are replayed, marked [history].",
  ],
  loginRequired: true,
  needsArgs: true,
  async run(ctx, typed) {
    // "#den", as IRC writes a channel (and the page a room), is the room
    // den: a room name never has a "#".
    const room = ctx.registry.roomName(typed.replace(/^#(?=\S)/, ""));
    // Read from the store and then joined: the sweep of quiet rooms keeps
    // it meanwhile (else it could forget what this join has just shown).
    const done = ctx.registry.opening(room.key);
    try {
      await joinRoom(ctx, room, 0);
    } finally {
      done();
    }
  },
};

/**
 * How many times a join starts again when the room changed while it was
 * read (its last member here left, and it went; or it was made meanwhile).
 */
const JOIN_TRIES = 3;

/**
 * `join`'s work, for the room `typed` (its name as typed, checked, and its
 * key); `tries`: how many times it started again already.
 */
async function joinRoom(
  ctx: UserContext,
  typed: { name: string; key: string },
  tries: number,
): Promise<void> {
  const { user, registry, store, config, session, moderation, cluster } = ctx;
  const { name, key } = typed;
  const ban = moderation.find("ban", key, subjectOf(user));
  // A ban on an address does not keep out the room's owner (or a server
  // operator). A claimed room stays in the registry of the server where it
  // was claimed; another server of a cluster may know its owner only from
  // the store.
  const owner = ban === null || user.account === null
    ? null
    : registry.rooms.get(key)?.owner ??
      (await kept(store, key, 0))?.owner ?? null;
  refuseBanned(ctx, ban, {
    owner,
    room: registry.rooms.get(key)?.name ?? name,
  });
  // In a cluster, this server listens to the room before it reads the
  // room's last lines, so that no line falls between the two.
  if (cluster?.up) await cluster.watch(key);
  // Its history leaves out those ignored elsewhere by their names now.
  const online = await renamedElsewhere(ctx);
  // A room nobody here is in comes back as the store kept it: its name,
  // topic and last lines. One with members here is current in memory.
  const open = registry.rooms.get(key);
  const state = open !== undefined && open.members.size > 0
    ? undefined
    : await kept(store, key, config.historyLines);
  // Checked again after the read: someone who joined while it was under
  // way made the room current, and an answer that came late would take
  // back what they said and set since.
  if (open !== undefined && state !== undefined && open.members.size === 0) {
    // A claimed room that stayed here, empty: what was said meanwhile.
    open.recall(state.history);
    open.topic = state.topic;
  }
  // A room new to every server may not look like one open on another,
  // as it may not look like one open here (which the registry checks).
  if (
    cluster && open === undefined && state === undefined &&
    registry.lookalikeRoom(name) === undefined
  ) {
    const twin = await cluster.openRoom(key, name);
    if (twin !== null) {
      throw new ChatError(
        TEXT.badName("room name", name, TEXT.looksLikeRoom(twin)),
      );
    }
  }
  // The room went while it was read (its last member here left: the
  // registry dropped it and, in a cluster, this server stopped listening
  // to it), or was made meanwhile: what was read is not the room now, and
  // a room joined so would have no history here, or hear nothing from
  // the other servers. Start again, with the room as it is.
  if (
    tries < JOIN_TRIES - 1 &&
    (registry.rooms.get(key) !== open ||
      (cluster?.up === true && !cluster.watching(key)))
  ) {
    return await joinRoom(ctx, typed, tries + 1);
  }
  // Kicked off the server while the room was read (in no room now, their
  // session on its way out): no room to enter, nor one to make for them.
  if (user.room === null) return;
  // A room ban set while the room was read holds too: checked again with
  // no await before the join. An owner's own room lets them in, as above.
  refuseBanned(ctx, ban ?? moderation.find("ban", key, subjectOf(user)), {
    owner: registry.rooms.get(key)?.owner ?? state?.owner ?? owner,
    room: registry.rooms.get(key)?.name ?? name,
  });
  // A room new here and to the store keeps its lines for good: one address
  // may not make room after room. Checked and taken with no await before
  // the join that makes it.
  const limited = state === undefined &&
      registry.rooms.get(key) === undefined &&
      !moderation.isOperator(user.account)
    ? takePlace(
      ctx,
      ctx.newRooms,
      "too_many_new_rooms",
      TEXT.tooManyNewRooms(config.maxNewRoomsPerIp),
    )
    : null;
  let room: Room;
  try {
    room = registry.join(user, state?.name ?? name, state);
  } catch (error) {
    // Refused (the name looks like a room that is here): no room was made.
    limited?.giveBack(session.address);
    throw error;
  }
  session.reply(TEXT.joinedRoom(room.name));
  if (room.topic) session.reply(TEXT.topicIs(room.name, room.topic));
  session.showHistory(
    room.history().filter((event) =>
      !user.ignoresName(foldName(event.from), online)
    ),
  );
  await showMembers(ctx, user, room);
}

/**
 * Throws the line of `ban`, the room's ban on the user (if any), unless the
 * user is a server operator or the room's owner (`owner`: its account key,
 * or null when it has none or none is known). `room`: the room as shown.
 */
function refuseBanned(
  ctx: UserContext,
  ban: Sanction | null,
  where: { owner: string | null; room: string },
): void {
  const { user, moderation } = ctx;
  if (ban === null || moderation.isOperator(user.account)) return;
  if (user.account !== null && where.owner === user.account) return;
  throw new ChatError(sanctionText(ban, where.room));
}

/**
 * In a cluster, a client that lists its room's members (the page) is sent
 * them from every server: the room here holds only this server's. One LOOK
 * in Redis, for such clients only.
 */
export async function showMembers(
  ctx: Context,
  user: User,
  room: Room,
): Promise<void> {
  const { session, cluster } = ctx;
  if (!cluster?.up || !session.listsMembers) return;
  try {
    session.showMembers?.(user, room, await cluster.look(room.key));
  } catch (error) {
    // Redis went away meanwhile: the page keeps this server's members.
    if (!(error instanceof StoreUnavailable)) throw error;
  }
}

/**
 * What the store kept of a room, if anything. While a cluster's Redis cannot
 * be reached, nothing: the room is made here without its kept name, topic
 * and lines, and this server's users can still meet and chat in it.
 */
async function kept(
  store: Store,
  key: string,
  lines: number,
): Promise<StoredRoom | undefined> {
  try {
    return (await store.room(key, lines)) ?? undefined;
  } catch (error) {
    if (error instanceof StoreUnavailable) return undefined;
    throw error;
  }
}
