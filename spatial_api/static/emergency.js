// The emergency panel, for a token whose role reads and writes incidents (map/session.json's
// `writes` names them): report an incident by clicking the map or pick an open one; its
// hazard zone (POST /analysis/hazard-zone: ERG, Guide 115, NCTC or drawn) drawn ring by
// ring; what the zone holds (/analysis/impact), where its people go (/analysis/shelter-
// assignment) and who comes by which road (/analysis/responders); and the incident's
// timeline (/incidents/{id}/timeline) with a replay that moves the whole map's instant.
// Every answer is the server's; a refusal's problem+json detail is shown where it happened.
"use strict";

window.citygisEmergency = (citygis) => {
  const { map, state, api, auth, displayCrs, inScenario, redrawLayer, setInstant } = citygis;
  const $ = (id) => document.getElementById(id);
  const make = (tag, { dataset, ...props } = {}, ...children) => {
    const el = Object.assign(document.createElement(tag), props);
    Object.assign(el.dataset, dataset);
    el.append(...children.filter((c) => c != null));
    return el;
  };
  const EMPTY = { type: "FeatureCollection", features: [] };
  const MINUTE = 60000;
  const MARGIN_MIN = 10;  // the replay starts and ends this long beyond the versions
  const RINGS = {  // zone: colour, label
    isolation: ["#c62828", "Initial isolation · 初始隔离区"],
    protective_action: ["#ef6c00", "Protective action, downwind · 下风向防护行动区"],
    evacuation: ["#8e24aa", "Evacuation · 疏散区"],
    shelter_in_place: ["#f9a825", "Shelter in place · 就地避险区"],
    downwind_sector: ["#ef6c00", "Downwind sector · 下风向扇区"],
  };
  const SHORT = { isolation: "Isolation 隔离", protective_action: "Downwind 防护", evacuation: "Evacuate 疏散",
                  shelter_in_place: "Shelter 避险", downwind_sector: "Sector 扇区" };  // table heads
  const OTHER_RING = "#6d4c41";
  const STATUS = { reported: "#d32f2f", active: "#e65100", contained: "#f9a825", closed: "#616161" };
  const UNITS = ["#1565c0", "#00838f", "#6a1b9a", "#2e7d32", "#ad1457", "#4e342e"];
  const em = {
    placing: false, point: null,  // a new incident's point, in display coordinates
    incidents: [], incident: null,  // the open incidents, and the one chosen (a Feature)
    zone: null, timeline: null,
    replay: { start: 0, minutes: 0, timer: null, epoch: null },
  };

  // ---- words and numbers ----
  const nf = new Intl.NumberFormat("en-US", { maximumFractionDigits: 0 });
  const num = (v, digits = 0) => (v == null ? "—" : Number(v).toLocaleString("en-US",
    { minimumFractionDigits: digits, maximumFractionDigits: digits }));
  const minutes = (s) => (s == null ? "—" : `${num(s / 60, 1)} min`);
  const pad = (n) => String(n).padStart(2, "0");
  const local = (t) => {  // "2026-05-03 10:05", the browser's local time
    const d = new Date(t);
    return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}`;
  };
  const zoneOf = (t) => {
    const m = -new Date(t).getTimezoneOffset();
    return `UTC${m < 0 ? "−" : "+"}${Math.floor(Math.abs(m) / 60)}${m % 60 ? `:${pad(Math.abs(m) % 60)}` : ""}`;
  };
  const area = (m2) => (m2 == null ? "" : m2 >= 1e6 ? `${num(m2 / 1e6, 2)} km²` : `${num(m2 / 1e4, 2)} ha`);
  const ringName = (zone) => RINGS[zone]?.[1] || zone;

  function say(id, text, error = false) {
    $(id).textContent = text;
    $(id).classList.toggle("error", error);
  }

  function alarm(text) {  // a refusal no section owns
    $("em-message").className = "message error";
    $("em-message").replaceChildren(make("p", { textContent: text }));
    $("em-message").hidden = !text;
  }

  // ---- the API: problem+json becomes an Error carrying its detail ----
  async function call(method, path, { body, query = {} } = {}) {
    const url = new URL(api(path));
    for (const [k, v] of Object.entries(query)) if (v != null && v !== "") url.searchParams.set(k, v);
    const headers = { ...auth, Accept: "application/json, application/problem+json" };
    if (body) headers["Content-Type"] = "application/json";
    const r = await fetch(url, { method, headers, body: body && JSON.stringify(body) });
    const answer = await r.json().catch(() => null);
    if (r.ok) return answer;
    throw refusal(r, answer);
  }

  function refusal(r, problem) {  // a problem+json answer in words, its reasons not repeated
    const reasons = (problem?.errors || []).map((e) => e.reason || `${(e.loc || []).join(".")}: ${e.msg}`);
    const detail = problem?.detail || problem?.title || r.statusText;
    const extra = reasons.filter((x) => !detail.includes(x)).join("; ");
    const why = r.status === 401 ? "your token was not accepted (unknown, expired or revoked)"
      : r.status === 403 ? `your role (${state.session.role}) may not: ${detail}` : detail;
    return new Error(`${r.status} ${why}${extra ? `; ${extra}` : ""}`);
  }
  const asOf = () => ({ datetime: state.datetime ?? undefined, ...inScenario(), out_crs: displayCrs().out_crs });

  // ---- overlays ----
  const show = (id, features) => map.getSource(id).setData({ type: "FeatureCollection", features });
  const match = (prop, table, other) => ["match", ["get", prop], ...Object.entries(table).flat(), other];

  function overlays() {
    const add = (id) => map.addSource(id, { type: "geojson", data: EMPTY });
    ["em-zone", "em-shelters", "em-routes", "em-incident", "em-pick"].forEach(add);
    const polygon = ["==", ["geometry-type"], "Polygon"], point = ["==", ["geometry-type"], "Point"];
    const line = ["==", ["geometry-type"], "LineString"];
    const colour = match("zone", Object.fromEntries(Object.entries(RINGS).map(([k, [c]]) => [k, c])), OTHER_RING);
    map.addLayer({ id: "em-zone:fill", type: "fill", source: "em-zone", filter: polygon,
                   paint: { "fill-color": colour, "fill-opacity": 0.16 } });
    map.addLayer({ id: "em-zone:line", type: "line", source: "em-zone",
                   paint: { "line-color": colour, "line-width": 2.5 } });
    map.addLayer({ id: "em-shelters:line", type: "line", source: "em-shelters", filter: line,
                   paint: { "line-color": "#2e7d32", "line-width": ["interpolate", ["linear"], ["get", "people"], 1, 1.5, 500, 5],
                            "line-dasharray": [3, 2], "line-opacity": 0.8 } });
    map.addLayer({ id: "em-routes:line", type: "line", source: "em-routes", filter: line,
                   layout: { "line-cap": "round", "line-join": "round" },
                   paint: { "line-color": ["get", "colour"], "line-width": 4, "line-opacity": 0.85 } });
    map.addLayer({ id: "em-routes:approach", type: "line", source: "em-routes",
                   filter: ["all", line, ["==", ["get", "role"], "approach"]],
                   paint: { "line-color": "#fff", "line-width": 1.5, "line-dasharray": [2, 2] } });
    for (const src of ["em-shelters", "em-routes"]) {
      map.addLayer({ id: `${src}:point`, type: "circle", source: src, filter: point,
                     paint: { "circle-color": ["get", "colour"], "circle-radius": ["get", "radius"],
                              "circle-stroke-color": "#fff", "circle-stroke-width": 2 } });
    }
    map.addLayer({ id: "em-incident:halo", type: "circle", source: "em-incident",
                   paint: { "circle-color": match("status", STATUS, "#d32f2f"), "circle-radius": 16,
                            "circle-opacity": 0.25 } });
    map.addLayer({ id: "em-incident:point", type: "circle", source: "em-incident",
                   paint: { "circle-color": match("status", STATUS, "#d32f2f"), "circle-radius": 8,
                            "circle-stroke-color": "#fff", "circle-stroke-width": 3 } });
    map.addLayer({ id: "em-pick", type: "circle", source: "em-pick",
                   paint: { "circle-color": "#fff", "circle-radius": 7, "circle-stroke-color": "#d32f2f",
                            "circle-stroke-width": 3 } });
  }

  function fit(features) {  // the answer in view, clear of the panels over the map
    const box = [Infinity, Infinity, -Infinity, -Infinity];
    const walk = (c) => (typeof c[0] === "number"
      ? (box[0] = Math.min(box[0], c[0]), box[1] = Math.min(box[1], c[1]),
         box[2] = Math.max(box[2], c[0]), box[3] = Math.max(box[3], c[1]))
      : c.forEach(walk));
    features.filter((f) => f.geometry).forEach((f) => walk(f.geometry.coordinates));
    if (!Number.isFinite(box[0])) return;
    const left = $("emergency-panel").classList.contains("collapsed") ? 60 : 430;
    const right = $("editor") && !$("editor").hidden && !$("editor").classList.contains("collapsed") ? 330 : 40;
    const canvas = map.getCanvas().getBoundingClientRect();
    const padding = canvas.width > left + right + 100
      ? { top: 40, bottom: 60, left, right } : 20;
    map.fitBounds([[box[0], box[1]], [box[2], box[3]]], { padding, animate: false, maxZoom: 17 });
  }

  // ---- incidents: the open ones, a new one ----
  const specOf = (id) => state.specs.find((s) => s.id === id);
  const attr = (layer, name) => specOf(layer)?.attributes.find((a) => a.name === name);
  const point = () => em.incident?.geometry?.coordinates;

  async function loadIncidents(select) {
    const fc = await call("GET", "collections/incidents/items", { query: {
      filter: "status IS NULL OR status <> 'closed'", sortby: "-started_at", limit: 200,
      crs: displayCrs().crs, ...inScenario() } });
    em.incidents = fc.features;
    const box = $("em-incident");
    box.replaceChildren(new Option(em.incidents.length ? "choose… · 请选择" : "none open · 无未结事件", ""));
    for (const f of em.incidents) {
      const p = f.properties;
      const text = `${p.name || f.id} · ${p.kind} · ${p.status ?? "?"}${p.severity ? ` · ${p.severity}级` : ""}`;
      box.append(new Option(text, f.id));
    }
    if (select) box.value = select;
    return em.incidents;
  }

  function card(f) {
    const p = f.properties, [lon, lat] = f.geometry.coordinates;
    const dot = make("span", { className: "em-dot" });
    dot.style.background = STATUS[p.status] || "#999";
    $("em-current").replaceChildren(
      make("h3", {}, dot, ` ${p.name || f.id}`),
      make("p", { textContent: `${f.id} · ${p.kind}${p.severity ? ` · severity ${p.severity} 级` : ""} · ${p.status ?? "?"}` }),
      make("p", { className: "note", textContent: `${lat.toFixed(5)}° N, ${lon.toFixed(5)}° E` +
        (p.started_at ? ` · started ${local(p.started_at)} (${zoneOf(p.started_at)})` : "") }),
      p.description ? make("p", { textContent: p.description }) : null);
    $("em-current").hidden = false;
  }

  async function choose(id) {
    stopReplay();
    em.incident = em.incidents.find((f) => f.id === id) || null;
    clearAnswers();
    $("em-zone-run").disabled = !em.incident;
    $("em-current").hidden = !em.incident;
    if (!em.incident) { show("em-incident", []); return; }
    card(em.incident);
    show("em-incident", [em.incident]);
    map.easeTo({ center: point(), zoom: Math.max(map.getZoom(), 15), duration: 0 });
    await loadTimeline().catch((err) => say("em-replay-status", `Timeline: ${err.message}`, true));
  }

  function startPlacing() {
    em.placing = true; em.point = null;
    show("em-pick", []);
    $("em-form").hidden = false; $("em-new").hidden = true;
    $("em-create").disabled = true;
    $("em-where").textContent = "Click the map where it happened · 在地图上点击事发地点";
    $("em-where").classList.add("placing");
    if (!$("em-started").value) $("em-started").value = localInput(new Date());
    map.getCanvas().style.cursor = "crosshair";
  }

  function stopPlacing() {
    em.placing = false; em.point = null;
    show("em-pick", []);
    $("em-form").hidden = true; $("em-new").hidden = false;
    map.getCanvas().style.cursor = "";
  }

  const localInput = (d) => new Date(d.getTime() - d.getTimezoneOffset() * MINUTE).toISOString().slice(0, 16);

  function onClick(e) {
    if (!em.placing) return false;
    em.point = [e.lngLat.lng, e.lngLat.lat];
    show("em-pick", [{ type: "Feature", properties: {}, geometry: { type: "Point", coordinates: em.point } }]);
    $("em-where").textContent = `${em.point[1].toFixed(5)}° N, ${em.point[0].toFixed(5)}° E · click again to move`;
    $("em-where").classList.remove("placing");
    $("em-create").disabled = false;
    return true;
  }

  async function report(e) {
    e.preventDefault();
    alarm("");
    if (!em.point) return alarm("Click the map where it happened first · 请先在地图上点击事发地点");
    if (!$("em-kind").value) return alarm("Kind is required · 请选择事件类型");
    const started = $("em-started").value ? new Date($("em-started").value) : new Date();
    const props = { kind: $("em-kind").value, status: "reported", started_at: started.toISOString() };
    for (const [k, id] of [["name", "em-name"], ["severity", "em-severity"], ["description", "em-description"]]) {
      if ($(id).value.trim()) props[k] = $(id).value.trim();
    }
    $("em-create").disabled = true;
    try {  // it takes effect when it started, if that is past: the replay then begins there
      const headers = { ...auth, "Content-Type": "application/geo+json", Accept: "application/json, application/problem+json",
                        ...(displayCrs().crs ? { "Content-Crs": displayCrs().crs } : {}) };
      const url = new URL(api("collections/incidents/items"));
      if (started < new Date()) url.searchParams.set("valid_from", started.toISOString());
      for (const [k, v] of Object.entries(inScenario())) url.searchParams.set(k, v);
      const r = await fetch(url, { method: "POST", headers, body: JSON.stringify(
        { type: "Feature", geometry: { type: "Point", coordinates: em.point }, properties: props }) });
      const body = await r.json().catch(() => ({}));
      if (!r.ok) throw refusal(r, body);
      const id = body.ids[0];
      stopPlacing();
      for (const id2 of ["em-name", "em-description"]) $(id2).value = "";
      redrawLayer("incidents");
      await loadIncidents(id);
      await choose(id);
      say("em-zone-status", `Reported ${id} · 已上报. Choose the hazard and draw its zone.`);
    } catch (err) {
      alarm(`Not reported · 未上报: ${err.message}`);
      $("em-create").disabled = false;
    }
  }

  // ---- the hazard zone ----
  const val = (id) => $(id).value;
  const optNumber = (id) => ($(id).value === "" ? undefined : Number($(id).value));
  const records = () => !!specOf("hazard_zones") && state.session.writes.includes("hazard_zones");

  function hazardInputs() {
    const preset = val("em-preset"), wind = optNumber("em-wind");
    if (preset === "erg") {
      const large = val("em-erg-spill") === "large";
      return { preset, material: val("em-erg-material").trim(), spill: val("em-erg-spill"),
               time_of_day: val("em-erg-time"), wind_from_deg: wind,
               ...(large ? { container: val("em-erg-container"), wind_class: val("em-erg-wind-class") } : {}) };
    }
    if (preset === "erg115") {
      return { preset, material: val("em-115-material"), spill: val("em-115-spill") || undefined,
               in_fire: $("em-115-fire").checked, tank_capacity_l: optNumber("em-115-tank"), wind_from_deg: wind };
    }
    if (preset === "bomb") return { preset, device: val("em-bomb-device"), wind_from_deg: wind };
    const length = optNumber("em-custom-length");
    return { preset, radius_m: optNumber("em-custom-radius"), wind_from_deg: wind,
             ...(length ? { sector: { length_m: length, angle_deg: optNumber("em-custom-angle") } } : {}) };
  }

  function legend(features) {
    $("em-legend").replaceChildren(...features.map((f) => {
      const p = f.properties, sw = make("span", { className: "swatch" });
      sw.style.background = RINGS[p.zone]?.[0] || OTHER_RING;
      const d = p.distance_m == null ? "" : p.inner_distance_m != null
        ? `${num(p.inner_distance_m)}–${num(p.distance_m)} m` : `${num(p.distance_m)} m`;
      return make("li", { dataset: { zone: p.zone } }, sw, make("span", { textContent: ringName(p.zone) }),
                  make("span", { className: "unit", textContent: [d, area(p.area_m2)].filter(Boolean).join(" · ") }));
    }));
    const p = features[0]?.properties || {};
    const what = [p.material && `${p.material}${p.un_number ? ` (${p.un_number})` : ""}`, p.device_title,
                  p.guide && `Guide ${p.guide}`, p.spill && `${p.spill} spill`, p.time_of_day,
                  p.wind_from_deg != null && `wind from ${num(p.wind_from_deg)}°`].filter(Boolean).join(" · ");
    $("em-edition").textContent = `${what}${what ? " — " : ""}${p.edition || "no edition"}` +
      `${p.table ? `, ${p.table}` : ""}${p.source ? ` (${p.source})` : ""}` + (p.note ? ` · ${p.note}` : "");
  }

  async function drawZone() {
    if (!em.incident) return;
    alarm("");
    clearAnswers();
    const where = records() ? { incident: em.incident.id, record: true }
      : { point: point(), crs: displayCrs().crs };
    say("em-zone-status", "Drawing the zone… · 计算中");
    $("em-zone-run").disabled = true;
    try {
      em.zone = await call("POST", "analysis/hazard-zone", { body: { ...hazardInputs(), ...where,
                                                                     out_crs: displayCrs().out_crs } });
      const rings = em.zone.features;
      show("em-zone", [...rings].reverse());  // the innermost ring drawn last, on top
      legend(rings);
      fit(rings);
      if (records()) redrawLayer("hazard_zones");
      say("em-zone-status", `${rings.length} ring(s)${records() ? `, recorded with ${em.incident.id} · 已记录` : ""}`);
      $("em-resp-run").disabled = false;
      await Promise.allSettled([impact(), shelters(), responders()]);
    } catch (err) {
      say("em-zone-status", `Zone refused · 未能划定: ${err.message}`, true);
    } finally {
      $("em-zone-run").disabled = !em.incident;
    }
  }

  function clearAnswers() {
    em.zone = null;
    for (const id of ["em-zone", "em-shelters", "em-routes"]) show(id, []);
    for (const id of ["em-legend", "em-impact", "em-shelters", "em-unassigned", "em-responders"]) $(id).replaceChildren();
    $("em-edition").textContent = "";
    say("em-impact-status", "Draw a zone first · 请先划定危险区");
    for (const id of ["em-zone-status", "em-shelters-status", "em-resp-status"]) say(id, "");
    $("em-resp-run").disabled = true;
  }

  // ---- impact: one column per ring, and the whole zone ----
  function impactRows(total) {
    const rows = [
      ["people", "People at targets · 目标内人员", "persons"],
      ["population", "Population (grid) · 人口", "persons"],
      ["protected_targets", "Protected targets · 防护目标", ""],
      ["scenic_sites", "Scenic sites · 景区", ""],
      ["visitors_estimate", "Visitors, est. · 游客估计", "persons"],
      ["shelters_unusable", "Shelters inside, unusable · 失效避难所", ""],
      ["shelter_capacity_lost", "Shelter places lost · 损失容量", "persons"],
      ["hazard_sources", "Hazard sources · 危险源", ""],
    ];
    // Per utility where the zone holds some; else one row (0, or — when withheld).
    const utilities = Object.keys(total).filter((k) => /^pipelines_.+_m$/.test(k) && total[k.replace(/_m$/, "_count")]);
    for (const key of utilities) rows.push([key, `Pipelines, ${key.slice(10, -2)} · 管线`, "m"]);
    if (!utilities.length) rows.push(["pipelines", "Pipelines · 管线", ""]);
    rows.push(["gas_valves_to_close", "Gas valves to close · 需关燃气阀", ""],
              ["base_stations", "Base stations · 基站", ""],
              ["roads_closed", "Roads closed · 封闭道路", ""],
              ["roads_closed_m", "Roads closed, length · 封闭长度", "m"]);
    return rows;
  }

  async function impact() {
    say("em-impact-status", "Counting… · 统计中");
    try {
      const fc = await call("POST", "analysis/impact", { body: { zone: em.zone, ...asOf() } });
      const rings = fc.features.filter((f) => f.properties.role === "ring");
      const total = fc.features.find((f) => f.properties.role === "total").properties;
      const cols = [...rings.map((f) => f.properties), total];
      const head = make("tr", {}, make("th", { textContent: "per ring · 分区" }),
        ...cols.map((p) => make("th", { textContent: p.role === "total" ? "Zone 合计" : SHORT[p.ring] || p.ring,
                                        title: p.ring ? ringName(p.ring) : "the whole zone" })));
      const body = impactRows(total).map(([key, label, unit]) => make("tr", {},
        make("th", { textContent: label }, unit ? make("span", { className: "unit", textContent: unit }) : null),
        ...cols.map((p) => {
          let v = p[key];
          if (key.startsWith("pipelines_") && v != null) {
            const n = p[key.replace(/_m$/, "_count")];
            v = `${num(v)} (${nf.format(n)})`;
          } else v = p.role === "ring" && key === "gas_valves_to_close" ? "" : num(v);
          return make("td", { textContent: v, dataset: { key, ring: p.ring ?? "total" } });
        })));
      $("em-impact").replaceChildren(make("thead", {}, head), make("tbody", {}, ...body));
      const withheld = total.withheld?.length ? ` Withheld from your role · 无权查看: ${total.withheld.join(", ")}.` : "";
      const inside = fc.features.filter((f) => f.properties.role === "protected_target").length;
      say("em-impact-status", `${inside} protected target(s) inside; pipelines: length m (count).` +
        ` — means not known.${withheld}${total.gas_note ? ` Gas: ${total.gas_note}.` : ""}`);
    } catch (err) {
      say("em-impact-status", `Impact refused · 影响评估失败: ${err.message}`, true);
    }
  }

  // ---- shelters: who goes where ----
  async function shelters() {
    say("em-shelters-status", "Assigning… · 分配中");
    try {
      const fc = await call("POST", "analysis/shelter-assignment", { body: { zone: em.zone, ...asOf() } });
      const by = (role) => fc.features.filter((f) => f.properties.role === role);
      const s = by("summary")[0].properties, moves = by("assignment");
      const longest = {};
      for (const m of moves) longest[m.properties.shelter] = Math.max(longest[m.properties.shelter] ?? 0, m.properties.duration_s);
      const rows = by("shelter").sort((a, b) => b.properties.assigned - a.properties.assigned).map((f) => {
        const p = f.properties;
        return make("tr", { className: p.usable ? (p.assigned ? "used" : "") : "unusable", dataset: { shelter: p.asset_id } },
          make("td", { textContent: p.name || p.asset_id, title: p.reason || "" }),
          make("td", { textContent: p.usable ? `${nf.format(p.assigned)} / ${num(p.capacity_used)}` : p.reason || "not usable" }),
          make("td", { textContent: p.assigned ? minutes(longest[p.asset_id]) : "—" }));
      });
      $("em-shelters").replaceChildren(make("thead", {}, make("tr", {},
        make("th", { textContent: "Shelter · 避难所" }), make("th", { textContent: "Assigned / capacity 安置/容量" }),
        make("th", { textContent: "Road · 车程" }))), make("tbody", {}, ...rows));
      const left = by("origin").filter((f) => f.properties.unassigned > 0);
      $("em-unassigned").replaceChildren(...left.map((f) => make("li", {
        textContent: `${f.properties.name || f.properties.asset_id}: ${nf.format(f.properties.unassigned)} people unassigned · 未安置 — ${f.properties.reason}` })));
      say("em-shelters-status", `${nf.format(s.people)} people · 人: ${nf.format(s.assigned)} assigned · 已安置, ` +
        `${nf.format(s.unassigned)} unassigned · 未安置; ${s.shelters_used} of ${s.shelters_usable} usable shelter(s)` +
        `${s.mean_time_s != null ? `, mean drive ${minutes(s.mean_time_s)}` : ""}. People: ${s.people_source}.`, s.unassigned > 0);
      const dot = (f, colour, radius) => ({ ...f, properties: { ...f.properties, colour, radius } });
      show("em-shelters", [
        ...moves,
        ...by("shelter").map((f) => dot(f, !f.properties.usable ? "#9e9e9e" : f.properties.assigned ? "#2e7d32" : "#a5d6a7",
                                         f.properties.assigned ? 8 : 5)),
        ...by("origin").map((f) => dot(f, f.properties.unassigned > 0 ? "#d50000" : "#1565c0", 6)),
      ]);
    } catch (err) {
      say("em-shelters-status", `Shelters refused · 安置分配失败: ${err.message}`, true);
    }
  }

  // ---- responders: the nearest units by road, around the zone ----
  async function responders() {
    if (!em.zone) return;
    say("em-resp-status", "Routing… · 路径计算中");
    $("em-responders").replaceChildren();
    try {
      const kind = val("em-resp-kind");
      const fc = await call("POST", "analysis/responders", { body: {
        scene: point(), crs: displayCrs().crs, avoid: em.zone, k: Number(val("em-resp-k")) || 3,
        ...(kind ? { filter: { kind } } : {}), ...asOf() } });
      const units = fc.features.filter((f) => f.properties.role === "responder");
      const colour = (rank) => UNITS[(rank - 1) % UNITS.length];
      const lengths = {};
      for (const f of fc.features) {
        if (f.properties.responder && f.properties.length_m != null) {
          lengths[f.properties.responder] = (lengths[f.properties.responder] || 0) + f.properties.length_m;
        }
      }
      $("em-responders").replaceChildren(...units.map((f) => {
        const p = f.properties, sw = make("span", { className: "swatch" });
        sw.style.background = colour(p.rank);
        return make("li", { dataset: { unit: p.asset_id } }, sw,
          make("strong", { textContent: p.name || p.asset_id }), ` ${p.kind ?? ""} `,
          make("span", { className: "eta", textContent: `ETA ${minutes(p.duration_s)}` }),
          make("span", { className: "unit", textContent: lengths[p.asset_id] != null ? `${num(lengths[p.asset_id] / 1000, 2)} km` : "on scene" }));
      }));
      show("em-routes", fc.features.map((f) => ({ ...f, properties: { ...f.properties,
        colour: colour(f.properties.rank), radius: 7 } })));
      say("em-resp-status", `${units.length} unit(s), fastest first; routes keep out of the zone but for the approach (dashed).`);
    } catch (err) {
      say("em-resp-status", `Responders refused · 调度失败: ${err.message}`, true);
    }
  }

  // ---- the timeline, and its replay ----
  async function loadTimeline() {
    em.timeline = await call("GET", `incidents/${encodeURIComponent(em.incident.id)}/timeline`);
    const entries = em.timeline.entries;
    $("em-log").replaceChildren(...entries.map((e, i) => {
      const dot = make("span", { className: "em-dot" });
      dot.style.background = STATUS[e.status] || "#999";
      const changed = Object.entries(e.changed).filter(([k]) => k !== "description")
        .map(([k, [a, b]]) => `${k}: ${a ?? "—"} → ${b ?? "—"}`).join("; ");
      const li = make("li", { dataset: { index: i }, title: "Replay from here · 从此处回放" },
        make("time", { dateTime: e.at, textContent: local(e.at) }), dot,
        make("span", { className: "status", textContent: e.action === "delete" ? "deleted" : e.status ?? "—" }),
        make("span", { className: "who", textContent: e.author ? `${e.author} (${e.role})` : e.role || e.source || "loaded" }),
        e.text ? make("p", { textContent: e.text }) : null,
        changed ? make("p", { className: "note", textContent: changed }) : null);
      li.addEventListener("click", () => { stopReplay(); goTo(Math.round((Date.parse(e.at) - em.replay.start) / MINUTE)); });
      return li;
    }));
    const times = entries.flatMap((e) => [e.at, e.until]).filter(Boolean).map(Date.parse);
    const first = Math.floor(Math.min(...times) / MINUTE) * MINUTE - MARGIN_MIN * MINUTE;
    const last = Math.ceil(Math.max(...times) / MINUTE) * MINUTE + MARGIN_MIN * MINUTE;
    em.replay.start = first;
    em.replay.minutes = Math.round((last - first) / MINUTE);
    $("em-replay").max = em.replay.minutes;
    $("em-replay").value = 0;
    $("em-replay").disabled = $("em-play").disabled = false;
    const ends = $("em-replay-ends").children;
    ends[0].textContent = local(first); ends[1].textContent = `${local(last)} (${zoneOf(last)})`;
    say("em-replay-status", `${entries.length} entr${entries.length === 1 ? "y" : "ies"} · 条记录, ` +
      "oldest first; click one to see the map then · 点击查看当时地图");
  }

  function epochOf(t) {  // which version holds t: tiles are fetched again only when it changes
    return em.timeline.entries.filter((e) => Date.parse(e.at) <= t).length;
  }

  function goTo(minute, redraw) {  // the map as of the replay's minute
    const m = Math.max(0, Math.min(em.replay.minutes, minute));
    const t = em.replay.start + m * MINUTE, iso = new Date(t).toISOString();
    $("em-replay").value = m;
    const epoch = epochOf(t);
    setInstant(iso, redraw ?? epoch !== em.replay.epoch);
    em.replay.epoch = epoch;
    const label = `${local(t)} (${zoneOf(t)})`;
    $("year-label").textContent = label;
    $("em-instant-text").textContent = label;
    $("em-instant").hidden = false;
    zoneOverlay(!records());  // recorded zones come as of then in hazard_zones' tiles
    const entry = [...em.timeline.entries].reverse().find((e) => Date.parse(e.at) <= t);
    const shown = entry && entry.version_id != null && (!entry.until || t < Date.parse(entry.until));
    // The version's own point, unless the map shifts to GCJ-02 (the timeline is CRS84).
    const geometry = entry?.geometry && !displayCrs().crs ? entry.geometry : em.incident.geometry;
    show("em-incident", shown ? [{ type: "Feature", id: em.incident.id, geometry,
                                   properties: { ...em.incident.properties, status: entry.status } }] : []);
    for (const li of $("em-log").children) li.classList.toggle("current", em.timeline.entries[li.dataset.index] === entry);
    return m;
  }

  function play() {
    if (em.replay.timer) return stopReplay();
    if (Number($("em-replay").value) >= em.replay.minutes) goTo(0, true);
    $("em-play").textContent = "❚❚ Pause · 暂停";
    $("em-play").classList.add("playing");
    em.replay.timer = setInterval(() => {
      if (goTo(Number($("em-replay").value) + 1) >= em.replay.minutes) stopReplay();
    }, Number(val("em-speed")));
  }

  function stopReplay() {
    if (!em.replay.timer) return;
    clearInterval(em.replay.timer);
    em.replay.timer = null;
    $("em-play").textContent = "▶ Play · 播放";
    $("em-play").classList.remove("playing");
  }

  function zoneOverlay(visible) {  // the zone just drawn, over the map or not
    const v = visible ? "visible" : "none";
    if (map.getLayoutProperty("em-zone:fill", "visibility") === v) return;  // no restyle per tick
    for (const id of ["em-zone:fill", "em-zone:line"]) map.setLayoutProperty(id, "visibility", v);
  }

  function live() {  // back to now: the year slider's "now"
    stopReplay();
    zoneOverlay(true);
    em.replay.epoch = null;
    $("em-instant").hidden = true;
    $("year").value = $("year").max;
    setInstant(null);
    if (em.incident) show("em-incident", [em.incident]);
    for (const li of $("em-log").children) li.classList.remove("current");
  }

  // ---- the wind dial ----
  function setWind(deg) {
    const d = ((Math.round(deg) % 360) + 360) % 360;
    $("em-wind").value = d;
    dial();
  }
  function dial() {
    const d = Number($("em-wind").value) || 0;
    $("em-dial-arrow").setAttribute("transform", `rotate(${d})`);
    $("em-dial").setAttribute("aria-valuenow", d);
  }

  // ---- start ----
  overlays();
  for (const c of attr("incidents", "kind")?.choices || []) $("em-kind").append(new Option(c, c));
  $("em-severity").append(new Option("—", ""));
  for (const c of attr("incidents", "severity")?.choices || []) $("em-severity").append(new Option(`${c} 级`, c));
  for (const c of attr("emergency_resources", "kind")?.choices || []) $("em-resp-kind").append(new Option(c, c));
  $("em-role").textContent = state.session.role;
  $("em-new").addEventListener("click", startPlacing);
  $("em-cancel").addEventListener("click", stopPlacing);
  $("em-form").addEventListener("submit", report);
  $("em-incident").addEventListener("change", (e) => choose(e.target.value));
  $("em-refresh").addEventListener("click", () => loadIncidents($("em-incident").value)
    .catch((err) => alarm(`Incidents: ${err.message}`)));
  $("em-preset").addEventListener("change", () => {
    for (const fs of document.querySelectorAll("#emergency-panel fieldset[data-preset]")) fs.hidden = fs.dataset.preset !== val("em-preset");
  });
  $("em-erg-spill").addEventListener("change", () => { $("em-erg-large").hidden = val("em-erg-spill") !== "large"; });
  $("em-115-material").addEventListener("change", () => {
    if (val("em-115-material") === "natural_gas_pipeline") $("em-115-spill").value = "";
  });
  $("em-zone-run").addEventListener("click", drawZone);
  $("em-resp-run").addEventListener("click", responders);
  $("em-wind").addEventListener("input", dial);
  $("em-dial").addEventListener("click", (e) => {  // click where the wind comes from
    const r = $("em-dial").getBoundingClientRect();
    const dx = e.clientX - (r.left + r.width / 2), dy = e.clientY - (r.top + r.height / 2);
    setWind((Math.atan2(dx, -dy) * 180) / Math.PI);
  });
  $("em-dial").addEventListener("keydown", (e) => {
    const step = { ArrowRight: 5, ArrowUp: 5, ArrowLeft: -5, ArrowDown: -5 }[e.key];
    if (step) { e.preventDefault(); setWind(Number($("em-wind").value) + step); }
  });
  $("em-play").addEventListener("click", play);
  $("em-speed").addEventListener("change", () => { if (em.replay.timer) { stopReplay(); play(); } });
  $("em-replay").addEventListener("input", (e) => { stopReplay(); goTo(Number(e.target.value), true); });
  $("em-live").addEventListener("click", live);
  $("year").addEventListener("change", () => {  // the year slider takes the map back
    stopReplay(); em.replay.epoch = null; $("em-instant").hidden = true;
  });
  $("em-fold").addEventListener("click", () => {
    const folded = $("emergency-panel").classList.toggle("collapsed");
    $("em-fold").setAttribute("aria-expanded", String(!folded));
    $("em-fold").title = folded ? "Show the emergency panel" : "Fold the emergency panel";
  });
  dial();
  clearAnswers();
  $("emergency-panel").hidden = false;
  // Open for the command centre; folded for a role that also writes the networks or the
  // radio plan (admin), whose other panels share this corner.
  if (state.session.writes.some((id) => ["pipelines", "sectors"].includes(id))) $("em-fold").click();
  const ready = loadIncidents().catch((err) => alarm(`Open incidents could not be read · 事件列表读取失败: ${err.message}`));
  return { onClick, state: em, ready, choose, drawZone, play, stopReplay, goTo, live, loadIncidents };
};
