// Kept for the conformance suites that import the sandbox's types from here; new code imports
// them from '@openpipes/sandbox'.
export type * from '@openpipes/sandbox';
