/**
 * Milliseconds of CPU time this process has used (user + system, all threads).
 * Cost bounds on synchronous decoding measure this rather than wall-clock time:
 * on a loaded machine the wall clock also counts the neighbours' time slices,
 * while a quadratic decoder still burns its own CPU and still fails the bound.
 */
export function cpuNow(): number {
  const { user, system } = process.cpuUsage();
  return (user + system) / 1000;
}
