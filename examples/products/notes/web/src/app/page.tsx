import { formatRelative } from '@bytelyst/format';
import { Badge, Card, DateLabel, Stat } from '@bytelyst/ui';
import pkg from '../../package.json';

// Rendered per request, so the dates below are live.
export const dynamic = 'force-dynamic';

const SAMPLE_NOTES = [
  { title: 'Ship the shared base image', minutesAgo: 12 },
  { title: 'Write the rollback runbook', minutesAgo: 90 },
  { title: 'Measure layer sharing on the fleet', minutesAgo: 60 * 26 },
];

export default function Home() {
  const now = Date.now();
  return (
    <main>
      <h1>
        ByteLyst Notes <Badge tone="ok">v{pkg.version}</Badge>
      </h1>
      <p>
        Today is <DateLabel value={now} />.
      </p>
      <Card title="Overview">
        <Stat label="Notes" value={SAMPLE_NOTES.length} />
        <Stat label="Words per note" value={4.6667} digits={1} />
      </Card>
      {SAMPLE_NOTES.map((note) => (
        <Card key={note.title} title={note.title}>
          <small>{formatRelative(now - note.minutesAgo * 60_000, now)}</small>
        </Card>
      ))}
    </main>
  );
}
