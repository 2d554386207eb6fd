// Package hooks runs the project's hook scripts (Kamal §4): executables in
// hooks_path named exactly after the hook, run on this machine with the
// KAMAL_* environment describing the command. A hook that exits non-zero
// stops the command; the error names the hook, its exit code and the end
// of its output, so nobody has to rerun it to see why.
package hooks
