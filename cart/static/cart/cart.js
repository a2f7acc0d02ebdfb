// Progressive enhancement: with JavaScript the cart forms go through the 202 API and the
// page follows the projection (polling GET /api/cart/ until no event is pending).
(function () {
  "use strict";

  function csrfToken() {
    const match = document.cookie.match(/(?:^|;\s*)csrftoken=([^;]+)/);
    if (match) return decodeURIComponent(match[1]);
    const input = document.querySelector("input[name=csrfmiddlewaretoken]");
    return input ? input.value : "";
  }

  async function api(method, url, body) {
    const response = await fetch(url, {
      method: method,
      credentials: "same-origin",
      headers: {
        "Content-Type": "application/json",
        "Accept": "application/json",
        "X-CSRFToken": csrfToken(),
      },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
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

  // Resolve once the projection has applied every accepted event (or after ~10 s).
  async function waitForCart() {
    for (let attempt = 0; attempt < 50; attempt++) {
      const result = await api("GET", "/api/cart/");
      if (result.ok && result.data && result.data.pending_events === 0) return result.data;
      await new Promise(function (resolve) { setTimeout(resolve, Math.min(100 + attempt * 50, 500)); });
    }
    return null;
  }

  function setBadge(count) {
    const badge = document.getElementById("cart-badge");
    if (badge) badge.textContent = String(count);
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
        const cart = await waitForCart();
        if (cart) setBadge(cart.item_count);
      } else {
        feedback.textContent = firstError(result.data);
        feedback.className = "feedback error";
      }
    });
  });

  const page = document.querySelector("[data-cart-page]");
  if (!page) return;

  async function refreshWhenApplied() {
    const notice = page.querySelector("[data-updating]");
    if (notice) notice.hidden = false;
    await waitForCart();
    window.location.reload();
  }

  page.querySelectorAll("form[data-quantity-form]").forEach(function (form) {
    form.addEventListener("submit", async function (event) {
      event.preventDefault();
      const sku = form.closest("tr").dataset.sku;
      const quantity = Number(form.elements.quantity.value);
      const result = quantity === 0
        ? await api("DELETE", "/api/cart/items/" + encodeURIComponent(sku) + "/")
        : await api("PUT", "/api/cart/items/" + encodeURIComponent(sku) + "/", { quantity: quantity });
      if (result.status === 202) { await refreshWhenApplied(); } else { alert(firstError(result.data)); }
    });
  });

  page.querySelectorAll("form[data-remove-form]").forEach(function (form) {
    form.addEventListener("submit", async function (event) {
      event.preventDefault();
      const sku = form.closest("tr").dataset.sku;
      const result = await api("DELETE", "/api/cart/items/" + encodeURIComponent(sku) + "/");
      if (result.status === 202) { await refreshWhenApplied(); } else { alert(firstError(result.data)); }
    });
  });

  if (Number(page.dataset.pending) > 0) refreshWhenApplied();
})();
