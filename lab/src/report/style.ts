/** The report's stylesheet, inlined into the page (nothing is fetched). */
export const STYLE = `
:root { color-scheme: light; --ink: #1d2330; --muted: #5b6475; --rule: #d9dee7; --accent: #4c78a8; }
* { box-sizing: border-box; }
body { margin: 0; font: 15px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: var(--ink); background: #f6f7f9; }
header, main { max-width: 1280px; margin: 0 auto; padding: 0 24px; }
header { padding-top: 24px; }
h1 { margin: 0 0 8px; font-size: 28px; }
h2 { margin: 0 0 4px; font-size: 22px; }
h3 { margin: 20px 0 8px; font-size: 16px; color: var(--muted); text-transform: uppercase; letter-spacing: .04em; }
nav ul { display: flex; flex-wrap: wrap; gap: 8px; padding: 0; list-style: none; }
nav a { display: inline-block; padding: 2px 10px; border: 1px solid var(--rule); border-radius: 12px; background: #fff; color: var(--accent); text-decoration: none; }
section.experiment { margin: 24px 0; padding: 20px 24px; background: #fff; border: 1px solid var(--rule); border-radius: 8px; }
.seedref { margin: 0 0 8px; color: var(--muted); }
code { font: 13px ui-monospace, SFMono-Regular, Menlo, monospace; background: #eef1f5; padding: 0 4px; border-radius: 3px; }
.side-by-side { display: flex; flex-wrap: wrap; gap: 24px; align-items: flex-start; }
.side-by-side .column { flex: 1 1 380px; min-width: 0; overflow-x: auto; }
.side-by-side .column.ours { flex: 2 1 560px; }
table { border-collapse: collapse; margin: 0 0 12px; font-size: 13px; font-variant-numeric: tabular-nums; }
p.caption { font-weight: 600; font-size: 13px; margin: 8px 0 4px; }
th, td { padding: 3px 8px; border-bottom: 1px solid var(--rule); text-align: right; white-space: nowrap; }
th:first-child, td:first-child { text-align: left; }
table.seed td, table.seed th { white-space: normal; text-align: left; }
thead th { background: #f0f3f7; }
tr.baseline td { font-weight: 600; }
td.skipped { color: var(--muted); text-align: left; font-style: italic; }
.note { color: var(--muted); font-size: 13px; }
.plots { display: flex; flex-wrap: wrap; gap: 16px; }
figure.plot { margin: 0; padding: 8px; border: 1px solid var(--rule); border-radius: 6px; background: #fff; max-width: 100%; overflow-x: auto; }
figure.plot figcaption { font-weight: 600; font-size: 13px; margin-bottom: 4px; }
figure.plot svg { display: block; }
ul.notes { padding-left: 20px; font-size: 14px; }
dl.env { display: grid; grid-template-columns: max-content 1fr; gap: 2px 12px; font-size: 13px; margin: 0 0 8px; }
dl.env dt { color: var(--muted); }
dl.env dd { margin: 0; }
pre { font-size: 12px; background: #f6f8fa; padding: 8px; overflow-x: auto; }
`;
