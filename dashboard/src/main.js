// The dashboard: subscribes read-only to every coach's topics over MQTT-over-WebSockets
// and redraws on every message; a 4 Hz tick keeps the rest timers running. Retained
// messages (each service's status and live state, the log's summaries) give a page
// opened or reloaded at any moment the same picture as one that watched all along.

import mqtt from "mqtt";
import { loadConfig } from "./config.js";
import { setupEntry } from "./entry.js";
import { Model, topicsFor } from "./model.js";
import {
  cardOf, renderClip, renderConnection, renderDevices, renderLastRep, renderLive,
  renderHeelRise, renderProgress, renderRest, renderStatus, renderToday,
} from "./view.js";

// CONNACK codes for a refused login (MQTT 3.1.1): Mosquitto answers 5 to a bad password.
const REFUSED_LOGIN = new Set([4, 5]);

function eachDevice(model, draw) {
  for (const dev of model.deviceList()) {
    const card = cardOf(dev);
    if (card) draw(card, dev);
  }
}

// What each kind of message can change, so a rep does not redraw the charts.
function renderersFor(kind, model, cfg) {
  const devices = (draw) => () => eachDevice(model, draw);
  const live = devices((card, dev) => renderLive(model, card, dev));
  const lastRep = devices(renderLastRep);
  const rest = devices((card, dev) => renderRest(card, dev));
  const today = () => renderToday(model, cfg.painLimit);
  const progress = () => renderProgress(model, cfg.painLimit);
  return {
    status: [devices(renderStatus), live],
    live: [live, lastRep, rest],
    sensor: [devices(renderClip)],
    phase: [live],
    rep: [live, lastRep, rest],
    hold: [live, lastRep, rest],
    set: [live, rest, today],
    today: [live, today],
    last_session: [rest, today],
    week: [progress],
    stage_progress: [progress],
    progress: [progress],
    heel_rise: [() => renderHeelRise(model)],
  }[kind] ?? [];
}

function renderAll(model, cfg) {
  renderDevices(model);
  for (const kind of ["status", "live", "sensor", "today", "week", "heel_rise"]) {
    for (const render of renderersFor(kind, model, cfg)) render();
  }
}

async function start() {
  const cfg = await loadConfig();
  const model = new Model(cfg.stages, cfg.device);
  renderAll(model, cfg);

  setupEntry({
    enabled: cfg.entry,
    painLimit: cfg.painLimit,
    lastSet: () => model.lastSet(),
    device: () => model.deviceList()[0]?.name ?? null,
    onSaved: (kind, value, setId) => {
      if (kind === "pain" && setId) model.ratedPain(setId, value);
      renderToday(model, cfg.painLimit);
    },
  });

  const client = mqtt.connect(cfg.wsUrl, {
    username: cfg.username,
    password: cfg.password,
    clientId: `heelraise-dash-${Math.random().toString(16).slice(2, 10)}`,
    protocolVersion: 4,
    clean: true,
    reconnectPeriod: 2000,
    resubscribe: false, // the connect handler subscribes, after every reconnect too
    connectTimeout: 10000,
  });

  client.on("connect", () => {
    // "connected" once subscribed: a message sent before the broker has the subscription
    // would never reach this page, so saying so earlier would promise too much.
    client.subscribe(topicsFor(cfg.device ?? "+"), { qos: 1 }, (err, granted) => {
      const refused = (granted ?? []).filter((g) => g.qos === 128).map((g) => g.topic);
      if (err || refused.length) {
        renderConnection("error", `cannot read ${refused.join(", ") || err.message}`);
      } else {
        renderConnection("connected");
      }
    });
  });
  client.on("reconnect", () => renderConnection("reconnecting"));
  client.on("offline", () => renderConnection("reconnecting", `no connection to ${cfg.wsUrl}`));
  client.on("error", (err) => {
    if (REFUSED_LOGIN.has(err.code)) {
      // Retrying with the same password cannot help: stop, and say what to fix.
      client.end(true);
      renderConnection("error", `the broker refused the dashboard login "${cfg.username ?? ""}": `
        + "check the read-only user's name and password, then reload");
    } else {
      renderConnection("error", `${cfg.wsUrl}: ${err.message}`);
    }
  });
  client.on("message", (topic, payload) => {
    let data;
    try {
      data = JSON.parse(new TextDecoder().decode(payload));
    } catch {
      console.warn("not JSON on %s", topic);
      return;
    }
    const before = model.devices.size;
    const kind = model.handle(topic, data);
    if (kind === null) return;
    if (model.devices.size !== before) {
      renderAll(model, cfg); // a device seen for the first time gets its card
    } else {
      for (const render of renderersFor(kind, model, cfg)) render();
    }
  });

  setInterval(() => eachDevice(model, (card, dev) => renderRest(card, dev)), 250);
}

start();
