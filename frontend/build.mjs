// Builds the browser bundles into webui/static/dist/ (git-ignored; `make run`/`make test` call `npm run build`).
// Each entry is an ES module plus its stylesheet; fonts and images referenced from CSS are inlined.
import { build } from "esbuild";
import { rmSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const outdir = join(root, "webui", "static", "dist");
const entries = ["diagram.js", "diagram.css", "modeler.js", "modeler.css", "uploads.js"];

// The bare "@bpmn-io/properties-panel" is frontend/properties-panel-lists.js (its list entries translated; that file
// imports the package's own dist/index.esm.js, which this does not touch).
const panelLists = {
  name: "alur-properties-panel-lists",
  setup(buildApi) {
    buildApi.onResolve({ filter: /^@bpmn-io\/properties-panel$/ }, () => ({
      path: join(root, "frontend", "properties-panel-lists.js"),
    }));
  },
};

rmSync(outdir, { recursive: true, force: true });
const result = await build({
  absWorkingDir: root,
  entryPoints: entries.map((name) => join("frontend", name)),
  outdir,
  bundle: true,
  format: "esm",
  minify: true,
  target: ["es2020", "chrome100", "firefox100", "safari15"],
  loader: { ".json": "json", ".woff": "dataurl", ".woff2": "dataurl", ".ttf": "dataurl", ".eot": "dataurl", ".svg": "dataurl" },
  legalComments: "eof",
  metafile: true,
  plugins: [panelLists],
  logLevel: "warning",
});
for (const [file, { bytes }] of Object.entries(result.metafile.outputs)) {
  console.log(`${file}  ${(bytes / 1024).toFixed(1)} KiB`);
}
