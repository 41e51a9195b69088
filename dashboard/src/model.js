// What the page knows, built only from the messages it receives (no DOM here), so the
// same state follows from the same messages whatever order the retained ones arrive in.

import { localDay } from "./format.js";

// A set older than this when it arrives (an outbox redelivery, a retained replay) is
// history: it goes in today's list but starts no rest timer.
const STALE_SET_MS = 15 * 60 * 1000;

export function topicsFor(device) {
  const live = ["status", "sensor", "phase", "rep", "set", "hold"].map(
    (k) => `heelraise/${device}/${k}`,
  );
  const log = ["today", "last_session", "week", "stage_progress", "progress"].map(
    (k) => `heelraise/log/${device}/${k}`,
  );
  return [...live, ...log];
}

// "heelraise/<device>/rep" -> "rep"; "heelraise/log/<device>/week" -> "week".
export function kindOf(topic, device) {
  const live = `heelraise/${device}/`;
  const log = `heelraise/log/${device}/`;
  if (topic.startsWith(log)) return topic.slice(log.length);
  if (topic.startsWith(live)) return topic.slice(live.length);
  return null;
}

export class Model {
  constructor(stages = {}) {
    this.stages = stages;
    this.status = null;
    this.clip = null; // the wireless clip-on's own retained status (battery, signal)
    this.phase = null;
    this.stage = null;
    this.current = null; // {session, setIndex, reps: [], holds: [], ended}
    this.lastRep = null;
    this.lastHold = null;
    this.liveSets = new Map(); // id -> set payload received live
    this.restFromMs = null;
    this.restTargetS = null;
    this.aggregates = {};
    this.seen = new Set();
  }

  // Apply one message; returns false when it was a duplicate or not for us.
  handle(kind, payload, nowMs = Date.now()) {
    if (payload === null || typeof payload !== "object") return false;
    if (payload.id && ["rep", "set", "hold"].includes(kind)) {
      // QoS 1 may deliver twice; a set is redelivered with the same id from the outbox.
      if (this.seen.has(payload.id)) return false;
      this.seen.add(payload.id);
    }
    switch (kind) {
      case "status":
        this.status = payload;
        if (Number.isInteger(payload.stage)) this.stage = payload.stage;
        return true;
      case "sensor":
        this.clip = payload;
        return true;
      case "phase":
        this.phase = payload.phase ?? null;
        return true;
      case "rep":
        this.#rep(payload);
        return true;
      case "hold":
        this.#hold(payload);
        return true;
      case "set":
        this.#set(payload, nowMs);
        return true;
      case "last_session":
        this.aggregates[kind] = payload;
        this.#lastSession(payload, nowMs);
        return true;
      case "today":
      case "week":
      case "stage_progress":
      case "progress":
        this.aggregates[kind] = payload;
        return true;
      default:
        return false;
    }
  }

  #inCurrent(session, setIndex) {
    const c = this.current;
    return c !== null && !c.ended && c.session === session && c.setIndex === setIndex;
  }

  #rep(rep) {
    if (!this.#inCurrent(rep.session, rep.set_index)) {
      this.current = { session: rep.session, setIndex: rep.set_index, reps: [], holds: [], ended: false };
    }
    this.current.reps.push(rep);
    this.lastRep = rep;
    this.lastHold = null;
    if (Number.isInteger(rep.stage)) this.stage = rep.stage;
    this.restFromMs = null;
  }

  #hold(hold) {
    // Holds carry no set index: they belong to the open set of their session.
    const c = this.current;
    if (!(c !== null && !c.ended && c.session === hold.session)) {
      this.current = { session: hold.session, setIndex: null, reps: [], holds: [], ended: false };
    }
    this.current.holds.push(hold);
    this.lastHold = hold;
    this.restFromMs = null;
  }

  #set(set, nowMs) {
    this.liveSets.set(set.id ?? `${set.session}/${set.index}`, set);
    if (Number.isInteger(set.stage)) this.stage = set.stage;
    const c = this.current;
    const closesCurrent =
      c !== null && c.session === set.session && (c.setIndex === set.index || c.setIndex === null);
    if (closesCurrent) c.ended = true;
    if (c !== null && !c.ended && c.session === set.session) return; // an older set, late
    this.#startRest(set.time, set.stage, nowMs);
  }

  #startRest(endTime, stage, nowMs) {
    const endMs = Date.parse(endTime);
    if (!Number.isFinite(endMs)) {
      this.restFromMs = nowMs;
    } else if (nowMs - endMs > STALE_SET_MS) {
      return;
    } else {
      // The Pi's clock and the phone's may disagree a little; never count from the future.
      this.restFromMs = Math.min(endMs, nowMs);
    }
    this.restTargetS = this.stageInfo(stage)?.rest_between_sets_s ?? null;
  }

  // The page opened between sets: rest runs from the end of the last logged set.
  #lastSession(agg, nowMs) {
    if (this.current === null && this.restFromMs === null && agg.end_time) {
      this.#startRest(agg.end_time, agg.stage, nowMs);
    }
  }

  stageInfo(number = this.stage) {
    return number == null ? null : this.stages[String(number)] ?? null;
  }

  // Reps (or holds) in the set in progress, and what the stage asks for. Without the
  // stages from config.json (a page served by Mosquitto alone) the log's today target
  // or the last set's target stands in.
  progress() {
    const info = this.stageInfo();
    const c = this.current;
    const dose = this.aggregates.today?.target;
    if (info ? info.isometric : c !== null && c.setIndex === null) {
      const logged = this.todaySets().reduce((n, s) => n + (s.holds || 0), 0);
      const open = c && !c.ended ? c.holds.length : 0;
      const done = Math.max(logged, this.aggregates.today?.holds ?? 0) + open;
      return { done, target: info?.sets ?? dose?.sets ?? null, unit: "holds", setIndex: null };
    }
    return {
      done: c ? c.reps.length : 0,
      target: info?.reps ?? dose?.reps ?? this.todaySets().at(-1)?.target_reps ?? null,
      unit: "reps",
      setIndex: c ? c.setIndex : null,
      ended: c ? c.ended : false,
    };
  }

  // Today's sets received live, in order (the log's today aggregate holds only totals).
  todaySets(now = new Date()) {
    const today = localDay(now);
    return [...this.liveSets.values()]
      .filter((s) => localDay(s.time) === today)
      .sort((a, b) => (Date.parse(a.time) || 0) - (Date.parse(b.time) || 0));
  }

  // The set a pain rating is about: the last one seen live, else the log's last set today.
  lastSet(now = new Date()) {
    const live = this.todaySets(now).at(-1);
    if (live) return { id: live.id, index: live.index };
    const last = this.aggregates.last_session?.last_set;
    return last && localDay(last.time) === localDay(now) ? { id: last.id, index: last.index } : null;
  }

  restElapsedS(nowMs = Date.now()) {
    return this.restFromMs === null ? null : (nowMs - this.restFromMs) / 1000;
  }
}
