"""Renderers for the reports: CSV, JSON and printable HTML (docs/compliance.md section 6).

- :func:`to_csv`: one CSV table (RFC 4180, CRLF line ends): a ``Section``
  column, then the report's columns; ``csv`` parses it back. A cell starting
  with ``= + - @`` (or tab, CR) gets a leading ``'`` so no spreadsheet runs it
  as a formula (OWASP CSV injection).
- :func:`to_json` / :func:`parse_report`: the report's JSON value, pretty and
  with sorted keys; ``parse_report(to_json(r)) == r``.
- :func:`to_html`: one self-contained page (inline CSS, no scripts, no external
  resources) that prints well: landscape pages, table headers repeated on each
  page, rows never split. Every value is HTML-escaped.
"""

from __future__ import annotations

import csv
import html
import io
import json
from typing import Final

from accord.compliance.report_types import Report, report_from_json
from accord.encoding import parse_json

__all__ = ["CSV_FIRST_COLUMN", "parse_report", "to_csv", "to_html", "to_json"]

CSV_FIRST_COLUMN: Final = "Section"


def to_csv(report: Report) -> str:
    """The report's rows as CSV: one header line, then every row prefixed by its section key
    (a report's sections share their columns)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    sections = report.sections()
    writer.writerow((CSV_FIRST_COLUMN, *sections[0].headers))
    for section in sections:
        for row in section.rows:
            writer.writerow((section.key, *(_cell(c) for c in row)))
    return out.getvalue()


def _cell(text: str) -> str:
    """Neutralise spreadsheet formulas (CSV injection): a leading = + - @ gets a quote."""
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def to_json(report: Report) -> str:
    return json.dumps(report.to_json(), indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def parse_report(text: str | bytes) -> Report:
    """A report from :func:`to_json` text; MalformedError("report", ...) if it is not one."""
    return report_from_json(parse_json(text, "report"))


_CSS: Final = """
body { font: 10pt/1.35 -apple-system, "Segoe UI", Helvetica, Arial, sans-serif;
       color: #111; margin: 2em; }
h1 { font-size: 16pt; margin: 0 0 .4em; }
h2 { font-size: 12pt; margin: 1.6em 0 .4em; }
dl { display: grid; grid-template-columns: max-content auto; gap: .15em 1em; margin: 0; }
dt { font-weight: 600; }
dd { margin: 0; }
table { border-collapse: collapse; width: 100%; font-size: 8.5pt; }
th, td { border: 1px solid #999; padding: .25em .4em; text-align: left; vertical-align: top; }
th { background: #eee; }
tbody tr:nth-child(even) { background: #f7f7f7; }
td.mono { font-family: ui-monospace, Menlo, Consolas, monospace; font-size: 7pt;
          word-break: break-all; }
p.empty { font-style: italic; color: #555; }
footer { margin-top: 2em; font-size: 8pt; color: #555; }
@media print {
  @page { size: landscape; margin: 1cm; }
  body { margin: 0; }
  thead { display: table-header-group; }
  tr { page-break-inside: avoid; break-inside: avoid; }
  h2 { page-break-after: avoid; break-after: avoid; }
}
"""

_MONO: Final = ("Record", "Records", "Export record", "Import record", "Data (record ref)")


def to_html(report: Report) -> str:
    """A self-contained, printable HTML page of the report."""
    e = html.escape
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en">',
        "<head>",
        '<meta charset="utf-8">',
        f"<title>{e(report.title)}</title>",
        f"<style>{_CSS}</style>",
        "</head>",
        "<body>",
        f"<h1>{e(report.title)}</h1>",
        "<dl>",
    ]
    for label, value in report.meta():
        parts.append(f"<dt>{e(label)}</dt><dd>{e(value)}</dd>")
    parts.append("</dl>")
    for section in report.sections():
        parts.append(f'<h2 id="{e(section.key)}">{e(section.title)}</h2>')
        if not section.rows:
            parts.append('<p class="empty">None.</p>')
            continue
        mono = [h in _MONO for h in section.headers]
        parts.append("<table>")
        parts.append("<thead><tr>" + "".join(f"<th>{e(h)}</th>" for h in section.headers))
        parts.append("</tr></thead>")
        parts.append("<tbody>")
        for row in section.rows:
            cells = "".join(
                f'<td class="mono">{e(c)}</td>' if m else f"<td>{e(c)}</td>"
                for c, m in zip(row, mono, strict=True)
            )
            parts.append(f"<tr>{cells}</tr>")
        parts.append("</tbody></table>")
    parts.append(
        "<footer>Produced by Accord from its tamper-evident ledger. The Verified column "
        "says how each line's records were checked.</footer>"
    )
    parts += ["</body>", "</html>", ""]
    return "\n".join(parts)
