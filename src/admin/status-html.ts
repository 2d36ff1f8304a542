// The status page and its login form as HTML: one self-contained document each (inline style, no
// script, no external asset), every value escaped by html``. The data comes from status-data.ts.

import { Html, html } from './html.ts';
import type { ServiceCategory, ServiceRow, StatusData } from './status-data.ts';
import type { SourceSummary } from './status-inputs.ts';

const STYLE = `
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;margin:0;color:#1d2330;background:#f5f6f8}
header{background:#1d2330;color:#fff;padding:12px 24px;display:flex;gap:24px;align-items:baseline;flex-wrap:wrap}
header h1{font-size:18px;margin:0}header span{color:#c9d1e0}
main{padding:16px 24px;max-width:1400px}
section{background:#fff;border:1px solid #dde1e8;border-radius:6px;padding:12px 16px;margin:0 0 16px}
h2{font-size:15px;margin:0 0 8px}
table{border-collapse:collapse;width:100%}th,td{text-align:left;padding:4px 8px;border-bottom:1px solid #eceef2;vertical-align:top}
th{font-weight:600;color:#4a5368;background:#fafbfc}
code{font:12.5px ui-monospace,SFMono-Regular,Menlo,monospace;background:#eef1f6;padding:1px 4px;border-radius:3px}
.cards{display:flex;gap:12px;flex-wrap:wrap;margin-bottom:16px}
.card{background:#fff;border:1px solid #dde1e8;border-radius:6px;padding:10px 16px;min-width:120px}
.card b{display:block;font-size:26px}.card small{color:#4a5368}
.banner{padding:10px 16px;border-radius:6px;margin-bottom:16px;font-weight:600}
.warn{background:#fff4d6;border:1px solid #e9c46a}.bad{background:#fde2e1;border:1px solid #e5908a}.ok{color:#1f7a3a}.no{color:#b3261e}
.tag{display:inline-block;padding:0 6px;border-radius:10px;font-size:12px;background:#eef1f6;margin:1px 2px}
.meshed{background:#d9f2e1}.blocked{background:#fde2e1}.mapped{background:#fff4d6}.consul-only{background:#eef1f6}
ul.actions{margin:0;padding-left:18px}ul.actions li{margin:4px 0}
`;

const CATEGORY_LABEL: Record<ServiceCategory, string> = { 'consul-only': 'Consul only', mapped: 'mapped, not meshed', meshed: 'meshed', blocked: 'blocked' };

function page(title: string, body: Html, refreshSeconds: number | null): string {
  return `<!doctype html>\n${html`<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
${refreshSeconds ? html`<meta http-equiv="refresh" content="${refreshSeconds}">` : ''}<title>${title}</title><style>${new Html(STYLE)}</style></head><body>${body}</body></html>`.text}\n`;
}

function list(items: readonly string[], empty = '—'): Html {
  return items.length === 0 ? html`<span>${empty}</span>` : html`${items.map((i) => html`<span class="tag">${i}</span>`)}`;
}

function yesNo(v: boolean, yes: string, no: string): Html {
  return v ? html`<span class="ok">${yes}</span>` : html`<span class="no">${no}</span>`;
}

function banners(d: StatusData): Html {
  const out: Html[] = [];
  const c = d.control;
  if (c.mode === 'consul-only') out.push(html`<div class="banner bad" data-banner="kill-switch">Kill-switch ON: every caller gets exactly Consul's answer${c.localOverride ? ' (local override on this replica)' : ''}.</div>`);
  else if (c.mode === 'shadow') out.push(html`<div class="banner warn" data-banner="shadow">Shadow mode: answers are Consul's; the callers listed under "mesh" would get the ClusterIP in hybrid mode.</div>`);
  if (c.localOverride) out.push(html`<div class="banner warn" data-banner="local-override">Local override on this replica: ${c.localOverride.mode} (shared mode ${c.sharedMode}).</div>`);
  if (d.kubeStale) out.push(html`<div class="banner bad" data-banner="kube-stale">Kubernetes cannot be followed: every answer is HAProxy (reason kube-stale).</div>`);
  if (!c.store.reachable) out.push(html`<div class="banner bad" data-banner="store">Control store ${c.store.name} unreachable since ${c.store.unreachableSince ?? '?'}: this replica keeps its last known mode and pins.</div>`);
  return html`${out}`;
}

function card(key: string, value: number | string, label: string): Html {
  return html`<div class="card" data-count="${key}"><b>${value}</b><small>${label}</small></div>`;
}

function summary(d: StatusData): Html {
  const s = d.sidecars;
  return html`<div class="cards">
${card('total', d.counts.total, 'Consul services')}${card('consul-only', d.counts['consul-only'], 'Consul only')}${card('mapped', d.counts.mapped, 'mapped, not meshed')}${card('meshed', d.counts.meshed, 'meshed')}${card('blocked', d.counts.blocked, 'blocked')}
${card('pairs-ready', d.pairs.ready, 'caller/service pairs on the mesh')}${card('pairs-pending', d.pairs.pending, 'pairs waiting for a Sidecar')}${card('sidecars-managed', s.managed ?? '—', 'managed Sidecars')}${card('sidecars-conflicts', s.conflicts.length, 'Sidecar conflicts')}
</div>`;
}

function reasons(d: StatusData): Html {
  if (d.reasons.length === 0) return html`<section><h2>Why services are not meshed</h2><p>Every Consul service is meshed.</p></section>`;
  return html`<section id="reasons"><h2>Why services are not meshed (reason codes)</h2><table><thead><tr><th>reason</th><th>category</th><th>services</th><th>which</th></tr></thead><tbody>
${d.reasons.map((r) => html`<tr data-reason="${r.reason}"><td><code>${r.reason}</code></td><td>${CATEGORY_LABEL[r.category]}</td><td>${r.services.length}</td><td>${list(r.services)}</td></tr>`)}
</tbody></table></section>`;
}

function control(d: StatusData): Html {
  const c = d.control;
  const changed = c.changedAt ? html` since ${c.changedAt} by ${c.changedBy ?? '?'}${c.reason ? html`: <q>${c.reason}</q>` : ''}` : html` (never changed)`;
  return html`<section id="control"><h2>Mode and pins</h2>
<p>Mode in force: <b data-mode="${c.mode}">${c.mode}</b>. Shared mode: <b>${c.sharedMode}</b>${changed}.</p>
${c.localOverride ? html`<p>Local override: <b>${c.localOverride.mode}</b> by ${c.localOverride.actor} at ${c.localOverride.at}: <q>${c.localOverride.reason}</q>.</p>` : ''}
<p>Control store: ${c.store.name}: ${yesNo(c.store.reachable, 'reachable', 'unreachable')}${c.store.lastError ? html` (${c.store.lastError})` : ''}.</p>
<table><thead><tr><th>pinned service</th><th>caller</th><th>by</th><th>at</th><th>why</th></tr></thead><tbody>
${c.pins.length === 0 ? html`<tr><td colspan="5">No pins.</td></tr>` : c.pins.map((p) => html`<tr data-pin="${p.service}"><td>${p.service}</td><td>${p.caller ?? 'every caller'}</td><td>${p.actor}</td><td>${p.at}</td><td>${p.reason}</td></tr>`)}
</tbody></table></section>`;
}

function serviceRow(s: ServiceRow): Html {
  const target = s.clusterIP ? `${s.clusterIP}${s.port ? `:${s.port}` : ''}` : '—';
  const callers = s.callers;
  return html`<tr data-service="${s.name}"><td><b>${s.name}</b></td><td><span class="tag ${s.category}">${CATEGORY_LABEL[s.category]}</span></td>
<td>${s.reason ? html`<code>${s.reason}</code><br><small>${s.detail}</small>` : html`<small>${s.detail}</small>`}</td>
<td>${list(s.kubeServices)}</td><td>${target}</td><td>${s.instances}</td>
<td data-callers="mesh">${callers ? list(callers.mesh, 'none yet') : '—'}</td><td data-callers="pending">${callers ? list(callers.pending) : '—'}</td><td data-callers="pinned">${s.pin && !s.pin.caller ? html`<b>every caller</b>` : callers ? list(callers.pinned) : '—'}</td></tr>`;
}

function services(d: StatusData): Html {
  return html`<section id="services"><h2>Services and the callers that get mesh answers</h2>
<p><small>${d.callers.workloads} meshed caller workload(s) (${d.callers.meshed} meshed of ${d.callers.known} known caller Pods). A caller is listed under "waiting" once its Sidecar lists the service but has not propagated yet; workloads with a user-owned Sidecar are under Sidecars.${d.pairs.truncated ? ' The list of callers was cut short (too many pairs).' : ''}</small></p>
<table><thead><tr><th>service</th><th>category</th><th>reason</th><th>Kubernetes Service</th><th>ClusterIP</th><th>HAProxy instances</th><th>mesh answers</th><th>waiting for Sidecar</th><th>pinned callers</th></tr></thead><tbody>
${d.services.map(serviceRow)}
</tbody></table></section>`;
}

function sidecars(d: StatusData): Html {
  const s = d.sidecars;
  if (!s.enabled) return html`<section id="sidecars"><h2>Sidecars</h2><p>Sidecar scoping is off: answers are not held back for Sidecars.</p></section>`;
  const problems = [...s.conflicts.map((p) => ({ ...p, kind: 'conflict' })), ...s.otherProblems];
  return html`<section id="sidecars"><h2>Sidecars</h2>
<p>Sink: ${s.sink ?? '?'} (read back: ${s.readBack ?? '?'})${s.dryRun ? ' — dry run: nothing is written in this mode' : ''}. Managed: <b>${s.managed ?? '?'}</b>. Observed pairs waiting: <b>${s.pendingPairs ?? '?'}</b>. Pairs on the mesh: <b>${d.pairs.ready}</b>. Last write: ${s.lastWriteAt ?? 'none'}. Failed writes: ${s.writeFailures ?? 0}.</p>
<table><thead><tr><th>Sidecar</th><th>problem</th><th>detail</th></tr></thead><tbody>
${problems.length === 0 ? html`<tr><td colspan="3">No conflicts or problems.</td></tr>` : problems.map((p) => html`<tr data-sidecar-problem="${p.kind}"><td>${p.sidecar}</td><td>${p.kind}</td><td>${p.detail}</td></tr>`)}
</tbody></table></section>`;
}

/** Content digests are long: their first characters tell versions apart. */
function shortVersion(v: string | null): string {
  if (v === null) return '—';
  return v.length > 20 ? `${v.slice(0, 12)}…` : v;
}

function following(s: SourceSummary): Html {
  const contact = s.lastContactAt ? html`<br><small>last answer ${s.lastContactAt}</small>` : '';
  if (s.following === null) return html`<span>file</span>`;
  return html`${yesNo(s.following, 'yes', 'NO')}${contact}`;
}

function sources(d: StatusData): Html {
  return html`<section id="sources"><h2>Upstream freshness</h2><table><thead><tr><th>source</th><th>synced</th><th>following</th><th>last change</th><th>version</th><th>versions / failures</th><th>current error</th></tr></thead><tbody>
${d.sources.map((s) => html`<tr data-source="${s.name}"><td>${s.name}${s.upstream ? html`<br><small>${s.upstream}</small>` : ''}</td><td>${yesNo(s.synced, 'yes', 'no')}</td><td>${following(s)}</td><td>${s.lastChangeAt ?? '—'}</td><td><code title="${s.version ?? ''}">${shortVersion(s.version)}</code></td><td>${s.loads ?? '?'} / ${s.errors ?? '?'}</td><td>${s.lastError ?? '—'}</td></tr>`)}
</tbody></table>${d.kubeStale ? html`<p class="no">Kubernetes is stale: every answer is HAProxy.</p>` : ''}</section>`;
}

function problemsAndActions(d: StatusData): Html {
  return html`${d.problems.length > 0 ? html`<section id="problems"><h2>Problems in the world</h2><ul>${d.problems.map((p) => html`<li><code>${p.kind}</code> ${p.subject}: ${p.detail}</li>`)}</ul></section>` : ''}
<section id="actions"><h2>Suggested actions</h2><ul class="actions">${d.actions.map((a) => html`<li>${a.why}<br><code data-command>${a.command}</code></li>`)}</ul>
<p><small>Commands talk to this replica's admin listener: set DISCOVERY_ADMIN_ADDR and DISCOVERY_ADMIN_TOKEN, or pass --admin-addr.</small></p></section>`;
}

export function renderStatusPage(d: StatusData): string {
  const body = html`<header><h1>Discovery status</h1><span>replica ${d.replica ?? '(unnamed)'}</span><span>${d.generatedAt}</span><span>${d.ready ? 'ready' : 'NOT READY'}</span></header>
<main>${banners(d)}${summary(d)}${reasons(d)}${control(d)}${services(d)}${sidecars(d)}${sources(d)}${problemsAndActions(d)}</main>`;
  return page('Discovery status', body, 30);
}

/** The form that exchanges the admin token for the status page's cookie. `failed`: the last try was wrong. */
export function renderLoginPage(opts: { failed: boolean }): string {
  const body = html`<header><h1>Discovery status</h1></header><main><section><h2>Admin token required</h2>
${opts.failed ? html`<p class="no" data-login="failed">That token is not valid.</p>` : ''}
<form method="post" action="/status/login"><label>Admin token (DISCOVERY_ADMIN_TOKEN) <input type="password" name="token" autocomplete="current-password" required autofocus></label> <button type="submit">Show status</button></form>
<p><small>The page is read-only. The browser keeps a value derived from the token (not the token) in a cookie valid for this page only.</small></p></section></main>`;
  return page('Discovery status: sign in', body, null);
}
