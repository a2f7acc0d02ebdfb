// Progressive enhancement: with JavaScript the cart forms go through the 202 API and the
// page follows the projection (polling GET /api/cart/ until no event is pending). While
// accepted events are not applied yet the badge and the cart page say "updating…".
(function () {
  "use strict";

  function csrfToken() {
    const match = document.cookie.match(/(?:^|;\s*)csrftoken=([^;]+)/);
    if (match) return decodeURIComponent(match[1]);
    const input = document.querySelector("input[name=csrfmiddlewaretoken]");
    return input ? input.value : "";
  }

  async function api(method, url, body) {
    let response;
    try {
      response = await fetch(url, {
        method: method,
        credentials: "same-origin",
        headers: {
          "Content-Type": "application/json",
          "Accept": "application/json",
          "X-CSRFToken": csrfToken(),
        },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
    } catch (error) {
      return { ok: false, status: 0, data: null };
    }
    let data = null;
    try { data = await response.json(); } catch (e) { data = null; }
    return { ok: response.ok, status: response.status, data: data };
  }

  function firstError(data) {
    if (!data) return "Something went wrong, please try again.";
    if (typeof data.detail === "string") return data.detail;
    for (const key of Object.keys(data)) {
      const value = data[key];
      if (Array.isArray(value) && value.length) return String(value[0]);
      if (typeof value === "string") return value;
    }
    return "Something went wrong, please try again.";
  }

  function sleep(ms) { return new Promise(function (resolve) { setTimeout(resolve, ms); }); }

  // Resolve with the cart once the projection has applied every accepted event, or with
  // null after about `timeoutMs` (the page then keeps saying "updating…").
  async function waitForCart(timeoutMs) {
    const deadline = Date.now() + timeoutMs;
    for (let attempt = 0; Date.now() < deadline; attempt++) {
      const result = await api("GET", "/api/cart/");
      if (result.ok && result.data && result.data.pending_events === 0) return result.data;
      await sleep(Math.min(100 + attempt * 50, 1000));
    }
    return null;
  }

  const badge = document.getElementById("cart-badge");
  const status = document.getElementById("cart-status");

  function showUpdating(updating) {
    if (status) status.hidden = !updating;
  }

  async function followBadge() {
    showUpdating(true);
    const cart = await waitForCart(30000);
    if (cart) {
      if (badge) badge.textContent = String(cart.item_count);
      showUpdating(false);
    }
  }

  document.querySelectorAll("form[data-add-to-cart]").forEach(function (form) {
    form.addEventListener("submit", async function (event) {
      event.preventDefault();
      const feedback = form.querySelector("[data-feedback]");
      const button = form.querySelector("button[type=submit]");
      button.disabled = true;
      const result = await api("POST", "/api/cart/items/", {
        sku: form.elements.sku.value,
        quantity: Number(form.elements.quantity.value),
      });
      button.disabled = false;
      if (result.status === 202) {
        feedback.textContent = "Added ✓";
        feedback.className = "feedback ok";
        await followBadge();
      } else {
        feedback.textContent = firstError(result.data);
        feedback.className = "feedback error";
      }
    });
  });

  const page = document.querySelector("[data-cart-page]");
  if (!page) {
    // Any other page rendered while events were pending: bring the badge up to date.
    if (status && !status.hidden) followBadge();
    return;
  }

  // The cart page reloads itself once the projection has caught up (however long that
  // takes), so the reload link is only for the page without JavaScript.
  async function refreshWhenApplied() {
    const notice = page.querySelector("[data-updating]");
    if (notice) {
      notice.hidden = false;
      const reload = notice.querySelector("[data-reload]");
      if (reload) reload.hidden = true;
    }
    showUpdating(true);
    while (!(await waitForCart(30000))) { /* still updating: keep following */ }
    window.location.reload();
  }

  // PUT the quantity (DELETE for 0) of the form's line; its buttons wait meanwhile.
  async function setQuantity(form, quantity) {
    const buttons = form.querySelectorAll("button");
    buttons.forEach(function (button) { button.disabled = true; });
    const url = "/api/cart/items/" + encodeURIComponent(form.closest("[data-sku]").dataset.sku) + "/";
    const result = quantity === 0
      ? await api("DELETE", url)
      : await api("PUT", url, { quantity: quantity });
    if (result.status === 202) {
      await refreshWhenApplied();
    } else {
      buttons.forEach(function (button) { button.disabled = false; });
      alert(firstError(result.data));
    }
  }

  page.querySelectorAll("form[data-quantity-form]").forEach(function (form) {
    const input = form.elements.quantity;
    form.querySelectorAll("button[data-step]").forEach(function (button) {
      button.hidden = false;
      button.addEventListener("click", function () {
        const max = Number(input.max) || Infinity;
        const next = Math.min(max, Math.max(0, (Number(input.value) || 0) + Number(button.dataset.step)));
        if (next === Number(input.value)) return;
        input.value = String(next);
        form.requestSubmit();
      });
    });
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      if (form.reportValidity()) setQuantity(form, Number(input.value));
    });
  });

  page.querySelectorAll("form[data-remove-form]").forEach(function (form) {
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      setQuantity(form, 0);
    });
  });

  if (Number(page.dataset.pending) > 0) refreshWhenApplied();
})();
