// Pain and stiffness go to the log through the page's own server (POST /api/...), so the
// page never holds an MQTT credential that could write.

const $ = (id) => document.getElementById(id);

async function post(path, body) {
  const res = await fetch(path, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify(body),
  });
  let reply = {};
  try {
    reply = await res.json();
  } catch {
    // A reply with no JSON body: the status code says enough.
  }
  if (!res.ok) throw new Error(reply.error || `${res.status} ${res.statusText}`);
  return reply;
}

function scale(id, painLimit, onPick) {
  const box = $(id);
  const buttons = [];
  for (let value = 0; value <= 10; value += 1) {
    const b = document.createElement("button");
    b.type = "button";
    b.textContent = String(value);
    b.dataset.value = String(value);
    b.setAttribute("aria-pressed", "false");
    if (painLimit !== null && value >= painLimit) b.dataset.high = "true";
    b.addEventListener("click", () => onPick(value, b));
    buttons.push(b);
  }
  box.replaceChildren(...buttons);
  return buttons;
}

// lastSet() gives the set a pain rating is about (or null: the session as a whole) and
// the device that logged it; device() the device a rating goes to otherwise (a log is
// one person's, so any of theirs will do). onSaved(kind, value, setId) lets the page
// show the rating without waiting for the log.
export function setupEntry({ enabled, painLimit, lastSet, device, onSaved }) {
  const status = $("entry-status");
  if (!enabled) {
    for (const id of ["pain-scale", "stiffness-scale"]) $(id).closest("section").hidden = true;
    return;
  }
  const saved = {
    pain: (value, set) => `Saved pain ${value}${set ? ` for set ${set.index ?? ""}`.trimEnd() : ""}`,
    stiffness: (value) => `Saved stiffness ${value} for today`,
    activity: (value) => `Saved ${value}/10 on your feet today`,
  };
  const make = (kind, id, limit) => {
    const buttons = scale(id, limit, async (value, button) => {
      buttons.forEach((b) => { b.disabled = true; });
      const set = kind === "pain" ? lastSet() : null;
      const body = { [kind]: value };
      if (set?.id) body.set_id = set.id;
      const to = set?.device ?? device();
      if (to) body.device = to;
      try {
        await post(`api/${kind}`, body);
        buttons.forEach((b) => b.setAttribute("aria-pressed", String(b === button)));
        status.textContent = saved[kind](value, set);
        if (kind === "pain" && value >= painLimit) {
          status.textContent += ` · at or above ${painLimit}: reduce the load next set`;
        }
        onSaved(kind, value, set?.id ?? null);
      } catch (err) {
        status.textContent = `Not saved: ${err.message}`;
      } finally {
        buttons.forEach((b) => { b.disabled = false; });
      }
    });
  };
  make("pain", "pain-scale", painLimit);
  make("stiffness", "stiffness-scale", null);
  make("activity", "activity-scale", null);
}
