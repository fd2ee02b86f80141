// SPDX-License-Identifier: Apache-2.0
// The line protocol of tests/deploy: every check prints one "PASS: name", "FAIL: name: why"
// or "SKIP: name: why" line; run.sh counts them. exitCode() is 1 when anything failed.
let failed = 0;

export function pass(name) {
  console.log(`PASS: ${name}`);
}

export function fail(name, why) {
  failed++;
  console.log(`FAIL: ${name}: ${String(why).split("\n").join("\n      ")}`);
}

export function skip(name, why) {
  console.log(`SKIP: ${name}: ${why}`);
}

// Runs fn; a thrown error or a non-empty returned list of problems is a failure.
export async function check(name, fn) {
  try {
    const problems = await fn();
    if (Array.isArray(problems) && problems.length) fail(name, problems.join("\n"));
    else pass(name);
  } catch (e) {
    fail(name, e && e.message ? e.message : e);
  }
}

export function exitCode() {
  return failed ? 1 : 0;
}
