/**
 * The reference page at /docs: one self-contained HTML page (no CDN, no script from elsewhere)
 * that reads /v1/openapi.json and lists every operation with its parameters, body and answers.
 */
export const DOCS_PAGE = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>Roomgate tenant API</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
body{font:15px/1.5 system-ui,sans-serif;margin:0 auto;max-width:60rem;padding:1rem 2rem;color:#1b1f24}
h1{margin-bottom:.2rem}h2{border-bottom:1px solid #ddd;margin-top:2rem}
.op{border:1px solid #ddd;border-radius:6px;margin:1rem 0;padding:.5rem 1rem}
.method{font-weight:700;text-transform:uppercase;margin-right:.5rem}
code,pre{font:13px/1.4 ui-monospace,monospace}pre{background:#f6f8fa;padding:.5rem;overflow:auto;max-height:24rem}
summary{cursor:pointer}
</style>
</head>
<body>
<h1>Roomgate tenant API</h1>
<p>The machine-readable document: <a href="/v1/openapi.json">/v1/openapi.json</a> (OpenAPI 3.1).</p>
<div id="doc">Loading…</div>
<script>
const esc = (text) => String(text).replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c]);
const pre = (value) => '<pre>' + esc(JSON.stringify(value, null, 2)) + '</pre>';
fetch('/v1/openapi.json').then((r) => r.json()).then((doc) => {
  let html = '<p>' + esc(doc.info.description || '') + '</p>';
  const byTag = {};
  for (const [path, item] of Object.entries(doc.paths)) {
    for (const [method, op] of Object.entries(item)) {
      const tag = (op.tags && op.tags[0]) || 'other';
      (byTag[tag] = byTag[tag] || []).push({ path, method, op });
    }
  }
  for (const [tag, ops] of Object.entries(byTag)) {
    html += '<h2>' + esc(tag) + '</h2>';
    for (const { path, method, op } of ops) {
      html += '<div class="op"><div><span class="method">' + esc(method) + '</span><code>' + esc(path) + '</code></div>';
      if (op.summary) html += '<p>' + esc(op.summary) + '</p>';
      if (op.description) html += '<p>' + esc(op.description) + '</p>';
      if (op.parameters && op.parameters.length) html += '<details><summary>Parameters</summary>' + pre(op.parameters) + '</details>';
      if (op.requestBody) html += '<details><summary>Body</summary>' + pre(op.requestBody) + '</details>';
      html += '<details><summary>Answers: ' + esc(Object.keys(op.responses || {}).join(', ')) + '</summary>' + pre(op.responses) + '</details></div>';
    }
  }
  html += '<h2>Models</h2>' + pre((doc.components || {}).schemas || {});
  document.getElementById('doc').innerHTML = html;
}, (error) => { document.getElementById('doc').textContent = 'Could not load the document: ' + error; });
</script>
</body>
</html>
`;
