/** Date, number and currency formatting shared by backends and webs. */

export const DEFAULT_LOCALE = 'en-US';

export function formatNumber(value: number, digits = 0, locale = DEFAULT_LOCALE): string {
  return new Intl.NumberFormat(locale, { minimumFractionDigits: digits, maximumFractionDigits: digits }).format(value);
}

export function formatCurrency(value: number, currency = 'USD', locale = DEFAULT_LOCALE): string {
  return new Intl.NumberFormat(locale, { style: 'currency', currency }).format(value);
}

export function formatPercent(ratio: number, digits = 1, locale = DEFAULT_LOCALE): string {
  return new Intl.NumberFormat(locale, { style: 'percent', minimumFractionDigits: digits, maximumFractionDigits: digits }).format(ratio);
}

/** `2026-05-09` (UTC) for a Date or epoch milliseconds. */
export function formatDate(value: Date | number): string {
  return new Date(value).toISOString().slice(0, 10);
}

/** `14:03:07` (UTC). */
export function formatTime(value: Date | number): string {
  return new Date(value).toISOString().slice(11, 19);
}

/** Human duration: 3725000 ms -> `1h 2m 5s`. */
export function formatDuration(ms: number): string {
  const total = Math.max(0, Math.floor(ms / 1000));
  const parts: string[] = [];
  const h = Math.floor(total / 3600);
  const m = Math.floor((total % 3600) / 60);
  const s = total % 60;
  if (h) parts.push(`${h}h`);
  if (m) parts.push(`${m}m`);
  if (s || parts.length === 0) parts.push(`${s}s`);
  return parts.join(' ');
}

/** `3 minutes ago`, `in 2 days`, ... relative to `now`. */
export function formatRelative(value: Date | number, now: Date | number = Date.now(), locale = DEFAULT_LOCALE): string {
  const diff = (new Date(value).getTime() - new Date(now).getTime()) / 1000;
  const units: [Intl.RelativeTimeFormatUnit, number][] = [['day', 86400], ['hour', 3600], ['minute', 60], ['second', 1]];
  const rtf = new Intl.RelativeTimeFormat(locale, { numeric: 'auto' });
  for (const [unit, seconds] of units) {
    if (Math.abs(diff) >= seconds || unit === 'second') return rtf.format(Math.round(diff / seconds), unit);
  }
  return rtf.format(0, 'second');
}
