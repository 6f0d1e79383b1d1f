// The build: copy src/ to dist/ (a real product compiles here; this one needs no tool).
import { cpSync, rmSync } from 'node:fs';

rmSync('dist', { recursive: true, force: true });
cpSync('src', 'dist', { recursive: true });
