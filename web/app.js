// netsentry web UI: plain JavaScript, no framework, no network access beyond this server.
'use strict';

(function () {
  const $ = (sel) => document.querySelector(sel);

  // Creates an element: el('td', {class: 'x', title: 't'}, 'text', childNode, ...). Text is never parsed as HTML.
  function el(tag, attrs, ...children) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === undefined || v === null) continue;
      if (k === 'class') e.className = v;
      else if (k === 'dataset') Object.assign(e.dataset, v);
      else e.setAttribute(k, v);
    }
    for (const c of children) {
      if (c === null || c === undefined) continue;
      e.appendChild(typeof c === 'string' || typeof c === 'number' ? document.createTextNode(String(c)) : c);
    }
    return e;
  }

  function clear(node) { while (node.firstChild) node.removeChild(node.firstChild); }

  function status(node, text, kind) {
    node.textContent = text || '';
    node.className = 'status' + (kind ? ' ' + kind : '');
  }

  function fmt(x, digits) {
    if (x === null || x === undefined || Number.isNaN(x)) return '';
    if (typeof x !== 'number') return String(x);
    return Number.isInteger(x) ? String(x) : x.toFixed(digits === undefined ? 3 : digits);
  }

  function pct(p) { return (100 * p).toFixed(1) + '%'; }

  // An error answer of the API as one line: "message (column X, row N)".
  async function apiError(res) {
    let msg = res.status + ' ' + res.statusText;
    try {
      const j = await res.json();
      if (j && j.error) {
        msg = j.error;
        const where = [];
        if (j.column) where.push('column ' + j.column);
        if (j.row !== null && j.row !== undefined) where.push('row ' + j.row);
        if (where.length) msg += ' (' + where.join(', ') + ')';
      }
    } catch (e) { /* not JSON */ }
    return msg;
  }

  // ---- CSV (RFC 4180) --------------------------------------------------------------------------

  function parseCsv(text) {
    const rows = [];
    let row = [], field = '', i = 0, quoted = false;
    while (i < text.length) {
      const c = text[i];
      if (quoted) {
        if (c === '"') {
          if (text[i + 1] === '"') { field += '"'; i += 2; continue; }
          quoted = false; i++; continue;
        }
        field += c; i++; continue;
      }
      if (c === '"' && field === '') { quoted = true; i++; continue; }
      if (c === ',') { row.push(field); field = ''; i++; continue; }
      if (c === '\r' || c === '\n') {
        if (c === '\r' && text[i + 1] === '\n') i++;
        i++;
        row.push(field); field = '';
        if (!(row.length === 1 && row[0] === '')) rows.push(row);
        row = [];
        continue;
      }
      field += c; i++;
    }
    if (field !== '' || row.length) { row.push(field); rows.push(row); }
    return rows;
  }

  function csvField(v) {
    const s = v === null || v === undefined ? '' : String(v);
    return /[",\r\n]/.test(s) ? '"' + s.replace(/"/g, '""') + '"' : s;
  }

  // ---- tabs ------------------------------------------------------------------------------------

  function showTab(name) {
    if (!document.querySelector('[data-panel="' + name + '"]')) name = 'predict';
    document.querySelectorAll('[data-panel]').forEach((p) => { p.hidden = p.dataset.panel !== name; });
    document.querySelectorAll('.tab').forEach((t) => {
      t.classList.toggle('active', t.dataset.tab === name);
      t.setAttribute('aria-selected', t.dataset.tab === name ? 'true' : 'false');
    });
    if (name === 'model') loadModelPage();
    if (name === 'single') buildSingleForm();
  }
  window.addEventListener('hashchange', () => showTab(location.hash.slice(1)));

  // ---- the model (GET /api/v1/model) -----------------------------------------------------------

  let model = null;

  async function fetchModel() {
    const res = await fetch('/api/v1/model', {headers: {Accept: 'application/json'}});
    if (!res.ok) throw new Error(await apiError(res));
    model = await res.json();
    const badge = $('#model-badge');
    badge.textContent = 'model ' + model.version;
    badge.classList.add('ok');
    return model;
  }

  function verdictClass(verdict) {
    if (!model) return 'v-other';
    const c = model.classes.find((k) => k.verdict === verdict);
    return c ? (c.threat ? 'v-threat' : 'v-benign') : 'v-other';
  }

  // ---- CSV scoring -----------------------------------------------------------------------------

  const state = {file: null, header: [], rows: [], predictions: [], sortKey: 'row', sortDir: 1, filter: ''};

  function setFile(f) {
    state.file = f || null;
    $('#file-name').textContent = f ? f.name + ' (' + Math.max(1, Math.round(f.size / 1024)) + ' KiB)' : 'or drop it here';
    $('#score-btn').disabled = !f;
  }

  $('#csv-file').addEventListener('change', (e) => setFile(e.target.files[0]));
  const dz = $('#dropzone');
  dz.addEventListener('dragover', (e) => { e.preventDefault(); dz.classList.add('over'); });
  dz.addEventListener('dragleave', () => dz.classList.remove('over'));
  dz.addEventListener('drop', (e) => {
    e.preventDefault();
    dz.classList.remove('over');
    if (e.dataTransfer.files.length) setFile(e.dataTransfer.files[0]);
  });

  $('#score-btn').addEventListener('click', scoreFile);

  async function scoreFile() {
    const st = $('#predict-status');
    if (!state.file) return;
    $('#score-btn').disabled = true;
    status(st, 'Scoring ' + state.file.name + '…', 'busy');
    try {
      const text = await state.file.text();
      const t0 = performance.now();
      const res = await fetch('/api/v1/predict/csv', {
        method: 'POST',
        headers: {'Content-Type': 'text/csv', Accept: 'application/json'},
        body: text,
      });
      if (!res.ok) throw new Error(await apiError(res));
      const out = await res.json();
      const ms = performance.now() - t0;
      const parsed = parseCsv(text);
      state.header = parsed[0] || [];
      state.rows = parsed.slice(1);
      state.predictions = out.predictions;
      state.version = out.model_version;
      state.explanations = out.explanations || '';
      state.sortKey = 'row';
      state.sortDir = 1;
      state.filter = '';
      if (!model) { try { await fetchModel(); } catch (e) { /* the table still shows */ } }
      status(st, 'Scored ' + out.count + ' rows with model ' + out.model_version + ' in ' + ms.toFixed(0) + ' ms.' +
        (out.explanations ? ' Reasons ' + out.explanations + '.' : ''), 'ok');
      renderSummary();
      renderResults();
    } catch (e) {
      status(st, 'Could not score the file: ' + e.message, 'error');
      $('#results').hidden = true;
      $('#summary').hidden = true;
      $('#results-toolbar').hidden = true;
    } finally {
      $('#score-btn').disabled = !state.file;
    }
  }

  function targetIndex() {
    if (!model) return -1;
    return state.header.indexOf(model.target);
  }

  function renderSummary() {
    const counts = {};
    for (const p of state.predictions) counts[p.verdict] = (counts[p.verdict] || 0) + 1;
    const s = $('#summary');
    clear(s);
    s.appendChild(el('span', {class: 'summary-total'}, state.predictions.length + ' rows'));
    for (const [v, n] of Object.entries(counts)) {
      s.appendChild(el('span', {class: 'pill ' + verdictClass(v)}, v + ': ' + n + ' (' + pct(n / state.predictions.length) + ')'));
    }
    const ti = targetIndex();
    if (ti >= 0 && model) {
      let agree = 0, known = 0;
      state.predictions.forEach((p, i) => {
        const actual = (state.rows[i] || [])[ti];
        if (actual === undefined || actual === '') return;
        known++;
        if (String(Number(actual)) === p.label || actual === p.label) agree++;
      });
      if (known) s.appendChild(el('span', {class: 'muted'}, 'agreement with ' + model.target + ': ' + pct(agree / known)));
    }
    s.hidden = false;
    const sel = $('#filter-verdict');
    clear(sel);
    sel.appendChild(el('option', {value: ''}, 'all rows'));
    for (const v of Object.keys(counts)) sel.appendChild(el('option', {value: v}, v + ' only'));
    $('#results-toolbar').hidden = false;
  }

  $('#filter-verdict').addEventListener('change', (e) => { state.filter = e.target.value; renderResults(); });

  function reasonsText(p) {
    return (p.reasons || []).map((r) => r.feature + '=' + fmt(r.value) + ' (' + (r.contribution > 0 ? '+' : '') + fmt(r.contribution, 2) + ')').join('; ');
  }

  const columns = [
    {key: 'row', title: '#', value: (p) => p.row},
    {key: 'verdict', title: 'Verdict', value: (p) => p.verdict},
    {key: 'probability', title: 'P(threat)', value: (p) => p.probability},
    {key: 'actual', title: 'Actual', value: (p) => actualOf(p)},
    {key: 'reasons', title: 'Top reasons', value: (p) => reasonsText(p)},
  ];

  function actualOf(p) {
    const ti = targetIndex();
    return ti >= 0 ? (state.rows[p.row] || [])[ti] : undefined;
  }

  function renderResults() {
    const table = $('#results');
    const headRow = table.tHead.rows[0];
    clear(headRow);
    const hasActual = targetIndex() >= 0;
    const cols = columns.filter((c) => c.key !== 'actual' || hasActual);
    for (const c of cols) {
      const th = el('th', {dataset: {key: c.key}, class: 'sortable' + (state.sortKey === c.key ? (state.sortDir > 0 ? ' asc' : ' desc') : ''), title: 'sort by ' + c.title}, c.title);
      th.addEventListener('click', () => {
        if (state.sortKey === c.key) state.sortDir = -state.sortDir;
        else { state.sortKey = c.key; state.sortDir = c.key === 'probability' ? -1 : 1; }
        renderResults();
      });
      headRow.appendChild(th);
    }
    const col = cols.find((c) => c.key === state.sortKey) || cols[0];
    const rows = state.predictions.filter((p) => !state.filter || p.verdict === state.filter);
    rows.sort((a, b) => {
      const x = col.value(a), y = col.value(b);
      const nx = Number(x), ny = Number(y);
      const cmp = (!Number.isNaN(nx) && !Number.isNaN(ny) && x !== '' && y !== '') ? nx - ny : String(x).localeCompare(String(y));
      return (cmp || a.row - b.row) * state.sortDir;
    });
    const body = table.tBodies[0];
    clear(body);
    const frag = document.createDocumentFragment();
    for (const p of rows) {
      const tr = el('tr', {class: verdictClass(p.verdict)});
      tr.appendChild(el('td', {class: 'num'}, p.row + 1));
      tr.appendChild(el('td', {}, el('span', {class: 'verdict pill ' + verdictClass(p.verdict)}, p.verdict)));
      const bar = el('div', {class: 'pbar'}, el('div', {class: 'pbar-fill ' + verdictClass(p.verdict)}));
      bar.firstChild.style.width = pct(p.probability);
      tr.appendChild(el('td', {class: 'prob'}, bar, el('span', {class: 'pval'}, pct(p.probability))));
      if (hasActual) tr.appendChild(el('td', {class: 'num'}, actualOf(p) || ''));
      const reasons = el('td', {class: 'reasons'});
      for (const r of p.reasons || []) {
        reasons.appendChild(el('span', {class: 'reason ' + verdictClass(r.towards), title: 'contribution ' + fmt(r.contribution, 4) + ' towards ' + r.towards},
          r.feature + ' = ' + fmt(r.value)));
      }
      if (!p.reasons) reasons.appendChild(el('span', {class: 'muted'}, state.explanations ? 'not explained (cost budget)' : 'no explanation for this model'));
      tr.appendChild(reasons);
      frag.appendChild(tr);
    }
    body.appendChild(frag);
    table.hidden = false;
  }

  $('#download-btn').addEventListener('click', () => {
    const extra = ['label', 'verdict', 'probability', 'reasons'].map((n) => (state.header.includes(n) ? 'predicted_' + n : n));
    const lines = [state.header.concat(extra).map(csvField).join(',')];
    state.predictions.forEach((p) => {
      const input = state.rows[p.row] || [];
      lines.push(input.concat([p.label, p.verdict, p.probability, reasonsText(p)]).map(csvField).join(','));
    });
    const blob = new Blob([lines.join('\r\n') + '\r\n'], {type: 'text/csv'});
    const a = el('a', {href: URL.createObjectURL(blob), download: (state.file ? state.file.name.replace(/\.csv$/i, '') : 'results') + '-predictions.csv'});
    document.body.appendChild(a);
    a.click();
    setTimeout(() => { URL.revokeObjectURL(a.href); a.remove(); }, 1000);
  });

  // ---- single record ---------------------------------------------------------------------------

  let formVersion = null;

  async function buildSingleForm() {
    const st = $('#single-status');
    try {
      await fetchModel();
    } catch (e) {
      status(st, 'No model: ' + e.message, 'error');
      return;
    }
    if (formVersion === model.version) return;
    formVersion = model.version;
    const box = $('#single-fields');
    clear(box);
    for (const f of model.features) {
      const id = 'f-' + f.name;
      const input = el('input', {type: 'number', step: 'any', id: id, name: f.name, placeholder: 'missing', inputmode: 'decimal'});
      box.appendChild(el('label', {class: 'field', for: id}, el('span', {class: 'fname', title: f.name + ' (' + f.type + ')'}, f.name), input));
    }
    status(st, model.features.length + ' features of model ' + model.version + '.', '');
  }

  $('#single-reset').addEventListener('click', () => {
    document.querySelectorAll('#single-fields input').forEach((i) => { i.value = ''; });
    $('#single-result').hidden = true;
  });

  $('#single-form').addEventListener('submit', async (e) => {
    e.preventDefault();
    const st = $('#single-status');
    const record = {};
    document.querySelectorAll('#single-fields input').forEach((i) => { record[i.name] = i.value === '' ? null : Number(i.value); });
    status(st, 'Scoring…', 'busy');
    try {
      const res = await fetch('/api/v1/predict', {
        method: 'POST',
        headers: {'Content-Type': 'application/json', Accept: 'application/json'},
        body: JSON.stringify({records: [record]}),
      });
      if (!res.ok) throw new Error(await apiError(res));
      const out = await res.json();
      renderVerdict(out.predictions[0], out.model_version, out.explanations);
      status(st, '', '');
    } catch (err) {
      status(st, 'Could not score: ' + err.message, 'error');
    }
  });

  function renderVerdict(p, version, note) {
    const box = $('#single-result');
    clear(box);
    box.className = 'verdict-card ' + verdictClass(p.verdict);
    box.appendChild(el('div', {class: 'big-verdict'}, p.verdict));
    box.appendChild(el('div', {class: 'big-prob'}, pct(p.probability) + ' probability of a threat · model ' + version));
    const classes = Object.entries(p.probabilities || {});
    if (classes.length > 2) {  // a model of several classes: every class's probability, most likely first
      classes.sort((a, b) => b[1] - a[1]);
      const list = el('div', {class: 'bars class-probabilities'});
      for (const [value, prob] of classes) {
        const c = model && model.classes.find((k) => k.value === value);
        const name = c ? c.verdict : value;
        const fill = el('div', {class: 'bar-fill ' + verdictClass(name)});
        fill.style.width = (100 * prob).toFixed(1) + '%';
        list.appendChild(el('div', {class: 'bar-row'},
          el('span', {class: 'bar-label'}, name),
          el('div', {class: 'bar'}, fill),
          el('span', {class: 'bar-value'}, pct(prob))));
      }
      box.appendChild(el('h3', {}, 'Class probabilities'));
      box.appendChild(list);
    }
    if (p.reasons && p.reasons.length) {
      const max = Math.max(...p.reasons.map((r) => Math.abs(r.contribution)));
      const list = el('div', {class: 'bars'});
      for (const r of p.reasons) {
        const fill = el('div', {class: 'bar-fill ' + verdictClass(r.towards)});
        fill.style.width = (100 * Math.abs(r.contribution) / max).toFixed(1) + '%';
        list.appendChild(el('div', {class: 'bar-row'},
          el('span', {class: 'bar-label'}, r.feature + ' = ' + fmt(r.value)),
          el('div', {class: 'bar'}, fill),
          el('span', {class: 'bar-value'}, (r.contribution > 0 ? '+' : '') + fmt(r.contribution, 3) + ' → ' + r.towards)));
      }
      box.appendChild(el('h3', {}, 'Top reasons'));
      box.appendChild(list);
    } else if (note) {
      box.appendChild(el('p', {class: 'muted'}, 'Reasons ' + note + '.'));
    }
    box.hidden = false;
  }

  // ---- model page ------------------------------------------------------------------------------

  async function loadModelPage() {
    const st = $('#model-status');
    try {
      await fetchModel();
      status(st, '', '');
    } catch (e) {
      status(st, 'No model: ' + e.message, 'error');
      return;
    }
    const info = $('#model-info');
    clear(info);
    const kv = (dl, k, v) => { dl.appendChild(el('dt', {}, k)); dl.appendChild(el('dd', {}, v === undefined || v === '' ? '—' : String(v))); };
    kv(info, 'version', model.version);
    kv(info, 'family', model.family);
    kv(info, 'created', model.created_at);
    kv(info, 'target', model.target);
    kv(info, 'features', model.features.length);
    kv(info, 'explanations', !model.can_explain ? 'no'
      : model.explain_method === 'path' ? 'tree-path attributions (exact SHAP would be slow for this model)'
      : 'yes');
    const met = $('#model-metrics');
    clear(met);
    const all = model.metrics || {};
    const metrics = (all.test && typeof all.test === 'object') ? all.test : all;
    for (const [k, v] of Object.entries(metrics)) {
      if (typeof v === 'number') kv(met, k, fmt(v, 4));
    }
    if (all.train && typeof all.train[all.metric] === 'number') kv(met, 'train ' + all.metric, fmt(all.train[all.metric], 4));
    if (all.gate && all.gate.reason) kv(met, 'gate', all.gate.reason);
    if (!met.firstChild) kv(met, 'metrics', 'none recorded');
    renderConfusion(model.confusion_matrix);
    const imp = $('#model-importance');
    clear(imp);
    const fi = (model.feature_importance || []).filter((x) => x.importance > 0);
    const max = fi.length ? fi[0].importance : 1;
    for (const x of fi) {
      const fill = el('div', {class: 'bar-fill imp'});
      fill.style.width = (100 * x.importance / max).toFixed(1) + '%';
      imp.appendChild(el('div', {class: 'bar-row'}, el('span', {class: 'bar-label'}, x.feature), el('div', {class: 'bar'}, fill),
        el('span', {class: 'bar-value'}, fmt(x.importance, 2))));
    }
    if (!fi.length) imp.appendChild(el('p', {class: 'muted'}, 'This model reports no feature importance.'));
  }

  function renderConfusion(cm) {
    const box = $('#model-confusion');
    clear(box);
    let m = cm;
    if (m && !Array.isArray(m) && typeof m === 'object') {
      // {tn, fp, fn, tp} or {matrix: [[...]]}
      if (Array.isArray(m.matrix)) m = m.matrix;
      else if ('tn' in m) m = [[m.tn, m.fp], [m.fn, m.tp]];
    }
    if (!Array.isArray(m) || m.length !== 2) { box.appendChild(el('p', {class: 'muted'}, 'not recorded')); return; }
    const names = model.classes.map((c) => c.verdict);
    const total = m.flat().reduce((a, b) => a + b, 0) || 1;
    const t = el('table', {class: 'confusion'});
    t.appendChild(el('tr', {}, el('th', {}, 'actual \\ predicted'), el('th', {}, names[0]), el('th', {}, names[1])));
    for (let i = 0; i < 2; i++) {
      const tr = el('tr', {}, el('th', {}, names[i]));
      for (let j = 0; j < 2; j++) {
        const td = el('td', {class: i === j ? 'diag' : 'off'}, String(m[i][j]), el('small', {}, pct(m[i][j] / total)));
        tr.appendChild(td);
      }
      t.appendChild(tr);
    }
    box.appendChild(t);
  }

  // ---- training --------------------------------------------------------------------------------

  const tokenInput = $('#train-token');
  tokenInput.value = sessionStorage.getItem('netsentry-token') || '';
  let pollTimer = null;

  $('#train-form').addEventListener('submit', async (e) => {
    e.preventDefault();
    const st = $('#train-status');
    const token = tokenInput.value.trim();
    sessionStorage.setItem('netsentry-token', token);
    const body = {};
    const data = $('#train-data').value.trim();
    if (data) body.data = data;
    status(st, 'Starting…', 'busy');
    try {
      const res = await fetch('/api/v1/train', {
        method: 'POST',
        headers: {'Content-Type': 'application/json', Authorization: 'Bearer ' + token},
        body: JSON.stringify(body),
      });
      if (!res.ok) throw new Error(await apiError(res));
      const job = await res.json();
      status(st, 'Job ' + job.id + ' started.', 'ok');
      watchJob(job.id);
    } catch (err) {
      status(st, 'Could not start training: ' + err.message, 'error');
    }
  });

  function watchJob(id) {
    if (pollTimer) clearTimeout(pollTimer);
    $('#train-job').hidden = false;
    $('#train-job-id').textContent = 'job ' + id;
    $('#train-result').hidden = true;
    const poll = async () => {
      try {
        const res = await fetch('/api/v1/train/' + encodeURIComponent(id), {
          headers: {Authorization: 'Bearer ' + (sessionStorage.getItem('netsentry-token') || '')},
        });
        if (!res.ok) throw new Error(await apiError(res));
        const j = await res.json();
        const pill = $('#train-job-state');
        pill.textContent = j.status;
        pill.className = 'pill s-' + j.status;
        $('#train-progress').style.width = pct(j.progress || 0);
        $('#train-stage').textContent = j.stage ? 'stage: ' + j.stage + ' (' + pct(j.progress || 0) + ')' : '';
        if (j.status === 'succeeded' || j.status === 'failed') {
          const pre = $('#train-result');
          pre.textContent = JSON.stringify(j.status === 'succeeded' ? j.result : j.error, null, 2);
          pre.hidden = false;
          if (j.status === 'succeeded') { formVersion = null; fetchModel().catch(() => {}); }
          return;
        }
      } catch (err) {
        status($('#train-status'), 'Lost the job: ' + err.message, 'error');
        return;
      }
      pollTimer = setTimeout(poll, 1000);
    };
    poll();
  }

  // ---- start -----------------------------------------------------------------------------------
  fetchModel().catch(() => { $('#model-badge').textContent = 'no model loaded'; });
  showTab(location.hash.slice(1) || 'predict');
})();
