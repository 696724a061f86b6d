import { describe, expect, it } from "vitest";
import { chatMessage, member } from "../ipc/mock";
import {
  addPending,
  apply,
  expireTyping,
  initialState,
  level,
  mentions,
  mergeMessages,
  selectConversation,
  startHistoryLoad,
  TYPING_TTL_MS,
  typingLine,
  typingNames,
  totalUnread,
} from "./state";

const msg = (id: number, channel = "general", author = "Bob", text = `m${id}`) =>
  chatMessage({ id, client_id: `c${id}`, channel, author, text, ts: 1000 + id });

function room() {
  const s = initialState();
  apply(s, {
    type: "welcome",
    you: 2,
    room: { name: "lobby", locked: false, channels: [
      { id: "general", kind: "text", name: "general", topic: "" },
      { id: "memes", kind: "text", name: "memes", topic: "" },
      { id: "voice", kind: "voice", name: "Voice", topic: "" },
    ] },
    members: [member(1, "Bob"), member(2, "Sam", { operator: true }), member(3, "Carol", { speaking: true })],
  }, 0);
  return s;
}

describe("welcome", () => {
  it("sets up the room and shows the first text channel", () => {
    const s = room();
    expect(s.current).toBe("general");
    expect(Object.keys(s.conversations).sort()).toEqual(["general", "memes"]);
    expect(s.voice.speaking).toEqual([3]);
  });
});

describe("unread counts", () => {
  it("counts messages from others in channels not shown, and clears on select", () => {
    const s = room();
    apply(s, { type: "chat", message: msg(1, "general") }, 1);
    apply(s, { type: "chat", message: msg(2, "memes") }, 1);
    apply(s, { type: "chat", message: msg(3, "memes") }, 1);
    apply(s, { type: "chat", message: msg(3, "memes") }, 1); // duplicate delivery
    apply(s, { type: "chat", message: msg(4, "memes", "Sam") }, 1); // my own
    expect(s.conversations.general.unread).toBe(0);
    expect(s.conversations.memes.unread).toBe(2);
    expect(s.conversations.memes.first_unread).toBe(2);
    expect(totalUnread(s)).toBe(2);
    selectConversation(s, "memes");
    expect(s.conversations.memes.unread).toBe(0);
    expect(s.conversations.memes.first_unread).toBe(2); // marker stays during this visit
    selectConversation(s, "general");
    expect(s.conversations.memes.first_unread).toBeNull();
  });

  it("opens a DM conversation on an incoming DM", () => {
    const s = room();
    apply(s, { type: "chat", message: msg(9, "@Bob") }, 1);
    expect(s.conversations["@Bob"].unread).toBe(1);
  });
});

describe("history", () => {
  it("merges pages without duplicates, oldest first", () => {
    const s = room();
    apply(s, { type: "history", channel: "general", messages: [msg(5), msg(4), msg(3)], has_more: true }, 0);
    apply(s, { type: "chat", message: msg(6) }, 0);
    apply(s, { type: "history", channel: "general", messages: [msg(3), msg(2), msg(1)], has_more: false }, 0);
    expect(s.conversations.general.messages.map((m) => m.id)).toEqual([1, 2, 3, 4, 5, 6]);
    expect(s.conversations.general.has_more).toBe(false);
    // A newest page after a reconnect does not reset has_more for the older end.
    apply(s, { type: "history", channel: "general", messages: [msg(6), msg(5)], has_more: true }, 0);
    expect(s.conversations.general.has_more).toBe(false);
    expect(s.conversations.general.messages.length).toBe(6);
  });

  it("asks for one page at a time, before the oldest id", () => {
    const s = room();
    apply(s, { type: "history", channel: "general", messages: [msg(10), msg(9)], has_more: true }, 0);
    expect(startHistoryLoad(s, "general")).toEqual({ before: 9 });
    expect(startHistoryLoad(s, "general")).toBeNull(); // still loading
    apply(s, { type: "history", channel: "general", messages: [], has_more: false }, 0);
    expect(startHistoryLoad(s, "general")).toBeNull(); // nothing more
  });

  it("mergeMessages replaces by id", () => {
    const merged = mergeMessages([msg(1), msg(2)], [{ ...msg(2), text: "new" }, msg(0)]);
    expect(merged.map((m) => [m.id, m.text])).toEqual([[0, "m0"], [1, "m1"], [2, "new"]]);
  });
});

describe("edits, deletes, reactions", () => {
  it("replaces the message on chat_updated", () => {
    const s = room();
    apply(s, { type: "chat", message: msg(1) }, 0);
    apply(s, { type: "chat_updated", message: { ...msg(1), text: "edited", edited_ts: 5 } }, 0);
    expect(s.conversations.general.messages[0]).toMatchObject({ text: "edited", edited_ts: 5 });
    apply(s, { type: "chat_updated", message: { ...msg(1), reactions: [{ emoji: "👍", names: ["Sam"] }] } }, 0);
    expect(s.conversations.general.messages[0].reactions).toEqual([{ emoji: "👍", names: ["Sam"] }]);
    apply(s, { type: "chat_updated", message: { ...msg(1), text: "", deleted: true, reactions: [] } }, 0);
    expect(s.conversations.general.messages).toHaveLength(1);
    expect(s.conversations.general.messages[0].deleted).toBe(true);
  });

  it("ignores updates to messages not loaded", () => {
    const s = room();
    apply(s, { type: "chat_updated", message: msg(77) }, 0);
    expect(s.conversations.general.messages).toHaveLength(0);
  });
});

describe("typing", () => {
  it("expires 6 seconds after the last typing, and on a message", () => {
    const s = room();
    apply(s, { type: "typing", channel: "general", member: 1 }, 1000);
    apply(s, { type: "typing", channel: "general", member: 3 }, 3000);
    apply(s, { type: "typing", channel: "general", member: 2 }, 3000); // myself: ignored
    expect(typingNames(s, "general", 3000)).toEqual(["Bob", "Carol"]);
    expect(typingNames(s, "general", 1000 + TYPING_TTL_MS)).toEqual(["Carol"]);
    expect(expireTyping(s, 1000 + TYPING_TTL_MS)).toBe(true);
    apply(s, { type: "chat", message: msg(1, "general", "Carol") }, 4000);
    expect(typingNames(s, "general", 4000)).toEqual([]);
  });

  it("words the typing line", () => {
    expect(typingLine([])).toBe("");
    expect(typingLine(["Bob"])).toBe("Bob is typing…");
    expect(typingLine(["A", "B"])).toBe("A and B are typing…");
    expect(typingLine(["A", "B", "C", "D"])).toBe("Several people are typing…");
  });
});

describe("members, voice, camera, connection", () => {
  it("tracks joins, updates, leaves and speaking", () => {
    const s = room();
    apply(s, { type: "member_joined", member: member(4, "Dave") }, 0);
    apply(s, { type: "speaking", member: 4, speaking: true }, 0);
    expect(s.voice.speaking).toContain(4);
    apply(s, { type: "member_updated", member: member(4, "Dave", { presence: "away" }) }, 0);
    expect(s.members.find((m) => m.id === 4)?.presence).toBe("away");
    expect(s.voice.speaking).not.toContain(4);
    apply(s, { type: "camera_opened", member: 4 }, 0);
    apply(s, { type: "camera_opened", member: 4 }, 0);
    expect(s.camera.opened).toEqual([4]);
    apply(s, { type: "member_left", id: 4, reason: "kicked" }, 0);
    expect(s.members.map((m) => m.id)).toEqual([1, 2, 3]);
    expect(s.camera.opened).toEqual([]);
  });

  it("keeps the room while reconnecting and clears it when disconnected", () => {
    const s = room();
    apply(s, { type: "connection", status: { state: "reconnecting", address: "a", attempt: 1, retry_in_ms: 1000, message: "lost" } }, 5);
    expect(s.room).not.toBeNull();
    expect(s.connection_since).toBe(5);
    apply(s, { type: "connection", status: { state: "failed", address: "a", code: "banned", message: "bye" } }, 6);
    expect(s.room).toBeNull();
    expect(s.members).toEqual([]);
  });

  it("marks a pending message failed on an error with its client_id, and done on its chat", () => {
    const s = room();
    addPending(s, { client_id: "x1", channel: "general", text: "hi" });
    addPending(s, { client_id: "x2", channel: "general", text: "yo" });
    apply(s, { type: "error", code: "too_large", message: "too long", src: "chat_send", client_id: "x1" }, 0);
    expect(s.pending[0].error).toBe("too long");
    expect(s.notices.at(-1)).toMatchObject({ kind: "error", code: "too_large" });
    apply(s, { type: "chat", message: { ...msg(1, "general", "Sam"), client_id: "x2" } }, 0);
    expect(s.pending.map((p) => p.client_id)).toEqual(["x1"]);
  });

  it("finds mentions of a whole name", () => {
    expect(mentions("hey @sam!", "Sam")).toBe(true);
    expect(mentions("hey @samuel", "Sam")).toBe(false);
    expect(mentions("no at", "Sam")).toBe(false);
  });

  it("keeps the microphone level a number 0..1 (bindings.ts types the f32 `number | null`)", () => {
    expect([level(0.5), level(1.7), level(-1), level(null), level(Number.NaN)]).toEqual([0.5, 1, 0, 0, 0]);
    const s = room();
    apply(s, { type: "voice_status", status: { channel: "voice", muted: false, deafened: false, input_level: null, speaking: [] } }, 0);
    expect(s.voice.input_level).toBe(0);
    apply(s, { type: "input_level", level: 0.25 }, 0);
    expect(s.voice.input_level).toBe(0.25);
    apply(s, { type: "input_level", level: null }, 0);
    expect(s.voice.input_level).toBe(0);
  });
});
