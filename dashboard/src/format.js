// How numbers and verdicts read on a small screen at arm's length.

const VERDICTS = {
  ok: "Good",
  too_fast_up: "Too fast up",
  too_fast_down: "Too fast down",
  too_fast: "Too fast",
  hold_too_short: "Hold longer",
  partial_range: "Rise higher",
  too_short: "Hold too short",
  too_long: "Hold too long",
};

export function verdictText(verdict) {
  if (!verdict) return "–";
  if (VERDICTS[verdict]) return VERDICTS[verdict];
  const words = String(verdict).replaceAll("_", " ");
  return words.charAt(0).toUpperCase() + words.slice(1);
}

export function seconds(value, digits = 1) {
  return typeof value === "number" && Number.isFinite(value) ? `${value.toFixed(digits)}s` : "–";
}

export function clock(totalSeconds) {
  const s = Math.max(0, Math.floor(totalSeconds));
  return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, "0")}`;
}

export function range(pair) {
  if (!Array.isArray(pair) || pair.length !== 2) return "–";
  return pair[0] === pair[1] ? `${pair[0]}` : `${pair[0]}–${pair[1]}`;
}

export function percent(fraction) {
  return typeof fraction === "number" && Number.isFinite(fraction)
    ? `${Math.round(fraction * 100)}%`
    : "–";
}

export function localDay(date) {
  const d = date instanceof Date ? date : new Date(date);
  if (Number.isNaN(d.getTime())) return null;
  const pad = (n) => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}`;
}
