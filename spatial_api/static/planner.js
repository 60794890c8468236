// The planner's panel, for a token whose role reads and writes sectors (the planner role):
// sectors drawn as wedges (azimuth ± beamwidth/2, a constant length on screen) in their
// operator's colour; the received-power or best-server overlay (the PNG tiles of
// analysis/coverage/tiles, with their own ramp as the legend); a district's coverage table
// (POST analysis/coverage/stats) with its holes drawn and listed; and, in a scenario, a site
// dragged to a new place: the site and its sectors PATCHed into the scenario (If-Match),
// then the stats and the comparison with the live city (POST analysis/coverage/compare)
// again, the overlay and the holes redrawn.
"use strict";

window.citygisPlanner = (citygis) => {
  const { map, state, api, getJSON, redrawLayer, auth, displayCrs, inScenario } = citygis;
  const $ = (id) => document.getElementById(id);
  const make = (tag, { dataset = {}, ...props } = {}, ...kids) => {
    const el = Object.assign(document.createElement(tag), props);
    Object.assign(el.dataset, dataset);
    el.append(...kids.filter((k) => k != null && k !== ""));
    return el;
  };
  const EMPTY = { type: "FeatureCollection", features: [] };
  const WEDGE_MIN_ZOOM = 13;  // the sectors' tiles carry azimuth and beamwidth from here
  const ARC_STEPS = 12;       // ring: apex, ARC_STEPS + 1 arc vertices, apex
  const DEFAULT_BEAMWIDTH = 65;  // as the coverage services assume (coverage_budget.DEFAULTS)
  // The tiles' ramp (spatial_api/analysis/coverage_tiles.py): red at the threshold, yellow
  // half-way, green at RX_TOP_DBM; cells below the threshold are transparent. The default
  // thresholds per technology are coverage_grid.THRESHOLDS_DBM.
  const RX_TOP_DBM = -60;
  const THRESHOLDS = { lte: -110, nr: -105, umts: -95, gsm: -90 };
  const TILE_MIN_ZOOM = 11;   // coverage_tiles.MIN_ZOOM
  const COLOUR = { gained: "#2e7d32", lost: "#c62828", hole: "#6a1b9a", site: "#7030a0" };
  const pl = {
    districts: [],      // { id, name, geometry }
    stats: null,        // the last stats answer: { head, rows, holes }
    compare: null,      // the last comparison: { head, rows, shapes }
    moving: false,      // a click on a site picks it to drag
    site: null,         // { id, marker, from }
    busy: null,
  };
  const spec = (id) => state.specs.find((s) => s.id === id);
  const sectors = spec("sectors");
  const palette = sectors?.style.palette || {};
  const operators = sectors?.attributes.find((a) => a.name === "operator")?.choices || Object.keys(palette);

  // ---- numbers ----
  const num = (v, digits = 2) => (v == null || Number.isNaN(Number(v)) ? "—"
    : Number(v).toLocaleString("en", { maximumFractionDigits: digits, minimumFractionDigits: digits }));
  const pct = (v) => (v == null ? "—" : `${num(v, 2)} %`);
  const km2 = (v) => (v == null ? "—" : `${num(v, 3)} km²`);
  const people = (v) => (v == null ? "—" : Math.round(v).toLocaleString("en"));

  // ---- the server ----
  class Problem extends Error {
    constructor(status, body) { super(body?.detail || body?.title || `HTTP ${status}`); this.status = status; }
  }

  async function send(method, path, { body, query = {}, etag, type = "application/json" } = {}) {
    const url = new URL(api(path));
    for (const [k, v] of Object.entries(query)) if (v != null && v !== "") url.searchParams.set(k, v);
    const headers = { ...auth, Accept: "application/json, application/problem+json" };
    if (body) headers["Content-Type"] = type;
    if (body && type !== "application/json" && displayCrs().crs) headers["Content-Crs"] = displayCrs().crs;
    if (etag) headers["If-Match"] = etag;
    const r = await fetch(url, { method, headers, body: body && JSON.stringify(body) });
    if (!r.ok) throw new Problem(r.status, await r.json().catch(() => ({ detail: r.statusText })));
    return r;
  }
  const post = async (path, body) => (await send("POST", path, { body })).json();

  function explain(err) {
    if (!(err instanceof Problem)) return `The request failed: ${err.message}`;
    if (err.status === 401) return "Your token was not accepted: open the map again with a valid ?token=.";
    if (err.status === 403) return `Your role (${state.session.role}) may not do this: ${err.message}`;
    if (err.status === 412) return "Someone else changed this site since it was read: pick it again.";
    return `${err.message} (${err.status})`;
  }

  function message(text, kind = "error") {
    const box = $("pl-message");
    if (!text) { box.hidden = true; box.replaceChildren(); return; }
    box.className = `message ${kind}`;
    box.replaceChildren(make("p", { textContent: text }));
    box.hidden = false;
  }
  const say = (id, text) => { $(id).textContent = text; };

  // ---- the radio model the panel's requests share ----
  const operator = () => $("pl-operator").value || null;
  function grid() {
    const thr = $("pl-threshold").value;
    return { model: $("pl-model").value || null, threshold_dbm: thr === "" ? null : Number(thr), cell_m: 25 };
  }
  const clean = (o) => Object.fromEntries(Object.entries(o).filter(([, v]) => v != null));
  // Items read clicks' CRS as `crs`; the analyses answer in `out_crs` (their areas come from a layer).
  const items = () => clean({ datetime: state.datetime, ...inScenario(), crs: displayCrs().crs });
  const analysis = () => clean({ datetime: state.datetime, ...inScenario(), out_crs: displayCrs().out_crs });

  // ---- wedges: each sector a wedge of constant length on screen, from its tile point ----
  function wedgeLength() {  // px: ~60 at street zoom, shorter zoomed out so sites stay apart
    return Math.max(26, Math.min(70, 60 * Math.pow(2, (map.getZoom() - 16) / 2)));
  }

  function wedge(lngLat, az, bw, length) {  // in screen space: Web Mercator keeps angles
    const c = map.project(lngLat), at = (b) => {
      const r = (b * Math.PI) / 180;
      const p = map.unproject([c.x + length * Math.sin(r), c.y - length * Math.cos(r)]);
      return [p.lng, p.lat];
    };
    const omni = az == null || bw >= 360;
    const arc = [];
    for (let i = 0; i <= ARC_STEPS; i++) {
      arc.push(omni ? at((360 * i) / ARC_STEPS) : at(az - bw / 2 + (bw * i) / ARC_STEPS));
    }
    return omni ? [[...arc.slice(0, -1), arc[0]]] : [[lngLat, ...arc, lngLat]];
  }

  function sectorPoints() {  // every sector in the loaded tiles, once
    if (!map.getSource("sectors") || map.getZoom() < WEDGE_MIN_ZOOM) return [];
    const seen = new Map(), op = operator();
    for (const f of map.querySourceFeatures("sectors", { sourceLayer: state.sources.sectors.layer })) {
      const p = f.properties, id = p.asset_id;
      if (id == null || seen.has(id) || f.geometry.type !== "Point") continue;
      if (op && p.operator !== op) continue;
      seen.set(id, { id, p, at: f.geometry.coordinates });
    }
    return [...seen.values()];
  }

  function drawWedges() {
    const length = wedgeLength();
    const features = sectorPoints().map(({ id, p, at }) => {
      const az = p.azimuth_deg == null ? null : Number(p.azimuth_deg);
      const bw = p.beamwidth_deg == null ? DEFAULT_BEAMWIDTH : Number(p.beamwidth_deg);
      return { type: "Feature", properties: { asset_id: id, operator: p.operator, technology: p.technology,
                                              azimuth_deg: az, beamwidth_deg: bw, omni: az == null },
               geometry: { type: "Polygon", coordinates: wedge(at, az, bw, length) } };
    });
    pl.wedges = { type: "FeatureCollection", features };
    map.getSource("planner-wedges").setData(pl.wedges);
  }

  let wedgeTimer = null;
  const wedgesSoon = () => { clearTimeout(wedgeTimer); wedgeTimer = setTimeout(drawWedges, 30); };

  // ---- the overlay: received power or best server, PNG tiles from the grid model ----
  function overlayURL() {
    const g = grid();
    const q = clean({ show: $("pl-show").value, operator: operator(), model: g.model,
                      threshold_dbm: g.threshold_dbm, cell_m: g.cell_m, datetime: state.datetime,
                      ...inScenario() });
    const qs = new URLSearchParams(q).toString();
    return `${api("analysis/coverage/tiles/WebMercatorQuad/")}{z}/{y}/{x}${qs ? `?${qs}` : ""}`;
  }

  function drawOverlay() {
    const on = $("pl-overlay").checked;
    if (map.getLayer("planner-coverage")) map.removeLayer("planner-coverage");
    if (map.getSource("planner-coverage")) map.removeSource("planner-coverage");
    legend();
    if (!on) return;
    map.addSource("planner-coverage", { type: "raster", tiles: [overlayURL()], tileSize: 256,
                                        minzoom: TILE_MIN_ZOOM, maxzoom: 18 });
    // Under the sectors and sites, over the districts and the population grid.
    const below = ["planner-wedges:fill", ...(state.layerIds.sectors || [])].find((id) => map.getLayer(id));
    map.addLayer({ id: "planner-coverage", type: "raster", source: "planner-coverage",
                   paint: { "raster-opacity": Number($("pl-opacity").value) / 100, "raster-fade-duration": 0 } },
                 below);
  }

  function legend() {
    const box = $("pl-legend"), rx = $("pl-show").value === "rx", thr = grid().threshold_dbm;
    $("pl-overlay-body").hidden = !$("pl-overlay").checked;
    if (!rx) {
      box.replaceChildren(make("p", { className: "note", textContent:
        "Best server: one colour per sector (the strongest of its operator's in each cell). " +
        "Uncoloured: below the threshold." }));
      return;
    }
    const low = thr ?? null, mid = low == null ? null : (low + RX_TOP_DBM) / 2;
    const bar = make("div", { className: "pl-ramp", title: "received power, dBm" });
    const ticks = make("div", { className: "pl-ticks" },
      make("span", { textContent: low == null ? "threshold" : `${low} dBm` }),
      make("span", { textContent: mid == null ? "" : `${mid} dBm` }),
      make("span", { textContent: `≥ ${RX_TOP_DBM} dBm` }));
    const note = low == null
      ? `Threshold per technology: ${Object.entries(THRESHOLDS).map(([t, v]) => `${t.toUpperCase()} ${v}`).join(" · ")} dBm; ` +
        "transparent below it."
      : "Transparent below the threshold.";
    box.replaceChildren(make("div", { className: "pl-legend-title", textContent: "Received power · 接收电平 (dBm)" }),
                        bar, ticks, make("p", { className: "note", textContent: note }));
    if (map.getZoom() < TILE_MIN_ZOOM) box.append(make("p", { className: "note", textContent: `Drawn from zoom ${TILE_MIN_ZOOM}.` }));
  }

  // ---- a district's coverage: the table, the holes ----
  async function loadDistricts() {
    const fc = await getJSON(api("collections/districts/items", { limit: 1000, ...items() }));
    pl.districts = fc.features.map((f) => ({ id: String(f.id ?? f.properties.asset_id), name: f.properties.name, geometry: f.geometry }))
      .sort((a, b) => String(a.name).localeCompare(String(b.name), "zh"));
    const pick = $("pl-district");
    pick.replaceChildren(new Option("choose a district…", ""));
    for (const d of pl.districts) pick.append(new Option(d.name || d.id, d.id));
  }

  const district = () => pl.districts.find((d) => d.id === $("pl-district").value) || null;

  function bounds(geometry) {
    const b = [Infinity, Infinity, -Infinity, -Infinity];
    const walk = (c) => { if (typeof c[0] === "number") { b[0] = Math.min(b[0], c[0]); b[1] = Math.min(b[1], c[1]); b[2] = Math.max(b[2], c[0]); b[3] = Math.max(b[3], c[1]); } else c.forEach(walk); };
    walk(geometry.coordinates);
    return [[b[0], b[1]], [b[2], b[3]]];
  }
  function padding() {  // the part of the map no card covers: this panel left, the editor's right
    const map_ = map.getContainer().getBoundingClientRect(), editor = $("editor");
    const top = editor && !editor.hidden ? editor.getBoundingClientRect().bottom - map_.top + 20 : 40;
    return { top: Math.min(top, map_.height / 3), bottom: 40, right: 40,
             left: $("planner-panel").getBoundingClientRect().right - map_.left + 20 };
  }

  async function runStats() {
    const d = district();
    if (!d) { pl.stats = null; showStats(); return; }
    say("pl-stats-status", `Computing the coverage of ${d.name}…`);
    const body = { ...grid(), areas: { layer: "districts", filter: { name: d.name } }, max_holes: 50,
                   ...(operator() ? { filter: { operator: operator() } } : {}), ...analysis() };
    try {
      const fc = await post("analysis/coverage/stats", body);
      const props = (f) => f.properties;
      pl.stats = { head: fc.features[0].properties,
                   rows: fc.features.filter((f) => props(f).role === "stats").map(props),
                   holes: fc.features.filter((f) => props(f).role === "hole") };
      say("pl-stats-status", "");
    } catch (err) {
      pl.stats = null;
      say("pl-stats-status", "");
      message(explain(err));
    }
    showStats();
  }

  const short = (op) => String(op).replace(/^china_/, "");  // the column is narrow

  // Whose holes are drawn and listed: the operator picked, else the row clicked, else the
  // first operator with holes (each operator's holes overlap the others').
  function holesOperator() {
    const rows = pl.stats?.rows || [];
    if (operator()) return operator();
    if (rows.some((r) => r.operator === pl.holesOp)) return pl.holesOp;
    return (rows.find((r) => r.holes) || rows[0])?.operator || null;
  }
  const shownHoles = () => (pl.stats?.holes || []).filter((h) => h.properties.operator === holesOperator());

  function showStats() {
    const s = pl.stats, table = $("pl-table"), list = $("pl-holes");
    table.replaceChildren();
    list.replaceChildren();
    $("pl-stats").hidden = !s;
    drawShapes();
    if (!s) return;
    const chosen = holesOperator();
    const head = make("thead", {}, make("tr", {},
      ...["Operator", "Covered km²", "%", "People", "Holes"].map((t) => make("th", { textContent: t }))));
    const body = make("tbody");
    for (const r of s.rows) {
      const tr = make("tr", { dataset: { operator: r.operator }, className: r.operator === chosen ? "chosen" : "",
                              title: `${r.operator}: click to draw and list its holes` });
      const sw = make("span", { className: "swatch" });
      sw.style.background = palette[r.operator] || "#888";
      tr.append(make("th", {}, sw, short(r.operator)),
                make("td", { className: "covered", textContent: num(r.covered_km2, 3) }),
                make("td", { className: "pct", textContent: pct(r.covered_pct) }),
                make("td", { className: "people", textContent: people(r.people_covered),
                             title: r.people_covered == null ? String(s.head.population || "") : "" }),
                make("td", { className: "holes", textContent: r.holes == null ? "—" : String(r.holes) }));
      tr.addEventListener("click", () => { pl.holesOp = r.operator; pl.focus = null; showStats(); });
      body.append(tr);
    }
    table.append(head, body);
    const area = s.rows[0]?.area_km2;
    say("pl-stats-area", area == null ? "" : `${s.rows[0].name}: ${km2(area)} · ${s.head.cell_m} m cells · ${s.head.model}`);
    say("pl-holes-of", chosen ? `· ${short(chosen)}` : "");
    const holes = shownHoles();
    holes.forEach((h, i) => {
      const p = h.properties;
      const b = make("button", { type: "button", className: `pl-hole${i === pl.focus ? " focus" : ""}`, dataset: { index: String(i) } },
        make("span", { className: "rank", textContent: String(p.rank) }),
        make("span", { textContent: p.name || "" }),
        make("span", { className: "unit", textContent: p.area_m2 >= 1e5 ? km2(p.area_m2 / 1e6) : `${num(p.area_m2, 0)} m²` }));
      b.addEventListener("click", () => flyToHole(i));
      list.append(make("li", {}, b));
    });
    $("pl-holes-none").hidden = holes.length > 0;
  }

  function flyToHole(i) {
    const h = shownHoles()[i];
    if (!h) return;
    pl.focus = i;
    showStats();
    map.fitBounds(bounds(h.geometry), { padding: padding(), maxZoom: 16, duration: 600 });
  }

  function drawShapes() {
    const out = [];
    shownHoles().forEach((h, i) => out.push({ ...h, properties: { ...h.properties, kind: "hole", focus: i === pl.focus } }));
    for (const f of pl.compare?.shapes || []) out.push({ ...f, properties: { ...f.properties, kind: f.properties.role } });
    map.getSource("planner-shapes").setData({ type: "FeatureCollection", features: out });
  }

  // ---- the comparison with the live city (in a scenario) ----
  async function runCompare() {
    const d = district();
    pl.compare = null;
    if (!state.scenario || !d) { showCompare(); return; }
    say("pl-compare-status", "Comparing with the live city…");
    try {
      const fc = await post("analysis/coverage/compare", {
        ...grid(), scenario: state.scenario.id, operator: operator(),
        areas: { layer: "districts", ids: [d.id] }, ...clean({ datetime: state.datetime, out_crs: displayCrs().out_crs }),
      });
      const props = (f) => f.properties;
      pl.compare = { head: fc.features[0].properties,
                     rows: fc.features.filter((f) => props(f).role === "compare").map(props),
                     shapes: fc.features.filter((f) => ["gained", "lost"].includes(props(f).role)) };
      say("pl-compare-status", "");
    } catch (err) {
      say("pl-compare-status", "");
      message(explain(err));
    }
    showCompare();
  }

  function showCompare() {
    const c = pl.compare, box = $("pl-compare-result");
    drawShapes();
    box.replaceChildren();
    if (!c) return;
    const gained = c.rows.reduce((n, r) => n + r.gained_km2, 0), lost = c.rows.reduce((n, r) => n + r.lost_km2, 0);
    box.append(make("p", { className: "pl-delta" },
      make("span", { className: "gained", id: "pl-gained", textContent: `+${km2(gained)}` }), " gained · 增 ",
      make("span", { className: "lost", id: "pl-lost", textContent: `−${km2(lost)}` }), " lost · 减"));
    if (!c.rows.length) {
      box.append(make("p", { className: "note", textContent: c.head.changed_sectors?.length
        ? "The changed sectors do not reach this district." : "This scenario changes no sector yet." }));
      return;
    }
    const t = make("table", { className: "pl-table" });
    t.append(make("thead", {}, make("tr", {}, ...["Operator", "Gained km²", "Lost km²", "Before", "After"].map((x) => make("th", { textContent: x })))));
    const body = make("tbody");
    for (const r of c.rows) {
      body.append(make("tr", { dataset: { operator: r.operator } }, make("th", { textContent: short(r.operator) }),
        make("td", { className: "gained", textContent: num(r.gained_km2, 3) }),
        make("td", { className: "lost", textContent: num(r.lost_km2, 3) }),
        make("td", { textContent: pct(r.covered_before_pct) }),
        make("td", { textContent: pct(r.covered_after_pct) })));
    }
    t.append(body);
    box.append(t, make("p", { className: "note", textContent:
      `Changed sectors: ${c.head.changed_sectors.join(", ")}. Computed only where they reach.` }));
  }

  // ---- moving a site, in a scenario ----
  function showScope() {
    const on = Boolean(state.scenario);
    $("pl-move").disabled = !on;
    $("pl-move-hint").textContent = on
      ? `Moves go into scenario “${state.scenario.title}” only; the live city stays as it is.`
      : "Pick or create a scenario (Scenario · 情景, right) to move sites: the live city is never moved from here.";
    $("pl-compare").hidden = !on;
    if (!on) setMoving(false);
  }

  function setMoving(on) {
    pl.moving = on;
    $("pl-move").setAttribute("aria-pressed", String(on));
    $("pl-move").textContent = on ? "Stop moving · 结束移动" : "Move a site · 移动站址";
    if (!on && pl.site) { pl.site.marker.remove(); pl.site = null; }
    say("pl-move-status", on ? "Click a site (purple) on the map, then drag it to its new place." : "");
    map.getCanvas().style.cursor = on ? "pointer" : "";
  }

  function pickSite(e) {
    const layers = (state.layerIds.base_stations || []).filter((id) => map.getLayer(id));
    const box = [[e.point.x - 6, e.point.y - 6], [e.point.x + 6, e.point.y + 6]];
    const hit = map.queryRenderedFeatures(box, { layers })[0];
    if (!hit) { say("pl-move-status", "No site there: click a purple site."); return; }
    if (pl.site) pl.site.marker.remove();
    const id = hit.properties.asset_id, from = hit.geometry.coordinates;
    const element = make("div", { className: "pl-site-marker", title: `Drag ${id} to move it`, dataset: { asset: id } });
    const marker = new maplibregl.Marker({ element, draggable: true }).setLngLat(from).addTo(map);
    marker.on("dragend", () => { const p = marker.getLngLat(); moveSite(id, [p.lng, p.lat]); });
    pl.site = { id, marker, from };
    say("pl-move-status", `Site ${id}: drag it to its new place.`);
  }

  async function etagOf(layer, id) {
    const r = await send("GET", `collections/${layer}/items/${encodeURIComponent(id)}`, { query: { ...inScenario(), crs: displayCrs().crs } });
    return r.headers.get("ETag");
  }

  // The site and each of its sectors to `to`, in the scenario, then everything recomputed.
  async function moveSite(id, to) {
    if (!state.scenario) return;
    const point = { type: "Point", coordinates: to };
    const patch = (layer, asset, etag) => send("PATCH", `collections/${layer}/items/${encodeURIComponent(asset)}`,
      { body: { geometry: point }, query: inScenario(), etag, type: "application/merge-patch+json" });
    say("pl-move-status", `Moving ${id}…`);
    message("");
    let warnings = 0, moved = 0;
    try {
      const r = await patch("base_stations", id, await etagOf("base_stations", id));
      warnings += Number(r.headers.get("Citygis-Warnings-Count") || 0);
      const fc = await getJSON(api("collections/sectors/items", { site_id: id, limit: 1000, ...items() }));
      for (const f of fc.features) {
        const sid = String(f.id ?? f.properties.asset_id);
        const w = await patch("sectors", sid, await etagOf("sectors", sid));
        warnings += Number(w.headers.get("Citygis-Warnings-Count") || 0);
        moved += 1;
      }
    } catch (err) {
      message(explain(err));
      say("pl-move-status", "");
      return;
    }
    if (pl.site) pl.site.from = to;
    redrawLayer("base_stations");
    redrawLayer("sectors");
    drawOverlay();
    say("pl-move-status", `Moved ${id} and ${moved} sector(s) in the scenario` +
        (warnings ? `; ${warnings} siting warning(s) (see the siting check)` : "") + ".");
    await Promise.all([runStats(), runCompare()]);
    $("pl-compare").scrollIntoView({ block: "nearest" });  // the gain and loss, in view
  }

  // ---- map clicks while picking a site ----
  function onClick(e) {
    if (!pl.moving) return false;
    pickSite(e);
    return true;
  }

  // ---- start ----
  map.addSource("planner-shapes", { type: "geojson", data: EMPTY });
  map.addSource("planner-wedges", { type: "geojson", data: EMPTY });
  const kind = (k) => ["==", ["get", "kind"], k];
  map.addLayer({ id: "planner-shapes:gained", type: "fill", source: "planner-shapes", filter: kind("gained"),
                 paint: { "fill-color": COLOUR.gained, "fill-opacity": 0.45 } });
  map.addLayer({ id: "planner-shapes:lost", type: "fill", source: "planner-shapes", filter: kind("lost"),
                 paint: { "fill-color": COLOUR.lost, "fill-opacity": 0.45 } });
  map.addLayer({ id: "planner-shapes:hole", type: "fill", source: "planner-shapes", filter: kind("hole"),
                 paint: { "fill-color": COLOUR.hole, "fill-opacity": ["case", ["get", "focus"], 0.35, 0.15] } });
  map.addLayer({ id: "planner-shapes:line", type: "line", source: "planner-shapes",
                 paint: { "line-color": ["match", ["get", "kind"], "gained", COLOUR.gained, "lost", COLOUR.lost, COLOUR.hole],
                          "line-width": ["case", ["==", ["get", "focus"], true], 3, 1.5],
                          "line-dasharray": [3, 1.5] } });
  const opColour = ["match", ["get", "operator"], ...Object.entries(palette).flat(), sectors?.style.color || "#0085d0"];
  const before = (state.layerIds.base_stations || [])[0];
  map.addLayer({ id: "planner-wedges:fill", type: "fill", source: "planner-wedges", minzoom: WEDGE_MIN_ZOOM,
                 paint: { "fill-color": opColour, "fill-opacity": 0.38 } }, before);
  map.addLayer({ id: "planner-wedges:line", type: "line", source: "planner-wedges", minzoom: WEDGE_MIN_ZOOM,
                 paint: { "line-color": opColour, "line-width": 1.2 } }, before);
  // The dots give way to the wedges, but stay there (transparent) for clicks on a sector.
  for (const id of state.layerIds.sectors || []) {
    if (map.getLayer(id)?.type !== "circle") continue;
    map.setPaintProperty(id, "circle-opacity", 0);
    map.setPaintProperty(id, "circle-stroke-width", 0);
    map.setPaintProperty(id, "circle-radius", 6);
  }
  const toggle = $("toggle-sectors");
  const wedgesShown = () => {
    const v = !toggle || toggle.checked ? "visible" : "none";
    for (const id of ["planner-wedges:fill", "planner-wedges:line"]) map.setLayoutProperty(id, "visibility", v);
  };
  toggle?.addEventListener("change", wedgesShown);
  map.on("moveend", wedgesSoon);
  map.on("sourcedata", (e) => { if (e.sourceId === "sectors" && e.isSourceLoaded) wedgesSoon(); });
  map.on("zoomend", legend);

  $("pl-operator").append(new Option("All operators · 全部", ""));
  for (const op of operators) $("pl-operator").append(new Option(op, op));
  for (const [v, t] of [["", "by frequency (default)"], ["fspl", "free space (fspl)"], ["cost231", "COST 231"],
                        ["hata", "Okumura-Hata"], ["uma", "3GPP UMa"]]) $("pl-model").append(new Option(t, v));
  $("pl-role").textContent = state.session.role;
  $("pl-operator").addEventListener("change", () => { drawWedges(); drawOverlay(); runStats(); runCompare(); });
  const radioChanged = () => { drawOverlay(); runStats(); runCompare(); };
  $("pl-model").addEventListener("change", radioChanged);
  $("pl-threshold").addEventListener("change", radioChanged);
  $("pl-overlay").addEventListener("change", drawOverlay);
  $("pl-show").addEventListener("change", drawOverlay);
  $("pl-opacity").addEventListener("input", () => {
    $("pl-opacity-value").textContent = `${$("pl-opacity").value} %`;
    if (map.getLayer("planner-coverage")) map.setPaintProperty("planner-coverage", "raster-opacity", Number($("pl-opacity").value) / 100);
  });
  $("pl-district").addEventListener("change", () => {
    pl.focus = null;
    const d = district();
    if (d) map.fitBounds(bounds(d.geometry), { padding: padding(), duration: 600 });
    runStats(); runCompare();
  });
  $("pl-move").addEventListener("click", () => setMoving(!pl.moving));
  $("pl-fold").addEventListener("click", () => {
    const folded = $("planner-panel").classList.toggle("collapsed");
    $("pl-fold").setAttribute("aria-expanded", String(!folded));
  });
  document.addEventListener("keydown", (e) => { if (e.key === "Escape" && pl.moving) setMoving(false); });
  $("planner-panel").hidden = false;
  // Open for a planner; folded for a role that also writes incidents or networks (admin).
  if (state.session.writes.some((id) => ["incidents", "pipelines"].includes(id))) $("pl-fold").click();
  legend();
  showScope();
  drawWedges();
  const ready = loadDistricts().catch((err) => message(explain(err)));
  return {
    ready, onClick, moveSite, runStats, runCompare, state: pl,
    wedges: () => pl.wedges || EMPTY,
    // map.js: a new instant or scenario; the overlay, the numbers and the scope follow it.
    retile() { showScope(); drawOverlay(); if (district()) { runStats(); runCompare(); } },
  };
};
