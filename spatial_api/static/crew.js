// The crew panel, for a token whose role reads the pipe network (/layers lists pipelines as
// restricted, not its public view): a pipe break and the valves to close (POST
// analysis/isolate), stuck valves passed to the next ones out, the printable shut-off order;
// a dig (POST analysis/dig) with what is buried there, whom to call and the cross-section;
// and the sensors' active alarms, refreshed every minute. Every refusal of the server (its
// problem+json detail) is shown in the panel.
"use strict";

window.citygisCrew = (citygis) => {
  const { map, state, api, auth, displayCrs, inScenario } = citygis;
  const $ = (id) => document.getElementById(id);
  const make = (tag, props = {}, ...kids) => {
    const el = Object.assign(document.createElement(tag), props);
    el.append(...kids.filter((k) => k != null && k !== ""));
    return el;
  };
  const COLOUR = { isolated: "#c2185b", cutOff: "#ef6c00", dig: "#1565c0", section: "#6a1b9a" };
  const ALARM_REFRESH_MS = 60_000;
  const EMPTY = { type: "FeatureCollection", features: [] };
  const NETWORK = new Set(["pipelines", "pipe_nodes", "sensors", "owners", "service_connections"]);
  const VALVE_ROLES = ["close", "already_closed", "broken_passed", "stuck_passed"];
  const crew = {
    tool: null,          // what a map click does: "break", "dig", "section" or null
    breakAt: null,       // [lon, lat] of the break, in display coordinates
    utility: null,
    stuck: [],           // valves marked stuck, in the order marked
    answer: null,        // the last isolation: { summary, valves, pipes }
    digVertices: [],
    digArea: null,       // the dig's polygon
    digSection: null,    // the drawn section line, or null: the dig's longest axis
    sectionPoints: [],
    dig: null,           // the last dig answer: { summary, assets }
    alarms: [],
    alarmsAt: null,
    markers: [],         // valve and break markers of the isolation
    rings: [],           // alarm rings
    asked: { isolate: 0, dig: 0, section: 0 },  // requests sent: only the latest is shown
  };

  // ---- numbers with units ----
  const num = (v, digits = 1) => (v == null || Number.isNaN(Number(v)) ? "—"
    : Number(v).toLocaleString("en", { maximumFractionDigits: digits, minimumFractionDigits: digits }));
  const metres = (v, d = 1) => (v == null ? "—" : `${num(v, d)} m`);
  const cubic = (v) => (v == null ? "—" : `${num(v, 2)} m³`);
  const localTime = (iso) => {
    if (!iso) return "—";
    const d = new Date(iso), p = (n) => String(n).padStart(2, "0");
    return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}`;
  };

  // ---- the server: JSON or a document, problem+json said in words ----
  class Problem extends Error {
    constructor(status, body) {
      super(body?.detail || body?.title || `HTTP ${status}`);
      this.status = status; this.title = body?.title;
    }
    get missingRoute() { return (this.status === 404 && this.title === "HTTP error") || this.status === 405; }
  }

  async function post(path, body, accept = "application/json") {
    const r = await fetch(api(path), {
      method: "POST", body: JSON.stringify(body),
      headers: { ...auth, "Content-Type": "application/json", Accept: `${accept}, application/problem+json` },
    });
    if (!r.ok) throw new Problem(r.status, await r.json().catch(() => ({ detail: r.statusText })));
    return accept === "application/json" ? r.json() : r.blob();
  }

  function explain(err) {
    if (!(err instanceof Problem)) return `The request failed: ${err.message}`;
    if (err.status === 401) return "Your token was not accepted: it is unknown, expired or revoked. " +
      "Open the map again with a valid ?token=.";
    if (err.status === 403) return `Your role (${state.session.role}) may not do this: ${err.message}`;
    return `${err.message} (${err.status})`;
  }

  function message(box, kind, text, link) {
    const el = $(box);
    if (!text) { el.hidden = true; el.replaceChildren(); return; }
    el.className = `message ${kind}`;
    el.replaceChildren(make("p", { textContent: text }), link || "");
    el.hidden = false;
  }

  function openDocument(win, blob, box, what) {  // a printable page, from a blob URL
    const url = URL.createObjectURL(blob);
    if (win && !win.closed) { win.location.href = url; return message(box, "", ""); }
    message(box, "info", `The ${what} is ready (the browser blocked a new window):`,
            make("a", { href: url, target: "_blank", rel: "noopener", textContent: `Open the ${what}` }));
  }

  // ---- the map: what the answers draw ----
  function addLayers() {
    map.addSource("crew", { type: "geojson", data: EMPTY });
    const only = (kind) => ["==", ["get", "crew"], kind];
    map.addLayer({ id: "crew:dig-fill", type: "fill", source: "crew", filter: ["all", only("dig"), ["==", ["geometry-type"], "Polygon"]],
                   paint: { "fill-color": COLOUR.dig, "fill-opacity": 0.12 } });
    map.addLayer({ id: "crew:dig-line", type: "line", source: "crew", filter: only("dig"),
                   paint: { "line-color": COLOUR.dig, "line-width": 2, "line-dasharray": [3, 2] } });
    map.addLayer({ id: "crew:cut-off", type: "line", source: "crew", filter: only("cut_off_pipe"),
                   layout: { "line-cap": "butt" },
                   paint: { "line-color": COLOUR.cutOff, "line-width": 4, "line-dasharray": [2, 1.5] } });
    map.addLayer({ id: "crew:isolated-casing", type: "line", source: "crew", filter: only("isolated_pipe"),
                   layout: { "line-cap": "round" }, paint: { "line-color": "#fff", "line-width": 9 } });
    map.addLayer({ id: "crew:isolated", type: "line", source: "crew", filter: only("isolated_pipe"),
                   layout: { "line-cap": "round" }, paint: { "line-color": COLOUR.isolated, "line-width": 5 } });
    map.addLayer({ id: "crew:customer", type: "circle", source: "crew", filter: only("customer"),
                   paint: { "circle-color": ["case", ["get", "critical"], "#b00020", "#fff"], "circle-radius": ["case", ["get", "critical"], 5, 3],
                            "circle-stroke-color": COLOUR.isolated, "circle-stroke-width": 1.5 } });
    map.addLayer({ id: "crew:section", type: "line", source: "crew", filter: only("section"),
                   paint: { "line-color": COLOUR.section, "line-width": 2.5 } });
    map.addLayer({ id: "crew:vertex", type: "circle", source: "crew", filter: only("vertex"),
                   paint: { "circle-color": "#fff", "circle-radius": 4, "circle-stroke-color": COLOUR.dig,
                            "circle-stroke-width": 2 } });
  }

  function redraw() {
    const f = (kind, geometry, props = {}) => ({ type: "Feature", properties: { crew: kind, ...props }, geometry });
    const out = (crew.answer?.pipes || []).map((p) => f(p.properties.role, p.geometry, { asset_id: p.properties.asset_id }));
    for (const c of crew.answer?.customers || []) out.push(f("customer", c.geometry, { asset_id: c.properties.asset_id, critical: c.properties.kind === "critical" }));
    const v = crew.digVertices;
    if (crew.tool === "dig") {
      if (v.length > 2) out.push(f("dig", { type: "Polygon", coordinates: [[...v, v[0]]] }));
      else if (v.length === 2) out.push(f("dig", { type: "LineString", coordinates: v }));
      out.push(...v.map((c) => f("vertex", { type: "Point", coordinates: c })));
    } else if (crew.digArea) out.push(f("dig", crew.digArea));
    const line = crew.tool === "section" ? crew.sectionPoints : crew.digSection?.coordinates;
    if (line?.length === 2) out.push(f("section", { type: "LineString", coordinates: line }));
    if (line) out.push(...line.map((c) => f("vertex", { type: "Point", coordinates: c })));
    map.getSource("crew").setData({ type: "FeatureCollection", features: out });
  }

  function marker(className, lngLat, { text = "", title = "", onClick, data = {} } = {}) {
    const el = make("div", { className, textContent: text, title });
    Object.assign(el.dataset, data);
    if (onClick) el.addEventListener("click", (e) => { e.stopPropagation(); onClick(); });
    return new maplibregl.Marker({ element: el }).setLngLat(lngLat).addTo(map);
  }

  function unobstructed() {  // px of the map under the cards: this panel left, the others right
    const canvas = map.getCanvas().getBoundingClientRect();
    let left = 0, right = 0;
    for (const el of document.querySelectorAll("#crew-panel, #editor, #emergency-panel")) {
      const r = el.getBoundingClientRect();
      if (el.hidden || r.height < 120) continue;  // folded to its header: the map shows below
      if (r.left - canvas.left < canvas.width / 2) left = Math.max(left, r.right - canvas.left);
      else right = Math.max(right, canvas.right - r.left);
    }
    return { left, right, width: canvas.width, height: canvas.height };
  }

  function reveal(coords) {  // bring what the crew must reach into view, beside the cards
    if (!coords.length) return;
    const { left, right, width, height } = unobstructed(), pad = 40;
    const seen = coords.every((c) => {
      const p = map.project(c);
      return p.x > left + pad / 2 && p.x < width - right - pad / 2 && p.y > pad / 2 && p.y < height - pad / 2;
    });
    if (seen) return;
    const box = coords.reduce((b, c) => b.extend(c), new maplibregl.LngLatBounds(coords[0], coords[0]));
    const room = width - left - right > 240;
    map.fitBounds(box, { padding: room ? { left: left + pad, right: right + pad, top: pad, bottom: pad } : pad,
                         maxZoom: 18, duration: 500 });
  }

  function arm(tool) {  // a map click now places a break, a dig vertex or a section end
    crew.tool = tool;
    map.getCanvas().style.cursor = tool ? "crosshair" : "";
    if (tool === "dig") map.doubleClickZoom.disable(); else map.doubleClickZoom.enable();
    $("crew-place").textContent = tool === "break" ? "Cancel · 取消" : crew.breakAt ? "Move break · 重新定位" : "Place break · 定位爆管";
    $("crew-place").setAttribute("aria-pressed", String(tool === "break"));
    $("crew-dig-draw").textContent = tool === "dig" ? "Cancel · 取消" : "Draw dig area · 绘制开挖范围";
    $("crew-dig-finish").hidden = tool !== "dig";
    $("crew-dig-undo").hidden = tool !== "dig" || !crew.digVertices.length;
    $("crew-dig-finish").disabled = crew.digVertices.length < 3;
    if ($("crew-section-draw")) $("crew-section-draw").textContent = tool === "section" ? "Cancel · 取消" : "Draw section line · 画断面线";
    const hints = {
      break: "Click the broken pipe on the map.",
      dig: `${crew.digVertices.length} vertices: click to add more; double-click or Finish to end.`,
      section: `Click the section line's ${crew.sectionPoints.length ? "end" : "start"} on the map.`,
    };
    $("crew-hint").textContent = hints[tool] || "";
    $("crew-hint").hidden = !tool;
    redraw();
  }

  // ---- break: the valves to close ----
  const breakBody = () => ({
    point: crew.breakAt, utility: crew.utility, inoperable_valves: crew.stuck,
    ...(state.datetime ? { datetime: state.datetime } : {}), ...inScenario(), ...displayCrs(),
  });

  async function isolate() {
    if (!crew.breakAt) return;
    const asked = ++crew.asked.isolate;  // a later click's answer wins, whichever comes first
    $("crew-break-status").textContent = "Finding the valves to close…";
    try {
      const fc = await post("analysis/isolate", breakBody());
      if (asked !== crew.asked.isolate) return;
      const [first, ...rest] = fc.features;
      crew.answer = {
        summary: first.properties,
        valves: rest.filter((f) => VALVE_ROLES.includes(f.properties.role)),
        pipes: rest.filter((f) => String(f.properties.role).endsWith("_pipe")),
        customers: rest.filter((f) => f.properties.role === "customer" && f.geometry),
      };
      message("crew-break-message", "", "");
    } catch (err) {
      if (asked !== crew.asked.isolate) return;
      crew.answer = null;
      message("crew-break-message", "error", `No isolation: ${explain(err)}`);
    }
    $("crew-break-status").textContent = "";
    showBreak();
  }

  function toggleStuck(valve) {
    crew.stuck = crew.stuck.includes(valve) ? crew.stuck.filter((v) => v !== valve) : [...crew.stuck, valve];
    return isolate();
  }

  function placed(p) {
    if (p.placed === "along_pipe") return `along ${p.pipe}, ${metres(p.position_m)} from its start node`;
    if (p.placed === "pipe_end") return `at node ${p.node} (end of ${p.pipe})`;
    return `at node ${p.node}`;
  }

  function valveRow(f, n) {
    const p = f.properties;
    const details = [p.valve_state, placed(p)];
    const li = make("li", { className: "valve" });
    li.dataset.valve = p.asset_id;
    const b = make("button", { type: "button", className: "valve-toggle", title: "Found stuck? Click to pass it · 阀门失效" },
      make("span", { className: "valve-no", textContent: String(n) }),
      make("span", { className: "valve-id", textContent: p.asset_id }),
      make("span", { className: "valve-where", textContent: details.join(" · ") }),
      p.alternate_for?.length ? make("span", { className: "alternate", textContent: `alternate for ${p.alternate_for.join(", ")}` }) : "",
      p.leads_to_cut_off ? make("span", { className: "leads", textContent: "beyond it: cut-off zone" }) : "");
    b.setAttribute("aria-pressed", "false");
    b.addEventListener("click", () => toggleStuck(p.asset_id));
    li.append(b);
    return li;
  }

  function totals(s) {
    const row = (label, k, extra = "") => make("tr", {},
      make("th", { textContent: label }), make("td", { textContent: String(s[`${k}_pipes`] ?? "—") }),
      make("td", { textContent: metres(s[`${k}_length_m`]) }),
      make("td", { textContent: cubic(s[`${k}_volume_m3`]) + (s[`${k}_pipes_without_diameter`] ? " +" : "") }),
      make("td", { textContent: String(s[`${k}_nodes`] ?? "—") + extra }));
    const head = make("tr", {}, ...["", "pipes", "length", "volume", "nodes"].map((t) => make("th", { textContent: t })));
    return make("table", { className: "crew-totals", id: "crew-totals" }, make("thead", {}, head),
      make("tbody", {}, row("Shut off · 隔离", "isolated"), row("Cut off · 断水", "cut_off"), row("Total · 合计", "total")));
  }

  function customers(s) {  // the summary's customer fields, once the platform counts them
    if (!("customers_out" in s) && !("customers_method" in s)) {
      return s.customers ? make("p", { className: "note", textContent: `Customers: ${s.customers}` }) : "";
    }
    const box = make("div", { className: "crew-customers", id: "crew-customers" }, make("h3", { textContent: "Customers out · 停水用户" }));
    if (s.customers_out != null) {
      const split = s.isolated_customers != null ? ` (${num(s.isolated_customers, 0)} shut off, ${num(s.cut_off_customers, 0)} cut off)` : "";
      box.append(make("p", { className: "big", id: "crew-customers-out" }, make("strong", { textContent: num(s.customers_out, 0) }),
        ` customers${split}`, s.people_out != null ? ` · ${num(s.people_out, 0)} people · 人` : ""));
    } else if (s.people_out != null) {
      box.append(make("p", { className: "big", id: "crew-customers-out" }, "≈ ", make("strong", { textContent: num(s.people_out, 0) }), " people · 人 (estimate)"));
    } else box.append(make("p", { className: "big", id: "crew-customers-out", textContent: "not counted · 未统计" }));
    const kinds = Object.entries(s.customers_out_by_kind || {});
    if (kinds.length) box.append(make("ul", { className: "kinds" }, ...kinds.map(([k, n]) => make("li", { textContent: `${k}: ${num(n, 0)}` }))));
    const critical = s.critical_customers || [];
    if (critical.length) {
      box.append(make("p", { className: "critical", textContent: `Critical customers · 重点用户 (${critical.length}):` }),
        make("ul", { className: "critical", id: "crew-critical" }, ...critical.map((c) => make("li", { textContent: typeof c !== "object" ? String(c)
          : [c.name || c.customer_id, c.critical_kind, c.role === "cut_off" ? `cut off, zone ${c.zone}` : "shut off"].filter(Boolean).join(" · ") }))));
    }
    const how = s.customers_out == null && s.people_out == null ? s.customers_note || s.customers_method : s.customers_method;
    if (how) box.append(make("p", { className: "note", textContent: how }));
    return box;
  }

  function warnings(s) {
    const w = [];
    if (s.complete === false) w.push("The shut-off reaches the search radius: more valves may lie beyond it.");
    if (s.cut_off_checked === false) w.push("No source within reach: cut-off zones were not checked.");
    for (const u of s.valves_beyond_tolerance || []) w.push(`Valve ${u.valve} lies ${metres(u.distance_m, 2)} from ${u.nearest_pipe}: not used.`);
    if (s.pipes_without_topology?.length) w.push(`Pipes without from/to nodes: ${s.pipes_without_topology.join(", ")}.`);
    return w.length ? make("ul", { className: "warnings" }, ...w.map((t) => make("li", { textContent: t }))) : "";
  }

  function stuckList(s) {
    const ext = Object.fromEntries((s?.extensions || []).map((e) => [e.valve, e]));
    const passed = [...new Set([...crew.stuck, ...Object.keys(ext)])];
    if (!passed.length) return "";
    return make("div", { id: "crew-stuck-box" }, make("h3", { textContent: "Stuck valves · 失效阀门" }),
      make("ul", { id: "crew-stuck" }, ...passed.map((v) => {
        const e = ext[v], li = make("li", {}, make("span", { className: "stuck-mark", textContent: "✕" }),
          make("strong", { textContent: v }),
          e ? ` ${e.cause === "broken" ? "recorded broken" : "stuck"}: adds ${e.pipes.join(", ") || "no pipe"} ` +
              `(${metres(e.length_m)}); close ${e.next_valves.join(", ") || "no further valve"} instead` : " stuck");
        li.dataset.valve = v;
        if (crew.stuck.includes(v)) {
          const b = make("button", { type: "button", className: "unstuck", textContent: "Unmark · 取消" });
          b.addEventListener("click", () => toggleStuck(v));
          li.append(b);
        }
        return li;
      })));
  }

  function zones(pipes) {
    const by = new Map();
    for (const f of pipes.filter((p) => p.properties.role === "cut_off_pipe")) {
      const z = f.properties.zone;
      by.set(z, [...(by.get(z) || []), f.properties]);
    }
    if (!by.size) return "";
    return make("div", { id: "crew-zones" }, make("h3", { textContent: "Cut-off zones · 断水区" }),
      make("ul", {}, ...[...by].map(([z, ps]) => make("li", { textContent:
        `Zone ${z}: ${ps.map((p) => p.asset_id).join(", ")} · ${metres(ps.reduce((a, p) => a + p.length_m, 0))}` }))));
  }

  function showBreak() {
    crew.markers.forEach((m) => m.remove());
    crew.markers = [];
    const a = crew.answer, box = $("crew-result");
    if (crew.breakAt) crew.markers.push(marker("crew-break", crew.breakAt, { title: "The break · 爆管点" }));
    redraw();
    box.hidden = !a && !crew.stuck.length;
    if (!a) { box.replaceChildren(stuckList(null)); return; }
    const s = a.summary, close = a.valves.filter((f) => f.properties.role === "close");
    const closed = a.valves.filter((f) => f.properties.role === "already_closed");
    close.forEach((f, i) => f.geometry && crew.markers.push(marker("crew-valve close", f.geometry.coordinates, {
      text: String(i + 1), title: `${f.properties.asset_id}: close · 关闭 (click if stuck)`,
      data: { valve: f.properties.asset_id }, onClick: () => toggleStuck(f.properties.asset_id) })));
    for (const f of a.valves.filter((v) => v.properties.role.endsWith("_passed") && v.geometry)) {
      const v = f.properties.asset_id;
      crew.markers.push(marker("crew-valve stuck", f.geometry.coordinates, { text: "✕", data: { valve: v },
        title: `${v}: ${f.properties.role === "stuck_passed" ? "stuck · 失效 (click to unmark)" : "recorded broken · 已损坏"}`,
        onClick: () => crew.stuck.includes(v) && toggleStuck(v) }));
    }
    reveal([crew.breakAt, ...a.valves.filter((f) => f.geometry).map((f) => f.geometry.coordinates)]);
    box.replaceChildren(
      make("p", { className: "crew-broken" }, "Break on ", make("strong", { id: "crew-broken-pipe", textContent: s.broken_pipe }),
           ` · ${s.utility}`),
      make("h3", {}, "Valves to close · 需关闭阀门 ", make("span", { className: "count", textContent: String(close.length) })),
      close.length ? make("ol", { id: "crew-valves" }, ...close.map((f, i) => valveRow(f, i + 1)))
        : make("p", { className: "note", textContent: "None: nothing left to close." }),
      closed.length ? make("p", { className: "note", id: "crew-already-closed",
        textContent: `Already closed · 已关闭: ${closed.map((f) => f.properties.asset_id).join(", ")}` }) : "",
      stuckList(s), totals(s), zones(a.pipes), customers(s), warnings(s),
      make("div", { className: "buttons" }, orderButton(), clearButton()));
  }

  function orderButton() {
    const b = make("button", { type: "button", id: "crew-order", className: "primary", textContent: "Print shut-off order · 打印关阀单" });
    b.addEventListener("click", async () => {
      const win = window.open("", "_blank");  // opened on the click, so no popup blocker
      try {
        openDocument(win, await post("analysis/isolate/order.html", breakBody(), "text/html"), "crew-break-message", "shut-off order");
      } catch (err) {
        win?.close();
        message("crew-break-message", "error", err instanceof Problem && err.missingRoute
          ? "The printable shut-off order is not available on this server yet (POST analysis/isolate/order.html answered " +
            `${err.status}). The list above is the order: valves in their numbered sequence.` : `No shut-off order: ${explain(err)}`);
      }
    });
    return b;
  }

  function clearButton() {
    const b = make("button", { type: "button", className: "danger", textContent: "Clear · 清除" });
    b.addEventListener("click", () => {
      crew.breakAt = null; crew.answer = null; crew.stuck = [];
      message("crew-break-message", "", "");
      arm(null); showBreak();
    });
    return b;
  }

  // ---- dig: what is buried, whom to call, the section ----
  const digBody = () => ({
    area: crew.digArea, ...(Number($("crew-dig-depth").value) > 0 ? { depth_m: Number($("crew-dig-depth").value) } : {}),
    ...(crew.digSection ? { section: crew.digSection } : {}),
    ...(state.datetime ? { datetime: state.datetime } : {}), ...inScenario(), ...displayCrs(),
  });

  function finishDig() {  // a double-click's two clicks leave one vertex twice
    const v = crew.digVertices.filter((c, i, all) => i === 0 || c[0] !== all[i - 1][0] || c[1] !== all[i - 1][1]);
    crew.digVertices = v;
    if (v.length < 3) return arm("dig");
    crew.digArea = { type: "Polygon", coordinates: [[...v, v[0]]] };
    crew.digSection = null; crew.digVertices = [];
    arm(null);
    return runDig();
  }

  async function runDig() {
    if (!crew.digArea) return;
    const asked = ++crew.asked.dig;
    $("crew-dig-status").textContent = "Reading what is buried here…";
    try {
      const fc = await post("analysis/dig", digBody());
      if (asked !== crew.asked.dig) return;
      const [first, ...rest] = fc.features;
      crew.dig = { summary: first.properties, assets: rest.map((f) => f.properties) };
      message("crew-dig-message", "", "");
    } catch (err) {
      if (asked !== crew.asked.dig) return;
      crew.dig = null;
      message("crew-dig-message", "error", `No dig report: ${explain(err)}`);
    }
    $("crew-dig-status").textContent = "";
    showDig();
    if (crew.dig) await section();
  }

  function depths(a) {
    if (a.kind === "node") return [a.depth_m == null ? "—" : metres(a.depth_m, 2), ""];
    if (a.depth_enter_m == null) return ["depth unknown", ""];
    return [`${num(a.depth_enter_m, 2)} → ${num(a.depth_leave_m, 2)} m`, `${num(a.depth_min_m, 2)}–${num(a.depth_max_m, 2)} m`];
  }

  function ownerCell(a) {
    const td = make("td", { className: "owner" }, a.owner || "owner unknown");
    if (a.owner_phone_24h) {
      td.append(make("br"), make("a", { href: `tel:${a.owner_phone_24h.replace(/[^0-9+]/g, "")}`,
                                        className: "tel", textContent: `☎ ${a.owner_phone_24h}` }));
    } else if (a.owner && a.owner_known === false) td.append(make("br"), make("span", { className: "problem", textContent: "no contact on file" }));
    return td;
  }

  function assetRow(a) {
    const [through, range] = depths(a);
    const tr = make("tr", { className: a.at_risk ? "at-risk" : "" },
      make("td", {}, make("strong", { textContent: a.asset_id }), make("br"),
           make("span", { className: `utility u-${a.utility}`, textContent: a.kind === "node" ? `${a.utility} ${a.node_kind}` : a.utility })),
      make("td", { className: "depth", title: "in → out; min–max inside" }, through, range ? make("br") : "", range ? make("span", { className: "range", textContent: range }) : ""),
      make("td", {}, a.diameter_mm != null ? `DN${num(a.diameter_mm, 0)}` : a.kind === "node" ? "" : "—",
           a.material ? make("br") : "", a.material ? make("span", { className: "material", textContent: a.material }) : ""),
      ownerCell(a));
    tr.dataset.asset = a.asset_id;
    if (a.at_risk) tr.title = "At risk: its top is shallower than the dig · 有挖损风险";
    return tr;
  }

  function showDig() {
    redraw();
    const d = crew.dig, box = $("crew-dig-result");
    box.hidden = !d;
    if (!d) return;
    const s = d.summary;
    const owners = make("ul", { id: "crew-owners" }, ...s.owners.map((o) => make("li", {}, make("strong", { textContent: o.name }), " ",
      make("a", { href: `tel:${String(o.phone_24h).replace(/[^0-9+]/g, "")}`, className: "tel", textContent: `☎ ${o.phone_24h}` }),
      o.contact ? ` · ${o.contact}` : "")),
      ...s.owners_unknown.map((n) => make("li", {}, make("strong", { textContent: n }), " ", make("span", { className: "problem", textContent: "not in the owners layer: no phone" }))));
    const head = make("tr", {}, ...["Asset · 编号", "Depth · 埋深", "Size · 管径", "Owner · 权属"].map((t) => make("th", { textContent: t })));
    box.replaceChildren(
      make("p", { className: "crew-broken" }, `${metres(s.area_m2, 0).replace(" m", " m²")} dig, ±${metres(s.tolerance_m, 1)} tolerance: `,
           make("strong", { textContent: `${s.pipes} pipes, ${s.nodes} nodes` }),
           s.depth_m != null ? ` · ${s.at_risk} at risk at ${metres(s.depth_m, 1)} deep` : ""),
      make("h3", { textContent: "Owners to call · 权属单位 (24 h)" }), s.owners.length || s.owners_unknown.length ? owners
        : make("p", { className: "note", textContent: "No owner recorded for these assets." }),
      make("h3", { textContent: "Buried here · 地下管线" }),
      d.assets.length ? make("div", { className: "table-wrap" }, make("table", { id: "crew-dig-table", className: "crew-table" },
        make("thead", {}, head), make("tbody", {}, ...d.assets.map(assetRow))))
        : make("p", { className: "note", textContent: "Nothing recorded under this dig." }),
      d.assets.length ? make("p", { className: "note", textContent: "Depth below ground where it enters → leaves the dig; " +
        "under it, the least–most inside." + (s.depth_m != null ? " A red edge: its top is shallower than the dig." : "") }) : "",
      make("h3", { textContent: "Cross-section · 横断面" }),
      make("p", { className: "hint", textContent: crew.digSection ? "Along the line drawn." : "Along the dig's axis that most pipes cross; draw another line to move it." }),
      make("div", { id: "crew-section" }),
      make("div", { className: "buttons" }, sectionButton(), reportButton()));
  }

  function sectionButton() {
    const b = make("button", { type: "button", id: "crew-section-draw", textContent: "Draw section line · 画断面线" });
    b.addEventListener("click", () => { crew.sectionPoints = []; arm(crew.tool === "section" ? null : "section"); });
    return b;
  }

  async function section() {
    const box = $("crew-section");
    const asked = ++crew.asked.section;
    box.replaceChildren(make("p", { className: "hint", textContent: "Drawing the section…" }));
    try {
      const svg = await post("analysis/dig/section.svg", digBody(), "image/svg+xml");
      if (asked !== crew.asked.section) return;
      const url = URL.createObjectURL(svg);
      box.replaceChildren(make("a", { href: url, target: "_blank", rel: "noopener", title: "Open full size" },
        make("img", { src: url, alt: "Cross-section of the dig · 开挖横断面", id: "crew-section-img" })));
    } catch (err) {
      if (asked !== crew.asked.section) return;
      box.replaceChildren(make("p", { className: "message error", textContent: `No section: ${explain(err)}` }));
    }
  }

  function reportButton() {
    const b = make("button", { type: "button", id: "crew-dig-report", className: "primary", textContent: "Printable report · 打印报告" });
    b.addEventListener("click", async () => {
      const win = window.open("", "_blank");
      try {
        openDocument(win, await post("analysis/dig/report.html", digBody(), "text/html"), "crew-dig-message", "dig report");
      } catch (err) {
        win?.close();
        message("crew-dig-message", "error", `No printable report: ${explain(err)}`);
      }
    });
    return b;
  }

  // ---- alarms: what the sensors say now ----
  async function alarms() {
    const url = api("collections/sensors/alarms/active", state.datetime ? { datetime: state.datetime } : {});
    try {
      const r = await fetch(url, { headers: { ...auth, Accept: "application/geo+json, application/problem+json" } });
      if (!r.ok) throw new Problem(r.status, await r.json().catch(() => ({ detail: r.statusText })));
      const fc = await r.json();
      crew.alarms = fc.features; crew.alarmsAt = fc.timeStamp;
      message("crew-alarms-message", "", "");
    } catch (err) {
      message("crew-alarms-message", "error", `Alarms unavailable: ${explain(err)}`);
    }
    showAlarms();
  }

  function showAlarms() {
    crew.rings.forEach((m) => m.remove());
    const top = new Map();  // one ring per sensor, at its highest level (the list comes highest first)
    for (const f of crew.alarms) if (!top.has(f.properties.sensor_id)) top.set(f.properties.sensor_id, f);
    crew.rings = [...top.values()].filter((f) => f.geometry).map((f) => {
      const p = f.properties;
      return marker(`alarm-ring level-${p.level}`, f.geometry.coordinates.slice(0, 2), { data: { sensor: p.sensor_id },
        title: `${p.sensor_id}: ${p.sensor_kind} ${num(p.value, 2)} ${p.unit}, level ${p.level}`, onClick: () => flyTo(f) });
    });
    $("crew-alarm-count").textContent = String(top.size);
    $("crew-alarm-count").classList.toggle("hot", top.size > 0);
    $("crew-alarm-flag").hidden = !top.size;
    $("crew-alarm-flag").textContent = `⚠ ${top.size}`;
    $("crew-alarm-flag").title = `${top.size} sensor(s) in alarm · 报警`;
    $("crew-alarms-updated").textContent = crew.alarmsAt ? `as of ${localTime(crew.alarmsAt)} · refreshed every minute` : "";
    $("crew-alarms-list").replaceChildren(...crew.alarms.map((f) => {
      const p = f.properties;
      const li = make("li", { className: `alarm level-${p.level}` });
      li.dataset.sensor = p.sensor_id;
      const b = make("button", { type: "button", title: "Fly to the sensor · 定位" },
        make("span", { className: "level", textContent: p.level >= 2 ? "L2 alarm · 报警" : "L1 warning · 预警" }),
        make("strong", { className: "sensor", textContent: p.sensor_id }),
        make("span", { className: "kind", textContent: ` ${p.sensor_kind}${p.utility ? ` · ${p.utility}` : ""}` }),
        make("span", { className: "value", textContent: `${num(p.value, 2)} ${p.unit} (${p.bound === "low" ? "≤" : "≥"} ${num(p.threshold, 2)} ${p.unit})${p.stale ? " · stale" : ""}` }),
        make("span", { className: "since", textContent: `since ${localTime(p.start)} · peak ${num(p.peak, 2)} ${p.unit}` }));
      b.addEventListener("click", () => flyTo(f));
      li.append(b);
      return li;
    }));
    $("crew-alarms-none").hidden = crew.alarms.length > 0;
  }

  function flyTo(f) {
    map.flyTo({ center: f.geometry.coordinates.slice(0, 2), zoom: Math.max(map.getZoom(), 17) });
  }

  // ---- map clicks, while a crew tool is armed ----
  function onClick(e) {
    if (e.originalEvent?.target?.closest?.(".crew-valve, .alarm-ring")) return true;  // their own handlers
    if (!crew.tool) return false;
    const p = [e.lngLat.lng, e.lngLat.lat];
    if (crew.tool === "break") {
      crew.breakAt = p; crew.stuck = []; crew.answer = null;
      arm(null); isolate();
    } else if (crew.tool === "dig") {
      crew.digVertices.push(p); arm("dig");
    } else if (crew.tool === "section") {
      crew.sectionPoints.push(p);
      if (crew.sectionPoints.length < 2) { arm("section"); return true; }
      crew.digSection = { type: "LineString", coordinates: crew.sectionPoints };
      crew.sectionPoints = [];
      arm(null); section();
      const hint = document.querySelector("#crew-dig-result .hint");
      if (hint) hint.textContent = "Along the line drawn.";
    }
    return true;
  }

  // ---- start ----
  // The emergency and planner cards share this corner: one of them open at a time.
  const CORNER = [["emergency-panel", "em-fold"], ["planner-panel", "pl-fold"]];
  const others = () => CORNER.map(([id, button]) => [$(id), $(button)]).filter(([el]) => el);
  const isOpen = (el) => !el.hidden && !el.classList.contains("collapsed");

  function fold(folded) {
    $("crew-panel").classList.toggle("collapsed", folded);
    $("crew-collapse").setAttribute("aria-expanded", String(!folded));
    $("crew-collapse").title = folded ? "Show the crew panel" : "Fold the crew panel";
    if (!folded) for (const [el, button] of others()) if (isOpen(el)) button?.click();
  }

  function share() {  // folded at the bottom while another card is there, open below their headers
    $("crew-panel").classList.toggle("with-others", others().some(([el]) => !el.hidden));
    if (others().some(([el]) => isOpen(el)) && isOpen($("crew-panel"))) fold(true);
  }

  function tab(name) {
    for (const t of ["break", "dig", "alarms"]) {
      $(`crew-tab-${t}`).setAttribute("aria-selected", String(t === name));
      $(`crew-${t}`).hidden = t !== name;
    }
    if (crew.tool) arm(null);
  }

  addLayers();
  const pipes = state.specs.find((s) => s.id === "pipelines");
  for (const u of pipes.attributes.find((a) => a.name === "utility")?.choices || []) {
    $("crew-utility").append(new Option(u, u));
  }
  crew.utility = $("crew-utility").value;
  $("crew-utility").addEventListener("change", (e) => {
    crew.utility = e.target.value; crew.stuck = [];
    if (crew.breakAt) isolate();
  });
  $("crew-place").addEventListener("click", () => arm(crew.tool === "break" ? null : "break"));
  $("crew-dig-draw").addEventListener("click", () => {
    crew.digVertices = [];
    arm(crew.tool === "dig" ? null : "dig");
  });
  $("crew-dig-finish").addEventListener("click", finishDig);
  $("crew-dig-undo").addEventListener("click", () => { crew.digVertices.pop(); arm("dig"); });
  $("crew-dig-depth").addEventListener("change", () => crew.digArea && runDig());
  $("crew-alarms-refresh").addEventListener("click", alarms);
  map.on("dblclick", (e) => { if (crew.tool === "dig") { e.preventDefault(); finishDig(); } });
  document.addEventListener("keydown", (e) => { if (e.key === "Escape" && crew.tool) arm(null); });
  for (const t of ["break", "dig", "alarms"]) $(`crew-tab-${t}`).addEventListener("click", () => tab(t));
  $("crew-collapse").addEventListener("click", () => fold(!$("crew-panel").classList.contains("collapsed")));
  // Open for a role that keeps the network (the crew); folded for one that writes more (admin).
  if (state.session.writes.some((id) => !NETWORK.has(id))) fold(true);
  $("crew-role").textContent = state.session.role;
  const sensors = state.specs.some((s) => s.id === "sensors" && s.access === "restricted");
  $("crew-tab-alarms").hidden = !sensors;
  $("crew-panel").hidden = false;
  const watch = new MutationObserver(share);  // the planner's card may come after this one
  for (const [el] of others()) watch.observe(el, { attributes: true, attributeFilter: ["class", "hidden"] });
  share();
  arm(null);
  const ready = sensors ? alarms() : Promise.resolve();
  if (sensors) setInterval(alarms, ALARM_REFRESH_MS);
  return { onClick, isolate, runDig, alarms, toggleStuck, ready, state: crew };
};
