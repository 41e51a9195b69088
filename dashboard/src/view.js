// Draws the model into the page. Every number the person reads comes from a message;
// where nothing has arrived yet the page shows a dash, never a made-up value.

import { chart, lines } from "./charts.js";
import { clock, percent, range, seconds, verdictText } from "./format.js";

const $ = (id) => document.getElementById(id);

export function renderConnection(state, detail = "") {
  const conn = $("conn");
  conn.dataset.state = state;
  conn.textContent = state;
  const problem = $("problem");
  problem.hidden = !detail;
  problem.textContent = detail;
}

// One card per device, made from the page's template the first time the device is seen;
// a device's card is found again by its data-device.
export function renderDevices(model) {
  const box = $("devices");
  const list = model.deviceList();
  $("waiting").hidden = list.length > 0;
  for (const dev of list) {
    if (!box.querySelector(`[data-device="${CSS.escape(dev.name)}"]`)) {
      const card = $("device-card").content.firstElementChild.cloneNode(true);
      card.dataset.device = dev.name;
      card.setAttribute("aria-label", `Sensor ${dev.name}`);
      card.querySelector(".device").textContent = dev.name;
      box.append(card);
      [...box.children].sort((a, b) => a.dataset.device.localeCompare(b.dataset.device))
        .forEach((c) => box.append(c));
    }
  }
  $("title").textContent = list.length ? `heel-raise coach · ${list.map((d) => d.name).join(" + ")}`
    : "heel-raise coach";
}

export function cardOf(dev) {
  return $("devices").querySelector(`[data-device="${CSS.escape(dev.name)}"]`);
}

export function renderStatus(card, dev) {
  const status = dev.status;
  const pill = card.querySelector(".sensor");
  if (!status) {
    pill.dataset.state = "unknown";
    pill.textContent = "service ?";
  } else if (status.state === "offline") {
    pill.dataset.state = "offline";
    pill.textContent = "service offline";
  } else {
    pill.dataset.state = status.sensor ?? "unknown";
    const simulated = status.source === "simulator" ? "simulated person" : status.source ?? "";
    pill.textContent = status.sensor === "ok" ? `sensor ok · ${simulated}`.trim()
      : `sensor ${status.sensor ?? "?"}`;
  }
}

// The wireless clip-on's battery: a warning to charge it before it dies mid-set.
export function renderClip(card, dev) {
  const pill = card.querySelector(".clip");
  const clip = dev.clip;
  pill.hidden = !clip;
  if (!clip) return;
  if (clip.state === "offline") {
    pill.dataset.state = "offline";
    pill.textContent = "clip-on offline";
  } else if (clip.battery_low) {
    pill.dataset.state = "low";
    const volts = typeof clip.battery_v === "number" ? ` (${clip.battery_v.toFixed(2)} V)` : "";
    pill.textContent = `clip-on battery low${volts}: charge it`;
  } else {
    pill.dataset.state = "ok";
    pill.textContent = clip.battery_pct == null ? "clip-on"
      : `clip-on battery ${clip.battery_pct} %`;
  }
}

export function renderLive(model, card, dev) {
  const phase = card.querySelector(".phase");
  phase.dataset.phase = dev.phase ?? "none";
  phase.textContent = dev.phase ? dev.phase.replace("_", " ") : "–";

  const p = model.progress(dev);
  card.querySelector(".rep-count").textContent = String(p.done);
  card.querySelector(".rep-target").textContent = range(p.target);
  const info = dev.stageInfo();
  const stage = dev.stage == null ? "stage –"
    : `stage ${dev.stage}${info?.name ? ` ${info.name}` : ""}`;
  let label;
  if (p.unit === "holds") label = `holds today · ${stage}`;
  else if (p.setIndex == null) label = `no set yet · ${stage}`;
  else {
    const target = info?.sets ?? model.aggregates.today?.target?.sets;
    const sets = target ? ` of ${range(target)}` : "";
    label = p.ended && p.last === 0 ? `set ${p.setIndex}${sets} next · ${stage}`
      : `set ${p.setIndex}${sets}${p.ended ? " done" : ""} · ${stage}`;
  }
  card.querySelector(".set-label").textContent = label;
}

function phaseCell(card, cls, value, target, ok) {
  const cell = card.querySelector(cls);
  cell.dataset.ok = ok === null ? "none" : String(ok);
  cell.querySelector(".val").textContent = seconds(value);
  cell.querySelector(".tgt").textContent = target;
}

function faulted(rep, ...verdicts) {
  const faults = Array.isArray(rep.faults) ? rep.faults : [rep.verdict];
  return verdicts.some((v) => faults.includes(v) || rep.verdict === v);
}

export function renderLastRep(card, dev) {
  const verdict = card.querySelector(".verdict");
  const hold = dev.lastHold;
  const rep = dev.lastRep;
  if (hold) {
    card.querySelector(".last-title").textContent = "Last hold";
    verdict.dataset.ok = String(hold.verdict === "ok");
    verdict.textContent = verdictText(hold.verdict);
    const info = dev.stageInfo();
    const target = info ? `target ${info.hold_min_s ?? "–"}–${info.hold_max_s ?? "–"} s` : "";
    phaseCell(card, ".ph-up", null, "", null);
    phaseCell(card, ".ph-hold", hold.hold_s, target, hold.verdict === "ok");
    phaseCell(card, ".ph-down", null, "", null);
    card.querySelector(".rep-extra").textContent = "";
    return;
  }
  card.querySelector(".last-title").textContent = rep ? `Rep ${rep.index ?? ""}`.trim()
    : "Last rep";
  if (!rep) return;
  const t = rep.target ?? {};
  verdict.dataset.ok = String(rep.verdict === "ok");
  verdict.textContent = verdictText(rep.verdict);
  phaseCell(card, ".ph-up", rep.up_s, `target ${seconds(t.up_s)}`,
    !faulted(rep, "too_fast_up", "too_fast"));
  phaseCell(card, ".ph-hold", rep.hold_s, `target ${seconds(t.hold_s)}`,
    !faulted(rep, "hold_too_short"));
  phaseCell(card, ".ph-down", rep.down_s, `target ${seconds(t.down_s)}`,
    !faulted(rep, "too_fast_down", "too_fast"));
  const extra = [];
  if (typeof rep.height_cm === "number") extra.push(`height ${rep.height_cm.toFixed(1)} cm`);
  if (typeof rep.bottom_deg === "number" && rep.bottom_deg < 0) {
    extra.push(`heel drop ${Math.abs(rep.bottom_deg).toFixed(0)}°`);
  }
  const others = (rep.faults ?? []).filter((f) => f !== rep.verdict).map(verdictText);
  if (others.length) extra.push(`also: ${others.join(", ")}`);
  card.querySelector(".rep-extra").textContent = extra.join(" · ");
}

export function renderRest(card, dev, nowMs = Date.now()) {
  const box = card.querySelector(".rest");
  const elapsed = dev.restElapsedS(nowMs);
  box.hidden = elapsed === null;
  if (elapsed === null) return;
  card.querySelector(".rest-timer").textContent = clock(elapsed);
  const target = dev.restTargetS;
  box.dataset.done = String(target != null && elapsed >= target);
  card.querySelector(".rest-target").textContent = target == null ? ""
    : elapsed >= target ? `target ${clock(target)} · ready for the next set`
      : `target ${clock(target)}`;
}

function plural(n, noun) {
  return `${n} ${noun}${n === 1 ? "" : "s"}`;
}

function complianceClass(fraction) {
  if (typeof fraction !== "number") return "";
  return fraction >= 0.8 ? "good" : fraction < 0.5 ? "bad" : "";
}

// With a sensor on each shoe the log puts a set's two feet back together: each foot's
// mean height and rise / lowering time, side by side under the set's row, the foot
// rising clearly less (10 % or more) marked.
function feetRow(pair) {
  const feet = Object.entries(pair?.feet ?? {});
  if (feet.length !== 2) return null;
  const heights = feet.map(([, f]) => f.height_cm).filter((h) => typeof h === "number");
  const top = heights.length === 2 ? Math.max(...heights) : null;
  const tr = document.createElement("tr");
  tr.className = "feet";
  tr.dataset.kind = pair.kind ?? "";
  const td = document.createElement("td");
  td.colSpan = 5;
  for (const [name, f] of feet) {
    const span = document.createElement("span");
    span.className = "foot";
    span.dataset.foot = name;
    const low = top !== null && typeof f.height_cm === "number" && f.height_cm < 0.9 * top;
    if (low) span.classList.add("low");
    span.textContent = `${name} ${typeof f.height_cm === "number" ? f.height_cm.toFixed(1) : "–"}`
      + `\u00a0cm · up ${seconds(f.up_s)} · down ${seconds(f.down_s)}`;
    td.append(span);
  }
  tr.append(td);
  return tr;
}

export function renderToday(model, painLimit) {
  const body = $("sets").querySelector("tbody");
  const sets = model.todaySets();
  body.replaceChildren(...sets.flatMap((s, i) => {
    const tr = document.createElement("tr");
    tr.dataset.setId = s.id ?? "";
    const reps = s.stage === 1 || (s.holds && !s.reps) ? plural(s.holds, "hold")
      : `${s.reps}${Array.isArray(s.target_reps) ? `/${range(s.target_reps)}` : ""}`;
    const cells = [
      [`${s.index ?? i + 1}`, ""],
      [reps, ""],
      [percent(s.tempo_compliance), complianceClass(s.tempo_compliance)],
      [typeof s.load_kg === "number" && s.load_kg > 0 ? `${s.load_kg} kg` : "–", ""],
      [typeof s.pain === "number" ? `${s.pain}` : "–", s.pain >= painLimit ? "bad" : ""],
    ];
    for (const [text, cls] of cells) {
      const td = document.createElement("td");
      td.textContent = text;
      if (cls) td.className = cls;
      tr.append(td);
    }
    const feet = feetRow(s.feet);
    return feet ? [tr, feet] : [tr];
  }));
  $("today-summary").textContent = todaySummary(model.aggregates.today, sets);
}

// Totals for today: the log's aggregate counts every set stored today, including those
// from before the page was opened; sets that ended after it was computed are added on.
function todaySummary(agg, rows) {
  // Sets the log has summed up are in its list; the others arrived after it (a simulated
  // session played fast stamps its sets ahead of the wall clock, so time alone cannot say).
  const known = new Set((agg?.set_list ?? []).map((s) => s.id));
  const aggMs = Date.parse(agg?.time);
  const listed = Array.isArray(agg?.set_list);
  const newer = rows.filter((s) => !known.has(s.id)
    && (listed || !(Date.parse(s.time) <= aggMs)));
  const sum = (list, key) => list.reduce((n, s) => n + (typeof s[key] === "number" ? s[key] : 0), 0);
  const sets = (agg?.sets ?? 0) + newer.length;
  const reps = (agg?.reps ?? 0) + sum(newer, "reps");
  const ok = (agg?.ok_reps ?? 0) + sum(newer, "ok_reps");
  const holds = (agg?.holds ?? 0) + sum(newer, "holds");
  const parts = [];
  if (sets === 0) parts.push("no sets yet today");
  else if (holds && !reps) parts.push(plural(holds, "hold"));
  else parts.push(`${plural(sets, "set")} · ${plural(reps, "rep")}`, `${percent(ok / reps)} on tempo`);
  if (typeof agg?.activity === "number") parts.push(`on your feet ${agg.activity}/10`);
  const pains = [agg?.pain_max, ...rows.map((s) => s.pain)].filter((v) => typeof v === "number");
  if (pains.length) parts.push(`pain max ${Math.max(...pains)}`);
  if (typeof agg?.stiffness === "number") parts.push(`stiffness ${agg.stiffness}`);
  const t = agg?.target;
  if (t && Array.isArray(t.sets) && Array.isArray(t.reps)) {
    parts.push(`target ${range(t.sets)} × ${range(t.reps)}${t.load_kg ? ` at ${t.load_kg} kg` : ""}`);
  }
  if (agg?.done) parts.push("done for today");
  return parts.join(" · ");
}

// The log's aggregates, read defensively: a missing field leaves a gap, not an error.
// The week aggregate holds one row per day; a "weeks" list, where the log has one, is
// drawn instead so the charts span the months a rehab takes.
function rows(week) {
  if (Array.isArray(week?.weeks) && week.weeks.length > 0) return week.weeks;
  return Array.isArray(week?.days) ? week.days : [];
}

function number(row, key) {
  return typeof row[key] === "number" ? row[key] : null;
}

function label(row) {
  if (row.week) return String(row.week).replace(/^\d{4}-/, "");
  const d = new Date(`${row.date}T12:00:00`);
  return Number.isNaN(d.getTime()) ? "" : d.toLocaleDateString("en-GB", { weekday: "short" });
}

// What weekly charts span, so "Reps per week: 45" reads as this week's total so far.
function weeksSpan(series) {
  const last = series.at(-1).week;
  const n = series.length;
  return n === 1 ? `this week (${last})` : `last ${n} weeks (${series[0].week} to ${last})`;
}

// The log's coaching: the most urgent piece first ("stop" before "caution" before "progress").
function renderAdvice(progress) {
  const box = $("advice");
  const advice = Array.isArray(progress?.advice) ? progress.advice : [];
  box.replaceChildren(...advice.slice(0, 3).map((a) => {
    const p = document.createElement("p");
    p.dataset.level = a.level ?? "info";
    const title = document.createElement("strong");
    title.textContent = a.title ?? "";
    const why = document.createElement("span");
    why.textContent = a.reasoning ?? "";
    p.append(title, why);
    return p;
  }));
}

export function renderProgress(model, painLimit) {
  const { week, stage_progress: sp, progress } = model.aggregates;
  renderAdvice(progress);
  const line = [];
  if (sp && sp.stage != null) {
    line.push(`stage ${sp.stage}${sp.name ? ` ${sp.name}` : ""}`);
    if (sp.week != null) line.push(`week ${sp.week}`);
    if (Array.isArray(sp.typical_weeks)) line.push(`typically weeks ${range(sp.typical_weeks)}`);
    const criteria = Array.isArray(sp.criteria) ? sp.criteria : [];
    if (criteria.length) {
      line.push(sp.ready ? "ready to move up"
        : `${criteria.filter((c) => c.met).length} of ${criteria.length} criteria met`);
    }
  }
  $("stage-progress").textContent = line.join(" · ");

  const series = rows(week);
  const box = $("charts");
  if (series.length === 0) {
    const p = document.createElement("p");
    p.className = "label";
    p.textContent = "no history yet";
    box.replaceChildren(p);
    return;
  }
  const weekly = Boolean(series[0].week);
  const points = (key) => series.map((r) => ({ label: label(r), value: number(r, key) }));
  const caption = document.createElement("p");
  caption.className = "label";
  caption.id = "chart-period";
  caption.textContent = weekly ? weeksSpan(series) : "last 7 days";
  // Per week the log gives the total reps, the worst day's pain and mean stiffness and load.
  const charts = [
    chart({ title: weekly ? "Reps per week" : "Reps", kind: "bar", points: points("reps") }),
    chart({ title: "Tempo", points: points("tempo_compliance"), yMax: 1,
      format: (v) => `${Math.round(v * 100)}%` }),
    chart({ title: weekly ? "Pain (worst day)" : "Pain", points: points("pain_max"), yMax: 10,
      limit: painLimit }),
    chart({ title: weekly ? "Stiffness (mean)" : "Stiffness", points: points("stiffness"),
      yMax: 10 }),
  ];
  const load = points("load_kg");
  if (load.some((p) => p.value > 0)) {
    charts.push(chart({ title: weekly ? "Load (mean)" : "Load", points: load,
      format: (v) => `${v} kg` }));
  }
  box.replaceChildren(caption, ...charts);
}

// The heel-rise test, from the log's retained heel_rise aggregate: the latest test's legs
// (the involved one marked), their symmetry beside the healthy adults' norms, and the
// symmetry of every test over the weeks of rehab. Work recovers last, so it is drawn too.
const STOPPED = { height: "heel below half the best", pace: "lost the beat",
  ended: "stopped early" };

function dayLabel(day) {
  const d = new Date(`${day}T12:00:00`);
  return Number.isNaN(d.getTime()) ? String(day ?? "")
    : d.toLocaleDateString("en-GB", { day: "numeric", month: "short" });
}

function fixed(value, digits, unit) {
  return typeof value === "number" ? `${value.toFixed(digits)}${unit}` : "–";
}

function lsiText(value) {
  return typeof value === "number" ? `${Math.round(value)} %` : "–";
}

export function renderHeelRise(model) {
  const agg = model.aggregates.heel_rise;
  const latest = agg?.latest;
  const table = $("heel-rise-legs");
  const legs = latest && typeof latest.legs === "object" ? Object.entries(latest.legs) : [];
  table.hidden = legs.length === 0;
  $("heel-rise-date").textContent = latest?.date ? dayLabel(latest.date) : "";
  legs.sort(([a], [b]) => a.localeCompare(b));
  table.querySelector("tbody").replaceChildren(...legs.map(([leg, r]) => {
    const tr = document.createElement("tr");
    tr.dataset.leg = leg;
    const cells = [
      `${leg}${r.involved === true ? " (involved)" : ""}`,
      typeof r.valid_reps === "number" ? `${r.valid_reps}` : "–",
      fixed(r.peak_height_cm, 1, "\u00a0cm"),
      fixed(r.work_j, 0, "\u00a0J"),
      STOPPED[r.stop_reason] ?? r.stop_reason ?? "–",
    ];
    for (const text of cells) {
      const td = document.createElement("td");
      td.textContent = text;
      tr.append(td);
    }
    return tr;
  }));
  const sym = latest?.symmetry;
  let line;
  if (!latest) line = "no heel-rise test yet: run heelraise heel-rise-test";
  else if (!sym) line = "symmetry needs both legs tested and the involved side set";
  else {
    line = `symmetry (${sym.involved} / other): reps ${lsiText(sym.reps_pct)} · height `
      + `${lsiText(sym.height_pct)} · work ${lsiText(sym.work_pct)}`;
  }
  $("heel-rise-symmetry").textContent = line;
  const norms = agg?.norms;
  $("heel-rise-norms").textContent = latest && norms
    ? `healthy adults: median ${norms.median_reps_men} raises (men), `
      + `${norms.median_reps_women} (women), on a 10° incline` : "";

  const history = Array.isArray(agg?.history) ? agg.history : [];
  const box = $("heel-rise-chart");
  if (!history.some((h) => typeof h.work_pct === "number" || typeof h.reps_pct === "number")) {
    box.replaceChildren();
    return;
  }
  const values = (key) => history.map((h) => (typeof h[key] === "number" ? h[key] : null));
  box.replaceChildren(lines({
    title: "Symmetry, involved / other",
    labels: history.map((h) => dayLabel(h.date)),
    series: [
      { name: "reps", cls: "reps", values: values("reps_pct") },
      { name: "height", cls: "height", values: values("height_pct") },
      { name: "work", cls: "work", values: values("work_pct") },
    ],
    ref: 100,
    format: (v) => `${v}%`,
  }));
}
