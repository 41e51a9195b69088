// What the page knows, built only from the messages it receives (no DOM here), so the
// same state follows from the same messages whatever order the retained ones arrive in.
//
// The page follows every device the broker knows (a coach's retained status, or any
// message of its), or only the one named in the address (?device=). A person with a
// sensor on each foot is one person: the log's summaries are theirs, the same on every
// device's topics, and the newest one counts.

import { localDay } from "./format.js";

// A set older than this when it arrives (an outbox redelivery, a retained replay) is
// history: it goes in today's list but starts no rest timer.
const STALE_SET_MS = 15 * 60 * 1000;

const LIVE_KINDS = ["status", "live", "sensor", "phase", "rep", "set", "hold"];
const LOG_KINDS = ["today", "last_session", "week", "stage_progress", "progress", "heel_rise"];

export function topicsFor(device = "+") {
  return [
    ...LIVE_KINDS.map((k) => `heelraise/${device}/${k}`),
    ...LOG_KINDS.map((k) => `heelraise/log/${device}/${k}`),
  ];
}

// "heelraise/left/rep" -> {device: "left", kind: "rep"};
// "heelraise/log/left/week" -> {device: "left", kind: "week"}; anything else -> null.
export function parseTopic(topic) {
  const parts = topic.split("/");
  if (parts[0] !== "heelraise") return null;
  if (parts.length === 4 && parts[1] === "log") return { device: parts[2], kind: parts[3] };
  if (parts.length === 3 && parts[1] !== "log") return { device: parts[1], kind: parts[2] };
  return null;
}

// One sensor's live picture: its service, the set in progress, its newest rep.
export class Device {
  constructor(name, stages) {
    this.name = name;
    this.stages = stages;
    this.status = null;
    this.clip = null; // the wireless clip-on's own retained status (battery, signal)
    this.phase = null;
    this.stage = null;
    this.current = null; // {session, setIndex, reps, holds, ended}
    this.lastRep = null;
    this.lastHold = null;
    this.restFromMs = null;
    this.restTargetS = null;
  }

  #inCurrent(session, setIndex) {
    const c = this.current;
    return c !== null && !c.ended && c.session === session && c.setIndex === setIndex;
  }

  // The service's retained live state: what a page opened mid-set or mid-rest shows.
  live(live, nowMs) {
    if (Number.isInteger(live.stage)) this.stage = live.stage;
    this.current = {
      session: live.session, setIndex: live.set_index, reps: live.reps ?? 0,
      holds: live.holds ?? 0, ended: !live.set_open,
    };
    if (live.last_rep && (!this.lastRep || this.lastRep.session !== live.session
        || (this.lastRep.index ?? 0) <= live.last_rep.index)) {
      this.lastRep = { ...live.last_rep, session: live.session };
      this.lastHold = null;
    }
    if (live.last_hold && !live.last_rep) this.lastHold = live.last_hold;
    if (live.set_open) {
      this.restFromMs = null;
    } else if (live.rest_from) {
      this.startRest(live.rest_from, live.stage, nowMs, live.rest_s);
    }
  }

  rep(rep) {
    if (this.#inCurrent(rep.session, rep.set_index)) {
      this.current.reps += 1;
    } else {
      this.current = { session: rep.session, setIndex: rep.set_index, reps: 1, holds: 0, ended: false };
    }
    this.lastRep = rep;
    this.lastHold = null;
    if (Number.isInteger(rep.stage)) this.stage = rep.stage;
    this.restFromMs = null;
  }

  hold(hold) {
    // Holds carry no set index: they belong to the open set of their session.
    const c = this.current;
    if (c !== null && !c.ended && c.session === hold.session) {
      c.holds += 1;
    } else {
      this.current = { session: hold.session, setIndex: null, reps: 0, holds: 1, ended: false };
    }
    this.lastHold = hold;
    this.restFromMs = null;
  }

  set(set, nowMs) {
    if (Number.isInteger(set.stage)) this.stage = set.stage;
    const c = this.current;
    const closesCurrent =
      c !== null && c.session === set.session && (c.setIndex === set.index || c.setIndex === null);
    if (closesCurrent) c.ended = true;
    if (c !== null && !c.ended && c.session === set.session) return; // an older set, late
    this.startRest(set.time, set.stage, nowMs);
  }

  startRest(endTime, stage, nowMs, restS = undefined) {
    const endMs = Date.parse(endTime);
    if (!Number.isFinite(endMs)) {
      this.restFromMs = nowMs;
    } else if (nowMs - endMs > STALE_SET_MS) {
      return;
    } else {
      // The Pi's clock and the phone's may disagree a little; never count from the future.
      this.restFromMs = Math.min(endMs, nowMs);
    }
    this.restTargetS = restS ?? this.stageInfo(stage)?.rest_between_sets_s ?? null;
  }

  stageInfo(number = this.stage) {
    return number == null ? null : this.stages[String(number)] ?? null;
  }

  restElapsedS(nowMs = Date.now()) {
    return this.restFromMs === null ? null : (nowMs - this.restFromMs) / 1000;
  }
}

export class Model {
  constructor(stages = {}, only = null) {
    this.stages = stages;
    this.only = only; // follow this device alone (the address's ?device=)
    this.devices = new Map();
    this.aggregates = {};
    this.liveSets = new Map(); // id -> set payload received live
    this.seen = new Set();
    this.painSaved = new Map();
  }

  device(name) {
    if (this.only && name !== this.only) return null;
    if (!this.devices.has(name)) this.devices.set(name, new Device(name, this.stages));
    return this.devices.get(name);
  }

  // Devices in a stable order: left before right, as the feet stand.
  deviceList() {
    return [...this.devices.values()].sort((a, b) => a.name.localeCompare(b.name));
  }

  // Apply one message; returns the kind it was, or null when a duplicate or not for us.
  handle(topic, payload, nowMs = Date.now()) {
    const where = parseTopic(topic);
    if (where === null || payload === null || typeof payload !== "object") return null;
    const { kind } = where;
    if (LOG_KINDS.includes(kind)) {
      const old = this.aggregates[kind];
      if (old && Date.parse(old.time) > Date.parse(payload.time)) return null; // older copy
      this.aggregates[kind] = payload;
      if (kind === "last_session") this.#lastSession(payload, nowMs);
      return kind;
    }
    if (!LIVE_KINDS.includes(kind)) return null;
    if (payload.id && ["rep", "set", "hold"].includes(kind)) {
      // QoS 1 may deliver twice; a set is redelivered with the same id from the outbox.
      if (this.seen.has(payload.id)) return null;
      this.seen.add(payload.id);
    }
    const dev = this.device(where.device);
    if (dev === null) return null;
    switch (kind) {
      case "status":
        dev.status = payload;
        if (Number.isInteger(payload.stage)) dev.stage = payload.stage;
        break;
      case "live":
        dev.live(payload, nowMs);
        break;
      case "sensor":
        dev.clip = payload;
        break;
      case "phase":
        dev.phase = payload.phase ?? null;
        break;
      case "rep":
        dev.rep(payload);
        break;
      case "hold":
        dev.hold(payload);
        break;
      default: // set
        this.liveSets.set(payload.id ?? `${payload.session}/${payload.index}`, payload);
        dev.set(payload, nowMs);
    }
    return kind;
  }

  // The page opened between sets: rest runs from the end of the last logged set.
  #lastSession(agg, nowMs) {
    const dev = this.deviceList()[0];
    if (dev && dev.current === null && dev.restFromMs === null && agg.end_time) {
      dev.startRest(agg.end_time, agg.stage, nowMs);
    }
  }

  stageInfo(number) {
    return number == null ? null : this.stages[String(number)] ?? null;
  }

  // Reps (or holds) in a device's set in progress, and what the stage asks for. Without
  // the stages from config.json (a page served by Mosquitto alone) the log's today
  // target or the last set's target stands in.
  progress(dev) {
    const info = dev.stageInfo();
    const c = dev.current;
    const dose = this.aggregates.today?.target;
    if (info ? info.isometric : c !== null && c.setIndex === null) {
      const logged = this.todaySets().reduce((n, s) => n + (s.holds || 0), 0);
      const open = c && !c.ended ? c.holds : 0;
      const done = Math.max(logged, this.aggregates.today?.holds ?? 0) + open;
      return { done, target: info?.sets ?? dose?.sets ?? null, unit: "holds", setIndex: null };
    }
    const open = c !== null && !c.ended;
    return {
      done: open ? c.reps : 0,
      target: info?.reps ?? dose?.reps ?? this.todaySets().at(-1)?.target_reps ?? null,
      unit: "reps",
      // between sets the counter waits for the next set, and says which one it will be
      setIndex: c ? c.setIndex : null,
      ended: c ? c.ended : false,
      last: c && c.ended ? c.reps : null,
    };
  }

  // Today's sets: the log's list (sets before the page opened, a bilateral set once), then
  // those that arrived live since the log last summed up.
  todaySets(now = new Date()) {
    const today = localDay(now);
    const agg = this.aggregates.today;
    const logged = agg?.date === today && Array.isArray(agg.set_list) ? agg.set_list : [];
    const known = new Set(logged.map((s) => s.id));
    const aggMs = Date.parse(agg?.time);
    // a set neither in the log's list nor newer than it is one the log keeps out (a
    // simulated one, outside a simulated person's log)
    const live = [...this.liveSets.values()].filter((s) => localDay(s.time) === today
      && !known.has(s.id) && !(logged.length && Date.parse(s.time) <= aggMs));
    const rated = (s) => (this.painSaved.has(s.id) ? { ...s, pain: this.painSaved.get(s.id) } : s);
    return [...logged, ...live].map(rated)
      .sort((a, b) => (Date.parse(a.time) || 0) - (Date.parse(b.time) || 0));
  }

  // A pain rating this page saved: shown at once, before the log sums up again.
  ratedPain(setId, value) {
    this.painSaved.set(setId, value);
  }

  // The set a pain rating is about: the newest of today's, with the device it came from.
  lastSet(now = new Date()) {
    const set = this.todaySets(now).at(-1);
    return set ? { id: set.id, index: set.index, device: set.device } : null;
  }
}
