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

// points: [{label, value}] with value a number or null (a gap); kind "bar" or "line".
// yMax fixes the scale (10 for pain, 1 for compliance); limit draws a dashed red line.
export function chart({ title, points, kind = "line", yMax, limit, format = (v) => `${v}` }) {
  const box = document.createElement("figure");
  box.className = "chart";
  box.dataset.chart = title;
  const caption = document.createElement("h3");
  caption.textContent = title;
  box.append(caption);

  const values = points.map((p) => p.value).filter((v) => typeof v === "number");
  const top = yMax ?? Math.max(1, ...values) * 1.1;
  const svg = el("svg", { viewBox: `0 0 ${W} ${H}`, role: "img", "aria-label": title });
  const x0 = PAD.left;
  const x1 = W - PAD.right;
  const y0 = H - PAD.bottom;
  const y1 = PAD.top;
  const step = points.length > 0 ? (x1 - x0) / points.length : 0;
  const xAt = (i) => x0 + step * (i + 0.5);
  const yAt = (v) => y0 - (Math.min(v, top) / top) * (y0 - y1);

  svg.append(el("line", { class: "axis", x1: x0, y1: y0, x2: x1, y2: y0 }));
  svg.append(el("text", { x: x0 - 4, y: y1 + 8, "text-anchor": "end" }, format(round(top))));
  svg.append(el("text", { x: x0 - 4, y: y0, "text-anchor": "end" }, format(0)));
  if (typeof limit === "number") {
    svg.append(el("line", { class: "limit", x1: x0, y1: yAt(limit), x2: x1, y2: yAt(limit) }));
  }
  // Counted back from the newest point, so it always has its label and none crowd it.
  const labelEvery = Math.max(1, Math.ceil(points.length / 6));
  points.forEach((p, i) => {
    if ((points.length - 1 - i) % labelEvery === 0) {
      svg.append(el("text", { x: xAt(i), y: H - 6, "text-anchor": "middle" }, p.label));
    }
  });
  if (kind === "bar") {
    const width = Math.max(2, step * 0.6);
    points.forEach((p, i) => {
      if (typeof p.value !== "number") return;
      svg.append(el("rect", {
        class: "bar", x: xAt(i) - width / 2, y: yAt(p.value), width, height: y0 - yAt(p.value),
      }));
    });
  } else {
    let path = "";
    let pen = false;
    points.forEach((p, i) => {
      if (typeof p.value !== "number") {
        pen = false;
        return;
      }
      path += `${pen ? "L" : "M"}${xAt(i).toFixed(1)},${yAt(p.value).toFixed(1)}`;
      pen = true;
      svg.append(el("circle", { class: "dot", cx: xAt(i), cy: yAt(p.value), r: 4 }));
    });
    svg.prepend(el("path", { class: "line", d: path }));
  }
  const last = [...points].reverse().find((p) => typeof p.value === "number");
  if (last) caption.textContent = `${title}: ${format(round(last.value))}`;
  box.append(svg);
  return box;
}

// Several lines over the same labels, each with its own colour and a legend: series is
// [{name, cls, values}] with values a number or null (a gap) per label. ref draws a
// dashed reference line (100 % symmetry).
export function lines({ title, labels, series, yMax, ref, format = (v) => `${v}` }) {
  const box = document.createElement("figure");
  box.className = "chart";
  box.dataset.chart = title;
  const caption = document.createElement("h3");
  caption.textContent = title;
  box.append(caption);

  const values = series.flatMap((s) => s.values).filter((v) => typeof v === "number");
  const top = yMax ?? Math.max(1, ref ?? 0, ...values) * 1.1;
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
  if (typeof ref === "number") {
    svg.append(el("line", { class: "ref", x1: x0, y1: yAt(ref), x2: x1, y2: yAt(ref) }));
  }
  const labelEvery = Math.max(1, Math.ceil(labels.length / 6));
  labels.forEach((label, i) => {
    if ((labels.length - 1 - i) % labelEvery === 0) {
      svg.append(el("text", { x: xAt(i), y: H - 6, "text-anchor": "middle" }, label));
    }
  });
  for (const s of series) {
    let path = "";
    let pen = false;
    const group = el("g", { class: `series ${s.cls}`, "data-series": s.name });
    s.values.forEach((v, i) => {
      if (typeof v !== "number") {
        pen = false;
        return;
      }
      path += `${pen ? "L" : "M"}${xAt(i).toFixed(1)},${yAt(v).toFixed(1)}`;
      pen = true;
      group.append(el("circle", { class: "dot", cx: xAt(i), cy: yAt(v), r: 4 }));
    });
    group.prepend(el("path", { class: "line", d: path }));
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
