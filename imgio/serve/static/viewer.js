// imgio viewer: OpenSeadragon (vendored, static/vendor/openseadragon) over the zxy tiles
// of one image, with imgio's own panels around it: scenes, T/Z (and other frame axes),
// channels (on/off, colour, display range, for grey images too), metadata, label and
// macro images, a scale bar and the pointer position in micrometres.
"use strict";

(function () {
  const root = document.getElementById("viewer");
  const api = root.dataset.api;                // e.g. /api/images/<name>, /t/TOKEN/api/...
  const $ = (id) => document.getElementById(id);
  const status = $("status");

  const state = {
    meta: null, scene: 0, frame: {}, channels: [], query: "", requested: [], errors: [],
    loading: 0, animating: false,
  };
  window.imgioViewer = state;  // for tests and curious users

  if (typeof OpenSeadragon === "undefined") {
    status.textContent = "OpenSeadragon is missing from this installation: "
      + "run python tools/vendor_viewer.py in the source tree, or reinstall imgio";
    return;
  }

  const osd = OpenSeadragon({
    element: $("osd"),
    prefixUrl: root.dataset.static + "vendor/openseadragon/images/",
    drawer: "canvas",
    showNavigator: true,
    navigatorPosition: "TOP_RIGHT",
    showRotationControl: true,
    showFlipControl: true,
    maxZoomPixelRatio: 8,
    visibilityRatio: 0.2,
    crossOriginPolicy: false,
    imageSmoothingEnabled: false,  // pixels stay pixels when zoomed in past full size
    gestureSettingsMouse: { clickToZoom: false, dblClickToZoom: true },
  });
  state.osd = osd;

  // ------------------------------------------------------------ tile source
  function query() {
    const q = new URLSearchParams();
    q.set("scene", String(state.scene));
    for (const [dim, v] of Object.entries(state.frame)) q.set(dim, String(v));
    if (state.channels.length) {
      const bands = state.channels.filter((c) => c.on).map((c) => ({
        channel: c.index, palette: c.color, min: c.min, max: c.max,
      }));
      // every channel off: one band drawn black, not the file's default rendering
      q.set("style", JSON.stringify({ bands: bands.length ? bands : [
        { channel: 0, palette: "#000000", min: 0, max: 1 }] }));
    }
    return q.toString();
  }

  function tileSource(q) {
    // OpenSeadragon's level L is 2^(L - maxLevel) of full size; zxy level z is
    // 2^(z - (levels - 1)): the same pyramid, numbered from a different end
    const m = state.meta;
    const maxLevel = Math.ceil(Math.log2(Math.max(m.sizeX, m.sizeY, 1)));
    const offset = maxLevel - (m.levels - 1);
    return {
      width: m.sizeX, height: m.sizeY, tileWidth: m.tileWidth, tileHeight: m.tileHeight,
      tileOverlap: 0, minLevel: offset, maxLevel: maxLevel,
      getTileUrl: (level, x, y) => {
        state.requested.push({ z: level - offset, x: x, y: y });
        return `${api}/tiles/zxy/${level - offset}/${x}/${y}?${q}`;
      },
    };
  }

  // a new rendering (channels, contrast, T/Z) goes on top of the old one, which is
  // removed once the new one has all its tiles: no blank flash while it loads
  let pending = null;
  function show() {  // at most one new rendering per 80 ms while a slider is dragged
    if (pending === null) pending = setTimeout(() => { pending = null; render(); }, 80);
  }

  function render() {
    const q = query();
    state.query = q;
    // renderings still loading above the last complete one (at 0) are already out of date
    for (let i = osd.world.getItemCount() - 1; i >= 1; i--) {
      osd.world.removeItem(osd.world.getItemAt(i));
    }
    osd.addTiledImage({
      tileSource: tileSource(q),
      success: (ev) => {
        const item = ev.item;
        item.imgioQuery = q;
        if (state.fresh) { state.fresh = false; osd.viewport.goHome(true); }
        const drop = () => {
          const at = osd.world.getIndexOfItem(item);
          for (let i = at - 1; i >= 0; i--) osd.world.removeItem(osd.world.getItemAt(i));
        };
        if (item.getFullyLoaded()) { drop(); return; }
        const done = (e) => {
          if (!e.fullyLoaded) return;
          item.removeHandler("fully-loaded-change", done);
          drop();
        };
        item.addHandler("fully-loaded-change", done);
      },
    });
  }

  // true when the current rendering is the only one and has every tile of the view
  state.idle = () => {
    const n = osd.world.getItemCount();
    if (!state.meta || pending !== null || n !== 1 || state.loading > 0 || state.animating) {
      return false;
    }
    const item = osd.world.getItemAt(0);
    return item.imgioQuery === state.query && item.getFullyLoaded();
  };
  // image pixel (x, y) in page coordinates (CSS px), for tests and tools
  state.toPage = (x, y) => {
    const item = osd.world.getItemAt(0);
    const p = item.imageToViewerElementCoordinates(new OpenSeadragon.Point(x, y));
    const r = osd.element.getBoundingClientRect();
    return [r.left + p.x, r.top + p.y];
  };
  state.zoomBy = (factor) => { osd.viewport.zoomBy(factor, null, true); osd.viewport.applyConstraints(true); };

  osd.addHandler("tile-loading", () => { state.loading += 1; });
  osd.addHandler("tile-loaded", () => { state.loading = Math.max(0, state.loading - 1); });
  osd.addHandler("tile-load-failed", (e) => {
    state.loading = Math.max(0, state.loading - 1);
    state.errors.push(e.message || "tile failed");
    status.textContent = "some tiles could not be read (see the server's log)";
  });
  osd.addHandler("animation-start", () => { state.animating = true; });
  osd.addHandler("animation-finish", () => { state.animating = false; scaleBar(); });
  osd.addHandler("animation", scaleBar);

  // ----------------------------------------------------- scale bar, pointer
  function mpp() { return state.meta && state.meta.mmX ? state.meta.mmX * 1000 : null; }

  function scaleBar() {
    const bar = $("scalebar"), label = $("scalebar-label");
    const item = osd.world.getItemAt(0);
    const um = mpp();
    if (!item || !um) { bar.style.display = "none"; label.textContent = "no calibration"; return; }
    const zoom = item.viewportToImageZoom(osd.viewport.getZoom(true));  // screen px per pixel
    const target = 120 / zoom * um;              // µm under ~120 screen pixels
    const p = 10 ** Math.floor(Math.log10(target));
    const nice = [1, 2, 5, 10].map((k) => k * p).filter((v) => v <= target).pop() || p;
    bar.style.display = "block";
    bar.style.width = `${nice / um * zoom}px`;
    label.textContent = nice >= 1000 ? `${nice / 1000} mm` : `${+nice.toPrecision(3)} µm`;
  }

  new OpenSeadragon.MouseTracker({
    element: osd.container,
    moveHandler: (e) => {
      const item = osd.world.getItemAt(0);
      if (!item) return;
      const p = item.viewerElementToImageCoordinates(e.position);
      const um = mpp();
      $("pointer").textContent = um
        ? `· x ${(p.x * um).toFixed(1)} µm, y ${(p.y * um).toFixed(1)} µm`
        : `· x ${Math.round(p.x)} px, y ${Math.round(p.y)} px`;
    },
  });

  // ------------------------------------------------------------------ panels
  function el(tag, attrs, text) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, v);
    if (text !== undefined) e.textContent = text;
    return e;
  }

  function buildControls() {
    const m = state.meta, box = $("controls");
    box.replaceChildren();
    if (m.scenes.length > 1) {
      const sel = el("select", { id: "scene" });
      m.scenes.forEach((name, i) => {
        const o = el("option", { value: String(i) }, `${i}: ${name}`);
        if (i === state.scene) o.selected = true;
        sel.appendChild(o);
      });
      sel.onchange = () => { state.scene = Number(sel.value); load(); };
      box.append(el("label", { for: "scene" }, "scene "), sel);
    }
    for (const [dim, size] of Object.entries(m.frameAxes || {})) {
      if (size <= 1) continue;
      const row = el("div", { class: "frame" });
      const input = el("input", { type: "range", min: "0", max: String(size - 1),
        value: String(state.frame[dim] || 0), id: `frame-${dim}` });
      const out = el("span", {}, ` ${state.frame[dim] || 0} / ${size - 1}`);
      input.oninput = () => {
        state.frame[dim] = Number(input.value);
        out.textContent = ` ${input.value} / ${size - 1}`;
        show();
      };
      row.append(el("label", { for: `frame-${dim}` }, `${dim} `), input, out);
      box.appendChild(row);
    }
  }

  function buildChannels() {
    const box = $("channels");
    box.replaceChildren();
    state.channels.forEach((c) => {
      const row = el("div", { class: "channel" });
      const on = el("input", { type: "checkbox", id: `channel-${c.index}`,
        title: `show ${c.name} (key ${c.index + 1})` });
      on.checked = c.on;
      on.onchange = () => { c.on = on.checked; show(); };
      const color = el("input", { type: "color", value: c.color, id: `color-${c.index}` });
      color.onchange = () => { c.color = color.value; show(); };
      const lo = el("input", { type: "number", value: String(c.min), step: "any",
        class: "num", id: `min-${c.index}`, title: "black below" });
      const hi = el("input", { type: "number", value: String(c.max), step: "any",
        class: "num", id: `max-${c.index}`, title: "full colour above" });
      lo.onchange = () => { c.min = Number(lo.value); show(); };
      hi.onchange = () => { c.max = Number(hi.value); show(); };
      const auto = el("button", { type: "button", title: "automatic range" }, "auto");
      auto.onclick = () => {
        c.min = c.auto[0]; c.max = c.auto[1];
        lo.value = String(c.min); hi.value = String(c.max);
        show();
      };
      const name = el("label", { for: `channel-${c.index}`, class: "name" }, c.name);
      row.append(on, color, name, el("br"), lo, el("span", {}, " – "), hi, auto);
      box.appendChild(row);
    });
  }

  function buildMeta() {
    const m = state.meta, table = $("meta");
    table.replaceChildren();
    const row = (k, v) => {
      if (v === null || v === undefined || v === "") return;
      const tr = el("tr");
      tr.append(el("th", {}, k), el("td", {}, String(v)));
      table.appendChild(tr);
    };
    const um = m.physicalPixelSizes || {};
    const fmt = (v) => (v ? `${+v.toPrecision(4)} µm` : null);
    row("dims", Object.entries(m.dims || {}).map(([k, v]) => `${k} ${v}`).join(", "));
    row("pixel type", m.dtype + (m.bandCount > 1 ? ` x ${m.bandCount} samples` : ""));
    row("pixel size X", fmt(um.X) || "not recorded");
    row("pixel size Y", fmt(um.Y));
    row("Z step", fmt(um.Z));
    row("levels", (m.levelsStored || []).map((l) => `${l.width}x${l.height}`).join(", "));
    row("vendor", m.vendor);
    row("objective", m.objective ? `${m.objective}x` : null);
    row("magnification", m.magnification ? `${+m.magnification.toPrecision(3)}x` : null);
    if (m.bandCount === 1) row("channels", (m.channelNames || []).join(", "));  // not RGB
    row("scene", m.scenes.length > 1 ? `${state.scene}: ${m.scenes[state.scene]}` : null);
  }

  function buildAssociated() {
    const m = state.meta, box = $("associated"), panel = $("associated-panel");
    box.replaceChildren();
    panel.hidden = !(m.associated && m.associated.length);
    const rank = (w) => ({ label: 0, macro: 1 }[w] ?? 2);  // label and macro first
    for (const which of [...(m.associated || [])].sort((a, b) => rank(a) - rank(b))) {
      const url = `${api}/associated/${encodeURIComponent(which)}`;
      const fig = el("figure", { class: "associated" });
      const a = el("a", { href: url, target: "_blank" });
      a.appendChild(el("img", { src: `${url}?width=260&height=260`, alt: which,
        id: `associated-${which}` }));
      fig.append(a, el("figcaption", {}, which));
      box.appendChild(fig);
    }
  }

  // ---------------------------------------------------------------- keyboard
  function step(dim, by) {
    const input = $(`frame-${dim}`);
    if (!input) return;
    const v = Math.min(Number(input.max), Math.max(0, Number(input.value) + by));
    input.value = String(v);
    input.oninput();
  }

  document.addEventListener("keydown", (e) => {
    const tag = (e.target && e.target.tagName) || "";
    if (["INPUT", "SELECT", "TEXTAREA"].includes(tag) || e.ctrlKey || e.metaKey || e.altKey) return;
    if (/^[1-9]$/.test(e.key)) {
      const box = $(`channel-${Number(e.key) - 1}`);
      if (box) box.click();
    } else if (e.key === "[" || e.key === "]") {
      step("Z", e.key === "]" ? 1 : -1);
    } else if (e.key === "," || e.key === ".") {
      step("T", e.key === "." ? 1 : -1);
    } else {
      return;
    }
    e.preventDefault();
  });

  // F: full screen, as in most viewers (OpenSeadragon's own F flips: its button still does)
  const typing = (e) => ["INPUT", "SELECT", "TEXTAREA"].includes((e.target && e.target.tagName) || "");
  for (const type of ["keydown", "keypress"]) {
    document.addEventListener(type, (e) => {
      if ((e.key !== "f" && e.key !== "F") || typing(e) || e.ctrlKey || e.metaKey || e.altKey) return;
      e.stopPropagation();
      e.preventDefault();
      if (type === "keydown") osd.setFullScreen(!osd.isFullPage());
    }, true);
  }
  osd.addHandler("full-page", () => setTimeout(() => osd.canvas.focus(), 0));

  // -------------------------------------------------------------------- load
  async function load() {
    const resp = await fetch(`${api}/metadata?scene=${state.scene}`);
    const text = await resp.text();
    let m = null;
    try { m = JSON.parse(text); } catch (err) { m = null; }
    if (!resp.ok || m === null) {
      status.textContent = (m && m.detail) || `cannot open this image (${resp.status}: ${text})`;
      return;
    }
    status.textContent = "";
    state.meta = m;
    state.frame = {};
    state.channels = (m.channels || []).map((c, i) => ({
      index: i, name: c.name, color: c.color, min: c.min, max: c.max, on: true,
      auto: [c.min, c.max],
    }));
    state.requested = [];
    buildControls();
    buildChannels();
    buildMeta();
    buildAssociated();
    osd.world.removeAll();
    state.fresh = true;
    render();
    osd.addOnceHandler("tile-drawn", scaleBar);
    document.body.dataset.ready = "1";
    osd.canvas.focus();  // OpenSeadragon's keys work from the start
  }

  load();
})();
