// Where to connect. pi_service/log/web.py serves config.json beside the page from the
// service config; URL query parameters (ws, user, password, device) override it, so the
// same page also works served by Mosquitto's http_dir or for a different device.

const DEFAULT_WS_PORT = 9001;

export async function loadConfig(location = window.location) {
  let served = {};
  try {
    const res = await fetch("config.json", { cache: "no-store" });
    if (res.ok) served = await res.json();
  } catch {
    // No server beside the page: query parameters and defaults alone.
  }
  return resolveConfig(served, location);
}

export function resolveConfig(served, location) {
  const q = new URLSearchParams(location.search);
  let wsUrl = q.get("ws") || served.ws_url || null;
  if (!wsUrl) {
    // The broker runs on the same Pi as the page: reach it by the name the phone used
    // for the page, which "localhost" in the service config would not be. With no
    // config.json the page came from Mosquitto's own http_dir: the same host and port.
    const scheme = location.protocol === "https:" ? "wss" : "ws";
    const host = served.ws_port ? `${location.hostname}:${served.ws_port}`
      : location.host || `localhost:${DEFAULT_WS_PORT}`;
    wsUrl = `${scheme}://${host}`;
  }
  return {
    wsUrl,
    username: q.get("user") ?? served.username ?? undefined,
    password: q.get("password") ?? served.password ?? undefined,
    // Follow one device only when the address names it; else every device the broker knows.
    device: q.get("device") || null,
    stages: served.stages || {},
    painLimit: served.pain_limit ?? 4,
    entry: Boolean(served.entry),
  };
}
