// One Plotly chart that stays drawn across Streamlit reruns (dashboard/live_chart.py), in the
// page itself (a components-v2 element), with a player: it steps through the frames it was
// given without asking the server, and asks for the next window of frames when it reaches the
// end of this one. The step card, the GRU cell and the prediction are other elements of this
// module, where the page puts them (beside the chart's player): the player and the browser's
// steps show the step's in each of them (showCard, showSteps).
//
// Streamlit calls the default export at the mount and again with each new `data`, on the same
// element: what a chart holds between calls lives in `charts`, keyed by that element.

const charts = new Map();  // parentElement -> the chart's state
// What each kind of element was last sent with its figure or parts, by revision. Streamlit may
// mount an element again (a rerun cut short dropped it, the next one draws it anew): it is
// drawn from what the page already holds instead of asking the server again (complete).
const sentLast = new Map();  // "chart" | "card" | "cell" | "prediction" -> data
let Plotly = null;  // this chart's plotly.js, once loaded (not window.Plotly: see plotly())
const AHEAD = 15;  // steps before the end of its frames at which the player asks for more
// what the tests and the bench read: every step drawn while playing, with where its line was
// drawn; the figures drawn; the step the cell shows
window.stepLog = window.stepLog || [];
window.draws = window.draws || 0;

// plotly.js, once per page: from the app's static folder, where the browser keeps it (served
// with an ETag), or, where that folder is not served, from the text sent with the figure.
// Loaded as a classic script, after the page's first paint: it is not in the component's own
// JS, which Streamlit sends again with every rerun.
function plotly(data) {
  if (!window.gruPlotly) {
    window.gruPlotly = new Promise((resolve, reject) => {
      // Streamlit's own Plotly code (other charts of the page) may set window.Plotly too:
      // this chart keeps the copy it loaded, and leaves window.Plotly as it found it
      const before = window.Plotly;
      const s = document.createElement("script");
      const loaded = () => {
        const ours = window.Plotly;
        if (before !== undefined) window.Plotly = before;
        resolve(ours);
      };
      if (data.plotly_url) {
        s.src = new URL(data.plotly_url, staticRoot()).href;
        s.onload = loaded;
        s.onerror = () => { window.gruPlotly = null; reject(new Error("plotly.js not loaded")); };
        document.head.appendChild(s);
      } else if (data.plotly_js) {
        s.textContent = data.plotly_js;
        document.head.appendChild(s);
        loaded();
      } else {
        window.gruPlotly = null;
        reject(new Error("no plotly.js yet"));  // a later call, with the figure, brings it
      }
    });
  }
  return window.gruPlotly;
}

// The app's root URL: the page's main script is <root>/static/js/index.<hash>.js
function staticRoot() {
  const main = document.querySelector('script[type="module"][src*="/static/js/index."]');
  return main ? new URL("../../", main.src).href : document.baseURI;
}

function make(parentElement) {
  const root = parentElement.querySelector(".gru-live");
  const s = {
    root, plot: root.querySelector(".gl-plot"),
    marker: root.querySelector(".gl-marker"), playButton: root.querySelector(".gl-play"),
    speed: root.querySelector(".gl-speed"), line: root.querySelector(".gl-line"),
    player: root.querySelector(".gl-player"),
    revision: null, frames: {}, T: 0, t: 0, timer: null, asked: false, pending: null,
    clicking: false, queue: Promise.resolve(), send: null, slider: null,
    observer: null, rest: null, lineAt: null, resume: false,
  };
  s.playButton.onclick = () => {
    if (s.timer !== null) { stop(s); s.send("play", { t: s.t, playing: false }); } else start(s);
  };
  s.speed.onchange = () => { if (s.timer !== null) start(s); };
  s.onKey = (e) => onKey(s, e);
  s.onButton = (e) => onButton(s, e);
  document.addEventListener("keydown", s.onKey);
  document.addEventListener("click", s.onButton, true);  // before Streamlit's own handler
  s.cleanup = () => {
    document.removeEventListener("keydown", s.onKey);
    document.removeEventListener("click", s.onButton, true);
    if (s.observer) s.observer.disconnect();
    if (s.T > 0) left = { s, playing: s.timer !== null, at: Date.now() };
    if (s.timer !== null) clearInterval(s.timer);
    charts.delete(parentElement);
    if (Plotly) Plotly.purge(s.plot);
  };
  return s;
}

// A player Streamlit mounts again in place of one it has just removed (a rerun cut short
// dropped the element, the next one draws it anew) goes on from where that one was: the step
// the keys are heading to, its frames, whether it played. Keys pressed before it is drawn
// again step the card as before.
let left = null;  // the player last removed: {s, playing, at}
function takeOver(s, data) {
  const old = left ?? { s: [...charts.values()].find((c) => c.T > 0 && !c.root.isConnected) };
  left = null;
  if (!old.s || old.s.revision !== data.revision || Date.now() - (old.at ?? Date.now()) > 2000)
    return;
  const { pending, t, T, frames } = old.s;
  Object.assign(s, { pending, t, T, frames, resume: old.playing ?? old.s.timer !== null });
}

// A click on a heatmap cell reports its step and unit; on the top panel, its step.
function onClick(s, event) {
  const p = event.points[0];
  const unit = p.data.type === "heatmap" ? (p.customdata ?? p.y) : null;  // rows may be reordered
  s.send("click", { t: p.x, unit, at: Date.now() });
}

// Step t shown in the browser: the step's line, the cell, and the step line as a plain
// element moved over the plot (a CSS transform): Plotly draws nothing per step. Plotly's own
// step line comes back with the page's next shapes (or at the step paused on).
function show(s, step) {
  s.t = step;
  const f = s.frames[step];
  if (f) s.line.textContent = f.line;
  showCard(step);
  showSteps(step);
  const xaxis = s.plot._fullLayout.xaxis;
  const x = xaxis._offset + xaxis.l2p(step);
  s.marker.style.transform = `translateX(${x}px)`;
  return x;
}

function showMarker(s) {
  s.marker.style.height = `${s.plot._fullLayout.height}px`;
  s.marker.style.display = "block";
  Plotly.relayout(s.plot, { "shapes[0].visible": false });
}

function tick(s) {
  if (s.t + 1 >= s.T) { stop(s); s.send("play", { t: s.t, playing: false }); return; }
  if (s.frames[s.t + 1] !== undefined) {  // else: wait for the frames asked for
    const x = show(s, s.t + 1);
    window.stepLog.push({ t: s.t, x, at: performance.now() });
  }
  if (!s.asked && s.t + AHEAD < s.T && s.frames[s.t + AHEAD] === undefined) {
    s.asked = true;  // the next window, while this one still plays
    s.send("play", { t: s.t, playing: true });
  }
}
function start(s) {
  if (s.timer !== null) clearInterval(s.timer);
  if (s.t + 1 >= s.T) {  // at the end, ▶ play starts again from the first step
    if (s.frames[0] === undefined) { s.send("play", { t: 0, playing: true }); return; }
    s.t = 0;
  }
  showMarker(s);
  window.stepLog.push({ t: s.t, x: show(s, s.t), at: performance.now() });
  s.timer = setInterval(() => tick(s), 1000 / Number(s.speed.value));
  s.playButton.textContent = "❚❚ pause";
  s.playButton.setAttribute("aria-label", "pause");
  playing(true);
}

// The page's own ▶ play (Streamlit's button, key play) says what the chart's says, and the
// slider and the text display, which show the server's t, are dimmed while the player runs
// ahead of it (they follow when it pauses).
function playing(on) {
  for (const label of document.querySelectorAll(".st-key-play button p")) {  // and its twin
    label.textContent = on ? "❚❚ pause" : "▶ play";  // that Streamlit measures the width with
  }
  for (const key of ["t", "display"]) {
    const el = document.querySelector(`.st-key-${key}`);
    if (el) {
      el.style.opacity = on ? "0.45" : "";
      el.title = on ? "shows the step play started from; follows when paused" : "";
    }
  }
}
function stop(s) {
  if (s.timer !== null) clearInterval(s.timer);
  s.timer = null;
  s.playButton.textContent = "▶ play";
  s.playButton.setAttribute("aria-label", "play");
  playing(false);
  s.marker.style.display = "none";
  Plotly.relayout(s.plot, { "shapes[0].x0": s.t, "shapes[0].x1": s.t,
                                   "shapes[0].visible": true });
  s.lineAt = s.t;
}

// ← → Home End step the page (space plays, within the chart). Handled here rather than as
// button shortcuts: each press moves a target step that is sent whole, so presses made while
// the page reruns add up instead of being lost (Home, then 33 × → lands on t = 33).
function onKey(s, e) {
  if (s.T === 0 || !s.root.isConnected) return;
  const el = e.target;  // keys typed into the page's own inputs and sliders are theirs
  if (el && el.closest && el.closest("input, textarea, select, [role=slider], [contenteditable]"))
    return;
  if (e.key === " " && !(el && el.closest && el.closest("button, a"))) {
    e.preventDefault();
    s.playButton.click();
    return;
  }
  if (e.key !== "ArrowLeft" && e.key !== "ArrowRight" && e.key !== "Home" && e.key !== "End")
    return;
  e.preventDefault();
  const from = s.pending ?? s.t;
  stepTo(s, { ArrowLeft: from - 1, ArrowRight: from + 1, Home: 0, End: s.T - 1 }[e.key]);
}

// ◀ ▶ (Streamlit's buttons above the chart) step as ← → do: the card at once, the page after.
function onButton(s, e) {
  if (s.T === 0 || !s.root.isConnected || !e.target.closest) return;
  const button = e.target.closest(".st-key-prev button, .st-key-next button, "
                                  + ".st-key-play button");
  if (!button || button.disabled) return;
  e.preventDefault();
  e.stopPropagation();  // the step is sent as a target, not as the button's click
  if (button.closest(".st-key-play")) { s.playButton.click(); return; }
  const from = s.pending ?? s.t;
  stepTo(s, button.closest(".st-key-prev") ? from - 1 : from + 1);
}

// The slider (Streamlit's, key t) sends its own value; while it moves, the card follows.
function watchSlider(s) {
  const slider = document.querySelector(".st-key-t input[type=range]");  // its value, as it moves
  if (!slider || slider === s.slider) return;
  s.slider = slider;
  if (s.observer) s.observer.disconnect();
  s.observer = new MutationObserver(() => {
    if (s.timer !== null) return;  // playing: the page follows the player, not the other way
    // moved by the reader (the slider has the focus, or the pointer), not by a rerun that
    // brought the page to a step on the way to the one the keys are at
    if (document.activeElement !== slider && !document.gruSliding) return;
    const to = Number(slider.getAttribute("value"));
    if (Number.isInteger(to) && to !== (s.pending ?? s.t)) stepTo(s, to, false);
  });
  s.observer.observe(slider, { attributes: true, attributeFilter: ["value"] });
  if (!document.gruSlidingWatched) {  // a drag: pointer down on the slider, until it is up
    document.gruSlidingWatched = true;
    document.addEventListener("pointerdown", (e) => {
      document.gruSliding = Boolean(e.target.closest && e.target.closest(".st-key-t"));
    }, true);
    document.addEventListener("pointerup", () => { document.gruSliding = false; }, true);
  }
}

// A step taken in the browser: the card first (showCard: the server's parts for that step),
// then the player's line, the cell and the step line; the server is sent the target step.
function stepTo(s, to, send = true) {
  if (s.timer !== null) stop(s);
  s.pending = Math.min(Math.max(to, 0), s.T - 1);
  const at = s.pending;
  showCard(at);
  const prediction = stepViews.get("prediction");  // text, as the card: in the same frame
  if (prediction && prediction.root.isConnected) prediction.show(prediction, at);
  if (s.frames[at]) s.line.textContent = s.frames[at].line;
  if (send) s.send("play", { t: at, playing: false });
  // Plotly's redraws (the cell's labels, the step line) after the frame that shows the card
  requestAnimationFrame(() => setTimeout(() => {
    if (s.pending !== at) return;  // a later step is on its way
    showSteps(at);
    if (s.revision === null) return;  // not drawn yet: its first figure has the server's line
    Plotly.relayout(s.plot, { "shapes[0].x0": at, "shapes[0].x1": at });
    s.lineAt = at;
  }, 0));
}

async function draw(s, data) {
  data = complete("chart", data, ["spec", "plotly_js"], s.revision, s.send);
  if (data === null) return;  // new in the page, no figure yet: the next run sends it
  Plotly = await plotly(data);
  const config = JSON.parse(data.config);
  const player = data.player;
  if (data.spec === null || data.revision === s.revision) {
    // same data: only the marker lines move, which Plotly redraws without touching the rest;
    // not at all where a browser-side step has already moved the step line there
    const shapes = JSON.parse(data.shapes);
    const rest = JSON.stringify(shapes.slice(1));
    if (rest !== s.rest || shapes[0].x0 !== s.lineAt) await Plotly.relayout(s.plot, { shapes });
    s.rest = rest;
    s.lineAt = shapes[0].x0;
  } else {
    s.revision = data.revision;
    window.draws += 1;
    try {
      const fig = JSON.parse(data.spec);
      await Plotly.react(s.plot, fig.data, fig.layout, { ...config, responsive: true });
      const drawn = fig.layout.shapes || [];
      s.rest = JSON.stringify(drawn.slice(1));
      s.lineAt = drawn.length ? drawn[0].x0 : null;
      if (fig.steps) s.frames = Object.fromEntries(fig.steps.map((f) => [f.t, f]));
      s.asked = false;
      if (s.timer !== null) {  // playing on over the new window: hide Plotly's line again
        Plotly.relayout(s.plot, { "shapes[0].visible": false });
        show(s, s.t);
      }
      if (data.clicks && !s.clicking) {
        s.plot.on("plotly_click", (event) => onClick(s, event));
        s.clicking = true;
      }
    } catch (err) {
      s.revision = null;  // not drawn: the same data, sent again, draw it again
      throw err;
    }
    preload(data.preload);
  }
  if (player) {
    s.player.style.display = "flex";
    s.T = player.T;
    if (s.pending !== null && player.t === s.pending) s.pending = null;  // the page caught up
    if (s.timer === null && !s.resume) {  // while playing, the chart's step is ahead
      s.t = player.t;
      if (s.frames[s.t]) s.line.textContent = s.frames[s.t].line;
      showSteps(s.t);
    }
    if (player.speed) s.speed.value = String(player.speed);
    if ((player.playing || s.resume) && s.timer === null) start(s);
    s.resume = false;
    watchSlider(s);
  }
}

// `data` for an element that holds the revision `held`, with the fields (null: sent before)
// that a new revision needs: as sent (then remembered), or from the last data of its kind of
// that revision; else null, and the element asks for them: the next run sends them. That run
// takes the page's widgets as the browser holds them, and a slider not yet caught up with the
// server would take the page back to its step: the step keys or buttons sent goes again after.
function complete(kind, data, fields, held, send) {
  if (data.revision === held) return data;
  if (data[fields[0]] !== null) {
    sentLast.set(kind, data);
    return data;
  }
  const last = sentLast.get(kind);
  if (last && last.revision === data.revision) {
    return { ...data, ...Object.fromEntries(fields.map((f) => [f, last[f]])) };
  }
  send("missing", data.revision);
  const s = [...charts.values()].find((c) => c.pending !== null);
  if (s) s.send("play", { t: s.pending, playing: false });
  return null;
}

// Streamlit's code for the elements the other views show (dashboard/live_chart.py, _chunks),
// imported into the page once, 1.5 s after this chart is first drawn and when the page is idle,
// one file per idle moment: the first view that shows an st.plotly_chart, a metric or a code
// block then finds its code evaluated (the same URL is the same module) instead of fetching and
// evaluating it after the click. Later, not at once: Plotly's evaluation holds the page for
// about a second, which the page's first paint must not wait for.
function preload(names) {
  if (!names || !names.length || window.liveChartPreloaded) return;
  const main = document.querySelector('script[type="module"][src*="/static/js/index."]');
  if (!main) return;
  window.liveChartPreloaded = true;
  const idle = window.requestIdleCallback || ((f) => setTimeout(f, 0));
  const next = (i) => {
    if (i >= names.length) return;
    idle(() => { import(new URL(names[i], main.src).href).finally(() => next(i + 1)); },
         { timeout: 3000 });
  };
  setTimeout(() => next(0), 1500);
}

// --- The step card, in the browser (dashboard/views/stepper/cards.py) --------------------
// The card at t is Streamlit's (the block keyed card_server, drawn from the parts of step t).
// A step taken in the browser shows a copy of that block with the parts of the new step put
// in, in place of it, until the server's card reaches that step: Streamlit's own elements and
// classes, so it looks the same. Text goes in as textContent; the LaTeX, ours, is typeset by
// KaTeX as Streamlit's Markdown typesets it.

let card = null;  // the page's card: {root, cards (parts by step), revision, t, shown, ...}

function katex(data) {
  if (!window.gruKatex) {
    window.gruKatex = new Promise((resolve, reject) => {
      const s = document.createElement("script");
      if (data.katex_url) {
        s.src = new URL(data.katex_url, staticRoot()).href;
        s.onload = () => resolve(window.katex);
        s.onerror = () => { window.gruKatex = null; reject(new Error("KaTeX not loaded")); };
        document.head.appendChild(s);
      } else if (data.katex_js) {
        s.textContent = data.katex_js;
        document.head.appendChild(s);
        resolve(window.katex);
      } else {
        window.gruKatex = null;
        reject(new Error("no KaTeX yet"));
      }
    });
    window.gruKatex.then((k) => { if (card) card.katex = k; }).catch(() => {});
  }
  return window.gruKatex;
}

// The blocks a browser-side step shows a copy of: the server's block (its Streamlit key), the
// step's parts it shows, and how a copy shows them. The card's copy goes in the card's own
// element (drawn just after its block); the others just after their block.
const COPIES = [
  ["card_server", (p) => p, fill, "gru-card-copy"],
  ["summary_server", (p) => p.summary, fillSummary, "gru-summary-copy"],
  ["diff_server", (p) => p.differences, fillDifferences, "gru-diff-copy"],
];

// An inline style on the server's block, not a rule in the page's head: a new rule would
// have the browser recompute the style of the whole page, twice a step.
function hideServer(key, hide) {
  const server = document.querySelector(`.st-key-${key}`);
  if (server) server.style.display = hide ? "none" : "";
}

function restoreCard(c) {
  c.shown = null;
  c.root.replaceChildren();
  hideServer("card_server", false);
  for (const key of c.copies.keys()) restoreWhenDrawn(c, key);
}

// The server's block again, once it shows what the copy shows (the same parts give the same
// text): below the chart it is drawn a moment after the card, and would show the old step.
function restoreWhenDrawn(c, key) {
  const copy = c.copies.get(key);
  const server = document.querySelector(`.st-key-${key}`);
  const since = Date.now();
  const check = () => {
    if (c.copies.get(key) !== copy) return;  // a later step's copy took its place
    if (!server || !server.isConnected || server.textContent === copy.textContent
        || Date.now() - since > 3000) {
      copy.remove();
      c.copies.delete(key);
      if (server) server.style.display = "";
    } else requestAnimationFrame(check);
  };
  check();
}

function copyOf(server) {
  const copy = server.cloneNode(true);
  copy.style.display = "";  // the server's block may be hidden already (a step before)
  // no second element with the server's keys, ids or labels in the page
  for (const e of [copy, ...copy.querySelectorAll("[class*=st-key-]")]) {
    e.classList.remove(...[...e.classList].filter((k) => k.startsWith("st-key-")));
  }
  copy.querySelectorAll("[id]").forEach((e) => e.removeAttribute("id"));
  copy.querySelectorAll("[aria-labelledby]").forEach((e) => e.removeAttribute("aria-labelledby"));
  copy.querySelectorAll("[data-stale]").forEach((e) => e.setAttribute("data-stale", "false"));
  return copy;
}

// The card of `step` in place of the server's, when the browser holds its parts (and KaTeX),
// and so the step's summary and differences; the server's again when `step` is its own.
function showCard(step) {
  const c = card;
  if (!c || !c.root.isConnected) return;
  const p = c.cards[step];
  if (step === c.t || !p || !c.katex || !document.querySelector(".st-key-card_server")) {
    restoreCard(c);
    return;
  }
  const place = ([key, pick, fillIt, name]) => {
    const server = document.querySelector(`.st-key-${key}`);
    if (!server || !pick(p)) return;
    const copy = copyOf(server);
    copy.classList.add(name);
    fillIt(copy, pick(p), c.katex, step);
    if (key === "card_server") c.root.replaceChildren(copy);
    else {
      c.copies.get(key)?.remove();
      server.after(copy);
      c.copies.set(key, copy);
    }
    server.style.display = "none";
  };
  place(COPIES[0]);  // the card in this frame; the blocks below it in the next, if still wanted
  c.shown = step;
  c.at = Date.now();
  window.cardAt = step;  // what the tests and the bench read
  requestAnimationFrame(() => { if (c.shown === step) COPIES.slice(1).forEach(place); });
}

// The summary of every unit: the lead, then a row (a unit's button, its sentence) per unit,
// as many as the step lists. A unit's button in the copy selects that unit at that step.
function fillSummary(copy, p, katexLib, step) {
  const [head, ...rows] = copy.children;
  const lead = document.createElement("strong");
  lead.textContent = p.lead;
  head.querySelector("[data-testid=stMarkdownContainer] p")
    .replaceChildren(lead, ` ${p.headline}`);
  while (rows.length < p.rows.length) {
    rows.push(rows[rows.length - 1].cloneNode(true));
    copy.append(rows[rows.length - 1]);
  }
  rows.splice(p.rows.length).forEach((row) => row.remove());
  rows.forEach((row, i) => {
    const { unit, sentence } = p.rows[i];
    const button = row.querySelector("button");
    button.querySelector("p").textContent = `unit ${unit}`;
    button.disabled = unit === card.cards[step].unit;
    button.onclick = () => {
      const s = [...charts.values()][0];
      if (s) s.send("click", { t: step, unit, at: Date.now() });
    };
    const said = [...row.querySelectorAll("[data-testid=stMarkdownContainer]")]
      .find((e) => !e.closest("button"));
    said.querySelector("p").textContent = sentence;
  });
}

function fillDifferences(copy, p) {
  const lead = document.createElement("strong");
  lead.textContent = p.lead;
  copy.querySelector("[data-testid=stMarkdownContainer] p").replaceChildren(lead, ` ${p.text}`);
}

function fill(copy, p, katexLib) {
  const [heading, lines, verify, caption, alert] =
    copy.querySelectorAll(":scope > [data-testid=stElementContainer]");
  const title = heading.querySelector("[data-heading-text]") || heading.querySelector("h3");
  const code = title.querySelector("code")?.cloneNode(false) || document.createElement("code");
  code.textContent = p.token;
  title.replaceChildren(document.createTextNode(p.heading), code);
  const box = lines.querySelector("[data-testid=stMarkdownContainer]");
  box.replaceChildren(...p.lines.map((line, i) => {
    const para = document.createElement("p");
    // KaTeX's markup parsed as Streamlit's Markdown takes it (a string, then elements), so
    // the copy is Streamlit's card element for element. The LaTeX is the server's: numbers
    // and our own symbols, never a text from outside (cards.py), and KaTeX escapes text.
    const math = document.createElement("template");
    math.innerHTML = katexLib.renderToString(line.math, { throwOnError: false });
    if (line.name) {
      const name = document.createElement("strong");
      name.textContent = `${line.name}:`;
      para.append(name, " ");
    }
    para.append(math.content);
    if (line.after) para.append(` ${line.after}`);
    return i ? [document.createTextNode("\n"), para] : [para];
  }).flat());
  const checked = verify.querySelector("p");
  checked.replaceChildren(...p.verify.map(([text, bold]) => {
    if (!bold) return document.createTextNode(text);
    const b = document.createElement("strong");
    b.textContent = text;
    return b;
  }));
  caption.querySelector("p").textContent = p.caption;
  if (alert && p.comparison) {
    const said = alert.querySelector("[data-testid=stMarkdownContainer] p");
    if (said) said.textContent = p.comparison;
  }
}

function cardView({ data, parentElement, setTriggerValue }) {
  if (!card || card.parent !== parentElement) {
    const c = { parent: parentElement, root: parentElement.querySelector(".gru-card"),
                cards: {}, revision: null, t: null, shown: null, at: 0, katex: null,
                copies: new Map() };
    c.cleanup = () => {
      if (card === c) { restoreCard(c); card = null; }
    };
    card = c;
  }
  const c = card;
  // new in the page with no cards: the next run sends them (null); the server's card till then
  data = complete("card", data, ["cards", "katex_js"], c.revision, setTriggerValue) ?? data;
  if (data.cards) {
    c.cards = Object.fromEntries(data.cards.map((p) => [p.t, p]));
    c.revision = data.revision;
  }
  c.t = data.t;
  const ahead = chartAhead();  // the player's step, or a step on its way to the server
  if (ahead !== null && ahead !== c.t && c.katex) showCard(ahead);
  // the server's card has reached the step shown, or went elsewhere (a click) a while ago
  else if (c.shown !== null && (c.shown === c.t || Date.now() - c.at > 3000)) restoreCard(c);
  else if (c.shown === null) hideServer("card_server", false);  // none shown by this element:
  // the server's card is (a card element mounted again may not have seen the old one go)
  katex(data).then((k) => { c.katex = k; }).catch(() => {});
  return c.cleanup;
}

// --- Views of one step of a window: the cell, the prediction ------------------------------
// Each is an element of its own, placed by the page (dashboard/views/stepper/): the server
// sends the parts of every step of a window when the window changes, and its t at each run.
// A view shows the server's t, or the step a chart shows ahead of it: the player's, or a
// browser-side step's (◀ ▶, the keys, the slider) until the server reaches it.

const stepViews = new Map();  // kind ("cell", "prediction") -> its state
const ROOTS = { cell: "gru-cell", prediction: "gru-pred" };  // each one's element, by class

// The step a chart shows ahead of the server's t (its player runs, or a browser-side step
// waits for the server), if any.
function chartAhead() {
  const s = [...charts.values()].find((c) => c.timer !== null || c.pending !== null);
  return s ? (s.pending ?? s.t) : null;
}

function showSteps(step) {
  for (const v of stepViews.values()) if (v.root.isConnected) v.show(v, step);
}

function stepView(kind, { data, parentElement, setTriggerValue }, load, show) {
  let v = stepViews.get(kind);
  if (!v || v.parent !== parentElement) {
    v = { kind, parent: parentElement, root: parentElement.querySelector(`.${ROOTS[kind]}`),
          steps: {},
          revision: null, ready: false, queue: Promise.resolve(), show };
    const made = v;
    v.cleanup = () => {
      if (stepViews.get(kind) === made) stepViews.delete(kind);
      if (kind === "cell" && Plotly) Plotly.purge(made.root);
    };
    stepViews.set(kind, v);
  }
  const ready = v;
  data = complete(kind, data, ["spec", "plotly_js"], v.revision, setTriggerValue);
  if (data === null) return v.cleanup;  // new in the page: the next run sends it
  if (data.spec !== null) v.revision = data.revision;  // on its way: not asked for again
  v.queue = v.queue.then(async () => {
    if (data.spec !== null) {
      await load(ready, data);
      ready.ready = true;
    }
    show(ready, chartAhead() ?? data.t);
  }).catch((err) => {
    ready.revision = null;  // not drawn: the same data, sent again, draws it
    console.error(err);
  });
  return v.cleanup;
}

// The cell: one Plotly figure; a step rewrites the text of its wire labels and title with the
// step's (the server's, as the card writes them). window.cellAt: the step shown, once drawn.
async function loadCell(v, data) {
  Plotly = await plotly(data);
  const fig = JSON.parse(data.spec);
  await Plotly.react(v.root, fig.cell.data, fig.cell.layout,
                     { ...JSON.parse(data.config), responsive: true });
  v.index = Object.fromEntries(fig.cell.layout.annotations.map((a, i) => [a.name, i]));
  v.steps = Object.fromEntries(fig.steps.map((f) => [f.t, f.labels]));
}

function showCell(v, step) {
  const labels = v.ready && v.steps[step];
  if (!labels) return;
  const update = {};
  for (const [name, text] of Object.entries(labels)) {
    if (name === "title") update["title.text"] = text;
    else if (name in v.index) update[`annotations[${v.index[name]}].text`] = text;
  }
  Plotly.relayout(v.root, update).then(() => { window.cellAt = step; });
}

// The prediction: a title, a table of five tokens with their probabilities (the server's text,
// and a bar as wide as the server's percentage), the actual next token marked, a caption.
function loadPrediction(v, data) {
  v.steps = Object.fromEntries(data.steps.map((p) => [p.t, p]));
  if (v.root.childElementCount) return;
  const el = (tag, cls, text) => {
    const e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined) e.textContent = text;
    return e;
  };
  v.title = el("p", "gp-title");
  const table = el("table", "gp-table");
  const head = el("tr");
  head.append(el("th", null, "token"), el("th", null, "probability"), el("th", null, ""));
  table.append(el("thead"), el("tbody"));
  table.tHead.append(head);
  v.body = table.tBodies[0];
  v.caption = el("p", "gp-caption");
  v.root.append(v.title, table, v.caption);
  v.el = el;
}

function showPrediction(v, step) {
  const p = v.ready && v.steps[step];
  if (!p) return;
  const el = v.el;
  v.title.textContent = p.title;
  v.body.replaceChildren(...p.rows.map((r) => {
    const tr = el("tr");
    const bar = el("div", "gp-bar");
    bar.style.width = `${r.width}%`;
    const cell = el("td", "gp-p");
    cell.append(el("div", "gp-track"), el("span", null, r.text));
    cell.firstChild.append(bar);
    tr.append(el("td", "gp-token", r.token), cell, el("td", "gp-mark", r.actual ? "← actual" : ""));
    return tr;
  }));
  v.caption.textContent = p.caption;
  window.predictionAt = step;
}

function loadSteps(v, data) {
  return loadPrediction(v, { steps: JSON.parse(data.spec) });
}

export default function ({ data, parentElement, setTriggerValue }) {
  if (parentElement.querySelector(".gru-card")) {
    return cardView({ data, parentElement, setTriggerValue });
  }
  if (parentElement.querySelector(".gru-cell")) {
    return stepView("cell", { data, parentElement, setTriggerValue }, loadCell, showCell);
  }
  if (parentElement.querySelector(".gru-pred")) {
    return stepView("prediction", { data, parentElement, setTriggerValue }, loadSteps,
                    showPrediction);
  }
  let s = charts.get(parentElement);
  if (!s) {
    s = make(parentElement);
    takeOver(s, data);
    charts.set(parentElement, s);
  }
  s.send = setTriggerValue;  // the latest: it carries this run's fragment
  // one call at a time, in the order Streamlit made them (a draw awaits plotly.js)
  s.queue = s.queue.then(() => draw(s, data)).catch((err) => console.error(err));
  return s.cleanup;
}
