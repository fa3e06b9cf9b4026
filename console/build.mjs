// Builds the console into src/roo/console/static (or --outdir DIR): one JavaScript bundle and one
// style sheet with content-hashed names, and index.html naming them. Deterministic: the same
// sources and lockfile give the same bytes (tests/console/test_build.py holds the committed
// build to that).
import { build } from "esbuild";
import { mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { basename, dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const flag = process.argv.indexOf("--outdir");
const outdir = resolve(flag >= 0 ? process.argv[flag + 1] : join(here, "../src/roo/console/static"));
const assets = join(outdir, "assets");

rmSync(assets, { recursive: true, force: true });
mkdirSync(assets, { recursive: true });

const result = await build({
  entryPoints: { app: join(here, "src/main.js"), style: join(here, "src/style.css") },
  bundle: true,
  minify: true,
  format: "esm",
  target: ["es2020"],
  outdir: assets,
  entryNames: "[name]-[hash]",
  // a dynamic import (the highlighter) becomes its own hashed file, loaded on demand; the hash
  // of such a chunk depends on the paths relative to the working directory: fixed here, so that
  // the same sources give the same names from wherever the build is run
  splitting: true,
  chunkNames: "[name]-[hash]",
  absWorkingDir: here,
  metafile: true,
  legalComments: "none",
  logLevel: "warning",
});

const names = Object.keys(result.metafile.outputs).map((p) => basename(p));
const js = names.find((n) => n.startsWith("app-") && n.endsWith(".js"));
const css = names.find((n) => n.startsWith("style-") && n.endsWith(".css"));
const page = readFileSync(join(here, "src/index.html"), "utf8")
  .replaceAll("{{app}}", `/assets/${js}`)
  .replaceAll("{{style}}", `/assets/${css}`);
writeFileSync(join(outdir, "index.html"), page);
console.log(`console: ${js} ${css} -> ${outdir}`);
