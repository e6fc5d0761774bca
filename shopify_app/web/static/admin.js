// Clawback admin: three behaviours, no framework, no build step, no inline handlers.
//  - form[data-fetch]: inside the Shopify admin (App Bridge present: window.shopify), posted
//    with fetch, which App Bridge signs with the session token; the answer's HTML (also a 4xx
//    such as 422 with its validation messages) replaces the page. In dev mode (no App Bridge)
//    the form posts as any form does.
//  - a[download]: inside the admin, fetched (signed likewise) and saved under the name the
//    answer gives. In dev mode the browser downloads it as any such link.
//  - button[data-copy="#id"]: copies that element's text, then says "Copied" (role=status).
// Listeners sit on document, so they keep working after the page's body is replaced.
(() => {
  "use strict";

  const SUBMIT_TYPES = new Set(["submit", "image"]);

  const appBridge = () => typeof window.shopify === "object" && window.shopify !== null;
  const withoutHash = (url) => url.split("#")[0];
  let shownUrl = withoutHash(window.location.href);

  // ------------------------------------------------------------- forms

  document.addEventListener("submit", (event) => {
    const form = event.target;
    if (!(form instanceof HTMLFormElement) || event.defaultPrevented) return;
    const submitter = event.submitter || null;
    if (form.getAttribute("aria-busy") === "true") { event.preventDefault(); return; }
    if (!form.hasAttribute("data-fetch") || !appBridge()) return; // dev mode: the browser posts it
    event.preventDefault();
    send(form, submitter);
  });

  const submitButtons = (form) => Array.from(form.elements).filter(
    (el) => (el instanceof HTMLButtonElement || el instanceof HTMLInputElement) && SUBMIT_TYPES.has(el.type) && !el.disabled,
  );

  async function send(form, submitter) {
    const body = new FormData(form);
    if (submitter && submitter.name) body.append(submitter.name, submitter.value);
    const action = form.action;
    const buttons = submitButtons(form);
    form.setAttribute("aria-busy", "true");
    buttons.forEach((button) => { button.disabled = true; });
    if (submitter) submitter.setAttribute("data-busy", "");
    try {
      const response = await fetch(action, { method: "POST", body, headers: { Accept: "text/html" } });
      const type = response.headers.get("Content-Type") || "";
      const text = await response.text();
      if (!/html/i.test(type)) throw new Error(`${response.status} ${response.statusText || ""}`.trim() + (text ? `: ${text.slice(0, 200)}` : ""));
      show(text, response.url || action, response.redirected);
    } catch (error) {
      form.removeAttribute("aria-busy");
      buttons.forEach((button) => { button.disabled = false; });
      if (submitter) submitter.removeAttribute("data-busy");
      report(form, "Clawback could not save this. Try again; if it keeps failing, reload the page.", error);
    }
  }

  // Replace the page with the answer. The body is swapped (its scripts would not run, and
  // App Bridge and this file stay loaded in the head, which every admin page shares); the
  // title and the URL follow (a redirect to another page is a new history entry, as after a
  // plain form post; an answer in place, such as a 422, replaces the entry); focus goes to
  // the page's content.
  function show(html, url, redirected) {
    const next = new DOMParser().parseFromString(html, "text/html");
    document.title = next.title;
    if (next.documentElement.lang) document.documentElement.lang = next.documentElement.lang;
    document.body.replaceWith(document.adoptNode(next.body));
    const target = withoutHash(new URL(url, window.location.href).href);
    if (redirected && target !== shownUrl) {
      history.pushState(null, "", url);
    } else {
      history.replaceState(history.state, "", url);
    }
    shownUrl = target;
    const main = document.getElementById("main");
    if (main) {
      main.focus({ preventScroll: true });
    }
    window.scrollTo(0, 0);
  }

  // Back or forward to a URL whose page this document is not showing: load it.
  window.addEventListener("popstate", () => {
    if (withoutHash(window.location.href) !== shownUrl) window.location.reload();
  });

  // The answer never came (network) or was not what was asked for: say so at the top of
  // `container` (the form, whose input is kept; a download's card).
  function report(container, message, error) {
    let banner = container.querySelector(":scope > .banner[data-fetch-error]");
    if (!banner) {
      banner = document.createElement("div");
      banner.className = "banner banner--critical";
      banner.setAttribute("role", "alert");
      banner.setAttribute("data-fetch-error", "");
      container.prepend(banner);
    }
    const title = document.createElement("p");
    title.className = "banner__title";
    const word = document.createElement("span");
    word.className = "visually-hidden";
    word.textContent = "Error: ";
    title.append(word, message);
    const detail = document.createElement("p");
    detail.className = "banner__body";
    detail.textContent = String(error && error.message ? error.message : error);
    banner.replaceChildren(title, detail);
  }

  // ------------------------------------------------------------- downloads

  // Inside the admin a link carries no session token: followed, it bounces to the
  // token-refresh page, and with `download` that page would be the file saved. So the file is
  // fetched and saved from memory (by a link outside the document, which this listener never
  // sees).
  const downloading = new WeakSet();

  document.addEventListener("click", async (event) => {
    const link = event.target instanceof Element ? event.target.closest("a[download]") : null;
    if (!link || !appBridge() || event.defaultPrevented) return;
    event.preventDefault();
    if (downloading.has(link)) return;
    downloading.add(link);
    link.setAttribute("aria-busy", "true");
    try {
      const response = await fetch(link.href);
      if (!response.ok) throw new Error(`${response.status} ${response.statusText || ""}`.trim());
      const named = /filename="([^"]+)"/.exec(response.headers.get("Content-Disposition") || "");
      const file = document.createElement("a");
      file.href = URL.createObjectURL(await response.blob());
      file.download = named ? named[1] : new URL(link.href).pathname.split("/").pop();
      file.click();
      setTimeout(() => URL.revokeObjectURL(file.href), 1000);
    } catch (error) {
      report(link.closest("section, main") || document.body, "Clawback could not download this. Try again; if it keeps failing, reload the page.", error);
    } finally {
      downloading.delete(link);
      link.removeAttribute("aria-busy");
    }
  });

  // ------------------------------------------------------------- copy

  // The polite live region that says "Copied": the template's [data-copy-status] next to the
  // button (or in its container), else one made here, visually hidden. The button's own label
  // also reads "Copied" for a moment, for those who see it.
  function statusFor(button) {
    for (let el = button.nextElementSibling; el; el = el.nextElementSibling) {
      if (el.matches("[data-copy-status]")) return el;
    }
    const near = button.parentElement && button.parentElement.querySelector(":scope > [data-copy-status]");
    if (near) return near;
    const status = document.createElement("span");
    status.className = "visually-hidden";
    status.setAttribute("role", "status");
    status.setAttribute("aria-live", "polite");
    status.setAttribute("data-copy-status", "");
    button.after(status);
    return status;
  }

  // Live regions announce changes, not their creation: give every copy button its region early,
  // also after a fetch answer replaced the body.
  const prepareCopy = () => document.querySelectorAll("[data-copy]").forEach(statusFor);
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", prepareCopy);
  else prepareCopy();
  new MutationObserver(prepareCopy).observe(document.documentElement, { childList: true });

  async function copyText(text, source) {
    if (navigator.clipboard && window.isSecureContext) {
      try { await navigator.clipboard.writeText(text); return true; } catch (_) { /* fall through */ }
    }
    const selection = window.getSelection();
    const range = document.createRange();
    range.selectNodeContents(source);
    selection.removeAllRanges();
    selection.addRange(range);
    let done = false;
    try { done = document.execCommand("copy"); } catch (_) { done = false; }
    if (done) selection.removeAllRanges();
    return done; // when false the text stays selected for the merchant to copy
  }

  const copies = new WeakMap(); // button -> {label, timer}

  document.addEventListener("click", async (event) => {
    const button = event.target instanceof Element ? event.target.closest("[data-copy]") : null;
    if (!button) return;
    event.preventDefault();
    let source = null;
    try { source = document.querySelector(button.dataset.copy); } catch (_) { source = null; }
    if (!source) return;
    const text = (source instanceof HTMLInputElement || source instanceof HTMLTextAreaElement ? source.value : source.innerText).trim();
    const status = statusFor(button);
    const ok = await copyText(text, source);
    const message = ok ? "Copied" : "Select the text and copy it (Ctrl+C or \u2318C)";
    const previous = copies.get(button);
    if (previous) clearTimeout(previous.timer);
    const label = previous ? previous.label : button.textContent;
    status.textContent = "";
    status.textContent = message;
    if (ok) {
      button.style.minWidth = `${button.getBoundingClientRect().width}px`;
      button.textContent = "Copied";
    }
    copies.set(button, {
      label,
      timer: setTimeout(() => {
        button.textContent = label;
        button.style.minWidth = "";
        status.textContent = "";
        copies.delete(button);
      }, 3000),
    });
  });
})();
