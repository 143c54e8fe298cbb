// The playground view: draws the dict sandbox/present/playground_view.py builds, once per tick, in the browser.
// Streamlit calls the default export with new `data` after every run that changed it; the DOM stays, and each part
// (a variant's header, diagram, tiles, messages, each chart, the log) is redrawn only when its own data changed.
// Dots on the diagram's arrows are CSS animations; each costs the browser a little every frame, so there are few.

const DOT_S = 1.4; // seconds a dot takes along an arrow
const COLUMN_MIN_PX = 380; // narrower than this per variant, the variants stack
const WIDE_SECTION_PX = 760; // a stacked variant this wide puts its diagram beside its tiles and charts

const esc = (text) => String(text).replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;",
  '"': "&quot;", "'": "&#39;" })[c]);
const fmt = (value) => Math.abs(value) >= 1000 ? `${Math.round(value / 100) / 10}k`
  : Number.isInteger(value) ? String(value) : String(Math.round(value * 10) / 10);

function changed(cache, key, value) {
  const json = JSON.stringify(value);
  if (cache.get(key) === json) return false;
  cache.set(key, json);
  return true;
}

// --- the diagram --------------------------------------------------------------------------------------------------

function boxSvg(box, palette) {
  const lines = [...box.title.split("\n"), ...box.lines];
  const titleLines = box.title.split("\n").length;
  const first = box.y - ((lines.length - 1) * 12.5) / 2 + 4.5;
  const text = lines.map((line, i) => `<text x="${box.x}" y="${first + i * 12.5}"
    class="${i < titleLines ? "pol-title" : "pol-line"}">${esc(line)}</text>`).join("");
  if (box.health === "client") {
    return `<g class="pol-box" data-part="client">${text}</g>`;
  }
  const colours = palette.health[box.health];
  const round = box.name === "database" ? 16 : 7;
  const dash = box.health === "absent" ? ' stroke-dasharray="5 4"' : "";
  const actionable = box.health !== "absent" && box.name !== "database";
  const role = actionable ? ` role="button" tabindex="0" aria-label="${esc(box.title)}: break or mend it"` : "";
  return `<g class="pol-box pol-${box.health}${actionable ? " pol-actionable" : ""}" data-part="${box.name}"
    data-health="${box.health}"${role}>
    <rect x="${box.x - box.w / 2}" y="${box.y - box.h / 2}" width="${box.w}" height="${box.h}" rx="${round}"
      fill="${colours.fill}" stroke="${colours.border}" stroke-width="2"${dash}/>${text}</g>`;
}

function arrowSvg(arrow) {
  const dash = arrow.dashed ? ' stroke-dasharray="4 3"' : "";
  const marker = arrow.colour === "#666666" ? "grey" : arrow.colour === "#c62828" ? "red" : "orange";
  const fill = arrow.colour === "#666666" ? "#444" : arrow.colour;
  const top = arrow.label_y - ((arrow.label.length - 1) * 11) / 2 + 3.5;
  const label = arrow.label.map((line, i) => `<text x="${arrow.label_x}" y="${top + i * 11}" class="pol-rate"
    fill="${fill}">${esc(line)}</text>`).join("");
  return `<g class="pol-arrow" data-arrow="${arrow.source}>${arrow.target}"><title>${esc(arrow.route)}</title>
    <path d="${arrow.path}" stroke="${arrow.colour}" fill="none" stroke-width="1.5"${dash}
      marker-end="url(#pol-head-${marker})"/>${label}</g>`;
}

const HEADS = ["grey:#666666", "orange:#d2691e", "red:#c62828"].map((pair) => {
  const [name, colour] = pair.split(":");
  return `<marker id="pol-head-${name}" viewBox="0 0 8 8" refX="7" refY="4" markerWidth="7" markerHeight="7"
    orient="auto-start-reverse"><path d="M0,0 L8,4 L0,8 z" fill="${colour}"/></marker>`;
}).join("");

function ends(path) {
  const numbers = path.match(/-?[\d.]+/g).map(Number);
  return [numbers[0], numbers[1], numbers[numbers.length - 2], numbers[numbers.length - 1]];
}

function dotsHtml(arrow) {
  const [x1, y1, x2, y2] = ends(arrow.path);
  let html = "";
  for (let i = 0; i < arrow.dots; i += 1) {
    const failed = i < arrow.failed_dots ? " pol-dot-failed" : "";
    html += `<i class="pol-dot${failed}" style="left:${x1}px;top:${y1}px;--dx:${x2 - x1}px;--dy:${y2 - y1}px;
      animation-delay:${(-DOT_S * i) / arrow.dots}s"></i>`;
  }
  return html;
}

function drawDiagram(holder, diagram, palette, cache, width) {
  if (!holder.firstChild) {
    holder.innerHTML = `<svg class="pol-svg" viewBox="0 0 ${diagram.width} ${diagram.height}" role="img"
      aria-label="topology"><g class="pol-arrows"></g><g class="pol-boxes"></g></svg>
      <div class="pol-dots" style="width:${diagram.width}px;height:${diagram.height}px"></div>`;
  }
  const svg = holder.querySelector("svg");
  svg.querySelector(".pol-arrows").innerHTML = diagram.arrows.map(arrowSvg).join("");
  svg.querySelector(".pol-boxes").innerHTML = diagram.boxes.map((b) => boxSvg(b, palette)).join("");
  const layer = holder.querySelector(".pol-dots");
  const wanted = new Set();
  for (const arrow of diagram.arrows) {
    const key = `${arrow.source}>${arrow.target}`;
    wanted.add(key);
    let group = layer.querySelector(`[data-arrow="${key}"]`);
    if (!group) {
      group = document.createElement("span");
      group.dataset.arrow = key;
      layer.appendChild(group);
    }
    if (changed(cache, `dots:${key}`, [arrow.dots, arrow.failed_dots, arrow.path])) group.innerHTML = dotsHtml(arrow);
  }
  for (const group of [...layer.children]) {
    if (!wanted.has(group.dataset.arrow)) {
      cache.delete(`dots:${group.dataset.arrow}`);
      group.remove();
    }
  }
  layer.style.transform = `scale(${width / diagram.width})`;
}

// --- tiles, story, messages ------------------------------------------------------------------------------------------

function tilesHtml(tiles, highlight) {
  return tiles.map((tile) => `<div class="pol-tile pol-tone-${tile.tone}${highlight.includes(tile.label)
    ? " pol-highlight" : ""}" data-tile="${esc(tile.label)}" data-tone="${tile.tone}" title="${esc(tile.help)}">
    <div class="pol-tile-label">${esc(tile.label)}</div><div class="pol-tile-value">${esc(tile.value)}</div>
    ${tile.cue ? `<div class="pol-cue">${esc(tile.cue)}</div>` : ""}</div>`).join("");
}

function messagesHtml(messages, scrubbed) {
  if (!messages) {
    return `<div class="pol-mail-head">messages</div><div class="pol-quiet">no queue here: the author calls the Blog
      Service to empty the cache, and that call succeeds or fails at once</div>`;
  }
  const counts = messages.states.map((s) => `<span class="pol-count pol-state-${s.state.replace(" ", "-")}"
    data-state="${s.state}" title="${esc(s.meaning)}">${esc(s.state)} <b>${s.count.toLocaleString("en")}</b></span>`)
    .join("");
  const letters = messages.letters.map((l) => `<span class="pol-letter pol-state-${l.state.replace(" ", "-")}"
    data-id="${l.id}" title="${esc(l.where)}">${l.poison ? "☠" : "✉"} <b>${l.id}</b> ${esc(l.where)} · ${l.age}
    </span>`).join("");
  const more = messages.states.filter((s) => s.more > 0).map((s) => `<span class="pol-quiet">+${s.more
    .toLocaleString("en")} more ${esc(s.state)}</span>`).join(" ");
  return `<div class="pol-mail-head">messages${scrubbed ? " now" : ""}</div><div class="pol-counts">${counts}</div>
    <div class="pol-letters">${letters || '<span class="pol-quiet">no message in the system</span>'} ${more}</div>`;
}

// --- charts --------------------------------------------------------------------------------------------------------

function ticksFor(chart) {
  const [low, high] = chart.domain;
  if (!chart.log) return [low, high / 2, high];
  const ticks = [];
  for (let v = low; v <= high * 1.0001; v *= 10) ticks.push(v);
  return ticks.length > 4 ? ticks.filter((_, i) => i % 2 === 0) : ticks;
}

function chartSvg(chart, values, bands, marks, data, width, height) {
  const left = 34;
  const right = 6;
  const top = 4;
  const bottom = 15;
  const [s0, s1] = data.span;
  const x = (t) => left + ((t - s0) / (s1 - s0 || 1)) * (width - left - right);
  const [low, high] = chart.domain;
  const y = chart.log
    ? (v) => top + (1 - (Math.log10(v) - Math.log10(low)) / (Math.log10(high) - Math.log10(low))) * (height - top - bottom)
    : (v) => top + (1 - (v - low) / (high - low || 1)) * (height - top - bottom);
  const palette = data.palette.faults;
  let svg = "";
  for (const band of bands) {
    svg += `<rect x="${x(band.start)}" y="${top}" width="${Math.max(0, x(band.end) - x(band.start))}"
      height="${height - top - bottom}" fill="${palette[band.kind]}" opacity="0.13"><title>${esc(band.label)}</title>
      </rect>`;
  }
  for (const tick of ticksFor(chart)) {
    svg += `<line x1="${left}" x2="${width - right}" y1="${y(tick)}" y2="${y(tick)}" class="pol-grid-line"/>
      <text x="${left - 3}" y="${y(tick) + 3}" class="pol-tick" text-anchor="end">${fmt(tick)}</text>`;
  }
  const step = s1 - s0 > 90 ? 30 : 10;
  for (let t = Math.ceil(s0 / step) * step; t <= s1; t += step) {
    svg += `<text x="${x(t)}" y="${height - 3}" class="pol-tick" text-anchor="middle">${t}</text>`;
  }
  let labelled = 0;
  for (const mark of marks) {
    svg += `<line x1="${x(mark.t)}" x2="${x(mark.t)}" y1="${top}" y2="${height - bottom}" class="pol-mark"/>`;
    if (mark.text) {
      svg += `<text x="${x(mark.t) + 2}" y="${top + 8 + (labelled % 2) * 9}" class="pol-mark-label">${esc(mark.text)}
        </text>`;
      labelled += 1;
    }
  }
  values.forEach((series, k) => {
    let d = "";
    let open = false;
    series.forEach((v, i) => {
      if (v === null || (chart.log && v <= 0)) {
        open = false;
        return;
      }
      const clamped = Math.min(Math.max(v, low), high);
      const x0 = x(chart.start + i);
      const x1 = x(chart.start + i + 1);
      d += open ? `V${y(clamped)}H${x1}` : `M${x0},${y(clamped)}H${x1}`;
      open = true;
    });
    if (d) svg += `<path d="${d}" fill="none" stroke="${chart.series[k].colour}" stroke-width="1.6"/>`;
  });
  if (data.scrubbed) {
    svg += `<line x1="${x(data.shown_s)}" x2="${x(data.shown_s)}" y1="${top}" y2="${height - bottom}"
      class="pol-cursor"/>`;
  }
  return `<svg width="${width}" height="${height}" class="pol-chart-svg" data-chart="${chart.key}"
    data-domain="${chart.domain.join(",")}">${svg}</svg>`;
}

function chartHtml(chart) {
  const legend = chart.series.map((s) => `<span><i style="background:${s.colour}"></i>${esc(s.name)}</span>`).join("");
  return `<div class="pol-chart" data-chart="${chart.key}"><div class="pol-chart-head"><b>${esc(chart.heading)}</b>
    <span class="pol-legend">${legend}</span></div><div class="pol-chart-body"></div></div>`;
}

// --- the whole view ------------------------------------------------------------------------------------------------

function sectionHtml(variant) {
  return `<section class="pol-variant" data-variant="${esc(variant.name)}">
    <div class="pol-head"><span class="pol-name"></span><span class="pol-theory"></span></div>
    <div class="pol-story"></div>
    <div class="pol-diagram"></div><div class="pol-tiles"></div><div class="pol-charts pol-main-charts"></div>
    <div class="pol-mail"></div><div class="pol-charts pol-more-charts"></div></section>`;
}

function layout(root, count) {
  const width = root.clientWidth;
  const mode = width / count >= COLUMN_MIN_PX ? "columns" : width >= WIDE_SECTION_PX ? "wide" : "stacked";
  root.dataset.mode = mode;
  root.style.setProperty("--pol-n", String(count));
}

function ensureStructure(state, data) {
  const { root, cache } = state;
  const names = data.variants.map((v) => v.name);
  if (changed(cache, "names", names)) {
    root.querySelector(".pol-grid").innerHTML = data.variants.map(sectionHtml).join("");
    cache.clear();
    cache.set("names", JSON.stringify(names));
  }
  for (const section of root.querySelectorAll("section.pol-variant")) {
    for (const chart of data.charts) {
      if (!section.querySelector(`.pol-chart[data-chart="${chart.key}"]`)) {
        const where = chart.main ? ".pol-main-charts" : ".pol-more-charts";
        section.querySelector(where).insertAdjacentHTML("beforeend", chartHtml(chart));
      }
    }
  }
  layout(root, names.length);
}

function draw(state, data) {
  const { root, cache } = state;
  ensureStructure(state, data);
  // read every width first, then write: one layout per draw, not one per chart
  const sections = new Map([...root.querySelectorAll("section.pol-variant")].map((s) => [s.dataset.variant, s]));
  const widths = new Map();
  for (const [name, section] of sections) {
    widths.set(`${name}:diagram`, section.querySelector(".pol-diagram").clientWidth);
    for (const body of section.querySelectorAll(".pol-chart")) {
      widths.set(`${name}:${body.dataset.chart}`, body.querySelector(".pol-chart-body").clientWidth);
    }
  }
  const clock = root.querySelector(".pol-clock-line");
  const at = data.scrubbed ? ` · showing the end of second ${data.shown_s.toLocaleString("en")}` : "";
  clock.innerHTML = `<strong class="pol-clock">t = ${data.now_s.toLocaleString("en", { minimumFractionDigits: 1,
    maximumFractionDigits: 1 })} s</strong> · speed ${esc(data.speed)}${at}`;
  root.dataset.paused = String(data.speed === "pause" || data.scrubbed);
  for (const variant of data.variants) {
    const section = sections.get(variant.name);
    const part = (selector) => section.querySelector(selector);
    const key = (name) => `${variant.name}:${name}`;
    if (changed(cache, key("head"), [variant.title, variant.narration, variant.theory])) {
      part(".pol-name").textContent = variant.title;
      const story = part(".pol-story");
      story.textContent = variant.narration.text;
      story.dataset.tone = variant.narration.tone;
      const theory = part(".pol-theory");
      theory.textContent = variant.theory.text;
      theory.dataset.tone = variant.theory.tone;
      theory.title = variant.theory.detail.join("\n");
    }
    const diagramWidth = widths.get(key("diagram"));
    if (changed(cache, key("diagram"), [variant.diagram, diagramWidth])) {
      drawDiagram(part(".pol-diagram"), variant.diagram, data.palette, cache, diagramWidth);
    }
    if (changed(cache, key("tiles"), [variant.tiles, data.highlight])) {
      part(".pol-tiles").innerHTML = tilesHtml(variant.tiles, data.highlight);
    }
    if (changed(cache, key("messages"), [variant.messages, data.scrubbed])) {
      part(".pol-mail").innerHTML = messagesHtml(variant.messages, data.scrubbed);
    }
    const marks = variant.marks;
    for (const chart of data.charts) {
      const width = Math.max(widths.get(key(chart.key)) || 0, 160);
      const height = chart.main ? 86 : 70;
      const values = chart.values[variant.name];
      const signature = [chart.domain, chart.start, values, variant.bands, marks, data.span, data.shown_s,
        data.scrubbed, width];
      if (changed(cache, key(`chart:${chart.key}`), signature)) {
        part(`.pol-chart[data-chart="${chart.key}"] .pol-chart-body`).innerHTML =
          chartSvg(chart, values, variant.bands, marks, data, width, height);
      }
    }
  }
  if (changed(cache, "log", data.log)) {
    root.querySelector(".pol-log").textContent = data.log.length
      ? data.log.map(([t, variant, words]) => `${t.toFixed(1).padStart(8)} s  ${variant.padStart(8)}  ${words}`)
        .join("\n")
      : "Nothing has happened yet — break something.";
  }
  if (changed(cache, "legend", data.palette.health)) {
    root.querySelector(".pol-key").innerHTML = Object.entries(data.palette.health).map(([name, c]) =>
      `<span data-health="${name}"><i style="background:${c.fill};border-color:${c.border}"></i>${esc(c.words)}</span>`)
      .join("");
  }
}

// --- a click on a part: its menu ------------------------------------------------------------------------------------

const VERB_ICONS = { kill: "💀", revive: "💚", hang: "🕳️", heal: "🩹" };

function closeMenu(root) {
  root.querySelector(".pol-menu")?.remove();
}

function openMenu(state, box) {
  const { root } = state;
  closeMenu(root);
  const section = box.closest("section.pol-variant");
  const holder = section.querySelector(".pol-diagram");
  const title = box.querySelector(".pol-title")?.textContent ?? box.dataset.part;
  const place = box.getBoundingClientRect();
  const origin = holder.getBoundingClientRect();
  const menu = document.createElement("div");
  menu.className = "pol-menu";
  menu.setAttribute("role", "menu");
  menu.dataset.part = box.dataset.part;
  menu.dataset.variant = section.dataset.variant;
  menu.innerHTML = `<div class="pol-menu-title">${esc(title)}</div>${state.data.verbs.map((verb) =>
    `<button type="button" role="menuitem" data-verb="${verb}">${VERB_ICONS[verb] ?? ""} ${verb}</button>`).join("")}
    <label><input type="checkbox" class="pol-only"> only in ${esc(section.dataset.variant)}</label>`;
  menu.style.left = `${Math.max(0, place.left - origin.left + place.width / 2 - 60)}px`;
  menu.style.top = `${place.bottom - origin.top + 4}px`;
  holder.appendChild(menu);
  menu.querySelector("button").focus();
}

function onClick(state, event) {
  const item = event.target.closest(".pol-menu button[data-verb]");
  if (item) {
    const menu = item.closest(".pol-menu");
    const only = menu.querySelector(".pol-only").checked;
    state.act?.("act", { id: `${Date.now()}-${Math.random().toString(36).slice(2)}`, verb: item.dataset.verb,
      target: menu.dataset.part, variant: only ? menu.dataset.variant : null });
    closeMenu(state.root);
    return;
  }
  if (event.target.closest(".pol-menu")) return;
  const box = event.target.closest(".pol-actionable");
  if (box && box.dataset.part !== "client") openMenu(state, box);
  else closeMenu(state.root);
}

export default function (component) {
  const { data, parentElement } = component;
  let state = parentElement.__polState;
  if (!state) {
    const root = document.createElement("div");
    root.className = "pol-live";
    root.innerHTML = `<svg class="pol-defs" aria-hidden="true"><defs>${HEADS}</defs></svg>
      <div class="pol-clock-line"></div><div class="pol-grid"></div><div class="pol-key"></div>
      <div class="pol-log-head">What happened</div><pre class="pol-log"></pre>`;
    parentElement.appendChild(root);
    state = { root, cache: new Map(), data: null, width: 0, act: null };
    parentElement.__polState = state;
    root.addEventListener("click", (event) => onClick(state, event));
    root.addEventListener("keydown", (event) => {
      if (event.key === "Escape") closeMenu(root);
      else if ((event.key === "Enter" || event.key === " ") && event.target.classList?.contains("pol-actionable")) {
        event.preventDefault();
        openMenu(state, event.target);
      }
    });
    // redraw when the width changes: the layout, the charts and the dots' scale follow it
    new ResizeObserver(() => {
      if (state.data && root.clientWidth !== state.width) {
        state.width = root.clientWidth;
        draw(state, state.data);
      }
    }).observe(root);
  }
  state.data = data;
  state.act = component.setTriggerValue;
  const t0 = performance.now();
  draw(state, data);
  (window.__drawMs = window.__drawMs || []).push([t0, performance.now() - t0]);
}
