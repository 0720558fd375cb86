/**
 * format.ts — numbers and times the way Docker prints them (go-units): sizes in decimal units
 * ("7.8MB", "1.23GB") for images and disk, in binary units ("1.953MiB") for `stats` memory,
 * and durations in words ("2 minutes ago", "About an hour ago").
 *
 * Try: `minibox run --name box busybox true && minibox ps -a --format '{{.Status}}'` → `Exited (0)
 * … ago`
 */

/** `bytes` divided by `base` until it is below `base` (or the units run out), with the unit reached. */
function scaleBytes(bytes: number, base: number, units: readonly string[]): { value: number; unit: string } {
  let value = bytes;
  let unit = 0;
  while (value >= base && unit < units.length - 1) {
    value /= base;
    unit += 1;
  }
  return { value, unit: units[unit] as string };
}

/** go-units HumanSize: decimal (1000-based) units, 3 significant digits. */
export function formatBytes(bytes: number): string {
  const { value, unit } = scaleBytes(bytes, 1000, ['B', 'kB', 'MB', 'GB', 'TB', 'PB']);
  return `${Number(value.toPrecision(3))}${unit}`;
}

/** go-units BytesSize, as `docker stats` prints memory: binary (1024-based) units, 4 significant digits. */
export function formatBinaryBytes(bytes: number): string {
  const { value, unit } = scaleBytes(bytes, 1024, ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB']);
  return `${Number(value.toPrecision(4))}${unit}`;
}

/** Binary sizes for explanations in prose: 268435456 → "256 MiB". */
export function describeBytes(bytes: number): string {
  const { value, unit } = scaleBytes(bytes, 1024, ['bytes', 'KiB', 'MiB', 'GiB', 'TiB']);
  return `${Number(value.toFixed(2))} ${unit}`;
}

/** go-units HumanDuration, as in "Created 3 minutes ago" / "Up 5 seconds". */
export function formatDuration(ms: number): string {
  const seconds = Math.round(ms / 1000);
  if (seconds < 1) return 'Less than a second';
  if (seconds === 1) return '1 second';
  if (seconds < 60) return `${seconds} seconds`;
  const minutes = Math.round(seconds / 60);
  if (minutes === 1) return 'About a minute';
  if (minutes < 60) return `${minutes} minutes`;
  const hours = Math.round(seconds / 3600);
  if (hours === 1) return 'About an hour';
  if (hours < 48) return `${hours} hours`;
  if (hours < 24 * 7 * 2) return `${Math.round(hours / 24)} days`;
  if (hours < 24 * 30 * 2) return `${Math.round(hours / 24 / 7)} weeks`;
  if (hours < 24 * 365 * 2) return `${Math.round(hours / 24 / 30)} months`;
  return `${Math.round(hours / 24 / 365)} years`;
}

/** "2 minutes ago" for a timestamp. */
export function formatAgo(iso: string | undefined, now = Date.now()): string {
  if (!iso) return 'N/A';
  const then = Date.parse(iso);
  if (Number.isNaN(then)) return 'N/A';
  return `${formatDuration(now - then)} ago`;
}

/** Lays out rows as Docker's tables: columns padded to the widest cell, three spaces apart. */
export function formatTable(header: string[], rows: string[][]): string {
  const widths = header.map((title, column) => Math.max(title.length, ...rows.map((row) => (row[column] ?? '').length)));
  const line = (cells: string[]) => cells.map((cell, column) => (column === cells.length - 1 ? cell : cell.padEnd(widths[column] ?? 0))).join('   ').trimEnd();
  return [line(header), ...rows.map(line)].join('\n');
}
