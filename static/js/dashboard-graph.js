/* The dashboard's moral graph: one context's values as circles (area = score), votes as
   arrows from the less wise value to the wiser one (width = votes), a side panel for the
   selected value. No libraries; data only from our JSON endpoints; every piece of text goes
   in through textContent, so a card titled "<script>" shows as those characters.
   The layout is a fixed number of force steps from fixed starting points: the same data at
   the same width always gives the same picture. */
(function () {
  "use strict";

  var SVG_NS = "http://www.w3.org/2000/svg";
  var LABEL_CHARS = 22;
  var LABEL_CHAR_WIDTH = 6.6;
  var STEPS = 300;
  var GAP = 16;

  var figure = document.getElementById("graph");
  if (!figure) return;
  var canvas = document.getElementById("graph-canvas");
  var status = document.getElementById("graph-status");
  var panel = document.getElementById("graph-panel");
  var picker = document.getElementById("graph-context");
  var data = null;
  var selectedId = null;
  var panelRequest = 0;

  if (picker && picker.form) {
    picker.addEventListener("change", function () { picker.form.submit(); });
  }

  function svg(name, attrs) {
    var node = document.createElementNS(SVG_NS, name);
    Object.keys(attrs || {}).forEach(function (key) { node.setAttribute(key, String(attrs[key])); });
    return node;
  }

  function html(name, text, className) {
    var node = document.createElement(name);
    if (text !== undefined && text !== null) node.textContent = String(text);
    if (className) node.className = className;
    return node;
  }

  function clear(node) {
    while (node.firstChild) node.removeChild(node.firstChild);
  }

  function shorten(text) {
    return text.length > LABEL_CHARS ? text.slice(0, LABEL_CHARS - 1) + "\u2026" : text;
  }

  function formatScore(score) {
    return Number(score || 0).toFixed(3);
  }

  function getJSON(url) {
    return fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (response) {
        if (!response.ok) throw new Error("The server answered " + response.status + ".");
        return response.json();
      });
  }

  /* ---- layout ---------------------------------------------------------------------- */

  function size() {
    var width = Math.max(320, Math.min(960, Math.round(canvas.clientWidth || 640)));
    var crowd = data ? data.nodes.length * 30 : 0;
    var height = Math.max(360, Math.min(1100, Math.round(Math.max(width * 0.75, crowd))));
    return { width: width, height: height, scale: Math.max(0.6, Math.min(1, width / 640)) };
  }

  /* Fruchterman-Reingold forces plus a pull towards a height set by rank (wiser values
     higher), from points on a sunflower spiral in rank order. */
  function layout(nodes, edges, box) {
    var n = nodes.length;
    var pad = 40 * box.scale;
    var k = Math.sqrt((box.width * box.height) / Math.max(n, 1)) * 0.8;
    var index = {};
    var points = nodes.map(function (node, i) {
      index[node.id] = i;
      var angle = i * 2.399963229728653;
      var reach = Math.sqrt((i + 0.5) / n) * Math.min(box.width, box.height) * 0.4;
      return {
        x: box.width / 2 + reach * Math.cos(angle),
        y: box.height / 2 + reach * Math.sin(angle),
        r: node.radius * box.scale,
        goal: pad + (box.height - 2 * pad) * (n > 1 ? i / (n - 1) : 0.5),
      };
    });
    var links = edges.map(function (edge) { return [index[edge.source], index[edge.target]]; });
    var steps = n > 300 ? 80 : STEPS;
    for (var step = 0; step < steps; step++) {
      var heat = (box.width / 10) * (1 - step / steps) + 0.5;
      forceStep(points, links, k, heat, box, pad);
    }
    for (var pass = 0; pass < 50; pass++) separate(points, box, pad);
    return points;
  }

  function forceStep(points, links, k, heat, box, pad) {
    var moves = points.map(function () { return { x: 0, y: 0 }; });
    for (var a = 0; a < points.length; a++) {
      for (var b = a + 1; b < points.length; b++) {
        var dx = points[a].x - points[b].x;
        var dy = points[a].y - points[b].y;
        var d = Math.max(Math.sqrt(dx * dx + dy * dy), 0.01);
        var room = points[a].r + points[b].r + 24;
        var push = (k * k) / d + (d < room ? (room - d) * 2 : 0);
        moves[a].x += (dx / d) * push; moves[a].y += (dy / d) * push;
        moves[b].x -= (dx / d) * push; moves[b].y -= (dy / d) * push;
      }
    }
    links.forEach(function (link) {
      var s = points[link[0]], t = points[link[1]];
      var dx = s.x - t.x, dy = s.y - t.y;
      var d = Math.max(Math.sqrt(dx * dx + dy * dy), 0.01);
      var pull = (d * d) / k;
      moves[link[0]].x -= (dx / d) * pull; moves[link[0]].y -= (dy / d) * pull;
      moves[link[1]].x += (dx / d) * pull; moves[link[1]].y += (dy / d) * pull;
    });
    points.forEach(function (p, i) {
      moves[i].y += (p.goal - p.y) * k * 0.05;
      var length = Math.max(Math.sqrt(moves[i].x * moves[i].x + moves[i].y * moves[i].y), 0.01);
      var step = Math.min(length, heat);
      p.x = clamp(p.x + (moves[i].x / length) * step, pad + p.r, box.width - pad - p.r);
      p.y = clamp(p.y + (moves[i].y / length) * step, pad + p.r, box.height - pad - p.r);
    });
  }

  /* Push overlapping circles apart until none overlaps (or 50 passes). */
  function separate(points, box, pad) {
    for (var a = 0; a < points.length; a++) {
      for (var b = a + 1; b < points.length; b++) {
        var dx = points[b].x - points[a].x, dy = points[b].y - points[a].y;
        var d = Math.sqrt(dx * dx + dy * dy);
        var overlap = points[a].r + points[b].r + GAP - d;
        if (overlap <= 0) continue;
        var ux = d > 0.01 ? dx / d : 1, uy = d > 0.01 ? dy / d : 0;
        points[a].x -= (ux * overlap) / 2; points[a].y -= (uy * overlap) / 2;
        points[b].x += (ux * overlap) / 2; points[b].y += (uy * overlap) / 2;
      }
    }
    points.forEach(function (p) {
      p.x = clamp(p.x, pad + p.r, box.width - pad - p.r);
      p.y = clamp(p.y, pad + p.r, box.height - pad - p.r);
    });
  }

  function clamp(value, low, high) {
    return low > high ? (low + high) / 2 : Math.min(high, Math.max(low, value));
  }

  /* ---- drawing --------------------------------------------------------------------- */

  function draw() {
    var box = size();
    var points = layout(data.nodes, data.edges, box);
    var byId = {};
    data.nodes.forEach(function (node, i) { byId[node.id] = { node: node, point: points[i] }; });
    placeLabels(byId);
    var root = svg("svg", {
      viewBox: "0 0 " + box.width + " " + box.height,
      class: "graph-svg",
      role: "group",
      preserveAspectRatio: "xMidYMid meet",
    });
    root.setAttribute("aria-label", "Moral graph: " + data.context.name);
    var edgeLayer = svg("g", { class: "graph-edges" });
    var nodeLayer = svg("g", { class: "graph-nodes" });
    data.edges.forEach(function (edge) { edgeLayer.appendChild(drawEdge(edge, byId)); });
    data.nodes.forEach(function (node, i) { nodeLayer.appendChild(drawNode(node, points[i], box)); });
    root.appendChild(edgeLayer);
    root.appendChild(nodeLayer);
    clear(canvas);
    canvas.appendChild(root);
    if (!data.nodes.length) canvas.appendChild(html("p", "No values in this context yet.", "graph-status"));
  }

  function drawEdge(edge, byId) {
    var from = byId[edge.source], to = byId[edge.target];
    var s = from.point, t = to.point;
    var dx = t.x - s.x, dy = t.y - s.y;
    var d = Math.max(Math.sqrt(dx * dx + dy * dy), 0.01);
    var ux = dx / d, uy = dy / d;
    var head = 6 + edge.width * 1.2;
    var tipX = t.x - ux * (t.r + 2), tipY = t.y - uy * (t.r + 2);
    var baseX = tipX - ux * head, baseY = tipY - uy * head;
    var group = svg("g", { class: "graph-edge" + (edge.kept ? " graph-edge--kept" : "") });
    group.appendChild(svg("line", {
      x1: round(s.x + ux * s.r), y1: round(s.y + uy * s.r), x2: round(baseX), y2: round(baseY),
      "stroke-width": edge.width,
      "stroke-dasharray": edge.kept ? "none" : "6 4",
    }));
    var half = head * 0.55;
    group.appendChild(svg("path", {
      d: "M" + round(tipX) + "," + round(tipY) +
        " L" + round(baseX - uy * half) + "," + round(baseY + ux * half) +
        " L" + round(baseX + uy * half) + "," + round(baseY - ux * half) + " Z",
    }));
    var tip = svg("title");
    tip.textContent = from.node.title + " \u2192 " + to.node.title + ": " + edgeCounts(edge) +
      (edge.kept ? " (kept)" : " (not kept)");
    group.appendChild(tip);
    return group;
  }

  function edgeCounts(edge) {
    return edge.wiser + " wiser, " + edge.not_wiser + " not wiser, " + edge.less_wise +
      " less wise, " + edge.unsure + " unsure; " + edge.votes + " votes on the pair";
  }

  /* A label goes on the side of its node that fewer edges arrive from, so it does not hide
     the arrowheads. */
  function placeLabels(byId) {
    Object.keys(byId).forEach(function (id) { byId[id].point.pull = 0; });
    data.edges.forEach(function (edge) {
      var s = byId[edge.source].point, t = byId[edge.target].point;
      s.pull += t.y - s.y;
      t.pull += s.y - t.y;
    });
  }

  function drawNode(node, point, box) {
    var group = svg("g", {
      class: "graph-node" + (node.winner ? " graph-node--winner" : ""),
      transform: "translate(" + round(point.x) + "," + round(point.y) + ")",
      tabindex: 0,
      role: "button",
      "aria-pressed": node.id === selectedId ? "true" : "false",
      "data-id": node.id,
    });
    group.setAttribute("aria-label", nodeDescription(node));
    if (node.winner) group.appendChild(svg("circle", { r: round(point.r + 5), class: "graph-node__ring" }));
    group.appendChild(svg("circle", { r: round(point.r), class: "graph-node__dot" }));
    var text = shorten(node.title);
    var half = (text.length * LABEL_CHAR_WIDTH) / 2 + 2;
    var shift = clamp(point.x, half, box.width - half) - point.x;
    var label = svg("text", {
      x: round(shift),
      y: round(point.pull > 0 ? -point.r - 6 : point.r + 14),
      "text-anchor": "middle",
      class: "graph-node__label",
    });
    label.textContent = text;
    group.appendChild(label);
    var tip = svg("title");
    tip.textContent = node.title;
    group.appendChild(tip);
    group.addEventListener("click", function () { select(node); });
    group.addEventListener("keydown", function (event) {
      if (event.key === "Enter" || event.key === " " || event.key === "Spacebar") {
        event.preventDefault();
        select(node);
      }
    });
    return group;
  }

  function nodeDescription(node) {
    var rank = node.rank ? ", rank " + node.rank : ", unranked";
    return node.title + ", score " + formatScore(node.score) + rank + (node.winner ? ", top value" : "");
  }

  function round(value) {
    return Math.round(value * 10) / 10;
  }

  /* ---- side panel ------------------------------------------------------------------ */

  function select(node) {
    selectedId = node.id;
    canvas.querySelectorAll(".graph-node").forEach(function (g) {
      g.setAttribute("aria-pressed", g.getAttribute("data-id") === String(node.id) ? "true" : "false");
    });
    var ticket = ++panelRequest;
    showPanel(node, null);
    var url = figure.getAttribute("data-value-url").replace(/0\.json$/, node.id + ".json") +
      "?context=" + encodeURIComponent(figure.getAttribute("data-context"));
    getJSON(url)
      .then(function (value) { if (ticket === panelRequest) showPanel(node, value); })
      .catch(function (error) {
        if (ticket === panelRequest) panel.appendChild(html("p", error.message, "error"));
      });
  }

  function showPanel(node, value) {
    clear(panel);
    var title = html("h2", value ? value.title : node.title);
    title.id = "graph-panel-title";
    panel.appendChild(title);
    var facts = [node.rank ? "Rank " + node.rank : "Unranked", "score " + formatScore(node.score),
      node.cards + (node.cards === 1 ? " card" : " cards")];
    if (node.winner) facts.push("top value");
    panel.appendChild(html("p", facts.join(" \u00b7 "), "muted"));
    if (!value) {
      panel.appendChild(html("p", "Loading the card\u2026", "muted"));
      return;
    }
    panel.appendChild(html("p", value.description, "graph-panel__description"));
    appendList("Attentional policies", value.policies);
    appendVotes(value.votes_as_wiser);
    appendSupporters(value.supporters);
  }

  function appendList(heading, items) {
    if (!items || !items.length) return;
    panel.appendChild(html("h3", heading));
    var list = html("ul", null, "values-card__policies");
    items.forEach(function (item) { list.appendChild(html("li", item)); });
    panel.appendChild(list);
  }

  function appendVotes(votes) {
    panel.appendChild(html("h3", "Judged as the wiser value"));
    if (!votes.total) {
      panel.appendChild(html("p", "No votes on hypotheses towards this value here.", "muted"));
      return;
    }
    panel.appendChild(html("p", votes.wiser + " wiser, " + votes.not_wiser + " not wiser, " +
      votes.less_wise + " less wise, " + votes.unsure + " unsure (" + votes.total + " votes)."));
  }

  function appendSupporters(supporters) {
    panel.appendChild(html("h3", "Supporters"));
    panel.appendChild(html("p", supporters.card_count + " confirmed " +
      (supporters.card_count === 1 ? "card" : "cards") + " from " + supporters.participants +
      (supporters.participants === 1 ? " participant" : " participants") + "."));
    if (!supporters.cards.length) return;
    var list = html("ul", null, "graph-supporters");
    supporters.cards.forEach(function (card) {
      var item = html("li");
      item.appendChild(html("span", card.title, "graph-supporters__title"));
      var who = card.participant ? "participant " + card.participant : "imported";
      item.appendChild(html("span", " \u2014 " + who + (card.context ? ", " + card.context : ""), "muted"));
      list.appendChild(item);
    });
    panel.appendChild(list);
    if (supporters.cards.length < supporters.card_count) {
      panel.appendChild(html("p", "Showing the first " + supporters.cards.length + ".", "muted"));
    }
  }

  /* ---- start ----------------------------------------------------------------------- */

  var lastWidth = 0;
  var resizeTimer = 0;
  window.addEventListener("resize", function () {
    window.clearTimeout(resizeTimer);
    resizeTimer = window.setTimeout(function () {
      if (data && Math.abs(size().width - lastWidth) > 40) { lastWidth = size().width; draw(); }
    }, 200);
  });

  getJSON(figure.getAttribute("data-graph-url"))
    .then(function (graph) {
      data = graph;
      lastWidth = size().width;
      draw();
    })
    .catch(function (error) {
      status.textContent = "The graph could not be loaded. " + error.message;
    });
})();
