// workbench: one chart of the web app (widgets/chart.py), drawn by plotly.js's basic bundle.
//
// The model holds the chart as JSON text: `base`, the whole figure, and `patch`, what the latest
// drawing changed since then (per trace, the data properties that differ; in the layout, values by
// dotted path). A filter change sends only the patch, so a map's ward outlines cross once.

// One copy of plotly.js per page, shared by every chart and by the warmer (a chart with no figure
// that loads it while the page waits for the passphrase). A classic script, not a module: the
// bundle sets window.Plotly.
function loadPlotly(url) {
  if (!globalThis.__workbenchPlotly) {
    globalThis.__workbenchPlotly = new Promise((resolve, reject) => {
      const script = document.createElement("script");
      script.src = url;
      script.onload = () => resolve(globalThis.Plotly);
      script.onerror = () => {
        globalThis.__workbenchPlotly = null; // let a later chart try again
        reject(new Error("The chart library did not load; reload the page."));
      };
      document.head.appendChild(script);
    });
  }
  return globalThis.__workbenchPlotly;
}

function setPath(target, path, value) {
  const keys = path.split(".");
  let node = target;
  for (const key of keys.slice(0, -1)) {
    if (node[key] === null || typeof node[key] !== "object") node[key] = {};
    node = node[key];
  }
  node[keys[keys.length - 1]] = value;
}

// The figure to draw: the base's traces with the patch's properties over them. Arrays the patch
// leaves alone stay the same objects between draws, so plotly.react sees them unchanged and only
// restyles (a map's outlines are not recomputed); the layout is copied, as plotly writes into it.
function figureOf(base, patch) {
  const changed = patch.data || [];
  const data = base.data.map((trace, i) => ({ ...trace, ...(changed[i] || {}) }));
  const layout = structuredClone(base.layout || {});
  for (const [path, value] of Object.entries(patch.layout || {})) setPath(layout, path, value);
  return { data, layout };
}

const CONFIG = { displaylogo: false, responsive: true };

// plotly's first chart on a page costs 100-200 ms more than the next (measuring fonts, adding its
// styles): the warmer pays that while the page waits for the passphrase, off screen.
async function firstChart(Plotly) {
  const div = document.createElement("div");
  div.style.cssText = "position:absolute;left:-10000px;top:0;width:400px;height:300px";
  document.body.appendChild(div);
  try {
    await Plotly.newPlot(div, [
      { type: "bar", x: ["a", "b"], y: [1, 2], text: ["1", "2"], textposition: "outside" },
      { type: "scatter", x: [0, 1, 1, 0], y: [0, 0, 1, 1], fill: "toself", mode: "lines+text", text: ["x"] },
    ], { title: { text: "warm-up" }, xaxis: { title: { text: "x" } } }, { staticPlot: true });
  } finally {
    Plotly.purge(div);
    div.remove();
  }
}

async function render({ model, el }) {
  const Plotly = await loadPlotly(new URL(model.get("bundle"), document.baseURI).href);
  if (!model.get("base")) return firstChart(Plotly); // the warmer: nothing of its own to draw
  // plotly measures the element for the chart's width: wait until it is on the page.
  while (!el.isConnected) await new Promise((resolve) => requestAnimationFrame(resolve));
  let baseText = null;
  let base = null;
  let pending = false;
  const draw = () => {
    pending = false;
    if (model.get("base") !== baseText) {
      baseText = model.get("base");
      base = JSON.parse(baseText);
    }
    const figure = figureOf(base, JSON.parse(model.get("patch") || "{}"));
    return Plotly.react(el, figure.data, figure.layout, CONFIG);
  };
  // A new base and its patch arrive as one message but two change events: draw once for both.
  const later = () => {
    if (!pending) {
      pending = true;
      queueMicrotask(draw);
    }
  };
  await draw();
  el.on("plotly_click", (event) => {
    const point = event && event.points && event.points[0];
    if (point) model.send({ type: "click", trace: point.curveNumber });
  });
  model.on("change:base", later);
  model.on("change:patch", later);
  return () => {
    model.off("change:base", later);
    model.off("change:patch", later);
    Plotly.purge(el);
  };
}

export default { render };
