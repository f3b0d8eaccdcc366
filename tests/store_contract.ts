/**
 * The store contract: every backend passes these tests, unchanged. A backend's
 * test file calls {@linkcode storeContract} with a way to open it.
 *
 * @module
 */

import assert from "node:assert/strict";
import type { ChatLine, PrivateEvent, TopicEvent } from "../src/events.ts";
import type { Account, Sanction, Store } from "../src/store/store.ts";

/** How a backend's test opens its store. */
export interface StoreFixture {
  /** A new, empty store keeping `historyKeep` lines per room. */
  open(options: { historyKeep: number }): Promise<Store>;
  /**
   * Closes `store` and opens the same data again, as a restart does; absent
   * for a backend that keeps nothing across a restart.
   */
  reopen?(store: Store, options: { historyKeep: number }): Promise<Store>;
  /** Removes whatever `open` made. */
  cleanup(): Promise<void>;
}

const T0 = Date.UTC(2026, 0, 1);
const DAY = 24 * 60 * 60 * 1000;

function said(store: Store, room: string, text: string, at = T0): ChatLine {
  return {
    type: "said",
    id: store.ids.next(),
    at,
    room,
    from: "alice",
    text,
  };
}

function account(key: string, skeleton = key): Account {
  return {
    key,
    name: key.toUpperCase(),
    skeleton,
    hash: `hash-of-${key}`,
    created: T0,
    lastLogin: null,
  };
}

/** The messages waiting for `to`, shown and let go of, as a login does. */
async function take(store: Store, to: string, since: number) {
  const messages = await store.waitingMessages(to, since);
  await store.ackMessages(to, messages);
  return messages.map((m) => m.event);
}

function message(
  store: Store,
  to: string,
  text: string,
  at = T0,
  from = "bob",
) {
  const event: PrivateEvent = {
    type: "private",
    id: store.ids.next(),
    at,
    from,
    to,
    text,
  };
  return event;
}

/** Registers the contract's tests for one backend. */
export function storeContract(
  backend: string,
  makeFixture: () => Promise<StoreFixture>,
): void {
  const test = (
    name: string,
    fn: (store: Store, fixture: StoreFixture) => Promise<Store | void>,
    historyKeep = 1000,
  ) =>
    Deno.test(`${backend}: ${name}`, async () => {
      const fixture = await makeFixture();
      let store = await fixture.open({ historyKeep });
      try {
        store = (await fn(store, fixture)) ?? store;
      } finally {
        await store.close();
        await fixture.cleanup();
      }
    });

  test("ids only grow", async (store, fixture) => {
    const first = store.ids.next();
    const second = store.ids.next();
    assert.ok(second > first);
    if (!fixture.reopen) return;
    const reopened = await fixture.reopen(store, { historyKeep: 1000 });
    assert.ok(reopened.ids.next() > second, "ids go on after a restart");
    return reopened;
  });

  test("history gives a room's lines oldest first, the queued ones included", async (store) => {
    for (let i = 1; i <= 5; i++) store.line("den", said(store, "Den", `l${i}`));
    store.line("other", said(store, "other", "elsewhere"));
    const all = await store.history("den", { limit: 10 });
    assert.deepEqual(all.map((e) => e.text), ["l1", "l2", "l3", "l4", "l5"]);
    assert.equal(all[0].room, "Den", "with the room's name as shown");
    assert.equal(all[0].from, "alice");
    assert.equal(all[0].type, "said");
    const last = await store.history("den", { limit: 2 });
    assert.deepEqual(last.map((e) => e.text), ["l4", "l5"]);
    const older = await store.history("den", { limit: 2, before: last[0].id });
    assert.deepEqual(older.map((e) => e.text), ["l2", "l3"]);
    assert.deepEqual(await store.history("nowhere", { limit: 5 }), []);
  });

  test("history keeps the last lines of each room only", async (store) => {
    for (let i = 1; i <= 8; i++) store.line("den", said(store, "den", `l${i}`));
    await store.flush();
    store.line("den", said(store, "den", "l9"));
    await store.flush();
    const kept = await store.history("den", { limit: 100 });
    assert.deepEqual(kept.map((e) => e.text), ["l5", "l6", "l7", "l8", "l9"]);
  }, 5);

  test(
    "room() gives the name, topic and last lines; null when unknown",
    async (store, fixture) => {
      assert.equal(await store.room("den", 3), null);
      for (let i = 1; i <= 4; i++) {
        store.line(
          "den",
          said(store, "Den", `l${i}`),
        );
      }
      const topic: TopicEvent = {
        type: "topic",
        id: store.ids.next(),
        at: T0,
        room: "Den",
        from: "bob",
        text: "plans",
      };
      store.topic("den", topic);
      const room = await store.room("den", 3);
      assert.equal(room?.name, "Den");
      assert.equal(room?.topic, "plans");
      assert.equal(room?.owner, null, "not claimed");
      assert.deepEqual(room?.operators, []);
      assert.deepEqual(room?.history.map((e) => e.text), ["l2", "l3", "l4"]);
      assert.deepEqual((await store.room("den", 0))?.history, []);
      if (!fixture.reopen) return;
      const reopened = await fixture.reopen(store, { historyKeep: 1000 });
      const again = await reopened.room("den", 2);
      assert.equal(again?.topic, "plans", "the topic outlives a restart");
      assert.deepEqual(again?.history.map((e) => e.text), ["l3", "l4"]);
      return reopened;
    },
  );

  test(
    'topic() with a topic of "" (cleared) leaves the room with no topic, restart too',
    async (store, fixture) => {
      const topic = (text: string): TopicEvent => ({
        type: "topic",
        id: store.ids.next(),
        at: T0,
        room: "Den",
        from: "bob",
        text,
      });
      store.topic("den", topic("plans"));
      assert.equal((await store.room("den", 0))?.topic, "plans");
      store.topic("den", topic(""));
      const room = await store.room("den", 0);
      assert.equal(room?.name, "Den", "the room is still known");
      assert.equal(room?.topic, null);
      if (!fixture.reopen) return;
      const reopened = await fixture.reopen(store, { historyKeep: 1000 });
      assert.equal((await reopened.room("den", 0))?.topic, null);
      return reopened;
    },
  );

  test(
    "forgetOld() forgets the rooms nobody owns that were quiet since the cut-off, history and topic, and keeps the rest",
    async (store, fixture) => {
      const cutoff = T0 + 90 * DAY;
      const topic = (room: string, at: number): TopicEvent => ({
        type: "topic",
        id: store.ids.next(),
        at,
        room,
        from: "bob",
        text: `about ${room}`,
      });
      const forget = (roomsQuietBefore?: number, openRooms?: string[]) =>
        store.forgetOld({
          messagesBefore: 0,
          failuresBefore: 0,
          roomsQuietBefore,
          openRooms: openRooms && (() => openRooms),
        });
      // Quiet: lines and a topic older than the cut-off.
      store.line("quiet", said(store, "Quiet", "old"));
      store.topic("quiet", topic("Quiet", T0));
      store.line("quiet", said(store, "Quiet", "older still", cutoff - 1));
      store.topic("topiconly", topic("topiconly", T0));
      // Kept: a line at or after the cut-off, however old the rest.
      store.line("busy", said(store, "busy", "old"));
      store.line("busy", said(store, "busy", "new", cutoff));
      // Kept: its topic was set since.
      store.line("topical", said(store, "topical", "old"));
      store.topic("topical", topic("topical", cutoff + DAY));
      // Kept: owned, or open here.
      store.line("owned", said(store, "owned", "old"));
      assert.equal(await store.claimRoom("owned", "owned", "alice"), true);
      store.line("open", said(store, "open", "old"));
      assert.equal(await forget(), 0, "without a cut-off, no room goes");
      assert.equal((await store.room("quiet", 5))?.topic, "about Quiet");
      assert.equal(await forget(cutoff, ["open"]), 2);
      assert.equal(await store.room("quiet", 5), null);
      assert.deepEqual(await store.history("quiet", { limit: 10 }), []);
      assert.equal(await store.room("topiconly", 5), null);
      const texts = async (room: string) =>
        (await store.history(room, { limit: 10 })).map((e) => e.text);
      assert.deepEqual(await texts("busy"), ["old", "new"]);
      assert.deepEqual(await texts("topical"), ["old"]);
      assert.equal((await store.room("topical", 0))?.topic, "about topical");
      assert.deepEqual(await texts("owned"), ["old"]);
      assert.equal((await store.room("owned", 0))?.owner, "alice");
      assert.deepEqual(await texts("open"), ["old"]);
      assert.equal(await forget(cutoff, ["open"]), 0, "gone is gone");
      // Spoken in again, the room is new: its name as now typed.
      store.line("quiet", said(store, "QUIET", "back", cutoff + DAY));
      const back = await store.room("quiet", 5);
      assert.equal(back?.name, "QUIET");
      assert.equal(back?.topic, null);
      assert.deepEqual(back?.history.map((e) => e.text), ["back"]);
      if (!fixture.reopen) return;
      const reopened = await fixture.reopen(store, { historyKeep: 1000 });
      assert.equal(await reopened.room("topiconly", 0), null, "for good");
      assert.deepEqual(
        (await reopened.history("quiet", { limit: 10 })).map((e) => e.text),
        ["back"],
      );
      return reopened;
    },
  );

  test("forgetOld() goes through every room, however many, in one sweep", async (store) => {
    const cutoff = T0 + DAY;
    for (let i = 0; i < 450; i++) {
      const room = `r${String(i).padStart(3, "0")}`;
      // Every tenth one spoke since, among the quiet ones in key order.
      store.line(room, said(store, room, "hi", i % 10 === 0 ? cutoff : T0));
    }
    assert.equal(
      await store.forgetOld({
        messagesBefore: 0,
        failuresBefore: 0,
        roomsQuietBefore: cutoff,
        openRooms: () => ["r449"],
      }),
      404,
    );
    assert.equal(await store.room("r001", 0), null);
    assert.equal(await store.room("r448", 0), null);
    assert.equal((await store.room("r440", 1))?.history.length, 1);
    assert.equal((await store.room("r449", 1))?.history.length, 1);
  });

  test("forgetOld() asks which rooms are open again as it goes: one joined during the sweep is kept", async (store) => {
    const cutoff = T0 + DAY;
    const rooms: string[] = [];
    for (let i = 0; i < 450; i++) {
      const room = `j${String(i).padStart(3, "0")}`;
      rooms.push(room);
      store.line(room, said(store, room, "hi", T0));
    }
    let asked = 0;
    const forgotten = await store.forgetOld({
      messagesBefore: 0,
      failuresBefore: 0,
      roomsQuietBefore: cutoff,
      // None at first; then every one is joined, as the sweep goes on.
      openRooms: () => asked++ === 0 ? [] : rooms,
    });
    assert.ok(asked > 1, "asked again after its first step");
    assert.ok(forgotten > 0 && forgotten < 450, `forgot ${forgotten}`);
    let gone = 0;
    for (const room of rooms) {
      if (await store.room(room, 0) === null) gone++;
    }
    assert.equal(gone, forgotten);
  });

  test("an account is created once per name and per skeleton", async (store) => {
    assert.equal(await store.createAccount(account("alice")), true);
    assert.equal(await store.createAccount(account("alice")), false);
    assert.equal(
      await store.createAccount(account("a1ice", "alice")),
      false,
      "a look-alike of a registered name",
    );
    assert.equal((await store.accountFor("alice", "x"))?.name, "ALICE");
    assert.equal(
      (await store.accountFor("a1ice", "alice"))?.key,
      "alice",
      "found by its skeleton",
    );
    assert.equal(await store.accountFor("bob", "bob"), null);
  });

  test("an account's password can change; deleting it removes its messages", async (store) => {
    await store.createAccount(account("alice"));
    await store.setPassword("alice", "new-hash");
    assert.equal((await store.accountFor("alice", "alice"))?.hash, "new-hash");
    await store.leaveMessage("alice", message(store, "alice", "hi"), {
      max: 50,
      perSender: 10,
      since: 0,
    });
    await store.deleteAccount("alice");
    assert.equal(await store.accountFor("alice", "alice"), null);
    assert.deepEqual(await take(store, "alice", 0), []);
    assert.equal(await store.createAccount(account("alice")), true);
  });

  test("a password or login recorded for an account deleted meanwhile makes nothing, and the name can be registered again", async (store) => {
    // A `password` (or a rehash at login) whose account went while its
    // hash was made.
    await store.createAccount(account("alice"));
    await store.deleteAccount("alice");
    await store.setPassword("alice", "late-hash");
    // Or a login's record, of a login to it that was under way.
    await store.recordLogin("alice", T0 + DAY, { address: "192.0.2.1" });
    assert.equal(await store.accountFor("alice", "alice"), null);
    assert.equal(await store.createAccount(account("alice")), true);
    assert.equal(
      (await store.accountFor("alice", "alice"))?.hash,
      "hash-of-alice",
    );
  });

  test(
    "failed logins count per account and per address",
    async (store, fixture) => {
      await store.createAccount(account("alice"));
      const none = await store.loginFailures("alice", "192.0.2.1", 0);
      assert.deepEqual(none, { account: 0, addresses: [], address: 0 });
      const at = T0 + DAY;
      for (const address of ["192.0.2.1", "192.0.2.2", "192.0.2.1"]) {
        await store.addLoginFailure("alice", address, {
          at,
          since: at - 60_000,
        });
      }
      await store.addLoginFailure("bob", "192.0.2.1", {
        at,
        since: at - 60_000,
      });
      const some = await store.loginFailures("alice", "192.0.2.1", at - 60_000);
      assert.equal(some.account, 3);
      assert.deepEqual(some.addresses, ["192.0.2.1", "192.0.2.2"]);
      assert.equal(some.address, 3, "the address tried alice twice, bob once");
      const later = at + 120_000;
      assert.equal(
        (await store.loginFailures("alice", "192.0.2.1", later - 60_000))
          .address,
        0,
        "an address's old failures are forgotten",
      );
      await store.addLoginFailure("alice", "192.0.2.1", {
        at: later,
        since: later - 60_000,
      });
      assert.equal(
        (await store.loginFailures("alice", "192.0.2.1", later - 60_000))
          .address,
        1,
        "and counting starts again",
      );
      if (fixture.reopen) {
        store = await fixture.reopen(store, { historyKeep: 1000 });
        assert.equal(
          (await store.loginFailures("alice", "x", 0)).account,
          4,
          "failures outlive a restart",
        );
      }
      await store.recordLogin("alice", later + 1, { address: "192.0.2.9" });
      const after = await store.loginFailures("alice", "192.0.2.9", 0);
      assert.equal(after.account, 0);
      assert.deepEqual(after.addresses, []);
      const alice = await store.accountFor("alice", "alice");
      assert.equal(alice?.lastLogin, later + 1);
      assert.equal(alice?.lastAddress, "192.0.2.9", "and where from");
      return store;
    },
  );

  test("offline messages wait, up to a limit, and are taken once", async (store) => {
    const options = { max: 3, perSender: 3, since: T0 };
    for (const text of ["one", "two", "three"]) {
      assert.equal(
        await store.leaveMessage(
          "alice",
          message(store, "Alice", text),
          options,
        ),
        "kept",
      );
    }
    assert.equal(
      await store.leaveMessage(
        "alice",
        message(store, "Alice", "four"),
        options,
      ),
      "full",
      "past the limit",
    );
    const taken = await take(store, "alice", T0);
    assert.deepEqual(taken.map((m) => m.text), ["one", "two", "three"]);
    assert.equal(taken[0].from, "bob");
    assert.equal(taken[0].to, "Alice");
    assert.equal(taken[0].type, "private");
    assert.ok(taken[0].id < taken[1].id);
    assert.deepEqual(await take(store, "alice", T0), [], "taken once");
  });

  test("offline messages wait until they are acknowledged, and only those shown go", async (store) => {
    const options = { max: 50, perSender: 10, since: T0 };
    await store.leaveMessage("alice", message(store, "Alice", "one"), options);
    await store.leaveMessage(
      "alice",
      message(store, "Alice", "two", T0 + 1000, "carol"),
      options,
    );
    const shown = await store.waitingMessages("alice", T0);
    assert.deepEqual(shown.map((m) => m.event.text), ["one", "two"]);
    assert.deepEqual(
      (await store.waitingMessages("alice", T0)).map((m) => m.event.text),
      ["one", "two"],
      "reading lets go of nothing: a login lost before the ack loses none",
    );
    // One left between the reading and the acknowledgement stays.
    await store.leaveMessage(
      "alice",
      message(store, "Alice", "three", T0 + 2000),
      options,
    );
    await store.ackMessages("alice", shown);
    assert.deepEqual(
      (await store.waitingMessages("alice", T0)).map((m) => m.event.text),
      ["three"],
    );
    await store.ackMessages("alice", []);
    await store.ackMessages("alice", shown);
    assert.deepEqual(
      (await store.waitingMessages("alice", T0)).map((m) => m.event.text),
      ["three"],
      "acknowledging again changes nothing",
    );
  });

  test("offline messages are let go of by their receipts, whatever became of the events read", async (store) => {
    const options = { max: 50, perSender: 10, since: T0 };
    await store.leaveMessage("alice", message(store, "Alice", "one"), options);
    await store.leaveMessage(
      "alice",
      message(store, "Alice", "two", T0 + 1000, "carol"),
      options,
    );
    const shown = await store.waitingMessages("alice", T0);
    // What the caller holds may have been copied or changed: only the
    // receipt says which message was shown.
    const copies = shown.map(({ event, receipt }) => ({
      event: { ...event, from: "someone else", text: "changed", at: 0 },
      receipt,
    }));
    await store.ackMessages("alice", copies);
    assert.deepEqual(await store.waitingMessages("alice", T0), []);
  });

  test("one sender may leave only their share of an account's offline messages", async (store) => {
    const options = { max: 5, perSender: 2, since: T0 };
    const leave = (text: string, from: string) =>
      store.leaveMessage(
        "alice",
        message(store, "alice", text, T0, from),
        options,
      );
    assert.equal(await leave("one", "bob"), "kept");
    assert.equal(await leave("two", "bob"), "kept");
    assert.equal(await leave("three", "bob"), "sender", "bob's share is full");
    assert.equal(await leave("three", "Bob"), "sender", "whatever the case");
    assert.equal(await leave("four", "carol"), "kept", "carol still may");
    assert.equal(await leave("five", "carol"), "kept");
    assert.equal(await leave("six", "dave"), "kept");
    assert.equal(await leave("seven", "erin"), "full", "the box is full");
    const taken = await take(store, "alice", T0);
    assert.deepEqual(taken.map((m) => m.text), [
      "one",
      "two",
      "four",
      "five",
      "six",
    ]);
    assert.equal(await leave("again", "bob"), "kept", "taken, bob may again");
  });

  test("offline messages are taken in the order they were sent, whatever their ids", async (store) => {
    // In a cluster each server numbers its own kept messages: one sent a
    // moment later from another server can carry the lower id.
    const options = { max: 50, perSender: 10, since: T0 };
    const first = {
      ...message(store, "alice", "first", T0 + 1000, "carol"),
      id: 2_000_000,
    };
    const later = {
      ...message(store, "alice", "later", T0 + 2000),
      id: 1_000_000,
    };
    await store.leaveMessage("alice", first, options);
    await store.leaveMessage("alice", later, options);
    const taken = await take(store, "alice", T0);
    assert.deepEqual(taken.map((m) => m.text), ["first", "later"]);
  });

  test("offline messages older than the cut-off neither count nor arrive", async (store) => {
    const old = message(store, "alice", "old", T0);
    await store.leaveMessage("alice", old, { max: 1, perSender: 1, since: T0 });
    const now = T0 + 31 * DAY;
    const since = now - 30 * DAY;
    assert.equal(
      await store.leaveMessage("alice", message(store, "alice", "new", now), {
        max: 1,
        perSender: 1,
        since,
      }),
      "kept",
      "the old one no longer counts",
    );
    const taken = await take(store, "alice", since);
    assert.deepEqual(taken.map((m) => m.text), ["new"]);
  });

  test("operators are kept, and can be taken away", async (store, fixture) => {
    assert.deepEqual(await store.operators(), []);
    await store.setOperator("alice", true);
    await store.setOperator("bob", true);
    await store.setOperator("alice", true);
    await store.setOperator("bob", false);
    assert.deepEqual(await store.operators(), ["alice"]);
    if (!fixture.reopen) return;
    const reopened = await fixture.reopen(store, { historyKeep: 1000 });
    assert.deepEqual(await reopened.operators(), ["alice"]);
    return reopened;
  });

  test(
    "bans and mutes are kept until they end, one per kind, room and target",
    async (store, fixture) => {
      const ban: Sanction = {
        kind: "ban",
        room: "",
        target: "address:192.0.2.0/24",
        label: "192.0.2.0/24",
        by: "op",
        at: T0,
        until: null,
        reason: "spam",
      };
      await store.addSanction(ban);
      await store.addSanction({ ...ban, reason: "more spam" });
      await store.addSanction({ ...ban, room: "den" });
      await store.addSanction({
        ...ban,
        kind: "mute",
        target: "account:bob",
        label: "bob",
        until: T0 + DAY,
      });
      const all = await store.sanctions(T0);
      assert.equal(all.length, 3);
      assert.equal(
        all.find((s) => s.kind === "ban" && s.room === "")?.reason,
        "more spam",
        "a second ban of the same target replaces the first",
      );
      assert.deepEqual(
        (await store.sanctions(T0 + DAY)).map((s) => s.kind),
        ["ban", "ban"],
        "the mute has ended",
      );
      assert.equal(await store.removeSanction("ban", "den", ban.target), true);
      assert.equal(await store.removeSanction("ban", "den", ban.target), false);
      if (!fixture.reopen) return;
      const reopened = await fixture.reopen(store, { historyKeep: 1000 });
      const kept = await reopened.sanctions(T0);
      assert.deepEqual(kept.map((s) => [s.kind, s.room, s.target]), [
        ["ban", "", "address:192.0.2.0/24"],
      ]);
      return reopened;
    },
  );

  test(
    "a room is claimed once; its owner and room operators are kept",
    async (store, fixture) => {
      assert.equal(await store.claimRoom("den", "Den", "alice"), true);
      assert.equal(await store.claimRoom("den", "Den", "bob"), false);
      await store.setRoomOperator("den", "carol", true);
      await store.setRoomOperator("den", "dave", true);
      await store.setRoomOperator("den", "dave", false);
      store.topic("den", {
        type: "topic",
        id: store.ids.next(),
        at: T0,
        room: "Den",
        from: "alice",
        text: "ours",
      });
      assert.deepEqual(await store.claimedRooms(), [
        {
          key: "den",
          name: "Den",
          owner: "alice",
          ops: ["carol"],
          topic: "ours",
        },
      ]);
      // A room opened later (on another server of a cluster) knows its
      // owner and room operators.
      const opened = await store.room("den", 0);
      assert.deepEqual([opened?.owner, opened?.operators], ["alice", [
        "carol",
      ]]);
      if (fixture.reopen) {
        store = await fixture.reopen(store, { historyKeep: 1000 });
        assert.equal((await store.claimedRooms())[0]?.owner, "alice");
      }
      await store.unclaimRoom("den");
      assert.deepEqual(await store.claimedRooms(), []);
      const unclaimed = await store.room("den", 0);
      assert.deepEqual([unclaimed?.owner, unclaimed?.operators], [null, []]);
      assert.equal(await store.claimRoom("den", "Den", "bob"), true);
      assert.deepEqual((await store.claimedRooms())[0].ops, []);
      // A room operator set after an unclaim (a roomop that raced it) is
      // not the next owner's.
      await store.unclaimRoom("den");
      await store.setRoomOperator("den", "mallory", true);
      assert.equal(await store.claimRoom("den", "Den", "carol"), true);
      assert.deepEqual((await store.claimedRooms())[0].ops, []);
      return store;
    },
  );

  test(
    "deleting an account takes its roles: operator, room owner, room operator",
    async (store) => {
      await store.createAccount(account("alice"));
      await store.createAccount(account("bob"));
      await store.setOperator("alice", true);
      await store.setOperator("bob", true);
      assert.equal(await store.claimRoom("den", "Den", "alice"), true);
      assert.equal(await store.claimRoom("lab", "Lab", "bob"), true);
      await store.setRoomOperator("lab", "alice", true);
      await store.setRoomOperator("den", "carol", true);
      await store.deleteAccount("alice");
      assert.deepEqual(await store.operators(), ["bob"]);
      const claimed = await store.claimedRooms();
      assert.deepEqual(
        claimed.map((room) => [room.key, room.owner, room.ops]),
        [["lab", "bob", []]],
      );
      assert.equal(
        await store.claimRoom("den", "Den", "bob"),
        true,
        "the room it owned can be claimed again",
      );
      const den = (await store.claimedRooms()).find((room) =>
        room.key === "den"
      );
      assert.deepEqual(
        den?.ops,
        [],
        "its room operators went with it, as at an unclaim",
      );
      const opened = await store.room("den", 0);
      assert.deepEqual(opened?.operators, []);
    },
  );

  test(
    "a timed ban outlives a reopening and ends on time",
    async (store, fixture) => {
      await store.addSanction({
        kind: "ban",
        room: "",
        target: "account:mallory",
        label: "mallory",
        by: "op",
        at: T0,
        until: T0 + DAY,
        reason: "spam",
      });
      if (fixture.reopen) {
        store = await fixture.reopen(store, { historyKeep: 1000 });
      }
      assert.deepEqual(
        (await store.sanctions(T0 + DAY - 1)).map((s) => [s.target, s.until]),
        [["account:mallory", T0 + DAY]],
      );
      assert.deepEqual(await store.sanctions(T0 + DAY), []);
      return store;
    },
  );

  test("the moderation log gives its last lines, oldest first, for all or one room", async (store) => {
    for (let i = 1; i <= 5; i++) {
      await store.addModlog({
        at: T0 + i,
        actor: "op",
        action: "kick",
        target: `user${i}`,
        room: i % 2 === 0 ? "den" : "main",
        reason: `reason ${i}`,
        until: null,
      });
    }
    const last = await store.modlog({ limit: 3 });
    assert.deepEqual(last.map((e) => e.target), ["user3", "user4", "user5"]);
    const den = await store.modlog({ limit: 10, room: "den" });
    assert.deepEqual(den.map((e) => e.target), ["user2", "user4"]);
    assert.equal(den[0].reason, "reason 2");
  });

  test("lockdown is off until set, and kept", async (store, fixture) => {
    assert.equal(await store.lockdown(), false);
    await store.setLockdown(true);
    assert.equal(await store.lockdown(), true);
    if (!fixture.reopen) return;
    const reopened = await fixture.reopen(store, { historyKeep: 1000 });
    assert.equal(await reopened.lockdown(), true);
    await reopened.setLockdown(false);
    assert.equal(await reopened.lockdown(), false);
    return reopened;
  });
}
