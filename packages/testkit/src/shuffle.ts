/**
 * Fisher–Yates shuffle with an injected generator: with a seeded one (random.ts) the same seed gives
 * the same order, which is what lets a printed seed replay a fault schedule.
 */
export function shuffled<T>(items: readonly T[], random: () => number): T[] {
  const result = [...items];
  for (let index = result.length - 1; index > 0; index--) {
    const other = Math.floor(random() * (index + 1));
    [result[index], result[other]] = [result[other]!, result[index]!];
  }
  return result;
}
