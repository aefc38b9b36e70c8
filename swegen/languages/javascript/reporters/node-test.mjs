// swegen's reporter for node:test (Node >= 18.15): one JSON line per finished test, with its
// file and the names of its enclosing suites, which the built-in junit and tap reporters lose.
export default async function* swegenReporter(source) {
  const stacks = new Map();
  for await (const event of source) {
    const data = event.data || {};
    const file = data.file || "";
    if (event.type === "test:start") {
      const stack = stacks.get(file) || [];
      stack.length = data.nesting;
      stack[data.nesting] = data.name;
      stacks.set(file, stack);
    } else if (event.type === "test:pass" || event.type === "test:fail") {
      const stack = stacks.get(file) || [];
      const path = stack.slice(0, data.nesting).concat([data.name]);
      const details = data.details || {};
      const error = details.error || {};
      yield JSON.stringify({
        file,
        path,
        type: details.type || "test",
        status: event.type === "test:pass" ? "pass" : "fail",
        skip: data.skip !== undefined && data.skip !== false,
        todo: data.todo !== undefined && data.todo !== false,
        failureType: error.failureType || (error.cause && error.cause.failureType) || null,
      }) + "\n";
    }
  }
}
