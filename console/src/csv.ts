/** RFC 4180 CSV: every field quoted when it needs it, CRLF line ends; a leading =+-@ is neutralised (spreadsheet formulas). */
export function toCsv(headers: readonly string[], rows: readonly (readonly (string | number)[])[]): string {
  const field = (value: string | number) => {
    let text = String(value);
    if (/^[=+\-@\t\r]/.test(text) && typeof value === 'string') text = `'${text}`;
    return /[",\r\n]/.test(text) ? `"${text.replaceAll('"', '""')}"` : text;
  };
  return [headers, ...rows].map((row) => row.map(field).join(',')).join('\r\n') + '\r\n';
}
