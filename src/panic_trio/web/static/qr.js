// The QR page: a code on a screen carries a one-hour terminal link, so it is
// replaced every 5 minutes; a printed sign's link lasts, so it stays.
import { pageData } from "./live.js";

const QR_REFRESH_MS = 5 * 60 * 1000;
const data = pageData();

document.getElementById("print-qr").addEventListener("click", () => window.print());
if (data.qr_mode === "screen") {
  setInterval(async () => {
    const response = await fetch(`/networks/${data.network_id}/info/qr.json?print=1`);
    if (!response.ok) return;
    const fresh = await response.json();
    document.getElementById("qr-image").src = fresh.image;
    document.getElementById("qr-url").href = fresh.url;
  }, QR_REFRESH_MS);
}
