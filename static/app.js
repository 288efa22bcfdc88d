// Small progressive enhancements for the server-rendered pages. No inline scripts, no eval:
// the Content-Security-Policy allows only files from this site.
(function () {
  "use strict";

  const MAX_LIVE_ROWS = 50;

  // Live connection indicator, driven by the htmx ws extension's events.
  function setConnection(state, text) {
    const badge = document.getElementById("conn");
    if (!badge) return;
    badge.dataset.state = state;
    badge.textContent = text;
  }
  document.addEventListener("htmx:wsOpen", () => setConnection("open", "live"));
  document.addEventListener("htmx:wsClose", () => setConnection("closed", "reconnecting…"));
  document.addEventListener("htmx:wsError", () => setConnection("closed", "reconnecting…"));
  document.addEventListener("DOMContentLoaded", () => {
    if (!document.querySelector("[ws-connect]")) setConnection("static", "");
  });

  // One row per order. The form's response and the live push can both insert the same
  // order; keep the row that has seen the most events. Also keep the live table short.
  function tidy(tbody) {
    const seen = new Map();
    for (const row of Array.from(tbody.querySelectorAll(":scope > tr[id^='order-']"))) {
      const other = seen.get(row.id);
      if (!other) { seen.set(row.id, row); continue; }
      const keep = Number(row.dataset.seq) > Number(other.dataset.seq) ? row : other;
      (keep === row ? other : row).remove();
      seen.set(row.id, keep);
    }
    if (tbody.id === "recent-rows") {
      const rows = tbody.querySelectorAll(":scope > tr");
      for (let i = MAX_LIVE_ROWS; i < rows.length; i++) rows[i].remove();
    }
    const empty = document.getElementById(tbody.id + "-empty");
    if (empty && tbody.children.length) empty.remove();
  }
  function watchRows() {
    for (const tbody of document.querySelectorAll("tbody[id$='-rows']")) {
      if (tbody.dataset.watched) continue;
      tbody.dataset.watched = "1";
      new MutationObserver(() => tidy(tbody)).observe(tbody, { childList: true });
    }
  }
  document.addEventListener("DOMContentLoaded", watchRows);
  document.addEventListener("htmx:afterSettle", watchRows);

  // "12 s ago" for times in tables; the server writes the absolute time as a fallback.
  function ages() {
    const now = Date.now();
    for (const el of document.querySelectorAll("table.orders time[datetime]")) {
      const seconds = Math.max(0, Math.round((now - Date.parse(el.getAttribute("datetime"))) / 1000));
      el.textContent = seconds < 60 ? seconds + " s ago"
        : seconds < 3600 ? Math.floor(seconds / 60) + " min ago"
        : seconds < 86400 ? Math.floor(seconds / 3600) + " h ago"
        : el.getAttribute("datetime").slice(0, 10);
    }
  }
  setInterval(ages, 1000);
  document.addEventListener("DOMContentLoaded", ages);
  document.addEventListener("htmx:afterSettle", ages);
  document.addEventListener("htmx:wsAfterMessage", ages);

  // The form's idempotency key: one per order. A repeat of a request (a double-click, a
  // retried submit) reuses it and the server places one order; once an order is placed,
  // the next one gets a new key.
  function newKey() {
    if (window.crypto && crypto.randomUUID) return crypto.randomUUID();
    const bytes = crypto.getRandomValues(new Uint8Array(16));
    return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
  }
  // A new key once the order is changed after placing one: submitting the same order again
  // (a double-click, Enter pressed twice) is answered with the order already placed.
  function say(text) {
    const status = document.getElementById("form-status");
    if (status) status.textContent = text;
  }
  document.addEventListener("htmx:afterRequest", (event) => {
    const form = event.detail.elt;
    if (!form || form.id !== "order-form" || !event.detail.successful) return;
    form.dataset.placed = "1";
  });
  document.addEventListener("orderRepeated", () => {
    say("Already placed: it is in the table below. Change the order to place another.");
  });
  function freshKeyOnEdit(event) {
    const form = event.target.closest && event.target.closest("#order-form");
    if (!form || !form.dataset.placed) return;
    delete form.dataset.placed;
    const key = document.getElementById("idempotency-key");
    if (key) key.value = newKey();
    say("");
  }
  document.addEventListener("input", freshKeyOnEdit);
  document.addEventListener("change", freshKeyOnEdit);

  // The order type: show the fields of the chosen type only (others are not sent).
  function showKind(form) {
    const chosen = form.querySelector("input[name=type]:checked") || form.querySelector("input[name=type]");
    if (!chosen) return;
    for (const block of form.querySelectorAll(".kind-fields")) {
      const mine = block.dataset.kind === chosen.value;
      block.hidden = !mine;
      for (const input of block.querySelectorAll("input, select")) input.disabled = !mine;
    }
    const button = form.querySelector("button[type=submit]");
    if (button) button.textContent = "Place " + chosen.value + " order";
  }
  document.addEventListener("change", (event) => {
    if (event.target.name === "type") showKind(event.target.form);
  });
  document.addEventListener("DOMContentLoaded", () => {
    const form = document.getElementById("order-form");
    if (form) showKind(form);
  });
  document.addEventListener("htmx:afterSettle", () => {
    const form = document.getElementById("order-form");
    if (form) showKind(form);
  });

  // Waiting limit orders: how far each is from its limit, now. One request for every such
  // order on the page, every few seconds while the page is visible; the answer swaps each
  // distance in by id.
  const GAP_EVERY_MS = 2000;
  let gapTimer = null;
  function pollGaps() {
    if (document.hidden || !window.htmx) return;
    const ids = Array.from(document.querySelectorAll("[data-gap]"), (el) => el.dataset.gap);
    if (!ids.length) return;
    const query = new URLSearchParams(ids.slice(0, 100).map((id) => ["id", id]));
    htmx.ajax("GET", "/partials/gaps?" + query, { target: "body", swap: "none" });
  }
  function soonGaps() {
    // New rows (placed, pushed) learn their distance at once, not at the next round.
    clearTimeout(gapTimer);
    gapTimer = setTimeout(pollGaps, 150);
  }
  setInterval(pollGaps, GAP_EVERY_MS);
  document.addEventListener("htmx:wsAfterMessage", () => {
    if (document.querySelector("[data-gap]")) soonGaps();
  });
  document.addEventListener("visibilitychange", soonGaps);

  // What the server says about an action that did not do what was asked (a Cancel too late).
  document.addEventListener("notice", (event) => {
    const notice = document.getElementById("notice");
    if (notice) notice.textContent = event.detail.value;
  });

  // The order form: only offer tokens that trade with the one being sold; show slippage in %.
  function enhanceForm() {
    const form = document.getElementById("order-form");
    if (!form || form.dataset.enhanced) return;
    form.dataset.enhanced = "1";
    const counterparts = JSON.parse(form.dataset.counterparts || "{}");
    const tokenIn = form.elements.namedItem("tokenIn");
    const tokenOut = form.elements.namedItem("tokenOut");
    const slippage = form.elements.namedItem("slippageBps");
    const hint = document.getElementById("slippage-hint");
    function limitTokens() {
      const allowed = counterparts[tokenIn.value] || [];
      for (const option of tokenOut.options) option.disabled = !allowed.includes(option.value);
      if (tokenOut.selectedOptions[0] && tokenOut.selectedOptions[0].disabled && allowed.length) {
        tokenOut.value = allowed[0];
        tokenOut.dispatchEvent(new Event("change", { bubbles: true }));
      }
    }
    function showSlippage() {
      const bps = Number(slippage.value);
      hint.textContent = Number.isFinite(bps) && slippage.value !== "" ? "= " + (bps / 100).toFixed(2) + " %" : "";
    }
    // A placed order clears the previous attempt's error messages.
    form.addEventListener("htmx:afterRequest", (event) => {
      if (!event.detail.successful) return;
      for (const el of form.querySelectorAll(".field-error")) el.textContent = "";
      for (const el of form.querySelectorAll("[aria-invalid]")) el.removeAttribute("aria-invalid");
    });
    tokenIn.addEventListener("change", limitTokens);
    slippage.addEventListener("input", showSlippage);
    limitTokens();
    showSlippage();
  }
  document.addEventListener("DOMContentLoaded", enhanceForm);
  document.addEventListener("htmx:afterSettle", enhanceForm);
})();
