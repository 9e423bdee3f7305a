/** The HTML index page: every book with its size, a ZIP link, and its files. No scripts, no external assets. */
import { hrefOf, type Library } from './library.js';

export interface IndexPageOptions {
  title: string;
  /** Whether `/<book>.zip` links are offered. */
  zip: boolean;
}

export function renderIndexPage(library: Library, options: IndexPageOptions): string {
  const books = library.books
    .map((book) => {
      const files = book.files
        .map(
          (file) =>
            `<li><a href="${escapeHtml(hrefOf(book.name, file.name))}" download>${escapeHtml(file.name)}</a> <span class="size">${formatBytes(file.size)}</span></li>`,
        )
        .join('\n');
      const zip = options.zip
        ? `<a class="zip" href="${escapeHtml(hrefOf(`${book.name}.zip`))}" download>Download ZIP</a>`
        : '';
      return `<section class="book">
<h2>${escapeHtml(book.name)}</h2>
<p><span class="size">${book.files.length} files, ${formatBytes(book.bytes)}</span> ${zip}</p>
<details><summary>Files</summary>
<ul>
${files}
</ul>
</details>
</section>`;
    })
    .join('\n');
  const loose =
    library.files.length === 0
      ? ''
      : `<section class="book"><h2>Other files</h2><ul>
${library.files
  .map(
    (file) =>
      `<li><a href="${escapeHtml(hrefOf(file.name))}" download>${escapeHtml(file.name)}</a> <span class="size">${formatBytes(file.size)}</span></li>`,
  )
  .join('\n')}
</ul></section>`;
  const empty =
    library.books.length === 0 && library.files.length === 0 ? '<p>This library is empty.</p>' : '';
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="icon" href="data:,">
<title>${escapeHtml(options.title)}</title>
<style>
body { font: 16px/1.5 system-ui, sans-serif; max-width: 48rem; margin: 2rem auto; padding: 0 1rem; color: #222; }
h1 { font-size: 1.6rem; } h2 { font-size: 1.2rem; margin-bottom: 0.2rem; }
.book { border-top: 1px solid #ddd; padding: 0.5rem 0; }
.size { color: #666; font-size: 0.9rem; }
a.zip { margin-left: 1rem; font-weight: 600; }
footer { margin-top: 2rem; color: #888; font-size: 0.8rem; }
</style>
</head>
<body>
<h1>${escapeHtml(options.title)}</h1>
${empty}${books}
${loose}
<footer>Served by sluice. JSON: <a href="/api/books">/api/books</a>, metrics: <a href="/metrics">/metrics</a>.</footer>
</body>
</html>
`;
}

export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (char) => `&#${char.charCodeAt(0)};`);
}

export function formatBytes(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  const units = ['KiB', 'MiB', 'GiB', 'TiB'];
  let value = bytes / 1024;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${value.toFixed(value < 10 ? 1 : 0)} ${units[unit]}`;
}
