// The dashboard: subscribes read-only to the coach's topics over MQTT-over-WebSockets
// and redraws on every message; a 4 Hz tick keeps the rest timer running.

import mqtt from "mqtt";
import { loadConfig } from "./config.js";
import { setupEntry } from "./entry.js";
import { Model, kindOf, topicsFor } from "./model.js";
import {
  renderClip, renderConnection, renderLastRep, renderLive, renderProgress, renderRest,
  renderStatus, renderToday,
} from "./view.js";

// CONNACK codes for a refused login (MQTT 3.1.1): Mosquitto answers 5 to a bad password.
const REFUSED_LOGIN = new Set([4, 5]);

function renderAll(model, cfg) {
  renderStatus(model, cfg.device);
  renderClip(model);
  renderLive(model);
  renderLastRep(model);
  renderRest(model);
  renderToday(model, cfg.painLimit);
  renderProgress(model, cfg.painLimit);
}

// What each kind of message can change, so a rep does not redraw the charts.
function renderersFor(kind, model, cfg) {
  const live = () => renderLive(model);
  const rest = () => renderRest(model);
  const today = () => renderToday(model, cfg.painLimit);
  const progress = () => renderProgress(model, cfg.painLimit);
  return {
    status: [() => renderStatus(model, cfg.device), live],
    sensor: [() => renderClip(model)],
    phase: [live],
    rep: [live, () => renderLastRep(model), rest],
    hold: [live, () => renderLastRep(model), rest],
    set: [live, rest, today],
    today: [live, today],
    last_session: [rest, today],
    week: [progress],
    stage_progress: [progress],
    progress: [progress],
  }[kind] ?? [];
}

async function start() {
  const cfg = await loadConfig();
  const model = new Model(cfg.stages);
  renderAll(model, cfg);

  setupEntry({
    enabled: cfg.entry,
    painLimit: cfg.painLimit,
    lastSet: () => model.lastSet(),
    onSaved: (kind, value, setId) => {
      if (kind === "pain" && setId) {
        const set = model.todaySets().find((s) => s.id === setId);
        if (set) set.pain = value;
      }
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
    client.subscribe(topicsFor(cfg.device), { qos: 1 }, (err, granted) => {
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
    const kind = kindOf(topic, cfg.device);
    let data;
    try {
      data = JSON.parse(new TextDecoder().decode(payload));
    } catch {
      console.warn("not JSON on %s", topic);
      return;
    }
    if (kind && model.handle(kind, data)) {
      for (const render of renderersFor(kind, model, cfg)) render();
    }
  });

  setInterval(() => renderRest(model), 250);
}

start();
