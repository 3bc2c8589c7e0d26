// jobio.mjs: how the browser runners talk to the Go tests: a job as JSON
// on stdin, one JSON line of results on stdout (the last line printed).

export async function readStdin() {
  const chunks = [];
  for await (const c of process.stdin) chunks.push(c);
  return Buffer.concat(chunks).toString('utf8');
}

export function emit(obj) {
  return new Promise((resolve) => process.stdout.write(JSON.stringify(obj) + '\n', resolve));
}
