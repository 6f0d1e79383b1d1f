import path from 'node:path';
import type { NextConfig } from 'next';

// The @bytelyst/* packages are linked from common plat (see ../.pnpmfile.cjs), so
// they live outside this product. Output tracing must start at a folder holding
// both, or the standalone build would miss them: use the deepest common ancestor
// of the product root and the common plat root.
const productRoot = path.resolve(__dirname, '..');
const commonPlatRoot = path.resolve(productRoot, process.env.BYTELYST_COMMON_PLAT_ROOT || '../../common_plat');

function commonAncestor(a: string, b: string): string {
  const pa = a.split(path.sep);
  const pb = b.split(path.sep);
  let i = 0;
  while (i < pa.length && i < pb.length && pa[i] === pb[i]) i++;
  return pa.slice(0, i).join(path.sep) || path.sep;
}

const nextConfig: NextConfig = {
  output: 'standalone',
  outputFileTracingRoot: commonAncestor(productRoot, commonPlatRoot),
  poweredByHeader: false,
  reactStrictMode: true,
};

export default nextConfig;
