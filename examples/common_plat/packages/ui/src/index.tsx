/** Small presentational React components (no hooks, so they render on the server too). */
import type { ReactNode } from 'react';
import { formatDate, formatNumber } from '@bytelyst/format';

export interface CardProps {
  title: string;
  children?: ReactNode;
}

export function Card({ title, children }: CardProps) {
  return (
    <section className="bl-card" style={{ border: '1px solid #ddd', borderRadius: 8, padding: 16, margin: '8px 0' }}>
      <h2 style={{ margin: '0 0 8px', fontSize: 18 }}>{title}</h2>
      {children}
    </section>
  );
}

export interface StatProps {
  label: string;
  value: number;
  digits?: number;
}

export function Stat({ label, value, digits = 0 }: StatProps) {
  return (
    <div className="bl-stat">
      <span className="bl-stat-label">{label}: </span>
      <strong className="bl-stat-value">{formatNumber(value, digits)}</strong>
    </div>
  );
}

export function DateLabel({ value }: { value: Date | number }) {
  const text = formatDate(value);
  return <time dateTime={text}>{text}</time>;
}

export function Badge({ children, tone = 'neutral' }: { children: ReactNode; tone?: 'neutral' | 'ok' | 'warn' }) {
  const colors = { neutral: '#eee', ok: '#d4f7d4', warn: '#ffe9b3' } as const;
  return <span className="bl-badge" style={{ background: colors[tone], borderRadius: 4, padding: '0 6px' }}>{children}</span>;
}
