// One full build in this (fresh) process, printed as JSON: run.ts spawns it so that the RSS it
// reports belongs to the build alone and not to the other benchmarks' fixtures.
import { fullBuild } from './eds.bench.js';

process.stdout.write(`${JSON.stringify(fullBuild())}\n`);
