"""The placement page's markup and style: header (title, headline, search and zoom tools),
side panel (cluster legend, reasons nodes stayed in TensorFlow, the selected node) and the SVG
canvas. Placeholders, filled by `ovtf.partitioner.html`: @TITLE@ (escaped title), @DATA@
(the report as JSON) and @SCRIPT@ (`ovtf.partitioner.html_script.SCRIPT`).

Nothing here is fetched from the network: the style is inline, as the page must open from a
file on a machine without access to anything else.
"""

MARKUP = r"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>@TITLE@</title>
<style>
  :root { --tf: #c0392b; --line: #9aa3ad; --ink: #1d2329; --muted: #67717b; }
  * { box-sizing: border-box; }
  body { margin: 0; font: 13px/1.4 system-ui, -apple-system, "Segoe UI", sans-serif;
         color: var(--ink); background: #f6f7f9; display: flex; flex-direction: column;
         height: 100vh; }
  header { padding: 10px 16px; background: #fff; border-bottom: 1px solid #dde1e6; }
  header h1 { font-size: 16px; margin: 0 0 2px 0; }
  header .headline { color: var(--muted); }
  #tools { display: flex; gap: 8px; align-items: center; margin-top: 8px; flex-wrap: wrap; }
  #search { width: 260px; padding: 4px 8px; border: 1px solid #c5ccd3; border-radius: 4px; }
  button { padding: 3px 10px; border: 1px solid #c5ccd3; background: #fff; border-radius: 4px;
           cursor: pointer; }
  button:hover { background: #eef1f4; }
  #matches { color: var(--muted); min-width: 90px; }
  main { flex: 1; display: flex; min-height: 0; }
  #side { width: 290px; overflow: auto; padding: 10px 12px; background: #fff;
          border-right: 1px solid #dde1e6; }
  #side h2 { font-size: 13px; margin: 12px 0 6px 0; text-transform: uppercase;
             letter-spacing: .04em; color: var(--muted); }
  .legend-row { display: flex; align-items: center; gap: 6px; padding: 2px 0; cursor: pointer; }
  .swatch { width: 14px; height: 14px; border-radius: 3px; flex: none;
            border: 1px solid rgba(0,0,0,.25); }
  .legend-row .state { margin-left: auto; color: var(--muted); font-size: 11px; }
  .reason-row { display: flex; gap: 6px; padding: 1px 0; }
  .reason-row .count { margin-left: auto; color: var(--muted); }
  #details { white-space: pre-wrap; word-break: break-all; font-size: 12px;
             background: #f6f7f9; padding: 6px; border-radius: 4px; min-height: 40px; }
  #canvas { flex: 1; overflow: auto; background: #fbfcfd; }
  svg text { font-size: 11px; pointer-events: none; }
  .node rect { stroke: #56606a; stroke-width: 1; }
  .node.tf rect { fill: #fff; }
  .node.tf.reason rect { fill: #fdecea; stroke: var(--tf); stroke-width: 1.5; }
  .node.aux rect { fill: #eef0f2; stroke: #b5bcc3; }
  .node .why { fill: var(--tf); font-size: 10px; }
  .node.match rect, .cluster-box.match rect { stroke: #f1c40f; stroke-width: 4; }
  .node.selected rect { stroke: #000; stroke-width: 3; }
  .node, .cluster-box { cursor: pointer; }
  .cluster-box rect { stroke: rgba(0,0,0,.45); stroke-width: 1.5; }
  .cluster-box text { fill: #fff; font-weight: 600; }
  .cluster-box text.sub { font-weight: 400; font-size: 10px; }
  .group rect { fill: #eef0f2; stroke: #b5bcc3; stroke-dasharray: 3 2; }
  .edge { fill: none; stroke: var(--line); stroke-width: 1; }
  .edge.back { stroke-dasharray: 4 3; }
  .edge.shared { stroke-opacity: .18; }
</style>
</head>
<body>
<header>
  <h1 id="title">@TITLE@</h1>
  <div class="headline" id="headline"></div>
  <div id="tools">
    <input id="search" type="search" placeholder="search node name (Enter: next match)">
    <span id="matches"></span>
    <button id="collapse-all">collapse clusters</button>
    <button id="expand-all">expand clusters</button>
    <button id="zoom-out">&minus;</button><button id="zoom-in">+</button>
  </div>
</header>
<main>
  <aside id="side">
    <h2>Clusters (run by OpenVINO)</h2><div id="legend"></div>
    <h2>Left in TensorFlow</h2><div id="reasons"></div>
    <h2>Selected node</h2><div id="details">click a node</div>
  </aside>
  <div id="canvas"><svg id="graph" xmlns="http://www.w3.org/2000/svg"></svg></div>
</main>
<script type="application/json" id="ovtf-data">@DATA@</script>
<script>
@SCRIPT@
</script>
</body>
</html>
"""
