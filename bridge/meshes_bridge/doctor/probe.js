// The doctor's probe, installed in the page before any of its scripts (Playwright's init
// script; CSP does not apply to it). It only records: every container's data-state
// changes (a MutationObserver), the bridge's meshes-bridge:* events and every
// securitypolicyviolation, each with performance.now(). The doctor reads
// window.__meshesDoctor when it stops. `__DOCTOR__` is replaced with the settings.
(() => {
  if (window.top !== window || window.__meshesDoctor) return;
  const settings = __DOCTOR__;
  const seen = window.__meshesDoctor = {
    timeOrigin: performance.timeOrigin, containers: [], violations: [], loadedAt: null,
  };
  const records = new WeakMap();
  const clone = (value) => {
    try { return JSON.parse(JSON.stringify(value === undefined ? null : value)); }
    catch (e) { return null; }
  };
  const attributes = (element) => {
    const out = {};
    for (const attr of element.attributes) out[attr.name] = attr.value;
    return out;
  };
  const record = (element) => {
    let entry = records.get(element);
    if (entry) return entry;
    entry = {
      index: seen.containers.length, attributes: attributes(element), states: [],
      events: [], timings: null, found: performance.now(), removed: null,
    };
    records.set(element, entry);
    seen.containers.push(entry);
    note(element, entry);
    return entry;
  };
  const note = (element, entry) => {
    const state = element.getAttribute(settings.stateAttribute);
    const last = entry.states[entry.states.length - 1];
    if (state !== null && (!last || last.state !== state)) {
      entry.states.push({state: state, t: performance.now()});
    }
  };
  const runtimeOverride = (node) => {
    if (!settings.runtime || node.tagName !== "SCRIPT") return;
    const src = node.getAttribute("src") || "";
    if (/(^|\/)loader\.js(\?|#|$)/.test(src)) node.setAttribute("data-runtime", settings.runtime);
  };
  const visit = (node) => {
    if (node.nodeType !== 1) return;
    runtimeOverride(node);
    if (node.matches(settings.selector)) record(node);
    for (const child of node.querySelectorAll(settings.selector + ", script[src]")) {
      runtimeOverride(child);
      if (child.matches(settings.selector)) record(child);
    }
  };
  new MutationObserver((mutations) => {
    for (const m of mutations) {
      if (m.type === "attributes") {
        if (m.target.matches(settings.selector)) note(m.target, record(m.target));
        continue;
      }
      for (const node of m.addedNodes) visit(node);
      for (const node of m.removedNodes) {
        const entry = node.nodeType === 1 ? records.get(node) : null;
        if (entry && !node.isConnected) entry.removed = performance.now();
      }
    }
  }).observe(document, {
    subtree: true, childList: true, attributes: true,
    attributeFilter: [settings.stateAttribute, "data-meshes-embed"],
  });
  for (const name of settings.events) {
    document.addEventListener(settings.eventPrefix + name, (event) => {
      const element = event.target && event.target.closest
        ? event.target.closest(settings.selector) : null;
      if (!element) return;
      const entry = record(element);
      note(element, entry);
      const detail = clone(event.detail);
      if (name === "timings") {
        if (entry.timings === null) entry.timings = detail;
        return;
      }
      if (entry.events.length < 200) {
        entry.events.push({name: name, detail: detail, t: performance.now()});
      }
    }, true);
  }
  document.addEventListener("securitypolicyviolation", (e) => {
    if (seen.violations.length >= 100) return;
    seen.violations.push({
      directive: e.effectiveDirective, violated: e.violatedDirective,
      blocked: e.blockedURI, source: e.sourceFile, line: e.lineNumber,
      disposition: e.disposition, t: performance.now(),
    });
  }, true);
  window.addEventListener("load", () => { seen.loadedAt = performance.now(); });
})();
