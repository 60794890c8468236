// The editing panel, for a token whose role writes layers (GET map/session.json says which):
// add a point, line or polygon, fill its attributes in a form generated from the catalog,
// change them, move a point, delete. Writes are OGC API Features Part 4: POST, PATCH (an RFC
// 7396 merge patch) and DELETE with If-Match. The form checks what the catalog declares; the
// server checks again, and its 422 problems are shown beside the fields they name. While the
// map shows a scenario (static/map/scenarios.js), reads and writes go into it.
"use strict";

window.citygisEditor = (citygis) => {
  const { map, state, api, redrawLayer, auth, displayCrs, inScenario } = citygis;
  const $ = (id) => document.getElementById(id);
  const make = (tag, props = {}) => Object.assign(document.createElement(tag), props);
  const EDIT = "#1565c0";
  const ed = {
    spec: null,        // the layer of the open feature
    feature: null,     // { id, etag } of a stored feature; null while adding one
    geometry: null,    // the draft's geometry, in display coordinates
    moved: false,      // geometry changed since it was opened
    mode: null,        // "place" (a point), "draw" (vertices of a line or polygon) or null
    vertices: [],
    marker: null,
    confirmDelete: false,
  };
  const specOf = (id) => state.specs.find((s) => s.id === id);
  const kindOf = (spec) => spec.geometry_type.replace("Multi", "");  // what is drawn
  const noun = { Point: "point", LineString: "line", Polygon: "polygon" };

  // ---- the form, from the catalog ----
  const isoLocal = (iso) => {  // a stored instant as a datetime-local value, in local time
    const d = new Date(iso);
    return Number.isNaN(d.getTime()) ? ""
      : new Date(d.getTime() - d.getTimezoneOffset() * 60000).toISOString().slice(0, 19);
  };

  function control(attr, value) {
    let el;
    if (attr.choices || attr.type === "boolean") {
      el = document.createElement("select");
      const options = attr.type === "boolean" ? [["true", "yes"], ["false", "no"]]
        : attr.choices.map((c) => [c, c]);
      if (value != null && !options.some(([v]) => v === String(value))) options.push([String(value), String(value)]);
      if (!attr.required || value == null) el.append(new Option(attr.required ? "choose…" : "—", ""));
      for (const [v, text] of options) el.append(new Option(text, v));
    } else {
      el = document.createElement("input");
      el.type = { integer: "number", real: "number", date: "date", timestamp: "datetime-local" }[attr.type] || "text";
      if (attr.type === "integer") el.step = "1";
      if (attr.type === "real") el.step = "any";
      if (attr.type === "timestamp") el.step = "1";
      if (attr.minimum != null) el.min = attr.minimum;
      if (attr.maximum != null) el.max = attr.maximum;
    }
    el.id = `field-${attr.name}`;
    el.name = attr.name;
    el.required = attr.required;
    el.value = value == null ? "" : attr.type === "timestamp" ? isoLocal(value) : String(value);
    el.dataset.initial = el.value;
    return el;
  }

  function range(attr) {  // the catalog's bounds, as the label shows them
    const lo = attr.minimum, hi = attr.maximum, above = attr.exclusive_minimum ? ">" : "≥";
    if (lo != null && hi != null) return attr.exclusive_minimum ? `> ${lo}, ≤ ${hi}` : `${lo}–${hi}`;
    return lo != null ? `${above} ${lo}` : hi != null ? `≤ ${hi}` : "";
  }

  function field(attr, value) {  // label (title, *, unit and range), control, problem
    const box = make("div", { className: "field" });
    const label = make("label", { htmlFor: `field-${attr.name}`, textContent: attr.title });
    if (attr.required) label.append(make("span", { className: "required", textContent: " *" }));
    const unit = [attr.unit?.replace(/^m2$/, "m²"), range(attr)].filter(Boolean).join(", ");
    if (unit) label.append(make("span", { className: "unit", textContent: unit }));
    const problem = make("p", { className: "problem", id: `field-${attr.name}-problem` });
    const input = control(attr, value);
    input.setAttribute("aria-describedby", problem.id);
    box.append(label, input, problem);
    if (attr.description) box.append(make("p", { className: "note", textContent: attr.description }));
    return box;
  }

  function valueOf(attr, el) {
    if (el.value === "") return null;
    if (attr.type === "integer" || attr.type === "real") return Number(el.value);
    if (attr.type === "boolean") return el.value === "true";
    if (attr.type === "timestamp") return new Date(el.value).toISOString();
    return el.type === "text" ? el.value.trim() : el.value;
  }

  function checked() {  // the form's own checks: required, type, range (the catalog's)
    let ok = true;
    for (const attr of ed.spec.attributes) {
      const el = $(`field-${attr.name}`);
      const exclusive = attr.exclusive_minimum && el.value !== "" && Number(el.value) <= attr.minimum;
      const why = !el.checkValidity() ? el.validationMessage
        : exclusive ? `Value must be greater than ${attr.minimum}.` : "";
      if (why) { fieldProblem(attr.name, why); ok = false; }
    }
    return ok;
  }

  function properties(onlyChanged) {
    const out = {};
    for (const attr of ed.spec.attributes) {
      const el = $(`field-${attr.name}`);
      if (onlyChanged && el.value === el.dataset.initial) continue;
      const v = valueOf(attr, el);
      if (v != null || onlyChanged) out[attr.name] = v;  // null in a merge patch clears it
    }
    return out;
  }

  // ---- messages ----
  function clearProblems() {
    for (const p of document.querySelectorAll("#edit-fields .problem")) p.textContent = "";
    for (const el of document.querySelectorAll("#edit-fields [aria-invalid]")) el.removeAttribute("aria-invalid");
    $("edit-message").hidden = true;
    $("edit-message").replaceChildren();
  }

  function fieldProblem(name, text) {
    const p = $(`field-${name}-problem`);
    p.textContent = p.textContent ? `${p.textContent}; ${text}` : text;
    $(`field-${name}`).setAttribute("aria-invalid", "true");
  }

  function message(kind, text, action) {
    const box = $("edit-message");
    box.className = `message ${kind}`;
    box.replaceChildren(make("p", { textContent: text }));
    if (action) {
      const b = make("button", { type: "button", textContent: action.label });
      b.addEventListener("click", action.run);
      box.append(b);
    }
    box.hidden = false;
  }

  const say = (text) => { $("edit-status").textContent = text; };

  const MARKED = "Not saved: correct the fields marked in red.";

  // The server's problem+json, in words; a 422's problems go beside the fields they name.
  function explain(status, problem) {
    const detail = problem?.detail || problem?.title || "";
    if (status === 401) return message("error", "Your token was not accepted: it is unknown, " +
      "expired or revoked. Open the map again with a valid ?token=.");
    if (status === 403) return message("error", `Your role (${state.session.role}) may not do this: ${detail}`);
    if (status === 412) return message("warning", "Someone else changed this feature since you " +
      "opened it. Reload it to see their version, then make your change again.",
      { label: "Reload", run: () => open(ed.spec.id, ed.feature.id) });
    if (status === 404) return message("error", `This feature is gone (deleted meanwhile?): ${detail}`);
    if (status !== 422) return message("error", `The server refused the write (${status}): ${detail}`);
    const general = [];
    for (const e of problem?.errors || []) {  // reasons as the loaders word them, "; "-joined
      const parts = e.reason ? String(e.reason).split("; ") : [`${(e.loc || []).join(".")}: ${e.msg}`];
      for (const part of parts) {
        const attr = ed.spec.attributes.find((a) => part.startsWith(`${a.name}:`) || part.startsWith(`${a.name} is `));
        if (!attr) { general.push(part); continue; }
        fieldProblem(attr.name, part.startsWith(`${attr.name}:`) ? part.slice(attr.name.length + 1).trim() : part);
      }
    }
    message("error", general.length ? `Not saved: ${general.join("; ")}` : MARKED);
  }

  async function send(method, path, { body, query = {}, etag, type = "application/geo+json" } = {}) {
    const url = new URL(api(path));
    for (const [k, v] of Object.entries({ ...query, ...inScenario() })) if (v) url.searchParams.set(k, v);
    const headers = { ...auth, Accept: "application/json, application/problem+json" };
    if (body) headers["Content-Type"] = type;
    if (body && displayCrs().crs) headers["Content-Crs"] = displayCrs().crs;
    if (etag) headers["If-Match"] = etag;
    const r = await fetch(url, { method, headers, body: body && JSON.stringify(body) });
    const problem = r.ok ? null : await r.json().catch(() => ({ detail: r.statusText }));
    return { r, problem };
  }

  // ---- geometry on the map ----
  function draftGeometry() {  // what is drawn so far, for the overlay
    if (ed.mode === "draw") {
      const v = ed.vertices;
      if (kindOf(ed.spec) === "Polygon" && v.length > 2) return { type: "Polygon", coordinates: [[...v, v[0]]] };
      if (v.length > 1) return { type: "LineString", coordinates: v };
      return v.length ? { type: "MultiPoint", coordinates: v } : null;
    }
    return ed.geometry && ed.geometry.type !== "Point" ? ed.geometry : null;
  }

  function drawDraft() {
    const g = draftGeometry();
    const feature = (geometry) => ({ type: "Feature", properties: {}, geometry });
    const vertices = ed.mode === "draw" ? ed.vertices.map((c) => feature({ type: "Point", coordinates: c })) : [];
    map.getSource("edit").setData({ type: "FeatureCollection", features: [...(g ? [feature(g)] : []), ...vertices] });
    const point = ed.geometry?.type === "Point" ? ed.geometry.coordinates : null;
    if (point && !ed.marker) {
      const element = make("div", { className: "edit-marker", title: "Drag to move" });
      ed.marker = new maplibregl.Marker({ element, draggable: true }).setLngLat(point).addTo(map);
      ed.marker.on("dragend", () => {
        const p = ed.marker.getLngLat();
        setGeometry({ type: "Point", coordinates: [p.lng, p.lat] });
      });
    } else if (point) ed.marker.setLngLat(point);
    else if (ed.marker) { ed.marker.remove(); ed.marker = null; }
    showGeometry();
  }

  function showGeometry() {
    const k = kindOf(ed.spec), g = ed.geometry, n = ed.vertices.length;
    const unsaved = ed.moved && ed.feature;
    let text = "";
    if (ed.mode === "place") text = `Click the map where the ${noun[k]} goes.`;
    else if (ed.mode === "draw") {
      text = `${n} ${n === 1 ? "vertex" : "vertices"}: click to add more, double-click or Finish to end.`;
    } else if (g?.type === "Point") {
      text = `Point ${g.coordinates.map((c) => c.toFixed(5)).join(", ")}` +
        `${unsaved ? " (moved, not saved)" : ""} · drag to move`;
    } else if (g) text = `${g.type}${unsaved ? " (redrawn, not saved)" : ""}`;
    $("edit-geometry-text").textContent = text;
    const enough = n >= (k === "Polygon" ? 3 : 2);
    $("edit-finish").hidden = ed.mode !== "draw";
    $("edit-finish").disabled = !enough;
    $("edit-undo").hidden = ed.mode !== "draw" || !n;
    $("edit-move").hidden = ed.mode !== null || g?.type !== "Point";
    $("edit-redraw").hidden = ed.mode !== null || !g || g.type === "Point";
    $("edit-save").disabled = !g || ed.mode === "draw";
    map.getCanvas().style.cursor = ed.mode ? "crosshair" : "";
    if (ed.mode === "draw") map.doubleClickZoom.disable(); else map.doubleClickZoom.enable();
  }

  function setGeometry(g) {
    ed.geometry = g; ed.moved = true; ed.mode = null; ed.vertices = [];
    drawDraft();
  }

  function startGeometry() {
    ed.vertices = [];
    ed.mode = kindOf(ed.spec) === "Point" ? "place" : "draw";
    drawDraft();
  }

  function finishDrawing() {  // a double-click's two clicks leave one vertex twice
    const v = ed.vertices.filter((c, i, all) => i === 0 || c[0] !== all[i - 1][0] || c[1] !== all[i - 1][1]);
    if (v.length < (kindOf(ed.spec) === "Polygon" ? 3 : 2)) { ed.vertices = v; return drawDraft(); }
    setGeometry(kindOf(ed.spec) === "Polygon" ? { type: "Polygon", coordinates: [[...v, v[0]]] }
      : { type: "LineString", coordinates: v });
  }

  function stored(g) {  // a drawn part as the layer stores it: Multi* layers get one part
    return ed.spec.geometry_type.startsWith("Multi")
      ? { type: ed.spec.geometry_type, coordinates: g.type.startsWith("Multi") ? g.coordinates : [g.coordinates] } : g;
  }

  // ---- open, save, delete ----
  const validFrom = () => $("edit-valid-from").value && new Date($("edit-valid-from").value).toISOString();

  function showForm(spec, props, title) {
    ed.spec = spec; ed.confirmDelete = false;
    $("edit-what").textContent = title;
    $("edit-fields").replaceChildren(...spec.attributes.map((a) => field(a, props[a.name])));
    $("edit-valid-from").value = "";
    $("edit-save").textContent = ed.feature ? "Save changes" : "Create";
    $("edit-delete").hidden = !ed.feature;
    $("edit-delete").textContent = "Delete";
    $("edit-cancel").textContent = ed.feature ? "Close" : "Cancel";
    $("edit-form").hidden = false;
    $("edit-hint").hidden = true;
    clearProblems();
  }

  function add() {
    close();
    ed.feature = null; ed.geometry = null; ed.moved = false;
    const spec = specOf($("edit-layer").value);
    showForm(spec, {}, `New ${noun[kindOf(spec)]} · ${spec.title_zh} ${spec.title}`);
    startGeometry();
    say("");
  }

  async function open(layerId, assetId) {
    const spec = specOf(layerId);
    const r = await fetch(api(`collections/${layerId}/items/${encodeURIComponent(assetId)}`,
      { crs: displayCrs().crs, ...inScenario() }), { headers: auth });
    const body = await r.json().catch(() => ({}));
    if (!r.ok) { say(`Cannot open ${assetId} (${r.status}): ${body.detail || ""}`); return; }
    close();
    $("edit-layer").value = layerId;
    ed.feature = { id: assetId, etag: r.headers.get("ETag") };
    ed.geometry = body.geometry; ed.moved = false; ed.mode = null;
    showForm(spec, body.properties || {}, `${spec.title_zh} ${assetId}`);
    drawDraft();
    say(`Editing ${assetId}, version ${body.properties?.version_id ?? "?"}`);
  }

  function close() {
    ed.mode = null; ed.vertices = []; ed.geometry = null; ed.feature = null;
    if (ed.marker) { ed.marker.remove(); ed.marker = null; }
    if (map.getSource("edit")) map.getSource("edit").setData({ type: "FeatureCollection", features: [] });
    map.getCanvas().style.cursor = "";
    map.doubleClickZoom.enable();
    $("edit-form").hidden = true;
    $("edit-hint").hidden = false;
  }

  async function save(e) {
    e.preventDefault();
    clearProblems();
    say("");
    if (!ed.geometry) return message("error", `Place the ${noun[kindOf(ed.spec)]} on the map first.`);
    if (!checked()) return message("error", MARKED);
    const spec = ed.spec, query = { valid_from: validFrom() };
    $("edit-save").disabled = true;
    try {
      if (!ed.feature) {
        const { r, problem } = await send("POST", `collections/${spec.id}/items`, {
          body: { type: "Feature", geometry: stored(ed.geometry), properties: properties(false) }, query });
        if (!r.ok) return explain(r.status, problem);
        const made = (await r.json()).ids[0];
        redrawLayer(spec.id);
        await open(spec.id, made);
        say(`Created ${made}.`);
      } else {
        const patch = { properties: properties(true), ...(ed.moved ? { geometry: stored(ed.geometry) } : {}) };
        if (!Object.keys(patch.properties).length && !ed.moved) return message("info", "Nothing changed.");
        const { r, problem } = await send("PATCH", `collections/${spec.id}/items/${encodeURIComponent(ed.feature.id)}`,
          { body: patch, query, etag: ed.feature.etag, type: "application/merge-patch+json" });
        if (!r.ok) return explain(r.status, problem);
        redrawLayer(spec.id);
        const id = ed.feature.id;
        await open(spec.id, id);
        say(`Saved ${id}: new version ${r.headers.get("ETag")?.replaceAll('"', "") ?? ""}.`);
      }
    } catch (err) {
      message("error", `Not saved: ${err.message}`);
    } finally {
      showGeometry();
    }
  }

  async function remove() {
    if (!ed.confirmDelete) {  // a second click confirms: no dialog to dismiss
      ed.confirmDelete = true;
      $("edit-delete").textContent = "Really delete?";
      return;
    }
    clearProblems();
    say("");
    const spec = ed.spec, id = ed.feature.id;
    const { r, problem } = await send("DELETE", `collections/${spec.id}/items/${encodeURIComponent(id)}`,
      { query: { valid_from: validFrom() }, etag: ed.feature.etag });
    if (!r.ok) { ed.confirmDelete = false; $("edit-delete").textContent = "Delete"; return explain(r.status, problem); }
    redrawLayer(spec.id);
    close();
    say(`Deleted ${id}; its history stays (as-of reads before now still see it).`);
  }

  // ---- map clicks, while placing or drawing ----
  function onClick(e) {
    if (!ed.mode) return false;
    const p = [e.lngLat.lng, e.lngLat.lat];
    if (ed.mode === "place") setGeometry({ type: "Point", coordinates: p });
    else { ed.vertices.push(p); drawDraft(); }
    return true;
  }

  // ---- start ----
  map.addSource("edit", { type: "geojson", data: { type: "FeatureCollection", features: [] } });
  map.addLayer({ id: "edit:fill", type: "fill", source: "edit", filter: ["==", ["geometry-type"], "Polygon"],
                 paint: { "fill-color": EDIT, "fill-opacity": 0.15 } });
  map.addLayer({ id: "edit:line", type: "line", source: "edit", filter: ["!=", ["geometry-type"], "Point"],
                 paint: { "line-color": EDIT, "line-width": 2.5 } });
  map.addLayer({ id: "edit:vertex", type: "circle", source: "edit", filter: ["==", ["geometry-type"], "Point"],
                 paint: { "circle-color": "#fff", "circle-radius": 4, "circle-stroke-color": EDIT,
                          "circle-stroke-width": 2 } });
  for (const id of state.session.writes) {
    const spec = specOf(id);
    if (spec) $("edit-layer").append(new Option(`${spec.title_zh} ${spec.title}`, id));
  }
  const label = () => { $("edit-add").textContent = `Add ${noun[kindOf(specOf($("edit-layer").value))]}`; };
  label();
  $("edit-role").textContent = state.session.role;
  $("edit-role").title = state.session.name ? `token ${state.session.name}` : "";
  $("edit-layer").addEventListener("change", () => { label(); if (!ed.feature) close(); });
  $("edit-add").addEventListener("click", add);
  $("edit-form").addEventListener("submit", save);
  $("edit-cancel").addEventListener("click", () => { close(); say(""); });
  $("edit-delete").addEventListener("click", remove);
  $("edit-finish").addEventListener("click", finishDrawing);
  $("edit-undo").addEventListener("click", () => { ed.vertices.pop(); drawDraft(); });
  $("edit-move").addEventListener("click", () => { ed.mode = "place"; drawDraft(); });
  $("edit-redraw").addEventListener("click", startGeometry);
  map.on("dblclick", (e) => { if (ed.mode === "draw" && ed.vertices.length) { e.preventDefault(); finishDrawing(); } });
  document.addEventListener("keydown", (e) => { if (e.key === "Escape" && ed.mode) { ed.mode = null; drawDraft(); } });
  document.addEventListener("click", (e) => {  // Edit in a feature's popup
    const b = e.target.closest?.(".popup-edit");
    if (!b) return;
    document.querySelectorAll(".maplibregl-popup").forEach((p) => p.remove());
    open(b.dataset.layer, b.dataset.asset);
  });
  $("edit-collapse").addEventListener("click", () => {  // out of the way of the map
    const folded = $("editor").classList.toggle("collapsed");
    $("edit-collapse").setAttribute("aria-expanded", String(!folded));
    $("edit-collapse").title = folded ? "Show the editing panel" : "Fold the editing panel";
  });
  $("editor").hidden = false;
  return { onClick, open, add, close, state: ed };
};
