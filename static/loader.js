// meshes-bridge loader: the only JavaScript a host page includes.
//
//   <script type="module" src="/static/meshes-bridge/loader.js"
//           data-runtime="micropython|pyodide" data-hooks="..." data-debug></script>
//
// Its job is to start the Python bridge (on PyScript, or on bare MicroPython when nothing
// needs PyScript) with files from this very tree, as early and with as few round trips as
// it can, and to say so at once when that fails.
// Everything about containers, sessions, messages and tokens is decided in Python; the
// one thing done here ahead of Python is to send each container's mint request (section
// "Early mint"), whose answer Python alone reads, adopts or throws away.

// First of all, when it began: the `timings` event's `loader` step (see the relay's boot()).
const LOADER_AT = performance.now();
let runtimeReadyAt = null; // when the interpreter was up: its `runtime_ready` step

// Filled in by `meshes-bridge static`: where everything is, relative to this file (every
// folder but this file's is named after its content, so it can be cached for good), and
// the Python run first (static/main.py), once the bridge's files are written out.
const TREE = /*MESHES_BRIDGE_TREE*/null;
const MAIN = /*MESHES_BRIDGE_MAIN*/"";
// Every name and number shared with Python (states, events, error codes, the relay's
// entries and limits), from meshes_bridge/core/wire.py: written there once, never here.
const WIRE = /*MESHES_BRIDGE_WIRE*/null;

// Every URL is derived from where this module was served, so the tree works under any
// prefix and nothing is ever fetched from another origin (no CDN, no PyScript defaults).
const BASE = new URL(".", import.meta.url).href;

// A host page must never get PyScript's red error banner or its unused extras.
const PLUGINS = [
  "!error",
  "!py-editor",
  "!py-game",
  "!py-terminal",
  "!donkey",
  "!deprecations-manager",
  "!codemirror",
];

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
    console.warn(`${WIRE.CONSOLE_PREFIX}loader.js was redirected; reading options from its tag`);
    return tags[tags.length - 1];
  }
  return null; // imported by other code: run with defaults
}

function flag(value, fallback) {
  return value === null ? fallback : !WIRE.FALSE_WORDS.includes(value.trim().toLowerCase());
}

function settings(tag) {
  const attr = (name) => (tag ? tag.getAttribute(name) : null);
  const fallback = WIRE.RUNTIMES[0];
  let runtime = (attr("data-runtime") || fallback).trim().toLowerCase();
  if (!WIRE.RUNTIMES.includes(runtime)) {
    console.warn(`${WIRE.CONSOLE_PREFIX}unknown data-runtime "${runtime}", using ${fallback}`);
    runtime = fallback;
  }
  return {
    runtime,
    hooks: attr("data-hooks"),
    debug: flag(attr("data-debug"), false),
    timingsUrl: attr("data-timings-url"), // Python checks it, as every other attribute
    earlyMint: flag(attr("data-early-mint"), true),
  };
}

// -- Early mint ----------------------------------------------------------------------
// Each container's mint request is sent now, while the runtime boots, exactly as the
// bridge's Python would send it (meshes_bridge/browser/http.py). Python takes the record with
// the one-shot accessor below and decides: adopt the answer, or abort it and ask again.
// The answer is kept nowhere else and never logged.

const early = new WeakMap();
const untaken = new Set(); // records not yet taken, for bootFailed to abort

function readCookie(name) {
  // As meshes_bridge/browser/http.py read_cookie: split on ";", strip, partition on "=".
  for (const part of document.cookie.split(";")) {
    const item = part.trim();
    const at = item.indexOf("=");
    const key = at < 0 ? item : item.slice(0, at);
    if (key === name) return at < 0 ? "" : item.slice(at + 1);
  }
  return null;
}

function mintRequest(el) {
  const raw = el.getAttribute("data-session-url");
  let resolved;
  try {
    resolved = new URL(raw.trim(), location.href);
  } catch {
    return null;
  }
  if (resolved.origin !== location.origin) return null;
  if (resolved.protocol !== "http:" && resolved.protocol !== "https:") return null;

  const bodyAttr = el.getAttribute("data-session-body");
  let bodyText = "{}";
  if (bodyAttr !== null) {
    let parsed;
    try {
      parsed = JSON.parse(bodyAttr);
    } catch {
      return null;
    }
    if (parsed === null || typeof parsed !== "object" || Array.isArray(parsed)) return null;
    bodyText = JSON.stringify(parsed);
  }

  const cookieName = (el.getAttribute("data-csrf-cookie") || "").trim();
  const headerName = (el.getAttribute("data-csrf-header") || "").trim();
  if (!cookieName !== !headerName) return null; // exactly one of the pair: Python says why
  const headers = { "Content-Type": "application/json", Accept: "application/json" };
  let csrfValue = null;
  if (cookieName) {
    csrfValue = readCookie(cookieName);
    if (csrfValue !== null) headers[headerName] = csrfValue;
  }

  const controller = new AbortController();
  const failed = () => ({ status: 0, text: "", error: "network error" });
  let response;
  try {
    response = fetch(resolved.href, {
      method: "POST",
      headers,
      body: bodyText,
      credentials: "same-origin",
      cache: "no-store",
      signal: controller.signal,
    }).then(
      (r) => r.text().then((text) => ({ status: r.status, text }), failed),
      failed,
    );
  } catch {
    response = Promise.resolve(failed());
  }
  return {
    url: raw,
    href: resolved.href, // what it went to, and the text it sent: Python compares both
    bodyText,
    body: bodyAttr,
    csrfCookie: cookieName || null,
    csrfHeader: headerName || null,
    csrfValue,
    response,
    abort: () => controller.abort(),
  };
}

function mintEarly() {
  for (const el of document.querySelectorAll(WIRE.CONTAINER_SELECTOR)) {
    if (!el.hasAttribute("data-session-url") || early.has(el)) continue;
    const record = mintRequest(el);
    if (record) {
      early.set(el, record);
      untaken.add(record);
    }
  }
}

function takeEarly(el) {
  const r = early.get(el) || null;
  early.delete(el);
  untaken.delete(r);
  return r;
}

// -- Message relay ---------------------------------------------------------------------
// Python's window "message" listener, without Python reaching into JS events: every
// crossing between JS and Python costs microseconds on MicroPython, and any window may
// post thousands of messages. For each message the relay notes, as plain values, its
// origin, which watched iframe window sent it (by identity: the contract's source check),
// when (performance.now(), in seconds: the core's clock), and its data, read as far as the
// core said (see `watch`), sorted by shape. The entries' layout, kinds and limits are the
// core's (meshes_bridge/core/wire.py, "The relay"). It hands them to Python in batches:
// the messages that arrived since the last batch, as one JSON text, one task later (a
// burst of messages is one call, not one per message), and to Python's own inputs first (a
// load event, a timer) so that the core still sees everything in the order it happened.
// It accepts and rejects nothing: every message, whatever its origin, source or shape,
// goes to Python, whose core rejects or acts on it.

const { Kind, Special } = WIRE || {};

// The data's `type` alone: [TYPE, type], or [NO_TYPE] when it has no string one. What the
// core needs of a message it will not act on, to say how loudly it rejects it.
function typeOf(data) {
  try {
    if (Object.prototype.toString.call(data) !== "[object Object]") return [Kind.NO_TYPE];
    const kind = data.type;
    const named = typeof kind === "string" && kind.length <= WIRE.MAX_TYPE_CHARS;
    return named ? [Kind.TYPE, kind] : [Kind.NO_TYPE];
  } catch {
    return [Kind.NO_TYPE];
  }
}

// All of it, for a message the core may act on: [NOT_OBJECT] (a string, number, array,
// null, Date...), [TOO_LARGE], [UNREADABLE], or [OBJECT, fields] or [OBJECT, fields,
// specials]: the flat fields as they are, and in `specials` each field JSON cannot carry.
// Sizes count as message_size() does, in UTF-16 units: reading stops past the limit, and
// the core counts again. The size read is the entry's last item.
function readAll(data) {
  const max = WIRE.MAX_MESSAGE_CHARS;
  if (typeof data === "string") return [data.length > max ? Kind.TOO_LARGE : Kind.NOT_OBJECT, 1];
  try {
    if (Object.prototype.toString.call(data) !== "[object Object]") return [Kind.NOT_OBJECT, 1];
    const keys = Object.keys(data);
    if (keys.length > WIRE.MAX_KEYS) return [Kind.UNREADABLE, 1];
    const fields = Object.create(null); // a key "__proto__" stays a field
    const specials = Object.create(null);
    let odd = false;
    let size = 0;
    for (const key of keys) {
      const value = data[key];
      size += key.length + (typeof value === "string" ? value.length : WIRE.NON_STRING_CHARS);
      if (size > max) return [Kind.TOO_LARGE, 1];
      const kind = typeof value;
      if (kind === "undefined") continue; // as JSON.stringify drops it
      if (value === null || kind === "string" || kind === "boolean") {
        fields[key] = value;
      } else if (kind === "number" && Number.isFinite(value)) {
        if (Number.isInteger(value) && Math.abs(value) > Number.MAX_SAFE_INTEGER) {
          specials[key] = Special.NESTED;
          odd = true;
        } else {
          fields[key] = value;
        }
      } else {
        const number = kind === "number";
        specials[key] = !number
          ? Special.NESTED
          : value !== value
            ? Special.NAN
            : value > 0
              ? Special.INF
              : Special.NEG_INF;
        odd = true;
      }
    }
    return odd ? [Kind.OBJECT, fields, specials, size] : [Kind.OBJECT, fields, size];
  } catch {
    return [Kind.UNREADABLE, 1];
  }
}

// Each container Python has taken -> the state it last gave it. One not taken yet is
// booting, as far as the loader knows.
const states = new WeakMap();
let stateChanged = () => {};

function stateOf(el) {
  return states.has(el) ? states.get(el) : WIRE.State.BOOTING;
}

// Watched iframe windows -> {slot, origin}: the origin (the core's embed origin) whose
// messages from that window are read in full. A slot number is never used twice, so a
// message still queued from an iframe gone is never taken for one from its successor.
const watched = new Map();
const windows = new Map(); // slot -> window
let nextSlot = 0;
const queue = []; // [origin, slot, now, ...shape], oldest first
const sizes = [];
let handler = null;
let scheduled = false;
const wakeup = new MessageChannel();

// The oldest messages, one batch's worth, as one JSON text ("" if none).
function take() {
  if (!queue.length) return "";
  let count = 0;
  let chars = 0;
  while (count < queue.length && count < WIRE.BATCH_MESSAGES && chars < WIRE.BATCH_CHARS) {
    chars += sizes[count];
    count += 1;
  }
  sizes.splice(0, count);
  return JSON.stringify(queue.splice(0, count));
}

function schedule() {
  if (scheduled) return;
  scheduled = true;
  wakeup.port2.postMessage(0);
}

wakeup.port1.onmessage = () => {
  scheduled = false;
  const batch = take();
  if (queue.length) schedule(); // the rest in tasks of their own
  if (batch && handler) handler(batch);
};

function received(event) {
  const seen = watched.get(event.source);
  const slot = seen ? seen.slot : WIRE.NO_SLOT;
  const full = seen !== undefined && event.origin === seen.origin;
  const shape = full ? readAll(event.data) : typeOf(event.data);
  // readAll's last item is the size read; typeOf's entry is small.
  const size = full ? shape.pop() : 1;
  queue.push([event.origin, slot, performance.now() / 1000, ...shape]);
  sizes.push(size + WIRE.ENTRY_CHARS);
  // A lone message from a container's iframe (a ready, a refresh ask: someone waits on
  // the answer) goes to Python at once, when nothing is queued before it. The wakeup
  // scheduled first still runs a task later, so the rest of a burst (already queued
  // behind this message) waits for it and crosses as one batch.
  const lone = seen !== undefined && !scheduled && queue.length === 1 && handler !== null;
  schedule();
  if (lone) handler(take());
}

const relay = {
  // Once, by Python, before any container mints: `handle(batch)` gets each batch.
  listen(handle) {
    handler = handle;
    addEventListener("message", received);
  },
  // Python, before any other input: the messages not handed over yet, a batch at a time
  // ("" once there are none).
  take,
  // This container's iframe window, and the origin whose messages from it are read in
  // full: the core's decision (only its own iframe's messages, on its embed origin, can be
  // acted on), carried out here so that a stranger's data costs no reading. The rest are
  // read by type alone.
  watch(win, origin) {
    const slot = nextSlot++;
    watched.set(win, { slot, origin });
    windows.set(slot, win);
    return slot;
  },
  unwatch(slot) {
    const win = windows.get(slot);
    windows.delete(slot);
    if (win !== undefined && watched.get(win)?.slot === slot) watched.delete(win);
  },
  // A container's state, as the core decided it: written on the page for the host, and
  // kept here for the loader's own use (what Python has taken, what is still busy), so
  // the loader never reads the page back for it.
  state(el, state) {
    el.setAttribute(WIRE.STATE_ATTRIBUTE, state);
    states.set(el, state);
    if (state !== WIRE.State.BOOTING && state !== WIRE.State.MINTING) dropFallback(el);
    stateChanged();
  },
  // When this module began and when the interpreter was up (ms), for the `timings` event:
  // JSON text, so that Python reads no whole number as a 32-bit one.
  boot() {
    return JSON.stringify({ loader: LOADER_AT, runtime_ready: runtimeReadyAt });
  },
  // A bubbling CustomEvent with plain-object detail, in one crossing.
  emit(el, name, detailJson) {
    el.dispatchEvent(new CustomEvent(name, { bubbles: true, detail: JSON.parse(detailJson) }));
  },
  // A message to a container's iframe, addressed as Python addressed it (the core's embed
  // origin, never "*"), in one crossing; false when the iframe has no window any more.
  post(iframe, messageJson, targetOrigin) {
    const win = iframe.contentWindow;
    if (!win) return false;
    win.postMessage(JSON.parse(messageJson), targetOrigin);
    return true;
  },
  // The bridge's requests (see "Requests" below).
  request,
  adopt,
  abort,
};

// -- Requests --------------------------------------------------------------------------
// The bridge's POSTs to the host's backend, sent exactly as Python specified them (the
// wire's "Requests": URL, fetch options, and here only the abort signal added), the body
// read as soon as the answer comes, and handed to the container's one Python callable
// with the status: one crossing each way, no Python task per request. What the answer
// means, whether to retry, and when to give up are Python's.

const requests = new Map(); // ticket -> abort(), while the request is out
let nextTicket = 0;

// Calls `answer` once, unless the request was aborted (then Python wants nothing).
function answering(ticket, answer, id) {
  return (status, text) => {
    if (requests.delete(ticket)) answer(id, status, text);
  };
}

function request(answer, id, url, init) {
  const ticket = nextTicket++;
  const done = answering(ticket, answer, id);
  const failed = () => done(WIRE.Outcome.NETWORK_ERROR, "");
  let href = null;
  try {
    // Against the page's own URL, as Python's same-origin check: never a <base href>.
    href = new URL(url, location.href).href;
  } catch {
    // Reported a task later, like any answer: Python is still carrying out its actions.
  }
  const controller = new AbortController();
  requests.set(ticket, () => controller.abort());
  if (href === null) {
    setTimeout(() => done(WIRE.Outcome.BAD_URL, ""));
    return ticket;
  }
  const options = JSON.parse(init);
  options.signal = controller.signal;
  let response;
  try {
    response = fetch(href, options);
  } catch {
    response = Promise.reject();
  }
  response.then((r) => r.text().then((text) => done(r.status, text), failed), failed);
  return ticket;
}

// The loader's early mint record (its promise never rejects: {status, text}, or the
// failed shape of mintRequest), followed as a request of Python's own.
function adopt(record, answer, id) {
  const ticket = nextTicket++;
  const done = answering(ticket, answer, id);
  requests.set(ticket, record.abort);
  record.response.then((r) =>
    r.error === undefined ? done(r.status, r.text) : done(WIRE.Outcome.NETWORK_ERROR, ""),
  );
  return ticket;
}

function abort(ticket) {
  const stop = requests.get(ticket);
  if (stop === undefined) return;
  requests.delete(ticket);
  stop();
}

// The template helpers' "Loading" text, there for a page whose loader never runs: it stays
// while the embed is on its way, and goes once the iframe is in or the embed has failed.
function dropFallback(el) {
  for (const child of [...el.children]) {
    if (child.hasAttribute(WIRE.FALLBACK_ATTRIBUTE)) child.remove();
  }
}

// -- Boot ------------------------------------------------------------------------------

let failed = false;
let patienceTimer = null;

function bootFailed(message) {
  if (failed) return;
  failed = true;
  clearTimeout(patienceTimer);
  for (const record of untaken) record.abort();
  untaken.clear();
  console.error(WIRE.CONSOLE_PREFIX + message);
  for (const el of document.querySelectorAll(WIRE.CONTAINER_SELECTOR)) {
    if (states.has(el)) continue; // Python has it
    el.setAttribute(WIRE.STATE_ATTRIBUTE, WIRE.State.ERROR);
    dropFallback(el);
    el.dispatchEvent(
      new CustomEvent(WIRE.EVENT_PREFIX + WIRE.Event.ERROR, {
        bubbles: true,
        detail: { code: WIRE.ErrorCode.BOOT, message },
      }),
    );
  }
}

// PyScript reports none of its download failures: a missing interpreter module, .wasm or
// Pyodide file leaves a rejected promise nobody awaits (or, for some of Pyodide's files,
// nothing at all). Both are caught here, until the runtime is up:
// - an unhandled rejection whose text names a URL of this tree;
// - a preload link below that failed (a 404, a refused MIME type).
let watching = true;

function onRejection(event) {
  if (!watching) return;
  const reason = event.reason;
  let text = "";
  try {
    text =
      reason && typeof reason === "object"
        ? `${reason.message || ""}\n${reason.stack || ""}`
        : String(reason);
  } catch {
    return;
  }
  if (!text.includes(BASE)) return; // not ours: the host page's own business
  const said = (reason && reason.message) || String(reason);
  bootFailed(`the Python runtime failed to load: ${said.split("\n")[0]}`);
}

function preload(href, kind) {
  const link = document.createElement("link");
  if (kind === "module") {
    link.rel = "modulepreload"; // what import() asks for: same-origin credentials
  } else {
    // What fetch() asks for by default (mode cors, same-origin credentials), so the
    // runtime's own request is answered from this one.
    link.rel = "preload";
    link.as = "fetch";
    link.crossOrigin = "anonymous";
  }
  link.href = href;
  const failed = () => {
    if (watching) bootFailed(`could not load ${href}`);
  };
  link.addEventListener("error", failed);
  // Chromium fires `load`, not `error`, for a fetch preload answered 404; the response's
  // status is in its resource timing entry, where the browser reports one.
  link.addEventListener("load", () => {
    const entries = performance.getEntriesByName(link.href, "resource");
    const status = entries.length ? entries[entries.length - 1].responseStatus : undefined;
    if (typeof status === "number" && status >= 400) failed();
  });
  document.head.appendChild(link);
}

// Everything the chosen interpreter's boot will ask for, requested now: PyScript would
// otherwise find each only after the one before it arrived.
function preloadAll(opts, withPyScript) {
  const pyscript = BASE + TREE.pyscript;
  if (withPyScript) for (const name of TREE.modules) preload(pyscript + name, "module");
  const interp = TREE.interpreters[opts.runtime];
  const dir = BASE + interp.dir;
  preload(dir + interp.module, "module");
  for (const name of interp.modules) preload(dir + name, "module");
  for (const name of interp.fetch) preload(dir + name, "fetch");
}

// The bridge's Python files, fetched and unpacked here while the interpreter loads
// (the browser inflates far faster than Python in WebAssembly does): [[path, bytes], ...],
// or null once the failure is reported. The bundle is a line of JSON, [[path, size], ...],
// then the files' bytes one after another (meshes_bridge/assets.py, pack_bundle). With
// data-debug, MicroPython gets the sources instead of the bytecode: tracebacks with line
// numbers.
async function fetchBundle(opts) {
  const href = BASE + (opts.debug ? TREE.source : TREE.python)[opts.runtime];
  try {
    const response = await fetch(href);
    if (!response.ok) throw new Error(`HTTP ${response.status}`);
    // Read whole first: piped straight from the response, the inflater cancels the body
    // once the gzip data ends, and the browser reports the request as aborted.
    const packed = new Blob([await response.arrayBuffer()]);
    const inflated = packed.stream().pipeThrough(new DecompressionStream("gzip"));
    const bytes = new Uint8Array(await new Response(inflated).arrayBuffer());
    const end = bytes.indexOf(10); // the index's closing newline
    const index = JSON.parse(new TextDecoder().decode(bytes.subarray(0, end)));
    const files = [];
    let at = end + 1;
    for (const [path, size] of index) {
      files.push([path, bytes.subarray(at, at + size)]);
      at += size;
    }
    if (at !== bytes.length) throw new Error("truncated");
    return files;
  } catch (e) {
    bootFailed(`could not load ${href}: ${(e && e.message) || e}`);
    return null;
  }
}

// Into the interpreter's working directory (where its imports look first), as PyScript's
// own `files` config would put them.
function writeFiles(interpreter, files) {
  if (!files) return false;
  try {
    const FS = interpreter.FS;
    const cwd = FS.cwd().replace(/\/$/, "");
    for (const [path, bytes] of files) {
      const full = `${cwd}/${path}`;
      FS.mkdirTree(full.slice(0, full.lastIndexOf("/")));
      FS.writeFile(full, bytes);
    }
    return true;
  } catch (e) {
    bootFailed(`could not write the bridge's Python files: ${(e && e.message) || e}`);
    return false;
  }
}

function pyscriptConfig({ runtime, hooks, debug, timingsUrl }) {
  const interp = TREE.interpreters[runtime];
  return {
    interpreter: BASE + interp.dir + interp.module,
    plugins: PLUGINS,
    meshes_bridge: {
      runtime,
      hooks,
      debug,
      base: BASE,
      page: location.href,
      timings_url: timingsUrl,
    },
  };
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

// Before running any script, PyScript sets up its own `pyscript` Python package (writes a
// dozen files, then imports them). The bridge uses none of it, so on Pyodide without a
// hooks module (which may import it) the bridge starts first, straight on the interpreter,
// and PyScript's setup (the script element is empty, so that is all it runs) waits until
// every container has its embed authenticated (or failed), at most SETTLE_MS: the two do
// not add up. (On MicroPython without hooks PyScript is not loaded at all: see
// bootMicroPython().)
const SETTLE_MS = 1000;

function settled(cap) {
  const busy = () =>
    [...document.querySelectorAll(WIRE.CONTAINER_SELECTOR)].some((el) =>
      WIRE.State.BUSY.includes(stateOf(el)),
    );
  if (!busy()) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(() => done(), cap);
    stateChanged = () => {
      if (!busy()) done();
    };
    function done() {
      stateChanged = () => {};
      clearTimeout(timer);
      resolve();
    }
  });
}

async function runMain(interpreter) {
  try {
    await interpreter.runPythonAsync(MAIN); // MAIN reports its own failures; this is a net
    return true;
  } catch (e) {
    bootFailed(`the bridge could not start: ${(e && e.name) || "error"}`);
    return false;
  }
}

async function bridgeFirst(interpreter) {
  if (await runMain(interpreter)) await settled(SETTLE_MS);
}

// Without a hooks module, MicroPython needs nothing of PyScript's: the bridge reads its
// options and talks to the page through the interpreter's own `js` module and the relay.
// So the loader starts the interpreter itself, as PyScript would (the same module, .wasm
// and console output), and PyScript is never fetched: its core chunk (49 KB) is no longer
// downloaded, evaluated and set up before the interpreter can start. The bridge finds its
// options where PyScript puts them, in the `polyscript` module's `config`.
async function bootMicroPython(opts, loading, bundle, up) {
  let interpreter;
  try {
    const { loadMicroPython } = await loading;
    interpreter = await loadMicroPython({
      url: interpreterUrl(opts).replace(/\.m?js$/, ".wasm"),
      stdout: (line) => console.log(line),
      stderr: (line) => console.error(line),
    });
    interpreter.registerJsModule("polyscript", { config: pyscriptConfig(opts) });
  } catch (e) {
    bootFailed(`the Python runtime failed to load: ${(e && e.message) || e}`);
    return;
  }
  const written = writeFiles(interpreter, await bundle);
  up();
  if (written) await runMain(interpreter);
}

function interpreterUrl(opts) {
  const interp = TREE.interpreters[opts.runtime];
  return BASE + interp.dir + interp.module;
}

async function start() {
  // Several copies of the tag (or query-string variants of it) must boot only once.
  if (!WIRE) {
    // Served as it is in the source tree: no names to speak to Python or the host with.
    console.error("loader.js was not built by `meshes-bridge static` (no wire constants)");
    return;
  }
  const once = Symbol.for(WIRE.LOADER_KEY);
  if (globalThis[once]) return;
  globalThis[once] = true;

  // Python's one way to the early mint records: each is taken once, then gone from here.
  // Set by the copy that boots, so a second copy of this module cannot hide the records.
  globalThis[Symbol.for(WIRE.EARLY_KEY)] = takeEarly;
  globalThis[Symbol.for(WIRE.RELAY_KEY)] = relay;
  const opts = settings(ownScript());
  if (opts.earlyMint) mintEarly();

  // Give hosts a state to style before Python runs; Python owns it from here on.
  for (const el of document.querySelectorAll(WIRE.CONTAINER_SELECTOR)) {
    if (!el.hasAttribute(WIRE.STATE_ATTRIBUTE)) {
      el.setAttribute(WIRE.STATE_ATTRIBUTE, WIRE.State.BOOTING);
    }
  }
  if (!TREE) {
    bootFailed("loader.js was not built by `meshes-bridge static` (no tree manifest)");
    return;
  }
  if (!TREE.interpreters[opts.runtime] || !TREE.python[opts.runtime]) {
    // A tree written with `meshes-bridge static DIR --runtime <the other one>`.
    const held = Object.keys(TREE.interpreters).join(", ") || "none";
    bootFailed(
      `this asset tree has no ${opts.runtime} runtime (it holds: ${held}): write it with ` +
        `\`meshes-bridge static DIR --runtime ${opts.runtime}\` or \`--runtime all\`, ` +
        `or set data-runtime to one it holds`,
    );
    return;
  }
  addEventListener("unhandledrejection", onRejection);
  // Still the last resort: Python's first act is to give every container a state, so one
  // without much later means Python never ran. Pyodide is 13 MB:
  // give it time on slow links.
  const patience = opts.runtime === WIRE.PYODIDE ? 120000 : 30000;
  patienceTimer = setTimeout(() => {
    const stuck = [...document.querySelectorAll(WIRE.CONTAINER_SELECTOR)].filter(
      (el) => !states.has(el),
    );
    if (stuck.length) bootFailed(`the Python runtime did not start within ${patience / 1000} s`);
  }, patience);
  let started = false;
  const up = () => {
    // The interpreter and the bridge's files are in: from here on Python reports its
    // own failures.
    started = true;
    runtimeReadyAt = performance.now();
    watching = false;
    removeEventListener("unhandledrejection", onRejection);
  };

  // Without a hooks module the bridge's Python runs first: on MicroPython with no PyScript
  // at all (bootMicroPython), on Pyodide before PyScript's own package (bridgeFirst).
  const first = opts.hooks === null;
  if (first && opts.runtime !== WIRE.PYODIDE) {
    const loading = import(interpreterUrl(opts)); // first: everything else waits for it
    preloadAll(opts, false);
    await bootMicroPython(opts, loading, fetchBundle(opts), up);
    return;
  }

  // PyScript reads its config once, when core.js is first imported, from tags already in
  // the document: so they must exist before the import below. PyScript also reads a
  // config for its other script type; without one it would fetch every plugin chunk for
  // it, so that type gets the same plugin list.
  const type = opts.runtime === WIRE.PYODIDE ? "py" : "mpy";
  const script = document.createElement("script");
  script.type = type;
  script.setAttribute("config", JSON.stringify(pyscriptConfig(opts)));
  // PyScript reads the text; a browser never runs a script of this type (no CSP applies).
  script.textContent = first ? "" : MAIN;
  const other = document.createElement(type === "py" ? "mpy-config" : "py-config");
  other.textContent = JSON.stringify({ plugins: PLUGINS });
  document.head.append(other, script);

  const core = BASE + TREE.pyscript + TREE.core;
  const loading = import(core); // first: everything else waits for it
  preloadAll(opts, true);
  const bundle = fetchBundle(opts);

  let pyscript;
  try {
    pyscript = await loading;
  } catch (e) {
    // A 404 or a CSP refusal: without this the containers would say "booting" forever.
    bootFailed(`could not load PyScript from ${core}: ${e && e.message}`);
    return;
  } finally {
    other.remove(); // read when core.js evaluated; of no use from here on
  }
  // The chunk core.js re-exports, imported straight away: `hooks` has a short name there.
  const hooks = pyscript[TREE.hooks || "hooks"];
  withoutWorkerHooks(hooks);
  hooks.main.onReady.add(async function ready(wrap, element) {
    if (element !== script) return;
    hooks.main.onReady.delete(ready);
    // PyScript awaits this hook before it reads the script's text: MAIN finds the files.
    const written = writeFiles(wrap.interpreter, await bundle);
    up();
    if (!written) {
      script.textContent = ""; // reported already: nothing of the bridge's can run
      return;
    }
    if (first) await bridgeFirst(wrap.interpreter);
  });
  // PyScript reads the script's text right after this event: should the hook above ever
  // have missed its moment, main.py still runs, finds none of the bridge's files (only the
  // hook writes them) and says on every container that the bridge could not start.
  script.addEventListener(`${type}:ready`, () => {
    if (started) return;
    up();
    script.textContent = MAIN;
  });
}

start();
