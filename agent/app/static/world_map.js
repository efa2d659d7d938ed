// The world map both geosleuth pages draw (inlined by geosleuth.app.page_parts.render_page).
// Frame: equirectangular, x = lon + 180, y = 90 - lat (the outlines of page_parts.world_paths).
// The view box always keeps the 2:1 shape of the world, so zooming never changes the map's height;
// marks are sized in screen pixels and strokes do not scale, so a 3 km error stays visible zoomed in.
"use strict";
const SVG_NS = "http://www.w3.org/2000/svg";
const KM_PER_DEG = 111.195;
const MIN_SPAN_DEG = 0.01;
const WORLD_VIEW = [0, 0, 360, 180];
const MAP_CSS = `
  .worldmap { display: block; width: 100%; height: auto; cursor: grab; touch-action: none; user-select: none; }
  .worldmap.dragging { cursor: grabbing; }
  .worldmap path, .worldmap circle, .worldmap line { vector-effect: non-scaling-stroke; }
  .worldmap .ocean { fill: #cfe8f7; }
  .worldmap .country { fill: #dde3ea; stroke: #9aa7b4; stroke-width: 0.6; }
  .mapframe { position: relative; }
  .mapcontrols { position: absolute; top: 6px; right: 6px; display: flex; gap: 4px; }
  .mapcontrols button { font: 13px system-ui, sans-serif; min-width: 28px; padding: 2px 6px; cursor: pointer;
                        background: #fff; border: 1px solid #9aa7b4; border-radius: 4px; }
`;

function el(tag, attrs = {}, ...children) {
  const node = tag.startsWith("svg:") ? document.createElementNS(SVG_NS, tag.slice(4)) : document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value !== null && value !== undefined) node.setAttribute(key, value);
  }
  for (const child of children) {
    if (child === null || child === undefined) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}
const fmt = (v, d = 2) => (v === null || v === undefined ? "-" : Number(v).toFixed(d));
const xy = (lat, lon) => [lon + 180, 90 - lat];
const known = v => v !== null && v !== undefined;

// Outline of the points within `km` of (lat, lon) on a sphere, as SVG path data; longitudes are
// unwrapped around the centre so a circle across the date line stays one closed ring.
function geoCircle(lat, lon, km, n = 72) {
  const d = km / 6371.0088, p1 = lat * Math.PI / 180, l1 = lon * Math.PI / 180;
  const points = [];
  for (let i = 0; i <= n; i++) {
    const b = 2 * Math.PI * i / n;
    const p2 = Math.asin(Math.sin(p1) * Math.cos(d) + Math.cos(p1) * Math.sin(d) * Math.cos(b));
    let l2 = l1 + Math.atan2(Math.sin(b) * Math.sin(d) * Math.cos(p1), Math.cos(d) - Math.sin(p1) * Math.sin(p2));
    l2 = lon + ((l2 * 180 / Math.PI - lon + 540) % 360) - 180;
    const [x, y] = xy(p2 * 180 / Math.PI, l2);
    points.push(`${x.toFixed(4)},${y.toFixed(4)}`);
  }
  return `M${points.join(" ")}Z`;
}

// The map: an <svg class="worldmap"> with the ocean, the countries (extra classes from classOf(shape))
// and `map.marks`, the layer for points and circles; `map.frame` holds it with the zoom buttons.
function worldMap(world, {id, classOf = () => []} = {}) {
  if (!document.getElementById("worldmap-css")) {
    document.head.append(el("style", {id: "worldmap-css"}, MAP_CSS));
  }
  const svg = el("svg:svg", {id, class: "worldmap", viewBox: WORLD_VIEW.join(" ")});
  svg.append(el("svg:rect", {class: "ocean", x: -360, y: -180, width: 1080, height: 540}));
  const land = el("svg:g", {class: "land"});
  for (const shape of world) {
    land.append(el("svg:path", {d: shape.d, class: ["country", ...classOf(shape)].join(" ")},
                   el("svg:title", {}, shape.name)));
  }
  const marks = el("svg:g", {class: "marks"});
  svg.append(land, marks);
  const map = {svg, marks, home: WORLD_VIEW.slice()};
  const button = (label, title, action) => {
    const b = el("button", {type: "button", title, "data-zoom": label}, label);
    b.addEventListener("click", action);
    return b;
  };
  const centre = () => { const [x, y, w, h] = viewOf(map); return [x + w / 2, y + h / 2]; };
  map.frame = el("div", {class: "mapframe"}, svg, el("div", {class: "mapcontrols"},
    button("+", "zoom in", () => zoomAt(map, 0.5, ...centre())),
    button("−", "zoom out", () => zoomAt(map, 2, ...centre())),
    button("fit", "back to the marks", () => setView(map, map.home)),
    button("world", "the whole world", () => setView(map, WORLD_VIEW))));
  enableZoomPan(map);
  new ResizeObserver(() => rescale(map)).observe(svg);
  return map;
}

// A mark whose radius is `px` screen pixels at any zoom.
function dot(map, lat, lon, px, attrs = {}, ...children) {
  const [x, y] = xy(lat, lon);
  const node = el("svg:circle", {cx: x, cy: y, "data-px": px, ...attrs}, ...children);
  map.marks.append(node);
  rescale(map, [node]);
  return node;
}

function viewOf(map) {
  return map.svg.getAttribute("viewBox").split(/\s+/).map(Number);
}

function unitsPerPixel(map) {
  const width = map.svg.clientWidth || map.svg.getBoundingClientRect().width;
  return width ? viewOf(map)[2] / width : viewOf(map)[2] / 800;
}

function rescale(map, nodes = map.marks.querySelectorAll("[data-px]")) {
  const unit = unitsPerPixel(map);
  for (const node of nodes) node.setAttribute("r", Number(node.getAttribute("data-px")) * unit);
}

// Show the box [x, y, w, h] (its width wins: the height is always w / 2, centred on the box).
function setView(map, box) {
  const [x, y, w, h] = box;
  const width = Math.min(Math.max(w, MIN_SPAN_DEG), 720);
  const cx = x + w / 2, cy = y + h / 2;
  map.svg.setAttribute("viewBox", [cx - width / 2, cy - width / 4, width, width / 2].map(v => +v.toFixed(6)).join(" "));
  rescale(map);
}

// The box around points [[lat, lon], ...] with `pad` of its size on each side, at least `minKm` wide.
function boxAround(points, {pad = 0.35, minKm = 2} = {}) {
  const xys = points.map(([lat, lon]) => xy(lat, lon));
  if (!xys.length) return WORLD_VIEW.slice();
  const xs = xys.map(p => p[0]), ys = xys.map(p => p[1]);
  const [x0, x1, y0, y1] = [Math.min(...xs), Math.max(...xs), Math.min(...ys), Math.max(...ys)];
  const width = Math.max((x1 - x0) * (1 + 2 * pad), (y1 - y0) * (1 + 2 * pad) * 2, minKm / KM_PER_DEG);
  return [(x0 + x1) / 2 - width / 2, (y0 + y1) / 2 - width / 4, width, width / 2];
}

// The points of a circle of `km` around (lat, lon): its north, south, east and west ends.
function circleExtent(lat, lon, km) {
  const dLat = km / KM_PER_DEG, dLon = Math.min(km / (KM_PER_DEG * Math.max(Math.cos(lat * Math.PI / 180), 0.05)), 180);
  return [[Math.min(lat + dLat, 90), lon], [Math.max(lat - dLat, -90), lon], [lat, lon - dLon], [lat, lon + dLon]];
}

// Zoom by `factor` (< 1 zooms in) keeping the map point (px, py) where it is on screen.
function zoomAt(map, factor, px, py) {
  const [x, y, w, h] = viewOf(map);
  const width = Math.min(Math.max(w * factor, MIN_SPAN_DEG), 720), f = width / w;
  setView(map, [px - (px - x) * f, py - (py - y) * f, width, width / 2]);
}

function mapPoint(map, event) {
  const point = new DOMPoint(event.clientX, event.clientY).matrixTransform(map.svg.getScreenCTM().inverse());
  return [point.x, point.y];
}

// Wheel zooms about the pointer; dragging pans. A drag does not count as a click on a mark.
function enableZoomPan(map) {
  const svg = map.svg;
  svg.addEventListener("wheel", event => {
    event.preventDefault();
    zoomAt(map, Math.exp(Math.max(-3, Math.min(3, event.deltaY * 0.002))), ...mapPoint(map, event));
  }, {passive: false});
  let drag = null;
  svg.addEventListener("pointerdown", event => {
    if (event.button !== 0) return;
    drag = {x: event.clientX, y: event.clientY, view: viewOf(map), unit: unitsPerPixel(map), moved: false};
  });
  window.addEventListener("pointermove", event => {
    if (!drag) return;
    const dx = event.clientX - drag.x, dy = event.clientY - drag.y;
    if (!drag.moved && Math.hypot(dx, dy) < 4) return;
    drag.moved = true;
    svg.classList.add("dragging");
    const [x, y, w, h] = drag.view;
    setView(map, [x - dx * drag.unit, y - dy * drag.unit, w, h]);
  });
  window.addEventListener("pointerup", () => {
    if (drag && drag.moved) {
      const swallow = e => { e.stopPropagation(); e.preventDefault(); };
      svg.addEventListener("click", swallow, {capture: true, once: true});
      setTimeout(() => svg.removeEventListener("click", swallow, {capture: true}), 0);
    }
    svg.classList.remove("dragging");
    drag = null;
  });
}
