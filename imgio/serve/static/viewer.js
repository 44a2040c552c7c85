// imgio viewer: pan and zoom over zxy tiles of one image, with scene, frame and channel
// controls, a scale bar and the pointer position in micrometres. No dependencies.
"use strict";

(function () {
  const root = document.getElementById("viewer");
  const api = root.dataset.api;          // e.g. /api/images/<name>
  const canvas = document.getElementById("canvas");
  const ctx = canvas.getContext("2d");
  const info = document.getElementById("pointer");
  const bar = document.getElementById("scalebar");
  const barLabel = document.getElementById("scalebar-label");
  const controls = document.getElementById("controls");

  const state = {
    meta: null, scene: 0, frame: {}, channels: [], cx: 0, cy: 0, scale: 1,
    tiles: new Map(), pending: 0, requested: [], generation: 0,
  };
  window.imgioViewer = state;  // for tests and curious users
  // true when every tile asked for the current view has arrived (or failed)
  state.idle = () => Array.from(state.tiles.values()).every((t) => t.ready || t.failed);

  function query() {
    const q = new URLSearchParams();
    q.set("scene", String(state.scene));
    for (const [dim, v] of Object.entries(state.frame)) q.set(dim, String(v));
    if (state.channels.length > 1 || (state.channels[0] && state.channels[0].custom)) {
      const bands = state.channels.filter((c) => c.on).map((c) => ({
        channel: c.index, palette: c.color, min: c.min, max: c.max,
      }));
      q.set("style", JSON.stringify({ bands: bands }));
    }
    return q.toString();
  }

  function levelFor(scale) {
    // zxy level z shows the image at 2^(z - maxZ) of full resolution
    const m = state.meta;
    const want = Math.log2(Math.max(scale, 1e-9));
    return Math.max(0, Math.min(m.levels - 1, Math.ceil(m.levels - 1 + want)));
  }

  function tileImage(z, x, y) {
    const key = `${z}/${x}/${y}?${query()}`;
    let t = state.tiles.get(key);
    if (t) return t;
    t = { img: new Image(), ready: false, failed: false };
    const gen = state.generation;
    t.img.onload = () => { t.ready = true; if (gen === state.generation) draw(); };
    t.img.onerror = () => { t.failed = true; };
    t.img.src = `${api}/tiles/zxy/${z}/${x}/${y}.png?${query()}`;
    state.requested.push({ z: z, x: x, y: y });
    state.tiles.set(key, t);
    if (state.tiles.size > 600) {
      const first = state.tiles.keys().next().value;
      state.tiles.delete(first);
    }
    return t;
  }

  function drawLevel(z, fetch) {
    const m = state.meta;
    const f = 2 ** (m.levels - 1 - z);            // full-res pixels per level-z pixel
    const ts = m.tileWidth * f;                    // one tile, in full-res pixels
    const w = canvas.width, h = canvas.height, s = state.scale;
    const x0 = state.cx - w / 2 / s, y0 = state.cy - h / 2 / s;
    const c0 = Math.max(0, Math.floor(x0 / ts)), r0 = Math.max(0, Math.floor(y0 / ts));
    const c1 = Math.min(Math.ceil(m.sizeX / ts), Math.ceil((x0 + w / s) / ts));
    const r1 = Math.min(Math.ceil(m.sizeY / ts), Math.ceil((y0 + h / s) / ts));
    let complete = true;
    for (let r = r0; r < r1; r++) {
      for (let c = c0; c < c1; c++) {
        const t = fetch ? tileImage(z, c, r) : state.tiles.get(`${z}/${c}/${r}?${query()}`);
        if (t && t.ready) {
          // rounded shared edges: neighbouring tiles meet without a hairline gap
          const tw = t.img.naturalWidth * f, th = t.img.naturalHeight * f;
          const dx = Math.round((c * ts - x0) * s), dy = Math.round((r * ts - y0) * s);
          const dw = Math.round((c * ts + tw - x0) * s) - dx;
          const dh = Math.round((r * ts + th - y0) * s) - dy;
          ctx.drawImage(t.img, dx, dy, dw, dh);
        } else {
          complete = false;
        }
      }
    }
    return complete;
  }

  function draw() {
    if (!state.meta) return;
    ctx.fillStyle = "#111";
    ctx.fillRect(0, 0, canvas.width, canvas.height);
    const z = levelFor(state.scale);
    for (let coarse = 0; coarse < z; coarse++) drawLevel(coarse, false);  // placeholders
    drawLevel(z, true);
    scaleBar();
  }

  function scaleBar() {
    const mpp = state.meta.mmX ? state.meta.mmX * 1000 : null;
    if (!mpp) { bar.style.display = "none"; barLabel.textContent = "no calibration"; return; }
    const target = 120 / state.scale * mpp;        // µm covered by ~120 screen pixels
    const p = 10 ** Math.floor(Math.log10(target));
    const nice = [1, 2, 5, 10].map((k) => k * p).filter((v) => v <= target).pop() || p;
    bar.style.display = "block";
    bar.style.width = `${nice / mpp * state.scale / window.devicePixelRatio}px`;
    barLabel.textContent = nice >= 1000 ? `${nice / 1000} mm` : `${nice} µm`;
  }

  function fit() {
    const m = state.meta;
    state.cx = m.sizeX / 2;
    state.cy = m.sizeY / 2;
    state.scale = Math.min(canvas.width / m.sizeX, canvas.height / m.sizeY) * 0.95;
  }

  function measure() {
    const r = canvas.getBoundingClientRect();
    canvas.width = Math.max(1, Math.round(r.width * window.devicePixelRatio));
    canvas.height = Math.max(1, Math.round(r.height * window.devicePixelRatio));
  }

  function resize() {
    measure();
    draw();
  }

  function zoomAt(px, py, factor) {
    const s = state.scale;
    const ix = state.cx + (px - canvas.width / 2) / s, iy = state.cy + (py - canvas.height / 2) / s;
    state.scale = Math.min(64, Math.max(1e-4, s * factor));
    state.cx = ix - (px - canvas.width / 2) / state.scale;
    state.cy = iy - (py - canvas.height / 2) / state.scale;
    draw();
  }
  window.imgioZoom = (factor) => zoomAt(canvas.width / 2, canvas.height / 2, factor);

  let drag = null;
  canvas.addEventListener("mousedown", (e) => { drag = { x: e.clientX, y: e.clientY }; });
  window.addEventListener("mouseup", () => { drag = null; });
  canvas.addEventListener("mousemove", (e) => {
    const d = window.devicePixelRatio;
    if (drag) {
      state.cx -= (e.clientX - drag.x) * d / state.scale;
      state.cy -= (e.clientY - drag.y) * d / state.scale;
      drag = { x: e.clientX, y: e.clientY };
      draw();
    }
    if (!state.meta) return;
    const r = canvas.getBoundingClientRect();
    const ix = state.cx + ((e.clientX - r.left) * d - canvas.width / 2) / state.scale;
    const iy = state.cy + ((e.clientY - r.top) * d - canvas.height / 2) / state.scale;
    const mpp = state.meta.mmX ? state.meta.mmX * 1000 : null;
    info.textContent = mpp
      ? `x ${(ix * mpp).toFixed(1)} µm, y ${(iy * mpp).toFixed(1)} µm`
      : `x ${Math.round(ix)} px, y ${Math.round(iy)} px`;
  });
  canvas.addEventListener("wheel", (e) => {
    e.preventDefault();
    const r = canvas.getBoundingClientRect(), d = window.devicePixelRatio;
    zoomAt((e.clientX - r.left) * d, (e.clientY - r.top) * d, e.deltaY < 0 ? 1.25 : 0.8);
  }, { passive: false });

  function refresh() {
    state.generation += 1;
    draw();
  }

  function el(tag, attrs, text) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, v);
    if (text !== undefined) e.textContent = text;
    return e;
  }

  function buildControls() {
    const m = state.meta;
    controls.replaceChildren();
    if (m.scenes.length > 1) {
      const sel = el("select", { id: "scene" });
      m.scenes.forEach((name, i) => {
        const o = el("option", { value: String(i) }, name);
        if (i === state.scene) o.selected = true;
        sel.appendChild(o);
      });
      sel.onchange = () => { state.scene = Number(sel.value); load(); };
      controls.append(el("label", {}, "scene "), sel);
    }
    for (const [dim, size] of Object.entries(m.frameAxes || {})) {
      if (size <= 1) continue;
      const input = el("input", { type: "range", min: "0", max: String(size - 1), value: "0",
        id: `frame-${dim}` });
      const out = el("span", {}, ` ${dim} 0`);
      input.oninput = () => { state.frame[dim] = Number(input.value); out.textContent = ` ${dim} ${input.value}`; refresh(); };
      controls.append(el("div", { class: "frame" }), input, out);
    }
    if (state.channels.length > 1) {
      state.channels.forEach((c) => {
        const row = el("div", { class: "channel" });
        const on = el("input", { type: "checkbox", id: `channel-${c.index}` });
        on.checked = c.on;
        on.onchange = () => { c.on = on.checked; refresh(); };
        const color = el("input", { type: "color", value: c.color, id: `color-${c.index}` });
        color.oninput = () => { c.color = color.value; refresh(); };
        const lo = el("input", { type: "number", value: String(c.min), step: "any", class: "num" });
        const hi = el("input", { type: "number", value: String(c.max), step: "any", class: "num" });
        lo.onchange = () => { c.min = Number(lo.value); refresh(); };
        hi.onchange = () => { c.max = Number(hi.value); refresh(); };
        row.append(on, color, el("span", {}, ` ${c.name} `), lo, hi);
        controls.appendChild(row);
      });
    }
  }

  async function load() {
    const resp = await fetch(`${api}/metadata?scene=${state.scene}`);
    const m = await resp.json();
    if (!resp.ok) { info.textContent = m.detail || "cannot open this image"; return; }
    state.meta = m;
    state.frame = {};
    state.channels = (m.channels || []).map((c, i) => ({
      index: i, name: c.name, color: c.color, min: c.min, max: c.max, on: true,
    }));
    state.tiles.clear();
    state.requested = [];
    buildControls();
    measure();
    fit();
    refresh();
    document.body.dataset.ready = "1";
  }

  window.addEventListener("resize", resize);
  load();
})();
