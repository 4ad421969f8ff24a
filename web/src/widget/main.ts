/**
 * widget.js: defines <claw-widget> and, when loaded by
 *   <script src=".../widget.js" data-assistant="<public_id>" data-api="https://host/api/v1"></script>
 * mounts one on the page. data-ws (the WebSocket URL, or "off"), data-lang and data-open are optional.
 */
import { ClawWidget } from "./widget";

if (!customElements.get("claw-widget")) customElements.define("claw-widget", ClawWidget);

const script = document.currentScript as HTMLScriptElement | null;
const assistant = script?.dataset.assistant;
if (script && assistant) {
  const mount = () => {
    const w = document.createElement("claw-widget");
    w.setAttribute("assistant", assistant);
    // Default API: the origin the script came from.
    w.setAttribute("api", script.dataset.api || new URL("/api/v1", script.src).toString());
    if (script.dataset.ws) w.setAttribute("ws", script.dataset.ws);
    if (script.dataset.lang) w.setAttribute("lang", script.dataset.lang);
    if (script.dataset.open !== undefined) w.setAttribute("open", "");
    document.body.append(w);
  };
  if (document.body) mount();
  else document.addEventListener("DOMContentLoaded", mount, { once: true });
}
