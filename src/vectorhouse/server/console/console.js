// vectorhouse console: plain JavaScript, no build step, nothing loaded from elsewhere.
// It talks to the server it came from: /console/api/* for its views and Chroma's
// /api/v2 delete route for deletions, with the bearer token kept in sessionStorage.
"use strict";

(() => {
  const TOKEN_KEY = "vectorhouse.console.token";
  const DB = "/api/v2/tenants/default_tenant/databases/default_database";
  const PAGE_SIZE = 20;
  const PALETTE = [
    "#4e79a7", "#f28e2b", "#59a14f", "#e15759", "#76b7b2",
    "#edc948", "#b07aa1", "#ff9da7", "#9c755f", "#6b8e23",
  ];
  const OTHER = "#b8bcc6";

  const state = {
    info: null,
    collections: [],
    current: null,
    where: null,
    page: 0,
    map: null,
    colorKey: null,
    search: null,
    screen: null,
    hover: -1,
  };

  const $ = (id) => document.getElementById(id);

  // -- talking to the server ---------------------------------------------------------

  class ApiError extends Error {
    constructor(status, message, code) {
      super(message);
      this.status = status;
      this.code = code;
    }
  }

  function token() {
    return sessionStorage.getItem(TOKEN_KEY);
  }

  async function api(method, path, body) {
    const headers = { Accept: "application/json" };
    const tok = token();
    if (tok) headers.Authorization = "Bearer " + tok;
    const init = { method, headers };
    if (body !== undefined) {
      headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(body);
    }
    let response;
    try {
      response = await fetch(path, init);
    } catch (err) {
      throw new ApiError(0, "cannot reach the server (" + err.message + ")", "unreachable");
    }
    const text = await response.text();
    let data = null;
    try {
      data = text ? JSON.parse(text) : null;
    } catch (err) {
      data = text;
    }
    if (!response.ok) {
      const message = data && typeof data === "object" && data.message
        ? data.message : "HTTP " + response.status;
      const error = new ApiError(response.status, message, data && data.code);
      if (response.status === 401) needToken(tok ? "The server refused this token." : null);
      throw error;
    }
    return data;
  }

  // -- small DOM helpers -------------------------------------------------------------

  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(attrs || {})) {
      if (key === "class") node.className = value;
      else if (key === "text") node.textContent = value;
      else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
      else node.setAttribute(key, value);
    }
    for (const child of children) {
      if (child === null || child === undefined) continue;
      node.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
    return node;
  }

  function notice(message, bad) {
    const box = $("notice");
    box.textContent = message;
    box.className = bad ? "bad" : "";
    box.hidden = !message;
  }

  function fmt(n) {
    return Number(n).toLocaleString("en-US");
  }

  function shorten(text, n) {
    if (text === null || text === undefined) return "";
    return text.length > n ? text.slice(0, n - 1) + "…" : text;
  }

  function chips(metadata) {
    const box = el("div", { class: "chips" });
    for (const [key, value] of Object.entries(metadata || {})) {
      const shown = Array.isArray(value) ? value.join(", ") : String(value);
      box.append(el("span", { class: "chip" }, el("b", { text: key + " " }), shorten(shown, 40)));
    }
    return box;
  }

  // Text with the given words marked where a word starts with one of them (the server
  // chose the words: the query's, found in this document).
  function highlighted(text, terms) {
    const box = el("div", { class: "doc" });
    if (!text) {
      box.append(el("span", { class: "muted", text: "(no document)" }));
      return box;
    }
    if (!terms || !terms.length) {
      box.textContent = text;
      return box;
    }
    const escaped = terms.map((t) => t.replace(/[.*+?^${}()|[\]\\]/g, "\\$&"));
    const pattern = new RegExp(
      "(?<![\\p{L}\\p{N}])(?:" + escaped.join("|") + ")[\\p{L}\\p{N}]*", "giu");
    let last = 0;
    for (const match of text.matchAll(pattern)) {
      box.append(text.slice(last, match.index));
      box.append(el("mark", { text: match[0] }));
      last = match.index + match[0].length;
    }
    box.append(text.slice(last));
    return box;
  }

  // -- the token ---------------------------------------------------------------------

  function needToken(problem) {
    $("app").hidden = true;
    $("token-panel").hidden = false;
    $("token-message").textContent = problem
      ? problem + " Enter the right one."
      : "Every call to this server needs its bearer token (it was started with "
        + "--token-env or --token-file). Enter it to continue.";
    document.body.dataset.state = "token";
    $("token-input").focus();
    renderTokenStatus();
  }

  function renderTokenStatus() {
    const box = $("token-status");
    box.textContent = "";
    if (token()) {
      box.append("token set", el("button", {
        class: "plain small",
        type: "button",
        onclick: () => {
          sessionStorage.removeItem(TOKEN_KEY);
          location.reload();
        },
      }, "Forget"));
    }
  }

  // -- start -------------------------------------------------------------------------

  async function start() {
    notice("");
    let info;
    try {
      info = await api("GET", "/console/api/info");
    } catch (err) {
      if (err.status !== 401) {
        notice("The console could not start: " + err.message, true);
        document.body.dataset.state = "error";
      }
      return;
    }
    state.info = info;
    $("token-panel").hidden = true;
    $("app").hidden = false;
    renderTokenStatus();
    const server = $("server-info");
    server.textContent = "vectorhouse " + info.version + " at " + location.host;
    if (info.read_only) server.append(el("span", { class: "badge", text: "read-only" }));
    const mode = $("search-mode");
    mode.textContent = "";
    for (const m of info.search_modes) mode.append(el("option", { value: m, text: m }));
    await loadCollections();
    document.body.dataset.state = "ready";
    if (state.collections.length) await selectCollection(state.collections[0].name);
  }

  async function loadCollections() {
    state.collections = await api("GET", "/console/api/collections");
    const list = $("collections");
    list.textContent = "";
    $("collections-empty").hidden = state.collections.length > 0;
    for (const col of state.collections) {
      const facts = [
        fmt(col.count) + " records",
        col.dimension ? col.dimension + "-d" : "no vectors yet",
        col.space,
        col.model ? col.model.name + (col.model.model ? " · " + col.model.model : "") : "no model",
      ];
      const button = el("button", {
        type: "button",
        "data-name": col.name,
        class: state.current && state.current.name === col.name ? "active" : "",
        onclick: () => selectCollection(col.name),
      }, el("span", { class: "name", text: col.name }),
      el("span", { class: "facts", text: facts.join(" · ") }));
      list.append(el("li", {}, button));
    }
  }

  async function selectCollection(name) {
    const col = state.collections.find((c) => c.name === name);
    if (!col) return;
    state.current = col;
    state.where = null;
    state.page = 0;
    state.search = null;
    state.map = null;
    $("where-input").value = "";
    $("filter-error").textContent = "";
    $("filter-state").textContent = "";
    for (const b of document.querySelectorAll("#collections button")) {
      b.classList.toggle("active", b.dataset.name === name);
    }
    $("pick-one").hidden = true;
    $("collection-view").hidden = false;
    $("collection-title").textContent = col.name;
    renderFacts();
    clearSearch();
    const canSearch = Boolean(col.model && col.model.served);
    $("search-input").disabled = !canSearch;
    $("search-input").placeholder = canSearch ? "Search by meaning…"
      : col.model ? "This server does not run this collection's model"
        : "This collection has no embedding function: no text search";
    await Promise.all([loadRecords(), loadMap()]);
  }

  function renderFacts() {
    const col = state.current;
    const model = col.model
      ? col.model.name + (col.model.model ? " (" + col.model.model + ")" : "")
      : "no embedding function";
    $("collection-facts").textContent = [
      fmt(col.count) + " records",
      (col.dimension || "?") + " dimensions",
      col.space + " space",
      model,
    ].join(" · ");
  }

  // -- the filter --------------------------------------------------------------------

  function readWhere() {
    const raw = $("where-input").value.trim();
    if (!raw) return null;
    let value;
    try {
      value = JSON.parse(raw);
    } catch (err) {
      throw new Error("where is not valid JSON: " + err.message);
    }
    if (value === null || typeof value !== "object" || Array.isArray(value)) {
      throw new Error('where must be a JSON object, like {"topic": "cooking"}');
    }
    return value;
  }

  async function applyFilter(event) {
    if (event) event.preventDefault();
    $("filter-error").textContent = "";
    try {
      state.where = readWhere();
    } catch (err) {
      $("filter-error").textContent = err.message;
      return;
    }
    state.page = 0;
    $("filter-state").textContent = state.where ? "filter applied" : "";
    const jobs = [loadRecords(), loadMap()];
    if (state.search) jobs.push(runSearch(state.search.query));
    await Promise.all(jobs);
  }

  function filterBody() {
    return state.where ? { where: state.where } : {};
  }

  function showFilterError(err) {
    if (err.code && err.code.startsWith("invalid")) $("filter-error").textContent = err.message;
  }

  // -- records -----------------------------------------------------------------------

  async function loadRecords() {
    const col = state.current;
    const table = document.querySelector("#records tbody");
    $("records-error").textContent = "";
    let page;
    try {
      page = await api("POST", "/console/api/collections/" + encodeURIComponent(col.name)
        + "/records", { ...filterBody(), limit: PAGE_SIZE, offset: state.page * PAGE_SIZE });
    } catch (err) {
      table.textContent = "";
      $("page-info").textContent = "";
      $("page-prev").disabled = true;
      $("page-next").disabled = true;
      $("records-error").textContent = err.message;
      showFilterError(err);
      return;
    }
    if (state.current !== col) return;
    table.textContent = "";
    page.ids.forEach((id, i) => {
      const record = { id, document: page.documents[i], metadata: page.metadatas[i] };
      const actions = el("td");
      if (!state.info.read_only) {
        actions.append(el("button", {
          type: "button",
          class: "danger small",
          "data-delete": id,
          onclick: (event) => {
            event.stopPropagation();
            confirmDelete(id);
          },
        }, "Delete"));
      }
      table.append(el("tr", { "data-id": id, onclick: () => showRecord(record) },
        el("td", { class: "mono", text: id }),
        el("td", { text: shorten(record.document, 160) }),
        el("td", {}, chips(record.metadata)),
        actions));
    });
    const first = page.total ? page.offset + 1 : 0;
    const last = page.offset + page.ids.length;
    $("page-info").textContent = fmt(first) + "–" + fmt(last) + " of " + fmt(page.total)
      + (state.where ? " matching" : "");
    $("page-prev").disabled = state.page === 0;
    $("page-next").disabled = last >= page.total;
  }

  function showRecord(record) {
    $("record-id").textContent = record.id;
    $("record-document").textContent = record.document === null || record.document === undefined
      ? "(none)" : record.document;
    $("record-metadata").textContent = record.metadata
      ? JSON.stringify(record.metadata, null, 2) : "(none)";
    const del = $("record-delete");
    del.hidden = state.info.read_only;
    del.onclick = () => {
      $("record-dialog").close();
      confirmDelete(record.id);
    };
    $("record-dialog").showModal();
  }

  async function showRecordById(id) {
    const col = state.current;
    const page = await api("POST", "/console/api/collections/" + encodeURIComponent(col.name)
      + "/records", { ids: [id], limit: 1 });
    if (page.ids.length) {
      showRecord({ id, document: page.documents[0], metadata: page.metadatas[0] });
    }
  }

  function confirmDelete(id) {
    if (state.info.read_only) return;
    const col = state.current;
    const dialog = $("confirm-dialog");
    $("confirm-text").textContent = "Delete record “" + id + "” from “" + col.name
      + "”? This cannot be undone.";
    dialog.returnValue = "";
    dialog.onclose = async () => {
      if (dialog.returnValue !== "ok") return;
      try {
        const res = await api("POST", DB + "/collections/" + col.id + "/delete", { ids: [id] });
        notice("Deleted " + res.deleted + " record" + (res.deleted === 1 ? "" : "s")
          + " from " + col.name + ".");
      } catch (err) {
        notice("Could not delete " + id + ": " + err.message, true);
        return;
      }
      await loadCollections();
      state.current = state.collections.find((c) => c.id === col.id) || col;
      renderFacts();
      const jobs = [loadRecords(), loadMap()];
      if (state.search) jobs.push(runSearch(state.search.query));
      await Promise.all(jobs);
    };
    dialog.showModal();
  }

  // -- search ------------------------------------------------------------------------

  function clearSearch() {
    $("search-results").textContent = "";
    $("search-summary").textContent = "";
    $("search-error").textContent = "";
    $("search-input").value = "";
  }

  async function runSearch(query) {
    const col = state.current;
    $("search-error").textContent = "";
    const body = {
      query,
      n_results: Number($("search-k").value),
      mode: $("search-mode").value || "dense",
      ...filterBody(),
    };
    if (state.map && state.map.projection) body.projection = state.map.projection;
    let res;
    try {
      res = await api("POST", "/console/api/collections/" + encodeURIComponent(col.name)
        + "/search", body);
    } catch (err) {
      $("search-error").textContent = err.message;
      showFilterError(err);
      return;
    }
    if (state.current !== col) return;
    state.search = { query, ...res };
    const list = $("search-results");
    list.textContent = "";
    res.results.forEach((hit, i) => {
      list.append(el("li", {
        "data-id": hit.id,
        onclick: () => showRecord(hit),
        onmouseenter: () => focusPoint(hit.id, true),
        onmouseleave: () => focusPoint(hit.id, false),
      },
      el("div", { class: "hit-head" },
        el("span", { class: "rank", text: "#" + (i + 1) }),
        el("span", { class: "score", text: res.score_name + " " + hit.score.toFixed(3) }),
        el("span", { class: "muted", text: "distance " + hit.distance.toFixed(3) }),
        el("span", { class: "id mono", text: hit.id })),
      highlighted(hit.document, hit.matched_terms),
      chips(hit.metadata)));
    });
    $("search-summary").textContent = fmt(res.results.length) + " result"
      + (res.results.length === 1 ? "" : "s") + " for “" + query + "” · " + res.mode
      + " search with the collection's model"
      + (col.model && col.model.model ? " (" + col.model.model + ")" : "")
      + (state.where ? " · filter " + JSON.stringify(state.where) : "")
      + " · " + (res.seconds * 1000).toFixed(0) + " ms";
    drawMap();
  }

  // -- the map -----------------------------------------------------------------------

  async function loadMap() {
    const col = state.current;
    const canvas = $("map");
    canvas.dataset.ready = "false";
    $("map-info").textContent = "Computing the map…";
    let data;
    try {
      data = await api("POST", "/console/api/collections/" + encodeURIComponent(col.name)
        + "/map", filterBody());
    } catch (err) {
      $("map-info").textContent = "No map: " + err.message;
      state.map = null;
      drawMap();
      return;
    }
    if (state.current !== col) return;
    state.map = data;
    const keys = Object.keys(data.metadata);
    const select = $("color-key");
    select.textContent = "";
    select.append(el("option", { value: "", text: "(none)" }));
    for (const k of keys) select.append(el("option", { value: k, text: k }));
    if (!keys.includes(state.colorKey)) state.colorKey = keys.length ? keys[0] : "";
    select.value = state.colorKey;
    const shown = data.ids.length;
    let text = fmt(shown) + (shown === data.total ? "" : " of " + fmt(data.total))
      + " record" + (data.total === 1 ? "" : "s")
      + (shown < data.total ? " (a random sample)" : "");
    if (data.projection) {
      const [a, b] = data.projection.explained;
      text += " · PCA: the two axes hold " + (100 * a).toFixed(0) + "% and "
        + (100 * b).toFixed(0) + "% of the variance"
        + (data.projection.normalize ? " (unit vectors)" : "");
    }
    $("map-info").textContent = text + " · " + (data.seconds * 1000).toFixed(0) + " ms";
    drawMap();
  }

  function colouring() {
    const map = state.map;
    const key = state.colorKey;
    const n = map ? map.ids.length : 0;
    if (!map || !key || !map.metadata[key]) {
      return { colors: new Array(n).fill(PALETTE[0]), legend: [] };
    }
    const values = map.metadata[key];
    const numbers = values.filter((v) => typeof v === "number");
    const distinct = new Set(values.filter((v) => v !== null).map(String));
    if (numbers.length === values.filter((v) => v !== null).length && distinct.size > 10) {
      const lo = Math.min(...numbers);
      const hi = Math.max(...numbers);
      const colors = values.map((v) => (typeof v === "number"
        ? ramp(hi > lo ? (v - lo) / (hi - lo) : 0.5) : OTHER));
      return { colors, legend: [{ ramp: true, lo, hi }] };
    }
    const counts = new Map();
    for (const v of values) {
      const label = v === null ? "(none)" : String(v);
      counts.set(label, (counts.get(label) || 0) + 1);
    }
    const ordered = [...counts.entries()].filter(([l]) => l !== "(none)")
      .sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1));
    const top = ordered.slice(0, PALETTE.length - 1);
    const colorOf = new Map(top.map(([label], i) => [label, PALETTE[i]]));
    const colors = values.map((v) => colorOf.get(v === null ? "(none)" : String(v)) || OTHER);
    const legend = top.map(([label, count]) => ({ label, count, color: colorOf.get(label) }));
    const rest = n - top.reduce((s, [, c]) => s + c, 0);
    if (rest > 0) legend.push({ label: ordered.length > top.length ? "other" : "(none)", count: rest, color: OTHER });
    return { colors, legend };
  }

  function ramp(t) {
    // blue -> teal -> yellow
    const stops = [[68, 1, 84], [59, 82, 139], [33, 145, 140], [94, 201, 98], [253, 231, 37]];
    const x = Math.max(0, Math.min(1, t)) * (stops.length - 1);
    const i = Math.min(stops.length - 2, Math.floor(x));
    const f = x - i;
    const c = stops[i].map((s, k) => Math.round(s + f * (stops[i + 1][k] - s)));
    return "rgb(" + c.join(",") + ")";
  }

  function drawMap() {
    const canvas = $("map");
    const ratio = window.devicePixelRatio || 1;
    const width = canvas.clientWidth;
    const height = canvas.clientHeight;
    canvas.width = Math.round(width * ratio);
    canvas.height = Math.round(height * ratio);
    const ctx = canvas.getContext("2d");
    ctx.setTransform(ratio, 0, 0, ratio, 0, 0);
    ctx.clearRect(0, 0, width, height);
    const map = state.map;
    const legendBox = $("legend");
    legendBox.textContent = "";
    state.screen = null;
    if (!map || !map.ids.length) {
      ctx.fillStyle = "#667085";
      ctx.font = "13px system-ui, sans-serif";
      ctx.textAlign = "center";
      ctx.fillText(map ? "No records to map." : "", width / 2, height / 2);
      canvas.dataset.points = "0";
      canvas.dataset.resultPoints = "[]";
      delete canvas.dataset.queryPoint;
      canvas.dataset.ready = map ? "true" : "false";
      return;
    }
    const query = state.search && state.search.query_point;
    const xs = map.x.slice();
    const ys = map.y.slice();
    const allX = query ? xs.concat([query[0]]) : xs;
    const allY = query ? ys.concat([query[1]]) : ys;
    let minX = Math.min(...allX);
    let maxX = Math.max(...allX);
    let minY = Math.min(...allY);
    let maxY = Math.max(...allY);
    if (maxX - minX < 1e-12) { minX -= 1; maxX += 1; }
    if (maxY - minY < 1e-12) { minY -= 1; maxY += 1; }
    const pad = 18;
    const scale = Math.min((width - 2 * pad) / (maxX - minX), (height - 2 * pad) / (maxY - minY));
    const offX = (width - scale * (maxX - minX)) / 2;
    const offY = (height - scale * (maxY - minY)) / 2;
    const sx = (x) => offX + (x - minX) * scale;
    const sy = (y) => height - (offY + (y - minY) * scale);
    const px = new Float64Array(xs.length);
    const py = new Float64Array(xs.length);
    for (let i = 0; i < xs.length; i++) {
      px[i] = sx(xs[i]);
      py[i] = sy(ys[i]);
    }
    state.screen = { px, py };

    const { colors, legend } = colouring();
    const radius = xs.length > 5000 ? 2 : xs.length > 1000 ? 3 : 4.5;
    ctx.globalAlpha = xs.length > 5000 ? 0.6 : 0.85;
    for (let i = 0; i < xs.length; i++) {
      ctx.fillStyle = colors[i];
      ctx.beginPath();
      ctx.arc(px[i], py[i], radius, 0, 2 * Math.PI);
      ctx.fill();
    }
    ctx.globalAlpha = 1;

    const hits = new Set(state.search ? state.search.results.map((r) => r.id) : []);
    const index = new Map(map.ids.map((id, i) => [id, i]));
    const ringed = [];
    ctx.lineWidth = 1.6;
    ctx.strokeStyle = "#1d2433";
    for (const id of hits) {
      const i = index.get(id);
      if (i === undefined) continue;
      ringed.push([Math.round(px[i]), Math.round(py[i])]);
      ctx.beginPath();
      ctx.arc(px[i], py[i], radius + 3, 0, 2 * Math.PI);
      ctx.stroke();
    }
    if (state.hover >= 0 && state.hover < xs.length) {
      ctx.lineWidth = 2.5;
      ctx.strokeStyle = "#2f5bd3";
      ctx.beginPath();
      ctx.arc(px[state.hover], py[state.hover], radius + 5, 0, 2 * Math.PI);
      ctx.stroke();
    }
    if (query) {
      const qx = sx(query[0]);
      const qy = sy(query[1]);
      star(ctx, qx, qy, 9, 4);
      ctx.fillStyle = "#1d2433";
      ctx.font = "600 12px system-ui, sans-serif";
      ctx.textAlign = "left";
      ctx.fillText("query", qx + 11, qy + 4);
      canvas.dataset.queryPoint = qx.toFixed(1) + "," + qy.toFixed(1);
    } else {
      delete canvas.dataset.queryPoint;
    }
    canvas.dataset.points = String(xs.length);
    // Where the search results are drawn, in result order (CSS pixels in the canvas).
    canvas.dataset.resultPoints = JSON.stringify(ringed);
    canvas.dataset.ready = "true";

    for (const item of legend) {
      if (item.ramp) {
        const bar = el("i", { class: "ramp" });
        bar.style.background = "linear-gradient(to right, " + ramp(0) + ", " + ramp(0.25)
          + ", " + ramp(0.5) + ", " + ramp(0.75) + ", " + ramp(1) + ")";
        legendBox.append(el("span", {}, String(item.lo), bar, String(item.hi)));
      } else {
        const dot = el("i");
        dot.style.background = item.color;
        legendBox.append(el("span", {}, dot, item.label + " (" + fmt(item.count) + ")"));
      }
    }
    if (query) {
      legendBox.append(el("span", {}, "★ query, ◯ results"));
    }
  }

  function star(ctx, x, y, outer, inner) {
    ctx.beginPath();
    for (let i = 0; i < 10; i++) {
      const r = i % 2 === 0 ? outer : inner;
      const a = -Math.PI / 2 + (i * Math.PI) / 5;
      ctx.lineTo(x + r * Math.cos(a), y + r * Math.sin(a));
    }
    ctx.closePath();
    ctx.fillStyle = "#1d2433";
    ctx.strokeStyle = "#ffffff";
    ctx.lineWidth = 1.5;
    ctx.fill();
    ctx.stroke();
  }

  function nearestPoint(x, y) {
    const screen = state.screen;
    if (!screen) return -1;
    let best = -1;
    let bestD = 64; // within 8 px
    for (let i = 0; i < screen.px.length; i++) {
      const dx = screen.px[i] - x;
      const dy = screen.py[i] - y;
      const d = dx * dx + dy * dy;
      if (d < bestD) {
        bestD = d;
        best = i;
      }
    }
    return best;
  }

  function focusPoint(id, on) {
    if (!state.map) return;
    const i = state.map.ids.indexOf(id);
    state.hover = on ? i : -1;
    drawMap();
  }

  let pending = null;
  function onMapMove(event) {
    const rect = $("map").getBoundingClientRect();
    const x = event.clientX - rect.left;
    const y = event.clientY - rect.top;
    if (pending) return;
    pending = requestAnimationFrame(() => {
      pending = null;
      const i = nearestPoint(x, y);
      const tip = $("tooltip");
      if (i !== state.hover) {
        state.hover = i;
        drawMap();
      }
      if (i < 0) {
        tip.hidden = true;
        return;
      }
      const map = state.map;
      tip.textContent = "";
      tip.append(el("div", { class: "tid", text: map.ids[i] }));
      if (state.colorKey && map.metadata[state.colorKey]) {
        const v = map.metadata[state.colorKey][i];
        tip.append(el("div", { text: state.colorKey + ": " + (v === null ? "(none)" : v) }));
      }
      tip.append(el("div", { text: map.documents[i] || "(no document)" }));
      tip.hidden = false;
      const wrap = $("map-wrap").getBoundingClientRect();
      const left = Math.min(x + 14, wrap.width - tip.offsetWidth - 4);
      const top = y + 14 + tip.offsetHeight > wrap.height ? y - tip.offsetHeight - 10 : y + 14;
      tip.style.left = Math.max(4, left) + "px";
      tip.style.top = Math.max(4, top) + "px";
    });
  }

  function onMapLeave() {
    $("tooltip").hidden = true;
    if (state.hover !== -1) {
      state.hover = -1;
      drawMap();
    }
  }

  function onMapClick(event) {
    const rect = $("map").getBoundingClientRect();
    const i = nearestPoint(event.clientX - rect.left, event.clientY - rect.top);
    if (i >= 0) showRecordById(state.map.ids[i]).catch((err) => notice(err.message, true));
  }

  // -- wiring ------------------------------------------------------------------------

  function showTab(name) {
    for (const b of document.querySelectorAll(".tabs button")) {
      b.classList.toggle("active", b.dataset.tab === name);
    }
    $("tab-search").hidden = name !== "search";
    $("tab-records").hidden = name !== "records";
  }

  document.addEventListener("DOMContentLoaded", () => {
    $("token-form").addEventListener("submit", (event) => {
      event.preventDefault();
      const value = $("token-input").value.trim();
      if (!value) return;
      sessionStorage.setItem(TOKEN_KEY, value);
      $("token-input").value = "";
      start();
    });
    $("filter-form").addEventListener("submit", applyFilter);
    $("filter-clear").addEventListener("click", () => {
      $("where-input").value = "";
      applyFilter();
    });
    $("search-form").addEventListener("submit", (event) => {
      event.preventDefault();
      const query = $("search-input").value.trim();
      if (query) runSearch(query);
    });
    for (const b of document.querySelectorAll(".tabs button")) {
      b.addEventListener("click", () => showTab(b.dataset.tab));
    }
    $("page-prev").addEventListener("click", () => {
      state.page = Math.max(0, state.page - 1);
      loadRecords();
    });
    $("page-next").addEventListener("click", () => {
      state.page += 1;
      loadRecords();
    });
    $("color-key").addEventListener("change", (event) => {
      state.colorKey = event.target.value;
      drawMap();
    });
    const canvas = $("map");
    canvas.addEventListener("mousemove", onMapMove);
    canvas.addEventListener("mouseleave", onMapLeave);
    canvas.addEventListener("click", onMapClick);
    window.addEventListener("resize", () => drawMap());
    start();
  });
})();
