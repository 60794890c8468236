// The citygis web map: catalog layers as OGC API vector tiles, a valid-time slider, feature
// history popups and the analysis services; for a token whose role writes a layer,
// static/map/editor.js adds editing and static/map/scenarios.js the what-if scenarios.
// Plain JS on MapLibre GL, no build step.
"use strict";

const BASE = new URL(".", location.href);         // the API root (works behind a prefix)
const TOKEN = new URLSearchParams(location.search).get("token");
const AUTH = TOKEN ? { Authorization: `Bearer ${TOKEN}` } : {};
const NOW_YEAR = new Date().getFullYear();
const ANSWER = "#ff6a00";
const $ = (id) => document.getElementById(id);

const state = { config: {}, specs: [], layerIds: {}, sources: {}, datetime: null, draft: [],
                session: { role: "viewer", writes: [] }, edited: new Set(),
                scenario: null };  // { id, title } while the map shows a scenario

// What every read and write of the city's layers adds while a scenario is shown: the one
// place that knows the parameter (tiles, items, analyses and the editor's writes call it).
const inScenario = () => (state.scenario ? { scenario: state.scenario.id } : {});

function api(path, query = {}) {
  const url = new URL(path, BASE);
  for (const [k, v] of Object.entries(query)) if (v != null) url.searchParams.set(k, v);
  return url.href;
}

async function getJSON(url, init = {}) {
  const r = await fetch(url, { ...init, headers: { ...AUTH, ...(init.headers || {}) } });
  if (!r.ok) {
    let detail = await r.text();
    try { detail = JSON.parse(detail).detail || detail; } catch (_) { /* not JSON */ }
    throw new Error(`${r.status}: ${String(detail).slice(0, 300)}`);
  }
  return r.json();
}

function status(text, error = false) {
  $("status").textContent = text;
  $("status").className = error ? "error" : "";
}

// ---- GCJ-02: AMap/Tencent basemaps are offset ~500 m from our CGCS2000 data. ----
// The server does the shifting (no GCJ-02 maths in the browser): tiles take shift=gcj02,
// and the analysis services read clicks and write answers in crs/out_crs=gcj02.
const gcj = () => state.config.basemap_gcj02;
const displayCrs = () => (gcj() ? { crs: "gcj02", out_crs: "gcj02" } : {});

// ---- styles from the catalog ----
function color(s) {
  const entries = Object.entries(s.palette || {});
  if (!s.color_by || !entries.length) return s.color;
  return ["match", ["to-string", ["get", s.color_by]], ...entries.flat(), s.color];
}

function styleLayers(spec, sourceLayer) {
  const s = spec.style;
  const common = { source: spec.id, "source-layer": sourceLayer, minzoom: s.min_zoom,
                   maxzoom: Math.min(24, s.max_zoom + 1) };
  const c = color(s);
  if (s.kind === "fill") return [
    { ...common, id: `${spec.id}:fill`, type: "fill",
      paint: { "fill-color": c, "fill-opacity": s.opacity } },
    { ...common, id: `${spec.id}:outline`, type: "line",
      paint: { "line-color": s.outline || c, "line-width": 1 } },
  ];
  if (s.kind === "line") return [{ ...common, id: `${spec.id}:line`, type: "line",
    paint: { "line-color": c, "line-width": s.width, "line-opacity": s.opacity } }];
  return [{ ...common, id: `${spec.id}:circle`, type: "circle",
    paint: { "circle-color": c, "circle-radius": s.radius, "circle-opacity": s.opacity,
             "circle-stroke-color": s.outline || "#ffffff", "circle-stroke-width": 1 } }];
}

function tileURL(template) {  // the slider's instant, the scenario, and the GCJ-02 shift
  const extra = [];
  if (state.datetime) extra.push(`datetime=${encodeURIComponent(state.datetime)}`);
  if (state.scenario) extra.push(`scenario=${encodeURIComponent(state.scenario.id)}`);
  if (gcj()) extra.push("shift=gcj02");
  if (!extra.length) return template;
  return `${template}${template.includes("?") ? "&" : "?"}${extra.join("&")}`;
}

async function tileSource(spec) {
  // The TileJSON says where tiles are and what their layer is called; fall back to OGC paths.
  const fallback = { tiles: [api(`collections/${spec.id}/tiles/WebMercatorQuad/`) + "{z}/{y}/{x}"],
                     layer: spec.id, minzoom: 0, maxzoom: 22 };
  try {
    const tj = await getJSON(api(`collections/${spec.id}/tiles/WebMercatorQuad/tilejson.json`));
    const url = new URL(tj.tiles[0], BASE);
    for (const k of ["datetime", "shift", "scenario"]) url.searchParams.delete(k);
    return { tiles: [decodeURI(url.href)], layer: tj.vector_layers?.[0]?.id || spec.id,
             minzoom: tj.minzoom ?? 0, maxzoom: tj.maxzoom ?? 22, bounds: tj.bounds };
  } catch (e) {
    console.warn(`TileJSON of ${spec.id}: ${e.message}; using the OGC tile path`);
    return fallback;
  }
}

// ---- the layer list, legend and time slider ----
function legendRow(spec) {
  const s = spec.style, li = document.createElement("li");
  const box = document.createElement("input");
  box.type = "checkbox"; box.checked = true; box.id = `toggle-${spec.id}`;
  box.addEventListener("change", () => {
    for (const id of state.layerIds[spec.id])
      map.setLayoutProperty(id, "visibility", box.checked ? "visible" : "none");
  });
  const label = document.createElement("label");
  label.htmlFor = box.id; label.style.display = "inline";
  label.textContent = ` ${spec.title_zh} ${spec.title}`;
  const entries = s.color_by && Object.keys(s.palette || {}).length
    ? Object.entries(s.palette) : [["", s.color]];
  const legend = document.createElement("div");
  legend.className = "legend";
  for (const [value, col] of entries) {
    const sw = document.createElement("span");
    sw.className = `swatch ${s.kind}`; sw.style.background = col;
    legend.append(sw, value ? `${value}  ` : "");
  }
  if (s.min_zoom > 0) {
    const hint = document.createElement("span");
    hint.className = "zoom-hint"; hint.textContent = ` from zoom ${s.min_zoom}`;
    legend.append(hint);
  }
  li.append(box, label, legend);
  return li;
}

// After a write: the layer's tiles come again at once. An edited layer's tiles are then
// revalidated on every fetch (ETag, 304 when unchanged) instead of trusting max-age.
function redrawLayer(id) {  // after a write to the layer: its tiles again, past any cache
  state.edited.add(id);
  map.getSource(id).setTiles(state.sources[id].tiles.map(tileURL));
  window.citygis.scenarios?.onEdited(id);
}

function retile() {  // every layer's tiles again, for a new instant or scenario
  for (const [id, src] of Object.entries(state.sources))
    map.getSource(id).setTiles(src.tiles.map(tileURL));
  window.citygis.planner?.retile();  // its coverage overlay and numbers
}

function setScenario(scenario) {  // { id, title }, or null for the live city
  state.scenario = scenario;
  document.querySelectorAll(".maplibregl-popup").forEach((p) => p.remove());
  retile();
}

function tileRequest(url) {
  if (!url.startsWith(BASE.origin)) return { url };  // a basemap gets no token
  const layer = /\/collections\/([^/]+)\/tiles\//.exec(url)?.[1];
  return { url, headers: AUTH, ...(state.edited.has(layer) ? { cache: "no-cache" } : {}) };
}

// A precise instant (the emergency panel's replay), or null for now; the year slider keeps
// setting whole years. `redraw` false moves the instant without fetching tiles again.
function setInstant(iso, redraw = true) {
  state.datetime = iso;
  $("year-label").textContent = iso ? new Date(iso).toLocaleString() : "now";
  if (redraw) retile();
}

function setDatetime(year) {
  state.datetime = year >= NOW_YEAR ? null : `${year}-01-01T00:00:00Z`;
  $("year-label").textContent = state.datetime ? `1 Jan ${year}` : "now";
  retile();
}

// ---- popups: attributes and version history ----
function table(props) {
  const rows = Object.entries(props).filter(([, v]) => v != null && v !== "")
    .map(([k, v]) => `<tr><td>${esc(k)}</td><td>${esc(v)}</td></tr>`);
  return `<table>${rows.join("")}</table>`;
}
const esc = (v) => String(v).replace(/[&<>"]/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" })[c]);

// A sensor's popup also charts its latest readings: hourly means over up to a week, ending
// at the slider's instant (or now), as an inline SVG line.
async function sensorChart(assetId) {
  const r = await getJSON(api(`collections/sensors/items/${encodeURIComponent(assetId)}/readings`, {
    bin: "PT1H", sortby: "-time", limit: 168, datetime: `../${state.datetime || new Date().toISOString()}`,
  }));
  const pts = r.readings.slice().reverse();
  if (!pts.length) return "<p>no readings</p>";
  const w = 300, h = 80, vals = pts.map((p) => p.mean);
  const lo = Math.min(...vals), hi = Math.max(...vals), span = hi - lo || 1;
  const xy = pts.map((p, i) => `${((i / Math.max(pts.length - 1, 1)) * w).toFixed(1)},` +
                                `${(h - ((p.mean - lo) / span) * h).toFixed(1)}`).join(" ");
  const last = pts[pts.length - 1];
  return `<svg class="sensor-chart" viewBox="0 0 ${w} ${h}" width="${w}" height="${h}">` +
    `<polyline fill="none" stroke="#0070c0" stroke-width="1.5" points="${xy}"/></svg>` +
    `<p>${esc(pts.length)} hourly means to ${esc(last.time)}; latest ${esc(last.mean.toFixed(3))} ` +
    `${esc(r.sensor.unit)} (range ${esc(lo.toFixed(3))}–${esc(hi.toFixed(3))})</p>`;
}

const editable = (spec) => window.citygis.editor && state.session.writes.includes(spec.id);

function heading(spec, assetId) {  // the popup's title, and Edit for a layer the role writes
  const edit = editable(spec) ? `<button type="button" class="popup-edit" data-layer="${esc(spec.id)}"` +
    ` data-asset="${esc(assetId)}">Edit</button>` : "";
  return `<h3>${esc(spec.title_zh)} ${esc(assetId)}</h3>${edit}`;
}

async function inspect(e) {
  const layers = Object.values(state.layerIds).flat();
  // A click means the smallest thing under it: a point before a line before an area, or the
  // population grid (and districts) that cover the city would answer every click.
  const rank = { Point: 0, MultiPoint: 0, LineString: 1, MultiLineString: 1 };
  const hit = map.queryRenderedFeatures(e.point, { layers })
    .filter((f) => f.properties.asset_id != null)
    .sort((a, b) => (rank[a.geometry.type] ?? 2) - (rank[b.geometry.type] ?? 2))[0];
  if (!hit) return;
  const spec = state.specs.find((s) => s.id === hit.source);
  const assetId = hit.properties.asset_id;
  const popup = new maplibregl.Popup({ maxWidth: "360px" }).setLngLat(e.lngLat)
    .setHTML(`${heading(spec, assetId)}${table(hit.properties)}<h4>History</h4>…`)
    .addTo(map);
  try {
    const hist = await getJSON(api(`collections/${spec.id}/items/${encodeURIComponent(assetId)}/history`));
    const rows = (hist.features || []).map((f) => {
      const p = f.properties || {};
      return `<tr><td>${esc(p.valid_from ?? "")}</td><td>→ ${esc(p.valid_to ?? "now")}</td></tr>`;
    });
    const chart = spec.id === "sensors"
      ? `<h4>Readings</h4>${await sensorChart(assetId).catch((err) => esc(err.message))}` : "";
    popup.setHTML(`${heading(spec, assetId)}${table(hit.properties)}` +
                  chart + `<h4>History · ${rows.length} version(s)</h4><table>${rows.join("")}</table>`);
  } catch (err) {  // history is the live city's: an asset a scenario made has none yet
    const why = state.scenario && err.message.startsWith("404")
      ? "none in the live city: this feature is new in the scenario" : `unavailable (${esc(err.message)})`;
    popup.setHTML(`${heading(spec, assetId)}${table(hit.properties)}<h4>History</h4><p>${why}</p>`);
  }
}

// ---- labels: the catalog style's label attribute, drawn as HTML over the map ----
// MapLibre's own text needs glyph files, which no package registry ships; the browser's
// fonts draw any script (Chinese included). Greedy placement in labelOrder(), no two
// labels overlap, at most MAX_LABELS; redrawn whenever the map comes to rest.
const MAX_LABELS = 200;
// Zoomed out, the areas' names (districts, parks) say where you are and go first; closer
// in, the features drawn on top of them (sites, shelters, incidents) do.
const AREAS_FIRST_BELOW_ZOOM = 13;

function labelOrder() {
  const topDown = [...state.specs].reverse();
  if (map.getZoom() >= AREAS_FIRST_BELOW_ZOOM) return topDown;
  const isArea = (spec) => spec.style.kind === "fill";
  return [...topDown.filter(isArea), ...topDown.filter((spec) => !isArea(spec))];
}

function extent(coords, box) {  // grow box [w, s, e, n] by nested GeoJSON coordinates
  if (typeof coords[0] === "number") {
    box[0] = Math.min(box[0], coords[0]); box[1] = Math.min(box[1], coords[1]);
    box[2] = Math.max(box[2], coords[0]); box[3] = Math.max(box[3], coords[1]);
  } else for (const c of coords) extent(c, box);
  return box;
}

function labelAnchors(spec) {  // one point per feature in view: its visible parts' middle
  const attr = spec.style.label, view = map.getBounds(), byId = new Map();
  for (const f of map.queryRenderedFeatures({ layers: state.layerIds[spec.id] })) {
    const name = f.properties[attr];
    if (name == null || name === "") continue;
    const key = f.id ?? f.properties.asset_id;
    const seen = byId.get(key) || { name, box: [Infinity, Infinity, -Infinity, -Infinity] };
    extent(f.geometry.coordinates, seen.box);
    byId.set(key, seen);
  }
  return [...byId.values()].map(({ name, box }) => {
    const [w, s] = [Math.max(box[0], view.getWest()), Math.max(box[1], view.getSouth())];
    const [e, n] = [Math.min(box[2], view.getEast()), Math.min(box[3], view.getNorth())];
    return { name, at: map.project([(w + e) / 2, (s + n) / 2]) };
  });
}

function drawLabels() {
  const placed = [], box = $("labels");
  box.replaceChildren();
  for (const spec of labelOrder()) {
    if (!spec.style.label || !$(`toggle-${spec.id}`)?.checked) continue;
    const area = spec.style.kind === "fill", below = area ? 0 : spec.style.radius + 2;
    for (const { name, at } of labelAnchors(spec)) {
      if (placed.length >= MAX_LABELS) return;
      const el = document.createElement("div");
      el.className = `map-label${area ? " area" : ""}`;
      el.dataset.layer = spec.id;
      el.textContent = name;
      box.append(el);
      const size = el.getBoundingClientRect(), gap = 2;  // px kept clear around each label
      const w = Math.ceil(size.width) + gap, h = Math.ceil(size.height) + gap;
      const r = { x: Math.round(at.x - w / 2), y: Math.round(at.y + (area ? -h / 2 : below)), w, h };
      if (placed.some((q) => r.x < q.x + q.w && q.x < r.x + r.w && r.y < q.y + q.h && q.y < r.y + r.h)) {
        el.remove();
        continue;
      }
      el.style.transform = `translate(${r.x}px, ${r.y}px)`;
      placed.push(r);
    }
  }
}

// ---- analysis: nearest (point), within (circle), buffer (polygon) ----
function showGeoJSON(sourceId, geojson) {  // already in display coordinates
  map.getSource(sourceId).setData(geojson);
}

function circle([lon, lat], metres, n = 64) {
  const ring = [];
  for (let i = 0; i <= n; i++) {
    const a = (2 * Math.PI * i) / n;
    ring.push([lon + (metres * Math.sin(a)) / (111320 * Math.cos((lat * Math.PI) / 180)),
               lat + (metres * Math.cos(a)) / 110540]);
  }
  return { type: "Polygon", coordinates: [ring] };
}

async function runTool(tool, points) {
  const layer = $("target").value, distance = Number($("distance").value);
  const [lon, lat] = points[0];
  let answer;
  if (tool === "nearest") {
    answer = await getJSON(api("lbs/nearest", { lon, lat, layer, k: 5, datetime: state.datetime,
                                                 ...inScenario(), ...displayCrs() }));
  } else if (tool === "within") {
    showGeoJSON("draft", { type: "Feature", properties: {}, geometry: circle([lon, lat], distance) });
    answer = await getJSON(api("lbs/within", { lon, lat, layer, distance_m: distance,
                                                 datetime: state.datetime, ...inScenario(),
                                                 ...displayCrs() }));
  } else if (tool === "isolate") {  // a break on the nearest pipe of the utility picked
    answer = await getJSON(api("analysis/isolate"), {
      method: "POST", headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ point: [lon, lat], utility: $("utility").value,
                             datetime: state.datetime, ...inScenario(), ...displayCrs() }),
    });
  } else {
    const geometry = points.length > 2
      ? { type: "Polygon", coordinates: [[...points, points[0]]] } : { type: "Point", coordinates: [lon, lat] };
    answer = await getJSON(api("analysis/buffer"), {
      method: "POST", headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ geometry, distance_m: distance, ...inScenario(), ...displayCrs() }),
    });
  }
  const fc = answer.type === "FeatureCollection" ? answer
    : answer.features ? { type: "FeatureCollection", features: answer.features }
    : { type: "FeatureCollection", features: answer.type === "Feature" ? [answer] : [] };
  const drawn = fc.features.filter((f) => f.geometry);  // isolate's summary has none
  showGeoJSON("answer", { type: "FeatureCollection", features: drawn });
  const summary = fc.features.find((f) => f.properties?.role === "summary")?.properties;
  status(summary
    ? `break on ${summary.broken_pipe}: close ${summary.valves_to_close} valve(s); ` +
      `${summary.isolated_pipes} pipe(s), ${Math.round(summary.isolated_length_m)} m shut off` +
      (summary.complete ? "" : " (section reaches the search radius)")
    : `${tool}: ${fc.features.length} feature(s)`);
  return fc;
}

async function onClick(e) {
  if (window.citygis.editor?.onClick(e)) return;  // placing or drawing a feature
  if (window.citygis.emergency?.onClick(e)) return;  // placing an incident
  if (window.citygis.crew?.onClick(e)) return;  // a break, a dig, a section line
  if (window.citygis.planner?.onClick(e)) return;  // picking a site to move
  const tool = $("tool").value;
  if (tool === "inspect") return inspect(e);
  const p = [e.lngLat.lng, e.lngLat.lat];
  if (tool === "buffer") {
    state.draft.push(p);
    showGeoJSON("draft", { type: "Feature", properties: {}, geometry: state.draft.length > 2
      ? { type: "Polygon", coordinates: [[...state.draft, state.draft[0]]] }
      : { type: "MultiPoint", coordinates: state.draft } });
    status(`${state.draft.length} vertex(es): click more, then "Run on polygon"`);
    return;
  }
  try { await runTool(tool, [p]); } catch (err) { status(`${tool} failed: ${err.message}`, true); }
}

function addOverlay(id, colour, dashed) {
  map.addSource(id, { type: "geojson", data: { type: "FeatureCollection", features: [] } });
  map.addLayer({ id: `${id}:fill`, type: "fill", source: id, filter: ["==", ["geometry-type"], "Polygon"],
                 paint: { "fill-color": colour, "fill-opacity": 0.2 } });
  map.addLayer({ id: `${id}:line`, type: "line", source: id, filter: ["!=", ["geometry-type"], "Point"],
                 paint: { "line-color": colour, "line-width": 2, ...(dashed ? { "line-dasharray": [2, 2] } : {}) } });
  map.addLayer({ id: `${id}:circle`, type: "circle", source: id, filter: ["==", ["geometry-type"], "Point"],
                 paint: { "circle-color": colour, "circle-radius": 6, "circle-stroke-color": "#fff",
                          "circle-stroke-width": 2 } });
}

// ---- start-up ----
const map = new maplibregl.Map({
  container: "map",
  style: { version: 8, sources: {}, layers: [{ id: "background", type: "background",
                                               paint: { "background-color": "#dde6ea" } }] },
  center: [120.38, 36.07], zoom: 9, attributionControl: { compact: true },
  // Our own API gets the token as a header; nothing is sent to anyone else.
  transformRequest: tileRequest,
});
map.addControl(new maplibregl.NavigationControl(), "top-left");
map.addControl(new maplibregl.ScaleControl(), "bottom-left");

async function start() {
  state.config = await getJSON(api("map/config.json"));
  await new Promise((ok) => (map.loaded() ? ok() : map.once("load", ok)));
  if (state.config.basemap_url) {
    map.addSource("basemap", { type: "raster", tiles: [state.config.basemap_url], tileSize: 256,
                               attribution: state.config.basemap_attribution || "" });
    map.addLayer({ id: "basemap", type: "raster", source: "basemap" });
  }
  state.specs = await getJSON(api("layers"));
  $("locked").hidden = state.specs.some((s) => s.access === "restricted");
  const sources = await Promise.all(state.specs.map(tileSource));
  state.specs.forEach((spec, i) => {
    const src = sources[i];
    state.sources[spec.id] = src;
    map.addSource(spec.id, { type: "vector", tiles: src.tiles.map(tileURL),
                             minzoom: src.minzoom, maxzoom: src.maxzoom });
    const layers = styleLayers(spec, src.layer);
    layers.forEach((l) => map.addLayer(l));
    state.layerIds[spec.id] = layers.map((l) => l.id);
    $("layers").append(legendRow(spec));
    $("target").append(new Option(`${spec.title_zh} ${spec.id}`, spec.id));
  });
  // The break tool's utilities are the pipelines layer's choices, from the catalog.
  const pipes = state.specs.find((spec) => spec.id === "pipelines");
  for (const u of pipes?.attributes.find((a) => a.name === "utility")?.choices || []) {
    $("utility").append(new Option(u, u));
  }
  const base = sources[0];
  if (base.bounds) map.fitBounds(base.bounds, { padding: 20, animate: false });
  addOverlay("draft", "#333333", true);
  addOverlay("answer", ANSWER, false);
  $("year").max = NOW_YEAR; $("year").value = NOW_YEAR;
  $("year").addEventListener("input", (e) => ($("year-label").textContent = e.target.value));
  $("year").addEventListener("change", (e) => setDatetime(Number(e.target.value)));
  $("tool").addEventListener("change", (e) => {
    $("run").hidden = e.target.value !== "buffer"; state.draft = [];
    $("utility-row").hidden = e.target.value !== "isolate";
  });
  $("run").addEventListener("click", () => runTool("buffer", state.draft)
    .catch((err) => status(`buffer failed: ${err.message}`, true)));
  $("clear").addEventListener("click", () => {
    state.draft = []; showGeoJSON("draft", { type: "FeatureCollection", features: [] });
    showGeoJSON("answer", { type: "FeatureCollection", features: [] }); status("");
  });
  map.on("click", onClick);
  const labels = document.createElement("div");
  labels.id = "labels";
  map.getCanvasContainer().after(labels);  // under popups, which come later in the container
  map.on("movestart", () => labels.replaceChildren());
  map.on("idle", drawLabels);
  state.session = await getJSON(api("map/session.json"));
  if (state.session.writes.length) await startEditing();
  if (state.session.writes.includes("incidents")) await startEmergency();
  if (state.specs.some((s) => s.id === "pipelines" && s.access === "restricted")) await startCrew();
  if (state.session.writes.includes("sectors")) await startPlanner();
}

function script(name) {  // one of our own static files, run once
  return new Promise((ok, fail) => {
    const el = document.createElement("script");
    el.src = `static/map/${name}`;
    el.onload = ok;
    el.onerror = () => fail(new Error(`static/map/${name} did not load`));
    document.body.append(el);
  });
}

// Editing and scenarios are fetched only for a role that writes.
async function startEditing() {
  await Promise.all([script("editor.js"), script("scenarios.js")]);
  window.citygis.editor = window.citygisEditor(window.citygis);
  window.citygis.scenarios = window.citygisScenarios(window.citygis);
  await window.citygis.scenarios.ready;
}

// The crew panel, for a role that reads the pipe network itself (not its public view).
async function startCrew() {
  await script("crew.js");
  window.citygis.crew = window.citygisCrew(window.citygis);
  await window.citygis.crew.ready;
}

// The emergency panel, for a role that reads and writes incidents.
// The planner panel, for a role that reads and writes sectors.
async function startPlanner() {
  await script("planner.js");
  window.citygis.planner = window.citygisPlanner(window.citygis);
  await window.citygis.planner.ready;
}

async function startEmergency() {
  await script("emergency.js");
  window.citygis.emergency = window.citygisEmergency(window.citygis);
  await window.citygis.emergency.ready;
}

const idle = () => new Promise((ok) => (map.loaded() && !map.isMoving() ? ok() : map.once("idle", ok)));

// For tests and the console: the map, readiness, and what is drawn.
window.citygis = {
  map, state, idle,
  ready: start().then(idle).catch((err) => { status(`map failed: ${err.message}`, true); throw err; }),
  async setYear(year) { $("year").value = year; setDatetime(year); await new Promise((ok) => setTimeout(ok, 50)); await idle(); },
  labels() {  // the labels on the map: [layer, text, x, y, width, height]
    return [...document.querySelectorAll("#labels .map-label")].map((el) => {
      const r = el.getBoundingClientRect();
      return [el.dataset.layer, el.textContent, r.x, r.y, r.width, r.height];
    });
  },
  rendered(layerId) {  // distinct features of one layer drawn in the viewport
    const fs = map.queryRenderedFeatures({ layers: state.layerIds[layerId] || [] });
    return new Set(fs.map((f) => f.id ?? f.properties.asset_id)).size;
  },
  runTool, inspect, api, getJSON, esc, redrawLayer, auth: AUTH, displayCrs, inScenario, setScenario,
  setInstant,
};
