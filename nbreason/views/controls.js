// The replay's control bar: buttons, position slider, speed, and the keyboard.
//
// Everything here talks to Python through the model's traits only (position, playing, speed,
// total, mark). Play runs in the browser, so the kernel stays free while a replay plays.
// No text from a trace reaches this file: labels are fixed strings, set as textContent.

const ICONS = {
  start: "M6 6h2v12H6zm3.5 6 8.5 6V6z",
  back: "M15.41 7.41 14 6l-6 6 6 6 1.41-1.41L10.83 12z",
  play: "M8 5v14l11-7z",
  pause: "M6 19h4V5H6v14zm8-14v14h4V5h-4z",
  next: "M10 6 8.59 7.41 13.17 12l-4.58 4.59L10 18l6-6z",
  end: "M6 18l8.5-6L6 6v12zM16 6v12h2V6h-2z",
  jump: "M14 4l2.29 2.29-2.88 2.88 1.42 1.42 2.88-2.88L20 10V4zm-4 0H4v6l2.29-2.29 4.71 4.7V20h2v-8.41l-5.29-5.3z",
};
const SPEEDS = [0.25, 0.5, 1, 2, 4, 8];
const SVG = "http://www.w3.org/2000/svg";

function icon(name) {
  const svg = document.createElementNS(SVG, "svg");
  svg.setAttribute("viewBox", "0 0 24 24");
  svg.setAttribute("aria-hidden", "true");
  const path = document.createElementNS(SVG, "path");
  path.setAttribute("d", ICONS[name]);
  svg.appendChild(path);
  return svg;
}

function button(name, text, tip) {
  const b = document.createElement("button");
  b.type = "button";
  b.className = `nbreason-${name}`;
  b.title = tip;
  b.setAttribute("aria-label", tip);
  b.appendChild(icon(name));
  const label = document.createElement("span");
  label.className = "nbreason-label";
  label.textContent = text;
  if (text) b.appendChild(label);
  return b;
}

const speedText = (value) => `${Number(value.toPrecision(3))}/s`;

// Keys a text field needs for itself: leave them alone there.
const typing = (target) =>
  target && (target.isContentEditable || target.tagName === "TEXTAREA" ||
             (target.tagName === "INPUT" && target.type !== "range") || target.tagName === "SELECT");

function render({ model, el }) {
  el.classList.add("nbreason-controls-bar");
  const start = button("start", "", "Go to the start (Home)");
  const back = button("back", "Back", "One event back (←)");
  const play = button("play", "Play", "Play or pause (space)");
  const next = button("next", "Next", "One event forward (→)");
  const end = button("end", "", "Go to the end (End)");
  const jump = button("jump", "Differs", "Jump to where the runs first differ (D)");
  const slider = document.createElement("input");
  slider.type = "range";
  slider.min = "0";
  slider.className = "nbreason-position";
  slider.title = "Position in the run";
  const speedBox = document.createElement("label");
  speedBox.className = "nbreason-speed";
  speedBox.title = "Events per second while playing (the --speed option)";
  const speedName = document.createElement("span");
  speedName.textContent = "speed";
  const speed = document.createElement("select");
  speedBox.append(speedName, speed);
  el.append(start, back, play, next, end, slider, speedBox, jump);

  const total = () => model.get("total");
  const go = (position) => {
    const p = Math.max(0, Math.min(total(), position));
    if (p !== model.get("position")) {
      model.set("position", p);
      model.save_changes();
    }
  };
  const setPlaying = (value) => {
    if (value !== model.get("playing")) {
      model.set("playing", value);
      model.save_changes();
    }
  };

  let timer = null;
  const tick = () => {
    timer = null;
    if (!model.get("playing")) return;
    if (model.get("position") >= total()) { setPlaying(false); return; }
    go(model.get("position") + 1);
    timer = setTimeout(tick, 1000 / model.get("speed"));
  };
  const syncPlaying = () => {
    const on = model.get("playing");
    play.replaceChildren(icon(on ? "pause" : "play"));
    const label = document.createElement("span");
    label.className = "nbreason-label";
    label.textContent = on ? "Pause" : "Play";
    play.appendChild(label);
    play.classList.toggle("nbreason-playing", on);
    if (on && timer === null) {
      if (model.get("position") >= total()) go(0);  // play again from the start
      timer = setTimeout(tick, 1000 / model.get("speed"));
    } else if (!on && timer !== null) {
      clearTimeout(timer);
      timer = null;
    }
  };
  const syncPosition = () => {
    const p = model.get("position");
    slider.max = String(total());
    slider.value = String(p);
    start.disabled = back.disabled = p <= 0;
    next.disabled = end.disabled = p >= total();
    const mark = model.get("mark");
    jump.style.display = mark >= 0 ? "" : "none";
    jump.classList.toggle("nbreason-reached", mark >= 0 && p >= mark);
  };
  const syncSpeed = () => {
    const value = model.get("speed");
    const choices = SPEEDS.includes(value) ? SPEEDS : [...SPEEDS, value].sort((a, b) => a - b);
    speed.replaceChildren(...choices.map((v) => {
      const option = document.createElement("option");
      option.value = String(v);
      option.textContent = speedText(v);
      option.selected = v === value;
      return option;
    }));
  };

  const stop = () => setPlaying(false);
  start.addEventListener("click", () => { stop(); go(0); });
  back.addEventListener("click", () => { stop(); go(model.get("position") - 1); });
  play.addEventListener("click", () => setPlaying(!model.get("playing")));
  next.addEventListener("click", () => { stop(); go(model.get("position") + 1); });
  end.addEventListener("click", () => { stop(); go(total()); });
  jump.addEventListener("click", () => { stop(); go(model.get("mark")); });
  slider.addEventListener("change", () => { stop(); go(Number(slider.value)); });
  speed.addEventListener("change", () => {
    model.set("speed", Number(speed.value));
    model.save_changes();
  });

  // The keyboard: the whole replay (controls and step cards) takes focus, and a listener on the
  // window, in the capture phase, sees its keys before the notebook's own shortcuts do.
  const root = () => el.closest(".nbreason-replay") || el;
  const keys = {
    ArrowRight: () => { stop(); go(model.get("position") + 1); },
    ArrowLeft: () => { stop(); go(model.get("position") - 1); },
    " ": () => setPlaying(!model.get("playing")),
    Home: () => { stop(); go(0); },
    End: () => { stop(); go(total()); },
    d: () => { if (model.get("mark") >= 0) { stop(); go(model.get("mark")); } },
  };
  const mine = (event) => {
    const r = root();
    return r.contains(event.target) && !typing(event.target) &&
           !(event.altKey || event.ctrlKey || event.metaKey);
  };
  const onKeydown = (event) => {
    const action = keys[event.key.length === 1 ? event.key.toLowerCase() : event.key];
    if (!action || !mine(event)) return;
    event.preventDefault();
    event.stopPropagation();
    action();
    // Keep focus on the replay itself: the step card that had it may be rebuilt by this step.
    const r = root();
    if (document.activeElement !== r && !el.contains(document.activeElement)) r.focus({ preventScroll: true });
  };
  const onKeyup = (event) => {
    // A focused button would also "click" on the space key's release: the keydown handled it.
    if (event.key === " " && mine(event)) { event.preventDefault(); event.stopPropagation(); }
  };
  window.addEventListener("keydown", onKeydown, true);
  window.addEventListener("keyup", onKeyup, true);
  let tries = 0;
  const focusable = () => {  // the replay's root is in the page only after this view is attached
    const r = el.closest(".nbreason-replay");
    if (r) {
      if (!r.hasAttribute("tabindex")) r.tabIndex = 0;
      r.setAttribute("aria-keyshortcuts", "ArrowLeft ArrowRight Space Home End");
    } else if (tries++ < 100) {
      requestAnimationFrame(focusable);
    }
  };
  focusable();

  model.on("change:position", syncPosition);
  model.on("change:total", syncPosition);
  model.on("change:mark", syncPosition);
  model.on("change:playing", syncPlaying);
  model.on("change:speed", syncSpeed);
  syncPosition();
  syncSpeed();
  syncPlaying();

  return () => {
    window.removeEventListener("keydown", onKeydown, true);
    window.removeEventListener("keyup", onKeyup, true);
    if (timer !== null) clearTimeout(timer);
    model.off("change:position", syncPosition);
    model.off("change:total", syncPosition);
    model.off("change:mark", syncPosition);
    model.off("change:playing", syncPlaying);
    model.off("change:speed", syncSpeed);
  };
}

export default { render };
