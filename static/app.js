// Small progressive enhancements for the server-rendered pages. No inline scripts, no eval:
// the Content-Security-Policy allows only files from this site.
(function () {
  "use strict";

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
    // As many rows as the server shows on a load (app/web/views.py RECENT_ROWS).
    const max = Number(tbody.dataset.maxRows);
    if (max) {
      const rows = tbody.querySelectorAll(":scope > tr");
      for (let i = max; i < rows.length; i++) rows[i].remove();
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

  // Times: the server writes UTC (the fallback without JavaScript); the page shows the
  // reader's local time and keeps UTC in the title. In order tables, "12 s ago".
  const ZONE = window.Intl ? new Intl.DateTimeFormat(undefined, { timeZoneName: "short" }) : null;
  function pad(n, width) { return String(n).padStart(width || 2, "0"); }
  function moment(el) {
    const raw = el.getAttribute("datetime") || "";
    const at = new Date(/(Z|[+-]\d\d:?\d\d)$/.test(raw) ? raw : raw + "Z");  // no zone: UTC
    return isNaN(at.getTime()) ? null : at;
  }
  function zone(at) {
    const part = ZONE && ZONE.formatToParts(at).find((p) => p.type === "timeZoneName");
    return part ? part.value : "";
  }
  function day(at) { return at.getFullYear() + "-" + pad(at.getMonth() + 1) + "-" + pad(at.getDate()); }
  function clock(at, ms) {
    return pad(at.getHours()) + ":" + pad(at.getMinutes()) + ":" + pad(at.getSeconds())
      + (ms ? "." + pad(at.getMilliseconds(), 3) : "");
  }
  function utc(at, ms) { return at.toISOString().replace("T", " ").slice(0, ms ? 23 : 19) + " UTC"; }
  const LOCAL = {
    "datetime": (at) => day(at) + " " + clock(at) + " " + zone(at),
    "datetime-ms": (at) => day(at) + " " + clock(at, true) + " " + zone(at),
    "datetime-min": (at) => day(at) + " " + clock(at).slice(0, 5) + " " + zone(at),
    "time": (at) => clock(at),
    "time-ms": (at) => clock(at, true),
  };
  function showTime(el, text, title) {
    if (el.textContent !== text) el.textContent = text;
    if (el.title !== title) el.title = title;
  }
  function ages() {
    const now = Date.now();
    for (const el of document.querySelectorAll("table.orders time[datetime]")) {
      const at = moment(el);
      if (!at) continue;
      const seconds = Math.max(0, Math.round((now - at.getTime()) / 1000));
      showTime(el, seconds < 60 ? seconds + " s ago"
        : seconds < 3600 ? Math.floor(seconds / 60) + " min ago"
        : seconds < 86400 ? Math.floor(seconds / 3600) + " h ago"
        : day(at), day(at) + " " + clock(at) + " " + zone(at) + " (" + utc(at) + ")");
    }
    for (const el of document.querySelectorAll("time[datetime][data-local]")) {
      const at = moment(el);
      const local = LOCAL[el.dataset.local];
      if (at && local) showTime(el, local(at), utc(at, el.dataset.local.endsWith("-ms")));
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
      const what = out ? out.innerText.replace(/\s+/g, " ").trim() : "";
      const text = row.dataset.status === "confirmed"
        ? "Order " + id.slice(-8) + " filled: " + what
        : "Order " + id.slice(-8) + " failed: " + what;
      toast(text, id, row.dataset.status === "confirmed" ? "ok" : "error");
      if (document.hidden) document.title = (row.dataset.status === "confirmed" ? "✓ " : "✗ ") + text;
    }
  }
  // A toast: the text and a link to the order, in a live region (read out once), gone
  // after a while or when closed.
  const TOAST_MS = 10000;
  function toast(text, id, kind) {
    const shelf = document.getElementById("toasts");
    if (!shelf) return;
    const item = document.createElement("div");
    item.className = "toast";
    item.dataset.kind = kind;
    const words = document.createElement("span");
    words.textContent = text + " ";
    const link = document.createElement("a");
    link.href = "/orders/" + id;
    link.textContent = "View order";
    const close = document.createElement("button");
    close.type = "button";
    close.className = "toast-close";
    close.setAttribute("aria-label", "Dismiss");
    close.textContent = "×";
    close.addEventListener("click", () => item.remove());
    item.append(words, link, close);
    shelf.append(item);
    while (shelf.children.length > 3) shelf.firstElementChild.remove();
    setTimeout(() => item.remove(), TOAST_MS);
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
  // The order type's radio (or hidden input) that is chosen, if the form has one.
  function typeInput(form) {
    return form.querySelector("input[name=type]:checked") || form.querySelector("input[name=type]");
  }
  function chosenKind(form) {
    const chosen = typeInput(form);
    return chosen ? chosen.value : "market";
  }
  // Each order type that takes a slippage has its own field; the chosen type's is enabled.
  function slippageOf(form) {
    return Array.from(form.querySelectorAll("input[name=slippageBps]")).find((f) => !f.disabled);
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
    const slippage = Number((slippageOf(form) || {}).value);
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
    const field = preset.form && slippageOf(preset.form);
    if (!field) return;
    field.value = preset.dataset.slippage;
    field.dispatchEvent(new Event("input", { bubbles: true }));
    field.dispatchEvent(new Event("change", { bubbles: true }));
  });

  // The order type: show the fields of the chosen type only (others are not sent).
  function showKind(form) {
    const chosen = typeInput(form);
    if (!chosen) return;
    for (const block of form.querySelectorAll(".kind-fields")) {
      const mine = block.dataset.kind === chosen.value;
      block.hidden = !mine;
      for (const input of block.querySelectorAll("input, select")) input.disabled = !mine;
    }
    // A sniper names its token in its own field: the list of trading tokens steps aside.
    const snipes = (form.dataset.launchKinds || "").split(",").includes(chosen.value);
    const tokenOut = form.querySelector("select[name=tokenOut]");
    if (tokenOut) tokenOut.closest(".field").hidden = snipes;
    if (tokenOut) tokenOut.disabled = snipes;
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
    inPlace("/partials/gaps?" + query);  // a row gone meanwhile is skipped, not an htmx error
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
    const slippage = form.querySelector("#slippage-bps");  // the market's, with the % hint
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

  // Rows fetched by id (waiting orders' distances, history rows): each replaces the element
  // with its id if the page still shows it, and only with a newer row (data-seq) of an order.
  function swapById(html) {
    const template = document.createElement("template");
    template.innerHTML = html;
    for (const fresh of Array.from(template.content.children)) {
      const shown = fresh.id && document.getElementById(fresh.id);
      if (!shown || Number(fresh.dataset.seq) <= Number(shown.dataset.seq)) continue;
      fresh.removeAttribute("hx-swap-oob");
      replaceKeepingFocus(shown, fresh);
      if (window.htmx) htmx.process(fresh);
    }
    ages();
  }
  // A row replaced while the keyboard focus is in it: the focus moves to the same place in
  // the new row, not to the top of the page.
  function focusables(row) { return Array.from(row.querySelectorAll("a[href], button")); }
  function replaceKeepingFocus(shown, fresh) {
    const index = focusables(shown).indexOf(document.activeElement);
    shown.replaceWith(fresh);
    const target = index >= 0 && focusables(fresh)[index];
    if (target) target.focus({ preventScroll: true });
  }
  function inPlace(url) {
    fetch(url, { headers: { "HX-Request": "true" } })
      .then((response) => (response.ok ? response.text() : ""))
      .then(swapById)
      .catch(() => {});  // the next round asks again
  }

  // The live table holds still while it is read: while the pointer is over it (or the focus
  // is in it), new orders wait off the page behind "N new orders — show"; rows already shown
  // still change in place (every row has one height, so none moves). Leaving the table, or
  // that button, puts them in at the top.
  // Pushes pass through this htmx extension (hx-ext="ws, live-rows") before htmx swaps them:
  // an update for a row the page does not show (trimmed past the last row, or held) never
  // reaches htmx's out-of-band swap, which would log htmx:oobErrorNoTarget; a held row
  // takes it instead.
  const held = new Map();  // row id → the newest row of a new order not shown yet, oldest first
  const heldIds = new Set();  // every new order held since the last show (more than are kept)
  let pointerIn = false;
  function liveTable() { return document.getElementById("recent-rows"); }
  function holding() {
    // Keyboard focus only: a click leaves the focus on what was clicked (the button).
    const region = document.getElementById("recent");
    return !!region && (pointerIn || !!region.querySelector(":focus-visible"));
  }
  function showHeld() {
    const bar = document.getElementById("held-rows");
    if (!bar) return;
    bar.hidden = !heldIds.size;
    const text = heldIds.size + (heldIds.size === 1 ? " new order" : " new orders") + " — show";
    if (heldIds.size && bar.textContent !== text) bar.textContent = text;
  }
  function hold(row) {
    const before = held.get(row.id);
    if (before && Number(before.dataset.seq) > Number(row.dataset.seq)) return;
    row.removeAttribute("hx-swap-oob");
    heldIds.add(row.id);
    held.delete(row.id);
    held.set(row.id, row);
    const max = Number((liveTable() || { dataset: {} }).dataset.maxRows) || Infinity;
    while (held.size > max) held.delete(held.keys().next().value);  // would be trimmed at once
  }
  function placedAt(row) {
    const time = row.querySelector("time[datetime]");
    return time ? Date.parse(time.getAttribute("datetime")) : 0;
  }
  function release() {
    const tbody = liveTable();
    if (!tbody || !heldIds.size) return;
    const rows = Array.from(held.values()).sort((a, b) => placedAt(a) - placedAt(b));
    held.clear();
    heldIds.clear();
    for (const row of rows) {
      const shown = document.getElementById(row.id);
      if (!shown) tbody.prepend(row);
      else if (Number(row.dataset.seq) > Number(shown.dataset.seq)) replaceKeepingFocus(shown, row);
    }
    if (window.htmx) for (const row of rows) if (row.isConnected) htmx.process(row);
    showHeld();
    ages();
    announceEnds();
    if (document.querySelector("[data-gap]")) soonGaps();
  }
  let refocus = null;  // where the keyboard focus was, in a row this push may replace
  function liveMessage(text) {
    const rows = liveTable();
    const still = holding();
    if (!still) release();
    const active = document.activeElement;
    const row = active && active.closest && active.closest("#recent-rows > tr");
    refocus = row ? { row: row.id, index: focusables(row).indexOf(active) } : null;
    const template = document.createElement("template");
    template.innerHTML = text;
    for (const el of Array.from(template.content.children)) {
      const oob = el.getAttribute("hx-swap-oob") || "true";
      const into = oob.indexOf(":") > 0 ? oob.slice(oob.indexOf(":") + 1) : null;
      if (into === "#recent-rows") {  // new rows (afterbegin), or all of them (innerHTML)
        if (!rows) { el.remove(); continue; }
        if (!still) continue;
        for (const row of Array.from(el.children)) {
          if (!document.getElementById(row.id)) { hold(row); continue; }
          row.setAttribute("hx-swap-oob", "true");  // shown: changed in place
          el.before(row);
        }
        el.remove();
      } else if (into === null && el.id && !document.getElementById(el.id)) {
        if (held.has(el.id)) hold(el);
        el.remove();
      }
    }
    showHeld();
    return Array.from(template.content.children, (el) => el.outerHTML).join("");
  }
  document.addEventListener("htmx:wsAfterMessage", () => {
    const was = refocus;
    refocus = null;
    if (!was || (document.activeElement && document.activeElement.closest("#recent-rows > tr"))) return;
    const row = document.getElementById(was.row);
    const target = row && focusables(row)[was.index];
    if (target) target.focus({ preventScroll: true });
  });
  if (window.htmx) {
    htmx.defineExtension("live-rows", {
      transformResponse: (text, xhr) => (xhr ? text : liveMessage(text)),  // no xhr: a socket
    });
  }
  // While it holds, the table also stays where it is on the screen: when something above it
  // changes height (the charts' first fills, the quote), the page scrolls by as much (the
  // browser's own scroll anchoring does not work at the top of the page).
  let anchorTop = null;
  function anchorTable() {
    const table = liveTable();
    const on = !!table && holding();
    document.documentElement.classList.toggle("holding", on);
    anchorTop = on ? table.getBoundingClientRect().top : null;
  }
  function keepTableStill() {
    const table = liveTable();
    if (anchorTop === null || !table) return;
    const moved = table.getBoundingClientRect().top - anchorTop;
    if (Math.abs(moved) >= 0.5) window.scrollBy(0, moved);
    anchorTop = table.getBoundingClientRect().top;
  }
  document.addEventListener("DOMContentLoaded", () => {
    const region = document.getElementById("recent");
    if (!region) return;
    region.addEventListener("pointerenter", (event) => {
      if (event.pointerType !== "touch") pointerIn = true;
      anchorTable();
    });
    region.addEventListener("pointerleave", () => {
      pointerIn = false;
      anchorTable();
      if (!holding()) release();
    });
    region.addEventListener("focusin", anchorTable);
    region.addEventListener("focusout", () => {
      // Decided once this task is done: a push replacing the focused row puts the focus back.
      setTimeout(() => {
        anchorTable();
        if (!holding()) release();
      }, 0);
    });
    window.addEventListener("scroll", () => { if (anchorTop !== null) anchorTable(); });
    new MutationObserver(keepTableStill).observe(document.body,
      { childList: true, subtree: true, characterData: true, attributes: true });
  });
  document.addEventListener("click", (event) => {
    if (event.target.closest && event.target.closest("#held-rows")) release();
  });

  // History: rows of orders still under way follow them. Polled, not pushed: the page can
  // list any 50 orders (any filter, any page back), which a socket would have to be told and
  // re-told on every filter and page; asking for just those rows every few seconds, only
  // while the tab is seen and some are under way, is simpler and misses nothing across a
  // lost connection. The answer holds only the rows that moved on.
  const ROWS_EVERY_MS = 3000;
  setInterval(() => {
    const rows = document.querySelectorAll("#history-rows > tr[data-active]");
    if (document.hidden || !rows.length) return;
    const shown = Array.from(rows, (row) => ["row", row.id.slice("order-".length) + ":" + row.dataset.seq]);
    inPlace("/partials/rows?" + new URLSearchParams(shown));
  }, ROWS_EVERY_MS);

  // History: the filter fields say what the list is filtered by, also after Back (htmx puts
  // back a copy of the page from before the last change; the browser may restore a page).
  function syncFilters() {
    const form = document.getElementById("history-filters");
    if (!form) return;
    const params = new URLSearchParams(location.search);
    for (const field of form.querySelectorAll("select[name], input[name]")) {
      const value = params.get(field.name) || "";
      field.value = value;
      if (field.value !== value) field.value = "";  // not one of the options: any
    }
    markInvalid();
  }
  // A field with a message beside it (a 422 from /orders) is marked invalid, and only then.
  function markInvalid() {
    for (const note of document.querySelectorAll("#history-filters .field-error")) {
      const field = document.querySelector("[aria-describedby='" + note.id + "']");
      if (!field) continue;
      if (note.textContent.trim()) field.setAttribute("aria-invalid", "true");
      else field.removeAttribute("aria-invalid");
    }
  }
  document.addEventListener("htmx:historyRestore", syncFilters);
  window.addEventListener("pageshow", syncFilters);
  document.addEventListener("htmx:afterSettle", markInvalid);

  // Copy buttons (the order page's id and tx hash). Without the clipboard API (an insecure
  // origin, a refusal), the text is selected for Ctrl+C instead.
  function copied(button, text) {
    button.textContent = text;
    button.dataset.copied = "1";
    clearTimeout(button.copyTimer);
    button.copyTimer = setTimeout(() => {
      button.textContent = "Copy";
      delete button.dataset.copied;
    }, 2000);
  }
  function selectForCopy(button) {
    const code = button.parentElement && button.parentElement.querySelector("code");
    if (code) {
      const range = document.createRange();
      range.selectNodeContents(code);
      const selection = window.getSelection();
      selection.removeAllRanges();
      selection.addRange(range);
    }
    copied(button, "Selected: press Ctrl+C");
  }
  document.addEventListener("click", (event) => {
    const button = event.target.closest && event.target.closest("button[data-copy]");
    if (!button) return;
    if (!navigator.clipboard || !window.isSecureContext) {
      selectForCopy(button);
      return;
    }
    navigator.clipboard.writeText(button.dataset.copy).then(
      () => copied(button, "Copied"),
      () => selectForCopy(button),
    );
  });
})();
