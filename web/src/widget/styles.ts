// Everything the widget looks like, scoped to its shadow root: the host page's CSS cannot
// reach in (`all: initial` on the host resets inherited properties too) and nothing leaks out.
export const STYLES = `
:host { all: initial; position: fixed; z-index: 2147483000; bottom: 20px; right: 20px; }
/* Font and colour are set on our own wrapper, not inherited from the host element, which the
   page's CSS can still reach (even with !important). */
.claw { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", "PingFang SC", "Microsoft YaHei", sans-serif;
  color: #1f2330; text-align: left; letter-spacing: normal; }
:host([data-inline]) { position: static; display: block; }
* { box-sizing: border-box; }
button { font: inherit; cursor: pointer; }
button:focus-visible, textarea:focus-visible { outline: 2px solid #4f46e5; outline-offset: 2px; }
.launcher { width: 56px; height: 56px; border-radius: 50%; border: 0; background: #4f46e5; color: #fff;
  box-shadow: 0 6px 20px rgba(0,0,0,.25); display: grid; place-items: center; margin-left: auto; }
.launcher svg { width: 26px; height: 26px; fill: currentColor; }
.panel { width: min(380px, calc(100vw - 24px)); height: min(560px, calc(100vh - 100px)); background: #fff;
  border-radius: 14px; box-shadow: 0 12px 40px rgba(0,0,0,.28); display: flex; flex-direction: column;
  overflow: hidden; margin-bottom: 12px; }
.panel[hidden] { display: none; }
header { background: #4f46e5; color: #fff; padding: 12px 14px; display: flex; align-items: center; gap: 8px; }
header h2 { font-size: 15px; margin: 0; flex: 1; font-weight: 600; }
header button { background: transparent; border: 0; color: #fff; font-size: 20px; line-height: 1; padding: 2px 6px; }
.status { font-size: 12px; background: #fff7e6; color: #8a5a00; padding: 4px 12px; }
.status:empty { display: none; }
.log { flex: 1; overflow-y: auto; padding: 12px; display: flex; flex-direction: column; gap: 10px; background: #f7f7fb; }
.msg { max-width: 88%; padding: 8px 11px; border-radius: 12px; white-space: pre-wrap; word-wrap: break-word; }
.msg.user { align-self: flex-end; background: #4f46e5; color: #fff; border-bottom-right-radius: 4px; }
.msg.assistant { align-self: flex-start; background: #fff; border: 1px solid #e4e4ee; border-bottom-left-radius: 4px; }
.msg.noanswer { background: #fffaf0; border-color: #f1d9a6; }
.msg.error { background: #fdecec; border-color: #f3b5b5; color: #8b1c1c; }
.cite { border: 0; background: #e8e7ff; color: #3730a3; border-radius: 4px; padding: 0 4px; margin: 0 1px;
  font-size: 11px; vertical-align: super; line-height: 1.2; }
.sources { margin: 6px 0 0; padding: 0; list-style: none; font-size: 12px; }
.sources li { margin-top: 4px; }
.sources button { border: 0; background: none; color: #3730a3; padding: 0; text-align: left; text-decoration: underline; }
.snippet { margin: 4px 0 0; padding: 6px 8px; background: #f3f3fa; border-left: 3px solid #a5a2f5; white-space: pre-wrap; }
.meta { display: flex; gap: 6px; margin-top: 6px; align-items: center; font-size: 12px; color: #6b6f80; }
.meta button { border: 1px solid #d8d8e4; background: #fff; color: #6b6f80; border-radius: 6px; padding: 2px 6px; display: inline-grid; place-items: center; }
.meta svg { width: 14px; height: 14px; fill: currentColor; }
.meta button[data-rating="down"] svg { transform: rotate(180deg); }
.meta button[aria-pressed="true"] { background: #e8e7ff; border-color: #a5a2f5; color: #3730a3; }
.suggest { display: flex; flex-wrap: wrap; gap: 6px; }
.suggest button { border: 1px solid #c9c7f7; background: #fff; color: #3730a3; border-radius: 14px; padding: 4px 10px; font-size: 13px; }
form { display: flex; gap: 6px; padding: 10px; border-top: 1px solid #e4e4ee; background: #fff; }
textarea { flex: 1; resize: none; font: inherit; padding: 7px 9px; border: 1px solid #cfd0dc; border-radius: 8px; min-height: 38px; max-height: 120px; }
form button { border: 0; background: #4f46e5; color: #fff; border-radius: 8px; padding: 0 14px; }
form button:disabled { opacity: .5; cursor: default; }
.typing::after { content: "▍"; animation: blink 1s steps(2) infinite; }
@keyframes blink { 50% { opacity: 0; } }
.sr { position: absolute; width: 1px; height: 1px; overflow: hidden; clip: rect(0 0 0 0); }
`;
