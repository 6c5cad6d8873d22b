// The little assertion kit the Ghost client scripts share: each passing check
// is counted; the first failing one stops the script with what was expected.
'use strict';

const state = { checks: 0 };

function fail(what, detail) {
  const err = new Error(`${what}${detail === undefined ? '' : `: ${JSON.stringify(detail).slice(0, 600)}`}`);
  err.isCheck = true;
  throw err;
}
function ok(cond, what, detail) { if (!cond) fail(what, detail); state.checks++; }
function eq(actual, expected, what) { ok(actual === expected, `${what}: expected ${JSON.stringify(expected)}, got ${JSON.stringify(actual)}`); }
async function rejects(promise, what) {
  try { await promise; } catch (e) { state.checks++; return e; }
  return fail(`${what}: the client did not reject`);
}
function count() { state.checks++; }

/// Runs `main`, then prints `ok N checks`, or the failure and exits 1.
function run(main) {
  main()
    .then(() => console.log(`ok ${state.checks} checks`))
    .catch((e) => {
      console.error(e.isCheck ? `FAILED: ${e.message}` : `ERROR: ${e.stack || e}`);
      if (e.response) console.error(`HTTP ${e.response.status}: ${JSON.stringify(e.response.data).slice(0, 500)}`);
      process.exit(1);
    });
}

module.exports = { ok, eq, rejects, count, run };
