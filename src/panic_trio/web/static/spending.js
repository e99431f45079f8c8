// Burn rates, live: re-read the spend after each step (at most once a second).
export function usd(amount) {
  if (amount === null || amount === undefined) return "none";
  if (amount >= 1) return `$${amount.toLocaleString("en-US", { minimumFractionDigits: 2, maximumFractionDigits: 2 })}`;
  if (amount > 0 && amount < 0.0001) return "<$0.0001";
  return `$${amount.toFixed(4)}`;
}

// A cap as the cap messages write it: cents unless finer.
export function capUsd(amount) {
  if (amount === null || amount === undefined) return "none";
  if (Math.round(amount * 100) / 100 === amount) return `$${amount.toFixed(2)}`;
  return `$${amount.toFixed(6).replace(/0+$/, "")}`;
}

export function spent(window) {
  if (!window) return "no run";
  return window.unknown ? `${usd(window.amount)} + ${window.unknown} unknown` : usd(window.amount);
}

// `render(body)` draws a fetched spend; `changed()` asks for a fresh one.
export function liveSpend(url, render) {
  let pending = false;
  let again = false;

  async function load() {
    pending = true;
    try {
      const response = await fetch(url, { headers: { Accept: "application/json" } });
      if (response.ok) render(await response.json());
    } catch {
      // The next step asks again.
    }
    setTimeout(() => {
      pending = false;
      if (again) { again = false; load(); }
    }, 1000);
  }

  return {
    changed() {
      if (pending) again = true;
      else load();
    },
  };
}

// The control panel's Spending section.
export function setupSpending(root) {
  if (!root) return { changed() {} };
  const cell = (name) => root.querySelector(`[data-spend="${name}"]`);
  return liveSpend(root.dataset.spendUrl, (body) => {
    cell("run").textContent = spent(body.run);
    for (const name of ["hour", "today", "week"]) cell(name).textContent = spent(body[name]);
    root.querySelector('[data-cap="daily"]').textContent = capUsd(body.caps.daily);
    root.querySelector('[data-cap="run"]').textContent = capUsd(body.caps.run);
    const capped = cell("capped");
    capped.hidden = !body.capped;
    capped.textContent = body.capped ? body.capped.message : "";
    root.dataset.loaded = String(Date.now());
  });
}
