// The scenario picker (what-if), for a token whose role writes layers: show the live city or
// one of the role's scenarios, make a new one, see how many changes it holds, commit it (a
// 409 lists the live assets that changed since it branched) or discard it. While one is
// shown, map.js's inScenario() puts scenario=<id> on every tile, item, analysis and write.
"use strict";

window.citygisScenarios = (citygis) => {
  const { state, api, auth, setScenario } = citygis;
  const $ = (id) => document.getElementById(id);
  const make = (tag, props = {}) => Object.assign(document.createElement(tag), props);
  const LIVE = "";
  const sc = { list: [], changes: null, confirm: null };  // confirm: "commit" | "discard"
  const plural = (n, one, many = `${one}s`) => `${n} ${n === 1 ? one : many}`;
  const titleOf = (spec) => (spec ? `${spec.title_zh} ${spec.title}` : "");

  async function call(method, path, body) {  // { r, body }: the panel words every status
    const headers = { ...auth, Accept: "application/json, application/problem+json" };
    if (body) headers["Content-Type"] = "application/json";
    const r = await fetch(api(path), { method, headers, body: body && JSON.stringify(body) });
    const text = r.status === 204 ? "" : await r.text();
    let parsed = {};
    try { parsed = text ? JSON.parse(text) : {}; } catch (_) { parsed = { detail: text }; }
    return { r, body: parsed };
  }

  function message(kind, text, items = []) {
    const box = $("scenario-message");
    box.className = `message ${kind}`;
    box.replaceChildren(make("p", { textContent: text }));
    if (items.length) box.append(make("ul", { className: "assets" }));
    for (const item of items) box.querySelector("ul").append(make("li", { textContent: item }));
    box.hidden = false;
    return box;
  }
  const quiet = () => { $("scenario-message").hidden = true; $("scenario-message").replaceChildren(); };
  const failed = (what, { r, body }) => message("error", `${what} failed (${r.status}): ${body.detail || body.title || r.statusText}`);

  // ---- the picker ----
  function fill(selected) {
    const pick = $("scenario");
    pick.replaceChildren(new Option("Live city · 现状", LIVE));
    for (const s of sc.list) pick.append(new Option(s.title, s.id));
    pick.value = sc.list.some((s) => s.id === selected) ? selected : LIVE;
  }

  async function load(selected = state.scenario?.id) {  // the role's scenarios not yet committed
    const got = await call("GET", "scenarios");
    if (!got.r.ok) return failed("Listing scenarios", got);
    sc.list = got.body.scenarios.filter((s) => !s.committed_at);
    fill(selected);
    await show($("scenario").value);
  }

  async function show(id) {  // the map, the badge and the panel, for the live city or a scenario
    const chosen = sc.list.find((s) => s.id === id) || null;
    if (chosen?.id !== state.scenario?.id) {
      citygis.editor?.close();  // an open feature's version belongs to the world it came from
      $("edit-status").textContent = "";
      setScenario(chosen && { id: chosen.id, title: chosen.title });
    }
    sc.confirm = null;
    const url = new URL(location.href);  // a reload, or a shared link, shows the same scenario
    if (chosen) url.searchParams.set("scenario", chosen.id); else url.searchParams.delete("scenario");
    history.replaceState(null, "", url);
    $("scenario-badge").hidden = !chosen;
    $("scenario-badge-title").textContent = chosen ? `“${chosen.title}”` : "";
    $("scenario-info").hidden = !chosen;
    document.body.classList.toggle("in-scenario", Boolean(chosen));
    $("edit-scope").textContent = chosen ? `Edits go into scenario “${chosen.title}” only.`
      : "Edits go to the live city.";
    buttons();
    if (chosen) await count();
  }

  // ---- changes: how many, by layer ----
  async function count() {
    const id = state.scenario?.id;
    if (!id) return;
    $("scenario-changes").textContent = "Counting changes…";
    const got = await call("GET", `scenarios/${encodeURIComponent(id)}/changes`);
    if (id !== state.scenario?.id) return;  // switched meanwhile
    if (!got.r.ok) { sc.changes = null; $("scenario-changes").textContent = ""; return failed("Reading changes", got); }
    const rows = Object.entries(got.body.layers).map(([layer, c]) => {
      const parts = ["added", "changed", "deleted"].filter((k) => c[k].length).map((k) => `${c[k].length} ${k}`);
      return { layer, n: c.added.length + c.changed.length + c.deleted.length, parts };
    });
    sc.changes = rows.reduce((n, row) => n + row.n, 0);
    $("scenario-count").textContent = String(sc.changes);
    $("scenario-changes").textContent = sc.changes ? plural(sc.changes, "change") + " to the live city"
      : "No changes yet: add or edit features, they go into this scenario.";
    $("scenario-layers").replaceChildren(...rows.map(({ layer, parts }) => {
      const li = make("li");
      li.append(make("span", { textContent: titleOf(state.specs.find((s) => s.id === layer)) || layer }),
                make("span", { className: "counts", textContent: parts.join(", ") }));
      return li;
    }));
    buttons();
  }

  function buttons() {
    const n = sc.changes ?? 0;
    $("scenario-commit").disabled = !state.scenario || !n;
    $("scenario-commit").textContent = sc.confirm === "commit" ? `Commit ${plural(n, "change")}?` : "Commit";
    $("scenario-discard").textContent = sc.confirm === "discard" ? "Really discard?" : "Discard";
  }

  // ---- new, commit, discard ----
  function asking(on) {
    $("scenario-new-form").hidden = !on;
    $("scenario-new").hidden = on;
    if (on) { $("scenario-title").value = ""; $("scenario-title").focus(); }
  }

  async function create(e) {
    e.preventDefault();
    const title = $("scenario-title").value.trim();
    if (!title) { $("scenario-title").setAttribute("aria-invalid", "true"); return; }
    $("scenario-title").removeAttribute("aria-invalid");
    quiet();
    const got = await call("POST", "scenarios", { title });
    if (!got.r.ok) return failed("Creating the scenario", got);
    asking(false);
    await load(got.body.id);
    message("info", `Scenario “${title}” is shown. Your edits now go into it, not into the live city.`);
  }

  async function commit() {
    if (sc.confirm !== "commit") { sc.confirm = "commit"; return buttons(); }  // a second click confirms
    sc.confirm = null;
    quiet();
    const { id, title } = state.scenario;
    $("scenario-commit").disabled = true;
    const got = await call("POST", `scenarios/${encodeURIComponent(id)}/commit`);
    if (got.r.status === 409 && Array.isArray(got.body.assets)) {
      buttons();
      return message("warning", `Not committed: ${plural(got.body.assets.length, "live asset")} changed ` +
        "since this scenario began. Nothing was applied. Look at them in the live city, then redo " +
        "your change in a new scenario, or discard this one.", got.body.assets);
    }
    if (!got.r.ok) { buttons(); return failed("Commit", got); }
    const layers = Object.keys(got.body.layers || {});
    await load(LIVE);
    for (const layer of layers) citygis.redrawLayer(layer);  // the live tiles changed too
    message("info", `Committed “${title}”: its changes are now the live city.`);
  }

  async function discard() {
    if (sc.confirm !== "discard") { sc.confirm = "discard"; return buttons(); }
    sc.confirm = null;
    quiet();
    const { id, title } = state.scenario;
    const got = await call("DELETE", `scenarios/${encodeURIComponent(id)}`);
    if (!got.r.ok) { buttons(); return failed("Discard", got); }
    await load(LIVE);
    message("info", `Discarded “${title}”. The live city is unchanged.`);
  }

  // ---- start ----
  $("scenario").addEventListener("change", (e) => { quiet(); show(e.target.value); });
  $("scenario-new").addEventListener("click", () => asking(true));
  $("scenario-new-form").addEventListener("submit", create);
  $("scenario-new-cancel").addEventListener("click", () => asking(false));
  $("scenario-commit").addEventListener("click", commit);
  $("scenario-discard").addEventListener("click", discard);
  $("scenario-badge-live").addEventListener("click", () => { $("scenario").value = LIVE; quiet(); show(LIVE); });
  $("scenario-panel").hidden = false;
  $("edit-scope").hidden = false;
  const ready = load(new URLSearchParams(location.search).get("scenario") || LIVE);
  return {
    ready, load, show, state: sc,
    onEdited() { if (state.scenario) count(); },  // an edit in the scenario: count again
  };
};
