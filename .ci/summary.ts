/**
 * Reads a JUnit report from `deno test --junit-path` and prints
 * `N passed, N failed` (ignored tests are neither). CI reads this line.
 */
const [path] = Deno.args;
let xml: string;
try {
  xml = await Deno.readTextFile(path);
} catch {
  console.log("0 passed, 1 failed (no test report was written)");
  Deno.exit(1);
}
let passed = 0;
let failed = 0;
for (
  const [testcase] of xml.matchAll(/<testcase\b[\s\S]*?(?:\/>|<\/testcase>)/g)
) {
  if (/<(failure|error)\b/.test(testcase)) failed++;
  else if (!/<skipped\b/.test(testcase)) passed++;
}
const declared = xml.match(/<testsuites\b[^>]*\berrors="(\d+)"/);
if (declared && Number(declared[1]) > 0 && failed === 0) {
  failed = Number(declared[1]);
}
console.log(`${passed} passed, ${failed} failed`);
Deno.exit(failed > 0 ? 1 : 0);
