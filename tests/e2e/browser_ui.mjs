// Drives the netsentry web UI in Debian's chromium (playwright-core, no browser download):
// uploads a CSV, checks the verdict table against the JSON API, sorts it, scores one record from
// the generated form, opens the model page, and saves screenshots.
// Usage: node browser_ui.mjs BASE_URL CSV_FILE SCREENSHOT_DIR
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {chromium} from 'playwright-core';

const [base, csvFile, shotDir] = process.argv.slice(2);
if (!base || !csvFile || !shotDir) {
  console.error('usage: node browser_ui.mjs BASE_URL CSV_FILE SCREENSHOT_DIR');
  process.exit(2);
}
fs.mkdirSync(shotDir, {recursive: true});

function check(cond, what) {
  if (!cond) throw new Error('check failed: ' + what);
  console.log('ok - ' + what);
}

// What the API says about the same file, to compare the table with.
const csvText = fs.readFileSync(csvFile, 'utf8');
const apiRes = await fetch(base + '/api/v1/predict/csv', {
  method: 'POST',
  headers: {'Content-Type': 'text/csv', Accept: 'application/json'},
  body: csvText,
});
check(apiRes.ok, 'the API scores the CSV');
const api = await apiRes.json();
const rows = api.predictions.length;

const userDataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'netsentry-chromium-'));
const context = await chromium.launchPersistentContext(userDataDir, {
  executablePath: '/usr/bin/chromium',
  headless: true,
  viewport: {width: 1280, height: 900},
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync'],
});
const errors = [];
try {
  const page = context.pages()[0] || await context.newPage();
  page.on('pageerror', (e) => errors.push(String(e)));
  page.on('console', (m) => { if (m.type() === 'error') errors.push(m.text()); });
  // Nothing may leave the machine: every request goes to the server under test.
  await context.route('**/*', (route) => (route.request().url().startsWith(base) ? route.continue() : route.abort()));

  await page.goto(base + '/', {waitUntil: 'load'});
  await page.waitForFunction(() => document.querySelector('#model-badge').textContent.startsWith('model '));
  check((await page.textContent('#model-badge')).includes(api.model_version), 'the header shows the model version');

  // Upload and score.
  await page.setInputFiles('#csv-file', csvFile);
  check(await page.isEnabled('#score-btn'), 'the Score button is enabled once a file is chosen');
  await page.click('#score-btn');
  await page.waitForFunction((n) => document.querySelectorAll('#results tbody tr').length === n, rows, {timeout: 30000});
  check(true, `the table has one line per CSV row (${rows})`);
  const verdicts = await page.$$eval('#results tbody tr .verdict', (els) => els.map((e) => e.textContent));
  check(verdicts.every((v) => v === 'phishing' || v === 'legitimate'), 'every verdict is phishing or legitimate');
  check(JSON.stringify(verdicts) === JSON.stringify(api.predictions.map((p) => p.verdict)),
    'the verdicts are the API\'s, in file order');
  const colours = await page.$$eval('#results tbody tr .verdict', (els) =>
    els.map((e) => getComputedStyle(e).color));
  const phishingColour = colours[verdicts.indexOf('phishing')], legitColour = colours[verdicts.indexOf('legitimate')];
  if (verdicts.includes('phishing') && verdicts.includes('legitimate')) {
    check(phishingColour !== legitColour, `verdicts are coloured (${phishingColour} vs ${legitColour})`);
  }
  const model = await (await fetch(base + '/api/v1/model')).json();
  if (model.can_explain && !api.explanations) {
    const reasons = await page.$$eval('#results tbody tr:first-child .reason', (els) => els.length);
    check(reasons >= 1, 'rows show their top reasons');
  } else {
    const cell = await page.textContent('#results tbody tr:first-child td.reasons');
    check(/explan/.test(cell), `rows say why they have no reasons (${model.family}: ${api.explanations || 'no explanations'})`);
  }
  const summary = await page.textContent('#summary');
  check(summary.includes(rows + ' rows'), 'the summary counts the rows');
  await page.screenshot({path: path.join(shotDir, 'ui-predict.png'), fullPage: false});

  // Sort by probability (descending first), then ascending.
  await page.click('#results th[data-key="probability"]');
  let probs = await page.$$eval('#results tbody tr .pval', (els) => els.map((e) => parseFloat(e.textContent)));
  check(probs.every((p, i) => i === 0 || probs[i - 1] >= p), 'sorting by probability (descending) works');
  await page.click('#results th[data-key="probability"]');
  probs = await page.$$eval('#results tbody tr .pval', (els) => els.map((e) => parseFloat(e.textContent)));
  check(probs.every((p, i) => i === 0 || probs[i - 1] <= p), 'sorting by probability (ascending) works');

  // Download the results as CSV.
  const [download] = await Promise.all([page.waitForEvent('download'), page.click('#download-btn')]);
  const saved = path.join(shotDir, 'results.csv');
  await download.saveAs(saved);
  const lines = fs.readFileSync(saved, 'utf8').trim().split(/\r?\n/);
  check(lines.length === rows + 1 && lines[0].includes('verdict'), 'the downloaded CSV has a header and every row');

  // Single record: the form is generated from the schema; score the first CSV row.
  await page.click('a[data-tab="single"]');
  await page.waitForSelector('#single-fields input');
  const header = csvText.split(/\r?\n/)[0].split(',');
  const first = csvText.split(/\r?\n/)[1].split(',');
  const inputs = await page.$$eval('#single-fields input', (els) => els.map((e) => e.name));
  check(inputs.length > 0 && inputs.every((n) => header.includes(n)) && inputs.length === header.length - 1,
    `the form has one field per feature (${inputs.length})`);
  for (let i = 0; i < header.length; i++) {
    if (inputs.includes(header[i])) await page.fill(`#single-fields input[name="${header[i]}"]`, first[i]);
  }
  await page.click('#single-btn');
  await page.waitForSelector('#single-result .big-verdict');
  check((await page.textContent('#single-result .big-verdict')) === api.predictions[0].verdict,
    'the single-record verdict matches the first row');
  await page.screenshot({path: path.join(shotDir, 'ui-single.png'), fullPage: true});

  // Model page.
  await page.click('a[data-tab="model"]');
  await page.waitForSelector('#model-info dd');
  check((await page.textContent('#model-info')).includes(api.model_version), 'the model page shows the version');
  check(await page.$('#model-confusion table') !== null, 'the model page shows the confusion matrix');
  check((await page.$$('#model-importance .bar-row')).length > 0, 'the model page shows feature importance');
  await page.screenshot({path: path.join(shotDir, 'ui-model.png'), fullPage: true});

  // Training page: without a valid token the server refuses, and the page says so.
  await page.click('a[data-tab="train"]');
  await page.fill('#train-token', 'not-the-token');
  await page.click('#train-btn');
  await page.waitForFunction(() => document.querySelector('#train-status').classList.contains('error'));
  check((await page.textContent('#train-status')).includes('token'), 'a wrong token is reported');
  await page.screenshot({path: path.join(shotDir, 'ui-train.png')});

  check(errors.filter((e) => !e.includes('401')).length === 0, 'no JavaScript errors (' + errors.join(' | ') + ')');
} finally {
  await context.close();
  fs.rmSync(userDataDir, {recursive: true, force: true});
}
console.log('browser test passed; screenshots in ' + shotDir);
