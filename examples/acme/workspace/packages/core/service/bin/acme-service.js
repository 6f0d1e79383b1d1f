#!/usr/bin/env node
import { describe } from '../index.js';

process.stdout.write(JSON.stringify(describe()) + '\n');
