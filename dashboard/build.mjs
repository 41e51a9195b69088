// Bundles src/main.js (with the mqtt client) into dist/app.js and writes the page
// beside it with its stylesheet inlined. `npm run build`; scripts/setup runs it after
// `npm ci`. Mosquitto's http_dir sends no Content-Type, which browsers refuse for ES
// module scripts and stylesheets: hence a classic script and inline CSS.
import { build } from "esbuild";
import { mkdir, readFile, rm, writeFile } from "node:fs/promises";

const out = new URL("./dist/", import.meta.url);
await rm(out, { recursive: true, force: true });
await mkdir(out, { recursive: true });
await build({
  entryPoints: ["src/main.js"],
  bundle: true,
  format: "iife",
  platform: "browser",
  target: ["es2020"],
  minify: true,
  sourcemap: true,
  outfile: "dist/app.js",
  logLevel: "warning",
});
const html = await readFile(new URL("./index.html", import.meta.url), "utf8");
const css = await readFile(new URL("./styles.css", import.meta.url), "utf8");
const link = '<link rel="stylesheet" href="styles.css">';
if (!html.includes(link)) throw new Error(`index.html must contain ${link}`);
await writeFile(new URL("index.html", out), html.replace(link, () => `<style>\n${css}</style>`));
