// The benchmark's probe, added to every frame of a measured page before its own scripts
// (Playwright's add_init_script), identically for the baseline and the bridge. It only
// records; it never answers a message. BENCH_CONFIG is replaced with {embedOrigin}.
(() => {
  "use strict";
  const cfg = BENCH_CONFIG;
  const now = () => performance.timeOrigin + performance.now(); // ms since the epoch

  if (window.top === window) {
    // The host page: WebAssembly memories (their bytes are outside V8's heap figures).
    const memories = [];
    const noteMemory = (value) => {
      if (value instanceof WebAssembly.Memory) memories.push(new WeakRef(value));
    };
    const noteImports = (imports) => {
      if (imports && typeof imports === "object") {
        for (const module of Object.values(imports)) {
          if (module && typeof module === "object") Object.values(module).forEach(noteMemory);
        }
      }
    };
    const noteResult = (result) => {
      const instance = result instanceof WebAssembly.Instance ? result : result.instance;
      if (instance) Object.values(instance.exports).forEach(noteMemory);
      return result;
    };
    const instantiate = WebAssembly.instantiate;
    WebAssembly.instantiate = function (source, imports) {
      noteImports(imports);
      return instantiate.apply(this, arguments).then(noteResult);
    };
    const streaming = WebAssembly.instantiateStreaming;
    if (streaming) {
      WebAssembly.instantiateStreaming = function (source, imports) {
        noteImports(imports);
        return streaming.apply(this, arguments).then(noteResult);
      };
    }
    const Instance = WebAssembly.Instance;
    const BenchInstance = function (module, imports) {
      noteImports(imports);
      return noteResult(new Instance(module, imports));
    };
    BenchInstance.prototype = Instance.prototype;
    WebAssembly.Instance = BenchInstance;

    window.__bench = {
      wasmBytes() {
        let total = 0;
        for (const ref of memories) {
          const memory = ref.deref();
          if (memory) total += memory.buffer.byteLength;
        }
        return total;
      },
      iframe() {
        return document.querySelector("[data-meshes-embed] iframe");
      },
      // Resolves once the iframe's style.height is `height` px, and counts the writes to
      // its style attribute meanwhile (one MutationObserver record each).
      watchHeight(height, timeoutMs) {
        const iframe = this.iframe();
        const state = { writes: 0 };
        state.done = new Promise((resolve, reject) => {
          const observer = new MutationObserver((records) => {
            state.writes += records.length;
            if (iframe.style.height === height + "px") {
              observer.disconnect();
              resolve(state.writes);
            }
          });
          observer.observe(iframe, { attributes: true, attributeFilter: ["style"] });
          setTimeout(() => {
            observer.disconnect();
            reject(new Error("the iframe's height never became " + height + " px"));
          }, timeoutMs);
        });
        this.heightWatch = state;
      },
      // Resolves when the message `marker` (a string) arrives: the flood's last message.
      watchMarker(marker, timeoutMs) {
        this.markerSeen = new Promise((resolve, reject) => {
          const listener = (event) => {
            if (event.data === marker) {
              window.removeEventListener("message", listener);
              resolve(now());
            }
          };
          window.addEventListener("message", listener);
          setTimeout(() => reject(new Error("the flood's marker never arrived")), timeoutMs);
        });
      },
    };
    return;
  }

  if (location.origin === cfg.embedOrigin && location.pathname.startsWith("/workspace/")) {
    // The embed: when did it receive each meshes:auth from its parent? Registered before
    // the stub's own listener, so it runs first, in the same dispatch.
    const auths = [];
    let waiters = [];
    window.addEventListener(
      "message",
      (event) => {
        const data = event.data;
        if (event.source !== window.parent || data === null || typeof data !== "object") return;
        if (data.type !== "meshes:auth") return;
        auths.push(now());
        const ready = waiters;
        waiters = [];
        ready.forEach((resolve) => resolve());
      },
      true,
    );
    const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
    window.__bench = {
      auths: () => auths.slice(),
      // `count` refresh round trips: the embed asks (meshes:token-refresh) -> it receives
      // meshes:auth; each waits until the stub has validated the new token.
      async refreshRoundTrips(count, timeoutMs) {
        const times = [];
        for (let i = 0; i < count; i += 1) {
          const generation = window.stub.status().token_generation;
          const before = auths.length;
          const received = new Promise((resolve) => waiters.push(resolve));
          const start = now();
          window.stub.askRefresh();
          await Promise.race([received, sleep(timeoutMs)]);
          if (auths.length === before) throw new Error("no meshes:auth after a refresh ask");
          times.push(auths[before] - start);
          const deadline = now() + timeoutMs;
          while (window.stub.status().token_generation === generation && now() < deadline) {
            await sleep(5);
          }
          if (!window.stub.status().authenticated) throw new Error("the new token was refused");
          await sleep(20);
        }
        return times;
      },
    };
  }
})();
