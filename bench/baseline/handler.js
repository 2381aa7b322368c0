// The baseline: the host-side handler the Meshes docs describe, written by hand in plain
// JavaScript, for containers marked up as the bridge's are (data-session-url,
// data-refresh-url). Listen first; accept a message only from the embed's origin and its
// iframe's window; on meshes:ready post meshes:auth to that exact origin; on
// meshes:token-refresh POST the refresh endpoint and post the new token; apply
// meshes:resize, clamped to 480 px. It mints by POSTing the host's endpoint, then mounts
// the iframe. Containers added later are mounted and removed ones torn down (so the
// benchmark can mount and unmount it as it does the bridge).
(() => {
  "use strict";
  const MIN_HEIGHT = 480;
  const mounted = new Map(); // container -> teardown

  function postJSON(url, body) {
    return fetch(url, {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json" },
      body,
    }).then((response) => {
      if (!response.ok) throw new Error("HTTP " + response.status);
      return response.json();
    });
  }

  function mount(container) {
    let session = null;
    let iframe = null;
    let embedOrigin = null;

    function sendToken() {
      iframe.contentWindow.postMessage(
        { type: "meshes:auth", token: session.access_token },
        embedOrigin,
      );
    }

    function refresh() {
      const url = container.dataset.refreshUrl.replace(
        "{session_id}",
        encodeURIComponent(session.session_id),
      );
      postJSON(url, "{}").then((answer) => {
        session.access_token = answer.access_token;
        session.expires_at = answer.expires_at;
        sendToken();
      }, () => {});
    }

    function onMessage(event) {
      if (iframe === null || event.origin !== embedOrigin) return;
      if (event.source !== iframe.contentWindow) return;
      const data = event.data;
      if (data === null || typeof data !== "object") return;
      switch (data.type) {
        case "meshes:ready":
          sendToken();
          break;
        case "meshes:token-refresh":
        case "meshes:token-expired":
          refresh();
          break;
        case "meshes:resize":
          if (typeof data.height === "number") {
            iframe.style.height = Math.max(MIN_HEIGHT, data.height) + "px";
          }
          break;
      }
    }

    window.addEventListener("message", onMessage);
    postJSON(container.dataset.sessionUrl, container.dataset.sessionBody || "{}").then(
      (answer) => {
        if (!mounted.has(container)) return;
        session = answer;
        embedOrigin = new URL(answer.launch_url).origin;
        iframe = document.createElement("iframe");
        iframe.style.cssText = "width: 100%; border: 0; height: " + MIN_HEIGHT + "px";
        iframe.src = answer.launch_url;
        container.appendChild(iframe);
      },
      () => {},
    );
    return () => window.removeEventListener("message", onMessage);
  }

  function scan() {
    for (const container of document.querySelectorAll("[data-meshes-embed]")) {
      if (!mounted.has(container)) mounted.set(container, mount(container));
    }
    for (const [container, teardown] of mounted) {
      if (!container.isConnected) {
        mounted.delete(container);
        teardown();
      }
    }
  }

  new MutationObserver(scan).observe(document.documentElement, { childList: true, subtree: true });
  scan();
})();
