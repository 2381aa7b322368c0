// meshes-bridge loader: the only JavaScript a host page includes.
//
//   <script type="module" src="/static/meshes-bridge/loader.js"
//           data-runtime="micropython|pyodide" data-hooks="..." data-debug></script>
//
// Its one job is to start PyScript on the Python bridge with files from this very tree.
// Everything about containers, sessions, messages and tokens is decided in Python.

// Replaced by `meshes-bridge static` with the bridge's Python files, relative to python/.
const FILES = /*MESHES_BRIDGE_FILES*/[];

// Every URL is derived from where this module was served, so the tree works under any
// prefix and nothing is ever fetched from another origin (no CDN, no PyScript defaults).
const BASE = new URL(".", import.meta.url).href;

const CONTAINERS = "[data-meshes-embed]";
const OFF = ["false", "0", "off", "no"]; // as the core's parse_flag

// Module scripts have no document.currentScript, so find our tag by its resolved src.
function ownScript() {
  const strip = (u) => u.split("#")[0].split("?")[0];
  const me = strip(import.meta.url);
  for (const s of document.querySelectorAll("script[src]")) {
    if (strip(s.src) === me) return s;
  }
  // import.meta.url is the URL after redirects (http -> https, a 301 to another path),
  // script.src the one before: fall back to the last tag that names a loader.js.
  const tags = [...document.querySelectorAll('script[type="module"][src]')].filter((s) =>
    strip(s.src).endsWith("/loader.js"),
  );
  if (tags.length) {
    console.warn("meshes-bridge: loader.js was redirected; reading options from its tag");
    return tags[tags.length - 1];
  }
  return null; // imported by other code: run with defaults
}

function settings(tag) {
  const attr = (name) => (tag ? tag.getAttribute(name) : null);
  let runtime = (attr("data-runtime") || "micropython").trim().toLowerCase();
  if (runtime !== "micropython" && runtime !== "pyodide") {
    console.warn(`meshes-bridge: unknown data-runtime "${runtime}", using micropython`);
    runtime = "micropython";
  }
  const debug = attr("data-debug");
  return {
    runtime,
    hooks: attr("data-hooks"),
    debug: debug !== null && !OFF.includes(debug.trim().toLowerCase()),
  };
}

function pyscriptConfig({ runtime, hooks, debug }) {
  const files = {};
  for (const rel of FILES) {
    // pyodide-http patches urllib, which MicroPython does not have.
    if (rel.startsWith("pyodide_http/") && runtime !== "pyodide") continue;
    files[`${BASE}python/${rel}`] = `./${rel}`;
  }
  const interpreter =
    runtime === "pyodide" ? `${BASE}pyodide/pyodide.mjs` : `${BASE}micropython/micropython.mjs`;
  return {
    interpreter,
    // A host page must never get PyScript's red error banner or its unused extras.
    plugins: [
      "!error",
      "!py-editor",
      "!py-game",
      "!py-terminal",
      "!donkey",
      "!deprecations-manager",
      "!codemirror",
    ],
    files,
    meshes_bridge: { runtime, hooks, debug, base: BASE, page: location.href },
  };
}

function bootFailed(message, containers = document.querySelectorAll(CONTAINERS)) {
  console.error(`meshes-bridge: ${message}`);
  for (const el of containers) {
    el.setAttribute("data-state", "error");
    el.dispatchEvent(
      new CustomEvent("meshes-bridge:error", {
        bubbles: true,
        detail: { code: "boot", message },
      }),
    );
  }
}

// Strict CSP (no 'unsafe-eval'): when PyScript wraps the main-thread interpreter it
// composes the JavaScript hooks meant for *workers* into one function with Function(),
// which such a policy forbids. Its only default worker hook (registering `_pyscript` in a
// worker) is of no use here: the bridge starts no workers and every plugin that adds worker
// hooks is disabled above. Emptying those sets through PyScript's public `hooks` export
// leaves nothing to compose, so Function() is never called. It runs as soon as core.js has
// evaluated, before PyScript has even fetched the interpreter, let alone wrapped it.
function withoutWorkerHooks(hooks) {
  const worker = hooks && hooks.worker;
  if (!worker) return;
  const names = ["onReady", "onBeforeRun", "onBeforeRunAsync", "onAfterRun", "onAfterRunAsync"];
  for (const name of names) {
    if (worker[name]) worker[name].clear();
  }
}

async function start() {
  // Several copies of the tag (or query-string variants of it) must boot only once.
  const flag = Symbol.for("meshes-bridge.loader");
  if (globalThis[flag]) return;
  globalThis[flag] = true;

  // Give hosts a state to style before Python runs; Python owns it from here on.
  for (const el of document.querySelectorAll(CONTAINERS)) {
    if (!el.hasAttribute("data-state")) el.setAttribute("data-state", "booting");
  }

  const opts = settings(ownScript());
  // PyScript reads its config once, when core.js is first imported, from script tags
  // already in the document: so the tag must exist before the import below.
  const script = document.createElement("script");
  script.type = opts.runtime === "pyodide" ? "py" : "mpy";
  script.setAttribute("config", JSON.stringify(pyscriptConfig(opts)));
  script.src = `${BASE}python/main.py`;
  document.head.appendChild(script);

  let pyscript;
  try {
    pyscript = await import(`${BASE}pyscript/core.js`);
  } catch (e) {
    // A 404 or a CSP refusal: without this the containers would say "booting" forever.
    bootFailed(`could not load PyScript from ${BASE}pyscript/core.js: ${e && e.message}`);
    return;
  }
  withoutWorkerHooks(pyscript.hooks);
  // PyScript swallows a failed interpreter or Python file download; Python's first act
  // is to move every container out of "booting", so one still there much later means
  // Python never ran. Pyodide is 13 MB: give it time on slow links.
  const patience = opts.runtime === "pyodide" ? 120000 : 30000;
  setTimeout(() => {
    const stuck = [...document.querySelectorAll(CONTAINERS)].filter(
      (el) => el.getAttribute("data-state") === "booting",
    );
    if (stuck.length) {
      bootFailed(`the Python runtime did not start within ${patience / 1000} s`, stuck);
    }
  }, patience);
}

start();
