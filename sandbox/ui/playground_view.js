// The playground view: draws the dict sandbox/present/playground_view.py builds, once per tick, in the browser.
// Streamlit calls the default export with new `data` after every run that changed it; the DOM stays, and each part
// (a variant's header, diagram, tiles, messages, each chart, the log) is redrawn only when its own data changed.
// Dots on the diagram's arrows are CSS animations; each costs the browser a little every frame, so there are few.
//
// Drawing is a set of functions of data alone (drawDiagram(holder, diagram, ...), tilesHtml(tiles), chartSvg(...)).
// A click on a part's menu shows at once: the part is drawn in the state the verb leads to, marked pending
// (`state.pending`, laid over the server's data by withPending), until the next data from the server confirms or
// corrects it. The action itself still goes to the server once, with its id.
// Keyboard focus survives every redraw: a focusable element has an id, and the element with the focused id gets
// the focus back after a redraw replaced it.

const DOT_S = 1.4; // seconds a dot takes along an arrow
const COLUMN_MIN_PX = 260; // narrower than this per variant, the variants go one per row (wide) or one per swipe
const COMPACT_BELOW_PX = 420; // a diagram narrower than this draws its compact layout: short lines, bigger text
const WIDE_MIN_PX = 760; // a page this wide puts each variant's diagram beside its tiles and charts
const GAP_PX = 16;
const MARK_LABEL_PX = 12; // the width a moment's number takes on a chart

const PENDING_HEALTH = { kill: "down", hang: "hung", revive: "up", heal: "up" }; // what a verb leads to, at best
const PENDING_MAX_MS = 5000; // a pending mark no answer came for is dropped (the server's state is drawn again)

const esc = (text) => String(text).replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;",
  '"': "&quot;", "'": "&#39;" })[c]);
const fmt = (value) => Math.abs(value) >= 1000 ? `${Math.round(value / 100) / 10}k`
  : Number.isInteger(value) ? String(value) : String(Math.round(value * 10) / 10);
const slug = (text) => String(text).replace(/[^a-zA-Z0-9_-]/g, "_");

function changed(cache, key, value) {
  const json = JSON.stringify(value);
  if (cache.get(key) === json) return false;
  cache.set(key, json);
  return true;
}

// --- the diagram --------------------------------------------------------------------------------------------------

function boxSvg(box, palette, variant) {
  const titleLines = box.title.split("\n");
  const lines = [...titleLines, ...box.lines];
  const first = box.y - ((lines.length - 1) * 12.5) / 2 + 4.5;
  const text = lines.map((line, i) => `<text x="${box.x}" y="${first + i * 12.5}"
    class="${i < titleLines.length ? "pol-title" : "pol-line"}">${esc(line)}</text>`).join("");
  if (box.health === "client") {
    return `<g class="pol-box" data-part="client" aria-hidden="true">${text}</g>`;
  }
  const colours = palette.health[box.health];
  const round = box.name === "database" ? 16 : 7;
  const dash = box.health === "absent" ? ' stroke-dasharray="5 4"' : "";
  const actionable = box.health !== "absent" && box.name !== "database";
  const title = titleLines.join(" ").replace("- ", "-");
  const said = `${title}: ${colours.words}${box.pending ? " (asked, not yet confirmed)" : ""}${box.lines.length
    ? `, ${box.lines.join(", ")}` : ""}`;
  const role = actionable
    ? ` id="pol-box-${slug(variant)}-${slug(box.name)}" role="button" tabindex="0" aria-haspopup="menu"
      aria-label="${esc(said)}. Enter opens what you can do to it"`
    : ` role="img" aria-label="${esc(said)}"`;
  const pending = box.pending ? ' data-pending="true"' : "";
  return `<g class="pol-box pol-${box.health}${actionable ? " pol-actionable" : ""}${box.pending ? " pol-pending" : ""}"
    data-part="${box.name}" data-health="${box.health}"${pending}${role}>
    <rect x="${box.x - box.w / 2}" y="${box.y - box.h / 2}" width="${box.w}" height="${box.h}" rx="${round}"
      fill="${colours.fill}" stroke="${colours.border}" stroke-width="${box.health === "up" ? 2 : 3}"${dash}/>${text}</g>`;
}

function markerName(colour, palette) {
  if (colour === palette.health.down.border) return "red";
  if (colour === palette.health.saturated.border) return "orange";
  return "grey";
}

function arrowSvg(arrow, palette) {
  const dash = arrow.dashed ? ' stroke-dasharray="4 3"' : "";
  const marker = markerName(arrow.colour, palette);
  const fill = marker === "grey" ? "#444" : arrow.colour;
  const top = arrow.label_y - ((arrow.label.length - 1) * 11) / 2 + 3.5;
  const label = arrow.label.map((line, i) => `<text x="${arrow.label_x}" y="${top + i * 11}" class="pol-rate"
    fill="${fill}">${esc(line)}</text>`).join("");
  return `<g class="pol-arrow" data-arrow="${arrow.source}>${arrow.target}"><title>${esc(arrow.route)}</title>
    <path d="${arrow.path}" stroke="${arrow.colour}" fill="none" stroke-width="1.5"${dash}
      marker-end="url(#pol-head-${marker})"/>${label}</g>`;
}

function headsSvg(palette) {
  return [["grey", "#666666"], ["orange", palette.health.saturated.border], ["red", palette.health.down.border]]
    .map(([name, colour]) => `<marker id="pol-head-${name}" viewBox="0 0 8 8" refX="7" refY="4" markerWidth="7"
      markerHeight="7" orient="auto-start-reverse"><path d="M0,0 L8,4 L0,8 z" fill="${colour}"/></marker>`).join("");
}

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

function drawDiagram(holder, diagram, palette, cache, width, variant) {
  const shape = `${diagram.width}x${diagram.height}`;
  if (holder.dataset.shape !== shape) {
    holder.querySelector(".pol-svg")?.remove();
    holder.querySelector(".pol-dots")?.remove();
    holder.insertAdjacentHTML("afterbegin", `<svg class="pol-svg" viewBox="0 0 ${diagram.width} ${diagram.height}"
      role="group" aria-label="${esc(variant)}: the parts and the calls between them">
      <g class="pol-arrows" aria-hidden="true"></g><g class="pol-boxes"></g></svg>
      <div class="pol-dots" aria-hidden="true" style="width:${diagram.width}px;height:${diagram.height}px"></div>`);
    holder.dataset.shape = shape;
    for (const key of [...cache.keys()]) if (key.startsWith(`dots:${variant}:`)) cache.delete(key);
  }
  const svg = holder.querySelector("svg");
  svg.querySelector(".pol-arrows").innerHTML = diagram.arrows.map((a) => arrowSvg(a, palette)).join("");
  svg.querySelector(".pol-boxes").innerHTML = diagram.boxes.map((b) => boxSvg(b, palette, variant)).join("");
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
    if (changed(cache, `dots:${variant}:${key}`, [arrow.dots, arrow.failed_dots, arrow.path])) {
      group.innerHTML = dotsHtml(arrow);
    }
  }
  for (const group of [...layer.children]) {
    if (!wanted.has(group.dataset.arrow)) {
      cache.delete(`dots:${variant}:${group.dataset.arrow}`);
      group.remove();
    }
  }
  layer.style.transform = `scale(${width / diagram.width})`;
}

// --- tiles, story, messages ------------------------------------------------------------------------------------------

function tilesHtml(tiles, highlight) {
  return tiles.map((tile) => `<div class="pol-tile pol-tone-${tile.tone}${highlight.includes(tile.label)
    ? " pol-highlight" : ""}" data-tile="${esc(tile.label)}" data-tone="${tile.tone}" title="${esc(tile.help)}">
    <div class="pol-tile-label">${esc(tile.label)} <span class="pol-window">${esc(tile.window)}</span></div>
    <div class="pol-tile-value">${esc(tile.value)}</div>
    ${tile.cue ? `<div class="pol-cue">${esc(tile.cue)}</div>` : ""}</div>`).join("");
}

function messagesHtml(messages, scrubbed, variant) {
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
    <div class="pol-letters" tabindex="0" role="region" aria-label="the messages one by one"
      id="pol-letters-${slug(variant)}">${letters
    || '<span class="pol-quiet">no message in the system</span>'} ${more}</div>`;
}

function legendHtml(marks, bands, recentS) {
  const moments = marks.map((m) => `<span data-moment="${m.n}">${m.n} ${esc(m.t.toFixed(0))} s ${esc(m.text)}</span>`);
  const shaded = bands.map((b) => `<span class="pol-band-word" data-kind="${b.kind}">shaded ${esc(b.start.toFixed(0))}–${
    esc(b.end.toFixed(0))} s: ${esc(b.label)}</span>`);
  return `<span class="pol-recent-key"><i></i>the tiles' last ${recentS} s</span>${[...moments, ...shaded].join("")}`;
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
  const top = 8; // room for the top tick's label
  const bottom = 15;
  const [s0, s1] = data.span;
  const x = (t) => left + ((Math.min(Math.max(t, s0), s1) - s0) / (s1 - s0 || 1)) * (width - left - right);
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
  const recentEnd = data.shown_s;
  svg += `<rect class="pol-recent" x="${x(recentEnd - data.recent_s)}" y="${height - bottom - 3}"
    width="${Math.max(0, x(recentEnd) - x(recentEnd - data.recent_s))}" height="3"><title>the tiles' last ${
    data.recent_s} s</title></rect>`;
  for (const tick of ticksFor(chart)) {
    svg += `<line x1="${left}" x2="${width - right}" y1="${y(tick)}" y2="${y(tick)}" class="pol-grid-line"/>
      <text x="${left - 3}" y="${y(tick) + 3}" class="pol-tick" text-anchor="end">${fmt(tick)}</text>`;
  }
  const step = s1 - s0 > 90 ? 30 : 10;
  for (let t = Math.ceil(s0 / step) * step; t <= s1; t += step) {
    const anchor = x(t) < left + 8 ? "start" : x(t) > width - right - 8 ? "end" : "middle";
    svg += `<text x="${x(t)}" y="${height - 3}" class="pol-tick" text-anchor="${anchor}">${t}</text>`;
  }
  // a moment's number goes on the first of two rows with room for it; with neither, the line stands alone (the
  // legend under the charts says every moment in words)
  const lastOnRow = [-Infinity, -Infinity];
  for (const mark of marks) {
    const at = x(mark.t);
    const late = at > width - right - MARK_LABEL_PX;
    const [from, to] = late ? [at - MARK_LABEL_PX, at] : [at, at + MARK_LABEL_PX];
    const row = [0, 1].find((r) => from >= lastOnRow[r] + 2);
    svg += `<line x1="${at}" x2="${at}" y1="${top}" y2="${height - bottom}" class="pol-mark"><title>${
      esc(`${mark.n} ${mark.text}`)}</title></line>`;
    if (row === undefined) continue;
    lastOnRow[row] = to;
    svg += `<text x="${late ? at - 2 : at + 2}" y="${top + 9 + row * 10}" class="pol-mark-label"
      text-anchor="${late ? "end" : "start"}"><title>${esc(mark.text)}</title>${mark.n}</text>`;
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
    const dash = chart.series[k].dash.join(" ");
    if (d) {
      svg += `<path d="${d}" fill="none" stroke="${chart.series[k].colour}" stroke-width="1.8"
        stroke-dasharray="${dash === "1 0" ? "none" : dash}"/>`;
    }
  });
  if (data.scrubbed) {
    svg += `<line x1="${x(data.shown_s)}" x2="${x(data.shown_s)}" y1="${top}" y2="${height - bottom}"
      class="pol-cursor"/>`;
  }
  return `<svg width="${width}" height="${height}" class="pol-chart-svg" data-chart="${chart.key}" role="img"
    aria-label="${esc(chart.heading)}" data-domain="${chart.domain.join(",")}">${svg}</svg>`;
}

function chartHtml(chart) {
  const legend = chart.series.map((s) => `<span><svg width="18" height="8" aria-hidden="true"><line x1="0" x2="18"
    y1="4" y2="4" stroke="${s.colour}" stroke-width="2" stroke-dasharray="${s.dash.join(" ") === "1 0" ? "none"
    : s.dash.join(" ")}"/></svg>${esc(s.name)}</span>`).join("");
  return `<div class="pol-chart" data-chart="${chart.key}"><div class="pol-chart-head"><b>${esc(chart.heading)}</b>
    <span class="pol-legend">${legend}</span></div><div class="pol-chart-body"></div></div>`;
}

// --- the whole view ------------------------------------------------------------------------------------------------

function sectionHtml(variant) {
  return `<section class="pol-variant" data-variant="${esc(variant.name)}" aria-label="${esc(variant.title)}">
    <div class="pol-head"><h2 class="pol-name"></h2><span class="pol-theory"></span></div>
    <div class="pol-story"></div>
    <div class="pol-diagram"></div><div class="pol-tiles"></div><div class="pol-charts pol-main-charts"></div>
    <div class="pol-chart-key"></div><div class="pol-mail"></div><div class="pol-charts pol-more-charts"></div>
    </section>`;
}

function layout(root, count) {
  const width = root.clientWidth;
  const perColumn = (width - GAP_PX * (count - 1)) / count;
  const mode = perColumn >= COLUMN_MIN_PX ? "columns" : width >= WIDE_MIN_PX ? "wide" : "swipe";
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

function drawVariant(state, variant, section, widths) {
  const { cache, data } = state;
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
  const diagram = diagramWidth < COMPACT_BELOW_PX ? variant.compact : variant.diagram;
  if (changed(cache, key("diagram"), [diagram, diagramWidth])) {
    drawDiagram(part(".pol-diagram"), diagram, data.palette, cache, diagramWidth, variant.name);
  }
  if (changed(cache, key("tiles"), [variant.tiles, data.highlight])) {
    part(".pol-tiles").innerHTML = tilesHtml(variant.tiles, data.highlight);
  }
  if (changed(cache, key("messages"), [variant.messages, data.scrubbed])) {
    part(".pol-mail").innerHTML = messagesHtml(variant.messages, data.scrubbed, variant.name);
  }
  if (changed(cache, key("legend"), [variant.marks, variant.bands, data.recent_s])) {
    part(".pol-chart-key").innerHTML = legendHtml(variant.marks, variant.bands, data.recent_s);
  }
  for (const chart of data.charts) {
    const width = Math.max(widths.get(key(chart.key)) || 0, 160);
    const height = chart.main ? 86 : 70;
    const values = chart.values[variant.name];
    const signature = [chart.domain, chart.start, values, variant.bands, variant.marks, data.span, data.shown_s,
      data.scrubbed, width];
    if (changed(cache, key(`chart:${chart.key}`), signature)) {
      part(`.pol-chart[data-chart="${chart.key}"] .pol-chart-body`).innerHTML =
        chartSvg(chart, values, variant.bands, variant.marks, data, width, height);
    }
  }
}

function draw(state, data) {
  const { root, cache } = state;
  const focused = root.contains(document.activeElement) ? document.activeElement.id : "";
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
    maximumFractionDigits: 1 })} s</strong> · speed ${esc(data.speed)}${at} · charts: one value a second; each tile
    names its window`;
  root.dataset.paused = String(data.speed === "pause" || data.scrubbed);
  for (const variant of data.variants) drawVariant(state, variant, sections.get(variant.name), widths);
  if (changed(cache, "log", data.log)) {
    root.querySelector(".pol-log").textContent = data.log.length
      ? data.log.map(([t, variant, words]) => `${t.toFixed(1).padStart(8)} s  ${variant.padStart(8)}  ${words}`)
        .join("\n")
      : "Nothing has happened yet — break something.";
  }
  if (changed(cache, "palette", data.palette.health)) {
    root.querySelector(".pol-defs defs").innerHTML = headsSvg(data.palette);
    root.querySelector(".pol-key").innerHTML = Object.entries(data.palette.health).map(([name, c]) =>
      `<span data-health="${name}"><i style="background:${c.fill};border-color:${c.border}"></i>${esc(c.words)}</span>`)
      .join("");
  }
  if (focused && document.activeElement?.id !== focused) document.getElementById(focused)?.focus({ preventScroll: true });
}

// --- a click on a part: its menu ------------------------------------------------------------------------------------

const VERB_ICONS = { kill: "💀", revive: "💚", hang: "🕳️", heal: "🩹" };

function closeMenu(root, refocus = false) {
  const menu = root.querySelector(".pol-menu");
  if (!menu) return;
  const owner = document.getElementById(menu.dataset.owner);
  menu.remove();
  if (refocus) owner?.focus({ preventScroll: true });
}

function placeMenu(menu, box, holder) {
  // below the part, centred on it; moved left, or above the part, so that it stays inside the window
  const place = box.getBoundingClientRect();
  const origin = holder.getBoundingClientRect();
  const size = menu.getBoundingClientRect();
  const margin = 6;
  let left = place.left + place.width / 2 - size.width / 2;
  left = Math.min(Math.max(left, margin), window.innerWidth - size.width - margin);
  let top = place.bottom + 4;
  if (top + size.height > window.innerHeight - margin && place.top - size.height - 4 >= margin) {
    top = place.top - size.height - 4;
  }
  menu.style.left = `${left - origin.left}px`;
  menu.style.top = `${top - origin.top}px`;
}

function openMenu(state, box) {
  const { root } = state;
  closeMenu(root);
  const section = box.closest("section.pol-variant");
  const holder = section.querySelector(".pol-diagram");
  const title = [...box.querySelectorAll(".pol-title")].map((t) => t.textContent).join(" ").replace("- ", "-");
  const variant = section.dataset.variant;
  const menu = document.createElement("div");
  menu.className = "pol-menu";
  menu.setAttribute("role", "menu");
  menu.setAttribute("aria-label", `${title} in ${variant}`);
  menu.id = `pol-menu-${slug(variant)}`;
  menu.dataset.part = box.dataset.part;
  menu.dataset.variant = variant;
  menu.dataset.owner = box.id;
  menu.innerHTML = `<div class="pol-menu-title" aria-hidden="true">${esc(title)}</div>${state.data.verbs.map((verb) =>
    `<button type="button" role="menuitem" tabindex="-1" id="pol-menu-${slug(variant)}-${verb}" data-verb="${verb}"
      >${VERB_ICONS[verb] ?? ""} ${verb}</button>`).join("")}
    <button type="button" role="menuitemcheckbox" tabindex="-1" aria-checked="false" class="pol-only"
      id="pol-menu-${slug(variant)}-only">only in ${esc(variant)}</button>`;
  menu.style.visibility = "hidden";
  holder.appendChild(menu);
  placeMenu(menu, box, holder);
  menu.style.visibility = "";
  box.setAttribute("aria-expanded", "true");
  menu.querySelector("button").focus({ preventScroll: true });
}

// The server's data with every pending part drawn in the state its verb leads to (a copy: the server's stays).
function withPending(data, pending) {
  if (!pending.length) return data;
  return { ...data, variants: data.variants.map((variant) => {
    const mine = pending.filter((p) => p.variant === null || p.variant === variant.name);
    if (!mine.length) return variant;
    const redraw = (diagram) => ({ ...diagram, boxes: diagram.boxes.map((box) => {
      const wish = mine.find((p) => p.part === box.name);
      return wish && box.health !== "absent" && box.health !== wish.health
        ? { ...box, health: wish.health, pending: true } : box;
    }) });
    return { ...variant, diagram: redraw(variant.diagram), compact: redraw(variant.compact) };
  }) };
}

function act(state, item) {
  const menu = item.closest(".pol-menu");
  const only = menu.querySelector(".pol-only").getAttribute("aria-checked") === "true";
  const variant = only ? menu.dataset.variant : null;
  const verb = item.dataset.verb;
  closeMenu(state.root, true);
  if (PENDING_HEALTH[verb] && state.data) {
    state.pending = [...state.pending.filter((p) => !(p.part === menu.dataset.part && p.variant === variant)),
      { part: menu.dataset.part, variant, health: PENDING_HEALTH[verb] }];
    draw(state, withPending(state.data, state.pending));
    clearTimeout(state.pendingTimer);
    state.pendingTimer = setTimeout(() => {
      if (!state.pending.length) return;
      state.pending = [];
      draw(state, state.data);
    }, PENDING_MAX_MS);
  }
  state.act?.("act", { id: `${Date.now()}-${Math.random().toString(36).slice(2)}`, verb,
    target: menu.dataset.part, variant });
}

function onClick(state, event) {
  const only = event.target.closest(".pol-menu .pol-only");
  if (only) {
    only.setAttribute("aria-checked", String(only.getAttribute("aria-checked") !== "true"));
    return;
  }
  const item = event.target.closest(".pol-menu button[data-verb]");
  if (item) {
    act(state, item);
    return;
  }
  if (event.target.closest(".pol-menu")) return;
  const box = event.target.closest(".pol-actionable");
  if (box) openMenu(state, box);
  else closeMenu(state.root);
}

function onKey(state, event) {
  const { root } = state;
  const menu = event.target.closest?.(".pol-menu");
  if (event.key === "Escape") {
    closeMenu(root, true);
    return;
  }
  if (menu) {
    const items = [...menu.querySelectorAll("button")];
    const at = items.indexOf(event.target);
    const moves = { ArrowDown: 1, ArrowUp: -1, Home: -at, End: items.length - 1 - at };
    if (event.key in moves) {
      event.preventDefault();
      items[(at + moves[event.key] + items.length) % items.length].focus();
    } else if (event.key === "Tab") {
      closeMenu(root, true);
    }
    return; // Enter and Space press the focused button, which the click handler takes
  }
  if ((event.key === "Enter" || event.key === " ") && event.target.classList?.contains("pol-actionable")) {
    event.preventDefault();
    openMenu(state, event.target);
  }
}

export default function (component) {
  const { data, parentElement } = component;
  let state = parentElement.__polState;
  if (!state) {
    const root = document.createElement("div");
    root.className = "pol-live";
    root.innerHTML = `<svg class="pol-defs" aria-hidden="true"><defs></defs></svg>
      <div class="pol-clock-line"></div><div class="pol-grid"></div><div class="pol-key"></div>
      <h2 class="pol-log-head">What happened</h2><pre class="pol-log" tabindex="0"></pre>`;
    parentElement.appendChild(root);
    state = { root, cache: new Map(), data: null, width: 0, act: null, pending: [], pendingTimer: 0 };
    parentElement.__polState = state;
    root.addEventListener("click", (event) => onClick(state, event));
    root.addEventListener("keydown", (event) => onKey(state, event));
    // redraw when the width changes: the layout, the charts and the dots' scale follow it
    new ResizeObserver(() => {
      if (state.data && root.clientWidth !== state.width) {
        state.width = root.clientWidth;
        closeMenu(root);
        draw(state, state.data);
      }
    }).observe(root);
  }
  state.data = data;
  state.pending = []; // the server's next data confirms or corrects what a click showed
  state.act = component.setTriggerValue;
  const t0 = performance.now();
  draw(state, data);
  (window.__drawMs = window.__drawMs || []).push([t0, performance.now() - t0]);
}
