// Stub Meshes embed: the page script served at /stub/embed.js on the EMBED origin.
// It behaves like the real embed as the contract describes it (see stub_embed.py).
// The access token lives only in the `token` variable of this closure: never in the
// DOM, the URL, storage, the console, a report or window.stub.
(() => {
  "use strict";

  const cfg = JSON.parse(document.getElementById("stub-config").textContent);
  const hostOrigin = cfg.hostOrigin;
  const app = document.getElementById("app");
  const statusEl = document.getElementById("stub-status");

  let token = null; // the current access token; see the note above
  let authSeq = 0; // each meshes:auth gets a number; a late answer for an older one is dropped
  let refreshTimer = null;
  let expiryTimer = null;
  let observer = null;
  let lastPostedHeight = null;

  const state = {
    authenticated: false,
    session_id: cfg.sessionId,
    page: cfg.page,
    auth_count: 0,
    refresh_asks: 0,
    last_token_valid: null,
    ready_posts: 0,
    expired_posts: 0,
    resize_posts: 0,
    last_resize: null,
    navigations: 0,
    token_generation: null,
  };

  // Reports go to the server's transcript one after another, so their order is kept.
  let reportChain = Promise.resolve();
  function report(event, fields) {
    const body = JSON.stringify(
      Object.assign({ event, session_id: cfg.sessionId, page: state.page }, fields || {})
    );
    reportChain = reportChain
      .then(() =>
        fetch(cfg.reportUrl, {
          method: "POST",
          headers: { "Content-Type": "application/json" },
          body,
          keepalive: true,
        })
      )
      .catch(() => {});
    return reportChain;
  }

  function post(message) {
    window.parent.postMessage(message, hostOrigin);
  }

  function setStatus(text) {
    statusEl.textContent = text;
  }

  function clearTimers() {
    clearTimeout(refreshTimer);
    clearTimeout(expiryTimer);
    refreshTimer = null;
    expiryTimer = null;
  }

  // -- iframe -> host ----------------------------------------------------------------

  function postReady() {
    post({ type: "meshes:ready" });
    state.ready_posts += 1;
    report("ready");
  }

  function askRefresh(reason) {
    post({ type: "meshes:token-refresh" });
    state.refresh_asks += 1;
    report("refresh-asked", { reason: reason || "test" });
  }

  function postExpired(reason) {
    clearTimers();
    token = null;
    state.authenticated = false;
    setStatus("Session expired: waiting for a new token");
    post({ type: "meshes:token-expired" });
    state.expired_posts += 1;
    report("expired", { reason: reason || "test" });
  }

  function contentHeight() {
    return Math.ceil(app.getBoundingClientRect().height);
  }

  function postResize(height, force) {
    if (!force && height === lastPostedHeight) return;
    lastPostedHeight = height;
    post({ type: "meshes:resize", height });
    state.resize_posts += 1;
    state.last_resize = height;
    report("resize", { height });
  }

  function startResizing() {
    if (observer === null && typeof ResizeObserver === "function") {
      observer = new ResizeObserver(() => postResize(contentHeight(), false));
      observer.observe(app);
    }
    postResize(contentHeight(), true);
  }

  function navigate(page) {
    if (!cfg.pages.includes(page)) throw new Error("unknown page: " + page);
    state.page = page;
    state.navigations += 1;
    for (const section of document.querySelectorAll("section[data-page]")) {
      section.hidden = section.dataset.page !== page;
    }
    for (const link of document.querySelectorAll("nav a[data-page]")) {
      link.classList.toggle("active", link.dataset.page === page);
    }
    const path = "/workspace/" + page;
    history.pushState({ page }, "", path);
    post({ type: "meshes:navigate", page, path });
    report("navigate", { path });
  }

  // -- host -> iframe ------------------------------------------------------------------

  function schedule(expiresIn, lifetime) {
    clearTimers();
    const lead = Math.min(60, lifetime / 2);
    const refreshIn = Math.max(0, expiresIn - lead) * 1000;
    refreshTimer = setTimeout(() => askRefresh("scheduled"), refreshIn);
    expiryTimer = setTimeout(() => postExpired("token expired"), Math.max(0, expiresIn) * 1000);
  }

  async function onAuth(candidate) {
    const seq = ++authSeq;
    state.auth_count += 1;
    token = candidate;
    let response;
    let answer = {};
    try {
      response = await fetch(cfg.whoamiUrl, {
        headers: { Authorization: "Bearer " + token },
        cache: "no-store",
      });
      answer = await response.json();
    } catch (error) {
      if (seq === authSeq) report("auth", { valid: false, status: 0, reason: "network error" });
      return;
    }
    if (seq !== authSeq) return; // a newer meshes:auth arrived meanwhile
    if (response.status === 200 && answer.session_id === cfg.sessionId) {
      state.authenticated = true;
      state.last_token_valid = true;
      state.token_generation = answer.generation;
      setStatus("Authenticated (session " + answer.session_id + ")");
      report("auth", {
        valid: true,
        status: 200,
        generation: answer.generation,
        expires_in: answer.expires_in,
      });
      schedule(answer.expires_in, answer.lifetime_seconds);
      startResizing();
      return;
    }
    // A stale, expired, revoked or foreign token: ask the host for a fresh one.
    const reason = response.status === 200 ? "token of another session" : answer.error;
    clearTimers();
    token = null;
    state.authenticated = false;
    state.last_token_valid = false;
    setStatus(response.status === 401 ? "Authentication required" : "Token refused");
    report("auth", { valid: false, status: response.status, reason });
    askRefresh("stale token");
  }

  function shortType(data) {
    if (data && typeof data === "object" && typeof data.type === "string") {
      return data.type.slice(0, 40);
    }
    return typeof data;
  }

  window.addEventListener("message", (event) => {
    if (event.origin !== hostOrigin || event.source !== window.parent) {
      const reason = event.origin !== hostOrigin ? "wrong origin" : "wrong source";
      report("ignored", { reason, origin: event.origin, type: shortType(event.data) });
      return;
    }
    const data = event.data;
    if (
      data === null ||
      typeof data !== "object" ||
      data.type !== "meshes:auth" ||
      typeof data.token !== "string"
    ) {
      report("ignored", { reason: "not a well-formed meshes:auth", type: shortType(data) });
      return;
    }
    onAuth(data.token);
  });

  for (const link of document.querySelectorAll("nav a[data-page]")) {
    link.addEventListener("click", (event) => {
      event.preventDefault();
      navigate(link.dataset.page);
    });
  }

  // -- test control API (Playwright: frame.evaluate("window.stub.askRefresh()")) ------

  window.stub = Object.freeze({
    askRefresh: () => askRefresh("test"),
    expire: () => postExpired("test"),
    resize: (height) => {
      app.style.height = height + "px";
      postResize(height, true);
    },
    navigate: (page) => navigate(page),
    postRaw: (message) => {
      post(message);
      report("raw-posted", { type: shortType(message) });
    },
    ready: () => postReady(),
    reload: () => location.reload(),
    status: () => Object.assign({}, state),
    flushReports: () => reportChain,
  });

  // -- ready ---------------------------------------------------------------------------
  // The listener above exists first. With no delay, ready is posted right now, while the
  // page is still loading (before its load event); else after load + delay, like an SPA.
  if (cfg.readyDelayMs > 0) {
    window.addEventListener("load", () => setTimeout(postReady, cfg.readyDelayMs));
  } else {
    postReady();
  }
})();
