/**
 * Jepsen-style verification: record a history of concurrent client operations, then check it
 * (linearizable registers, or the append workload) and print what is wrong.
 */
export * from './types.js';
export { HistoryRecorder, monotonicMicroseconds, type ReadOutcome } from './recorder.js';
export { historyFromJsonl, historyToJsonl } from './jsonl.js';
export { checkLinearizableRegisters, defaultMaxStepsPerKey, type RegisterCheckOptions } from './register-checker.js';
export { checkAppends, type AppendCheckOptions } from './append-checker.js';
export { formatOp, formatReport } from './report-format.js';
export {
  searchLinearization,
  type DeepestAttempt,
  type SearchOp,
  type SearchProblem,
  type SearchResult,
} from './linearizability-search.js';
export {
  simulateHistory,
  type SimulatedHistory,
  type SimulatedWorkload,
  type SimulationOptions,
} from './simulation.js';
export { mutateHistory, type HistoryMutation, type MutatedHistory } from './mutations.js';
