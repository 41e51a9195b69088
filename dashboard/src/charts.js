// Small SVG charts: a handful of weekly points needs no chart library, and SVG scales
// to any phone width without redrawing.

const NS = "http://www.w3.org/2000/svg";
const W = 320;
const H = 130;
const PAD = { left: 44, right: 8, top: 10, bottom: 22 };

function el(name, attrs = {}, text) {
  const node = document.createElementNS(NS, name);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, String(v));
  if (text !== undefined) node.textContent = text;
  return node;
}

// The frame both kinds share: a captioned figure, the axis, the two ends of the scale, a
// dashed line at `mark` (drawn with class markClass), and the labels that have room.
function frame(title, labels, top, format, mark, markClass) {
  const box = document.createElement("figure");
  box.className = "chart";
  box.dataset.chart = title;
  const caption = document.createElement("h3");
  caption.textContent = title;
  box.append(caption);

  const svg = el("svg", { viewBox: `0 0 ${W} ${H}`, role: "img", "aria-label": title });
  const x0 = PAD.left;
  const x1 = W - PAD.right;
  const y0 = H - PAD.bottom;
  const y1 = PAD.top;
  const step = labels.length > 0 ? (x1 - x0) / labels.length : 0;
  const xAt = (i) => x0 + step * (i + 0.5);
  const yAt = (v) => y0 - (Math.min(v, top) / top) * (y0 - y1);

  svg.append(el("line", { class: "axis", x1: x0, y1: y0, x2: x1, y2: y0 }));
  svg.append(el("text", { x: x0 - 4, y: y1 + 8, "text-anchor": "end" }, format(round(top))));
  svg.append(el("text", { x: x0 - 4, y: y0, "text-anchor": "end" }, format(0)));
  if (typeof mark === "number") {
    svg.append(el("line", { class: markClass, x1: x0, y1: yAt(mark), x2: x1, y2: yAt(mark) }));
  }
  // Counted back from the newest point, so it always has its label and none crowd it.
  const labelEvery = Math.max(1, Math.ceil(labels.length / 6));
  labels.forEach((label, i) => {
    if ((labels.length - 1 - i) % labelEvery === 0) {
      svg.append(el("text", { x: xAt(i), y: H - 6, "text-anchor": "middle" }, label));
    }
  });
  return { box, caption, svg, xAt, yAt, y0 };
}

// A line through the numbers among values (a gap where one is missing), a dot on each.
function trace(parent, values, xAt, yAt) {
  let path = "";
  let pen = false;
  values.forEach((v, i) => {
    if (typeof v !== "number") {
      pen = false;
      return;
    }
    path += `${pen ? "L" : "M"}${xAt(i).toFixed(1)},${yAt(v).toFixed(1)}`;
    pen = true;
    parent.append(el("circle", { class: "dot", cx: xAt(i), cy: yAt(v), r: 4 }));
  });
  parent.prepend(el("path", { class: "line", d: path }));
}

// points: [{label, value}] with value a number or null (a gap); kind "bar" or "line".
// yMax fixes the scale (10 for pain, 1 for compliance); limit draws a dashed red line.
export function chart({ title, points, kind = "line", yMax, limit, format = (v) => `${v}` }) {
  const values = points.map((p) => p.value);
  const numbers = values.filter((v) => typeof v === "number");
  const top = yMax ?? Math.max(1, ...numbers) * 1.1;
  const { box, caption, svg, xAt, yAt, y0 } = frame(
    title, points.map((p) => p.label), top, format, limit, "limit");
  if (kind === "bar") {
    const width = Math.max(2, (xAt(1) - xAt(0)) * 0.6);
    values.forEach((v, i) => {
      if (typeof v !== "number") return;
      svg.append(el("rect", {
        class: "bar", x: xAt(i) - width / 2, y: yAt(v), width, height: y0 - yAt(v),
      }));
    });
  } else {
    trace(svg, values, xAt, yAt);
  }
  const last = [...numbers].reverse()[0];
  if (last !== undefined) caption.textContent = `${title}: ${format(round(last))}`;
  box.append(svg);
  return box;
}

// Several lines over the same labels, each with its own colour and a legend: series is
// [{name, cls, values}] with values a number or null (a gap) per label. ref draws a
// dashed reference line (100 % symmetry).
export function lines({ title, labels, series, yMax, ref, format = (v) => `${v}` }) {
  const numbers = series.flatMap((s) => s.values).filter((v) => typeof v === "number");
  const top = yMax ?? Math.max(1, ref ?? 0, ...numbers) * 1.1;
  const { box, svg, xAt, yAt } = frame(title, labels, top, format, ref, "ref");
  for (const s of series) {
    const group = el("g", { class: `series ${s.cls}`, "data-series": s.name });
    trace(group, s.values, xAt, yAt);
    svg.append(group);
  }
  const legend = document.createElement("p");
  legend.className = "legend";
  for (const s of series) {
    const last = [...s.values].reverse().find((v) => typeof v === "number");
    const item = document.createElement("span");
    item.className = `key ${s.cls}`;
    item.textContent = `${s.name} ${last === undefined ? "–" : format(round(last))}`;
    legend.append(item);
  }
  box.append(svg, legend);
  return box;
}

function round(v) {
  return Math.abs(v) >= 10 ? Math.round(v) : Math.round(v * 10) / 10;
}
