// Functions of examples/load-test.yml (artillery's `config.processor`).
"use strict";

const ENDED = new Set(["task.complete", "error.occurred", "task.cancelled", "task.interrupted"]);

// The workspace scenario polls the session's events while this answers true: until one of the
// events last read says that the task ended.
function taskRunning(context, next) {
  const seen = [].concat(context.vars.seen || []);
  return next(!seen.some((event) => ENDED.has(event)));
}

module.exports = { taskRunning };
