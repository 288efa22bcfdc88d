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
  function say(text, link, kind) {
    const status = document.getElementById("form-status");
    if (!status) return;
    status.textContent = text;
    status.dataset.kind = kind || "info";
    if (link) {
      const a = document.createElement("a");
      a.href = link.href;
      a.textContent = link.text;
      status.append(" ", a);
    }
  }
  document.addEventListener("htmx:afterRequest", (event) => {
    const form = event.detail.elt;
    if (!form || form.id !== "order-form" || !event.detail.successful) return;
    form.dataset.placed = "1";
  });
  // Orders placed from this page are followed to their end: when one confirms or fails,
  // the notice says so (a live region: screen readers announce it) and so does the tab's
  // title until the page is looked at again.
  const followed = new Set();
  const TITLE = document.title;
  function announceEnds() {
    for (const id of Array.from(followed)) {
      const row = document.getElementById("order-" + id);
      if (!row || !["confirmed", "failed"].includes(row.dataset.status)) continue;
      followed.delete(id);
      const out = row.querySelector(".c-out");
      const what = out ? out.textContent.replace(/\s+/g, " ").trim() : "";
      const text = row.dataset.status === "confirmed"
        ? "Order " + id.slice(-8) + " filled: " + what
        : "Order " + id.slice(-8) + " failed: " + what;
      const notice = document.getElementById("notice");
      if (notice) notice.textContent = text;
      if (document.hidden) document.title = (row.dataset.status === "confirmed" ? "✓ " : "✗ ") + text;
    }
  }
  document.addEventListener("visibilitychange", () => { if (!document.hidden) document.title = TITLE; });
  document.addEventListener("htmx:wsAfterMessage", announceEnds);
  document.addEventListener("htmx:afterSettle", announceEnds);
  document.addEventListener("orderPlaced", (event) => {
    const placed = event.detail || {};
    if (placed.id && !placed.repeat) followed.add(placed.id);
    const link = { href: "/orders/" + placed.id, text: "Follow it" };
    if (placed.repeat) {
      say("Already placed: this is the same order. Change the order to place another.", link);
    } else {
      say("Placed: it is at the top of Recent orders.", link, "ok");
    }
  });

  // What a failed submit means for the trader. Every retry carries the same idempotency
  // key, so pressing Place again can never place the order twice.
  const AGAIN = " Pressing Place again is safe: the same order is never placed twice.";
  function failure(status) {
    if (status === 401) return "You are signed out: sign in again, then place the order.";
    if (status === 403) return "Refused (403): the page's session has expired or your key may not trade. Reload the page, then place the order again.";
    if (status === 413 || status === 400) return "The server could not read this form (" + status + "): reload the page.";
    if (status === 503) return "The engine is briefly unavailable (503): nothing was placed." + AGAIN;
    if (status === 504) return "The engine did not answer in time (504): the order may or may not be placed." + AGAIN;
    if (status >= 500) return "The server failed (" + status + ")." + AGAIN;
    return "Not placed (" + status + ").";
  }
  document.addEventListener("htmx:responseError", (event) => {
    if (!event.detail.elt || event.detail.elt.id !== "order-form") return;
    say(failure(event.detail.xhr.status), null, "error");
  });
  for (const name of ["htmx:sendError", "htmx:timeout"]) {
    document.addEventListener(name, (event) => {
      if (!event.detail.elt || event.detail.elt.id !== "order-form") return;
      say("No answer: the network or the server is down, so the order may not have been sent." + AGAIN, null, "error");
    });
  }
  // After an error re-renders the form, focus goes to the first field to fix.
  document.addEventListener("htmx:afterSettle", (event) => {
    const form = event.detail.elt;
    if (!form || form.id !== "order-form") return;
    const wrong = form.querySelector("[aria-invalid=true]");
    if (wrong) wrong.focus();
  });

  // Before sending: a market order with more than 1 % slippage or price impact is placed
  // only once the trader confirms it; nothing is sent while no venue can fill it.
  const RISKY_BPS = 100;
  function chosenKind(form) {
    const chosen = form.querySelector("input[name=type]:checked") || form.querySelector("input[name=type]");
    return chosen ? chosen.value : "market";
  }
  document.addEventListener("htmx:confirm", (event) => {
    const form = event.detail.elt;
    if (!form || form.id !== "order-form" || chosenKind(form) !== "market") return;
    const preview = document.getElementById("quote-preview");
    if (preview && preview.dataset.fillable === "no") {
      event.preventDefault();
      say("No venue can fill this amount now: try a smaller one.", null, "error");
      return;
    }
    const slippage = Number((form.elements.namedItem("slippageBps") || {}).value);
    const impact = preview ? Number(preview.dataset.impactBps) : NaN;
    const risks = [];
    if (slippage > RISKY_BPS) risks.push("a slippage of " + (slippage / 100).toFixed(2) + " %");
    if (impact > RISKY_BPS) risks.push("a price impact of " + (impact / 100).toFixed(2) + " %");
    if (!risks.length) return;
    event.preventDefault();
    if (window.confirm("This order accepts " + risks.join(" and ") + ". Place it anyway?")) {
      event.detail.issueRequest(true);
    } else {
      say("Not placed: lower the slippage or the amount.", null, "info");
    }
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

  // The quote preview: refreshed every few seconds while the page is seen, with its age;
  // Place is off (with the reason beside it) while no venue can fill a market order.
  const QUOTE_EVERY_MS = 5000;
  let quotedAt = Date.now();
  function quoteAge() {
    const age = document.getElementById("quote-age");
    if (!age) return;
    const seconds = Math.round((Date.now() - quotedAt) / 1000);
    age.textContent = seconds < 2 ? "updated just now" : "updated " + seconds + " s ago";
  }
  function fillable() {
    const form = document.getElementById("order-form");
    const preview = document.getElementById("quote-preview");
    const button = form && form.querySelector("button[type=submit]");
    if (!button || !preview) return;
    const off = chosenKind(form) === "market" && preview.dataset.fillable === "no";
    button.disabled = off;
    button.title = off ? "No venue can fill this amount now" : "";
  }
  document.addEventListener("htmx:afterSwap", (event) => {
    if (event.detail.target && event.detail.target.id === "quote-preview") {
      quotedAt = Date.now();
      quoteAge();
    }
  });
  document.addEventListener("htmx:afterSettle", fillable);
  document.addEventListener("change", (event) => { if (event.target.name === "type") fillable(); });
  setInterval(() => {
    quoteAge();
    const source = document.getElementById("quote-source");
    if (!source || document.hidden || !window.htmx) return;
    if (Date.now() - quotedAt >= QUOTE_EVERY_MS) htmx.trigger(source, "refresh");
  }, 1000);

  // The flip: sell what you would have got (every pair trades both ways).
  document.addEventListener("click", (event) => {
    const flip = event.target.closest && event.target.closest("[data-flip]");
    if (!flip || !flip.form) return;
    const tokenIn = flip.form.elements.namedItem("tokenIn");
    const tokenOut = flip.form.elements.namedItem("tokenOut");
    const was = tokenIn.value;
    tokenIn.value = tokenOut.value;
    tokenIn.dispatchEvent(new Event("change", { bubbles: true }));  // re-limits the For list
    tokenOut.value = was;
    tokenOut.dispatchEvent(new Event("change", { bubbles: true }));
  });

  // Slippage presets set the field as typing would.
  document.addEventListener("click", (event) => {
    const preset = event.target.closest && event.target.closest("[data-slippage]");
    if (!preset) return;
    const field = preset.form && preset.form.elements.namedItem("slippageBps");
    if (!field) return;
    field.value = preset.dataset.slippage;
    field.dispatchEvent(new Event("input", { bubbles: true }));
    field.dispatchEvent(new Event("change", { bubbles: true }));
  });

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
