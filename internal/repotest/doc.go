// Package repotest holds the tests of the repository as a whole: the
// design's import rules (docs/design.md) checked on the import graph the go
// tool reports, the root package's line budgets (a thin front: flag
// parsing and dispatch), the daemon's steps kept small, and nothing named
// outside the repository. It has no code of its own.
package repotest
