import pkg from '../../../../package.json';

export const dynamic = 'force-dynamic';

export function GET() {
  return Response.json({ status: 'ok', service: 'notes-web', version: pkg.version });
}
